//! Parsing `pulumi version` output, and the per-binary, per-process version cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use semver::Version;
use tokio::sync::OnceCell;

/// The oldest CLI this crate supports: the first with documented exit codes.
pub const MINIMUM_VERSION: Version = Version::new(3, 226, 0);

/// The CLI version this crate is tested against (the repository's `PULUMI_VERSION`).
pub fn pinned_version() -> &'static str {
    include_str!("../../PULUMI_VERSION").trim()
}

/// Parses what `pulumi version` prints (`v3.259.0`, `3.259.0-dev.0`, `v3.259`), tolerantly:
/// surrounding space and a leading `v` are ignored and a missing minor or patch is zero.
///
/// ```
/// # use pulumi_auto::cli::parse_version;
/// assert_eq!(parse_version("v3.259.0\n").unwrap(), semver::Version::new(3, 259, 0));
/// assert!(parse_version("").is_err());
/// ```
pub fn parse_version(output: &str) -> Result<Version, semver::Error> {
    let s = output.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    // Split off pre-release/build metadata to pad the numeric core.
    let split = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(split);
    let parts = core.split('.').count();
    let padded = match parts {
        1 if !core.is_empty() => format!("{core}.0.0{rest}"),
        2 => format!("{core}.0{rest}"),
        _ => s.to_owned(),
    };
    Version::parse(&padded)
}

type Slot = Arc<OnceCell<Result<Version, String>>>;

fn cache() -> &'static Mutex<HashMap<PathBuf, Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Slot>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The version of the binary at `path`, computed at most once per process however many
/// callers ask at the same time. `read` runs `pulumi version` and returns its stdout.
pub(crate) async fn cached_version<F, Fut>(path: &Path, read: F) -> Result<Version, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let slot = {
        let mut map = match cache().lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(path.to_path_buf()).or_default().clone()
    };
    slot.get_or_init(|| async {
        let out = read().await?;
        parse_version(&out).map_err(|e| format!("{e}: {:?}", truncate(&out, 200)))
    })
    .await
    .clone()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parses_tolerantly() {
        assert_eq!(parse_version("v3.259.0").unwrap(), Version::new(3, 259, 0));
        assert_eq!(
            parse_version(" 3.259.0\n").unwrap(),
            Version::new(3, 259, 0)
        );
        assert_eq!(parse_version("v3.259").unwrap(), Version::new(3, 259, 0));
        assert_eq!(parse_version("v3").unwrap(), Version::new(3, 0, 0));
        let pre = parse_version("v3.260.0-alpha.x1234+dirty").unwrap();
        assert_eq!((pre.major, pre.minor, pre.patch), (3, 260, 0));
        assert!(!pre.pre.is_empty());
        for bad in ["", "\n", "version", "v3.x", "3.259.0.1", "vv3.1.0"] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pinned_is_supported() {
        let pinned = parse_version(pinned_version()).unwrap();
        assert!(pinned >= MINIMUM_VERSION);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn version_is_read_once_under_concurrency() {
        let calls = Arc::new(AtomicUsize::new(0));
        let path = PathBuf::from("/nonexistent/test-only/pulumi-once");
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let calls = calls.clone();
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                cached_version(&path, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Ok("v3.259.0\n".to_owned())
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Version::new(3, 259, 0));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
