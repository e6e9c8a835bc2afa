//! Parsing `pulumi version` output, and the version cache: in memory per process, and on
//! disk per binary file (`<cache dir>/cli-versions`), so a second driver process on the same
//! binary starts no `pulumi version`.

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

/// The in-memory cache: one slot per path and file identity.
type Slots = Mutex<HashMap<(PathBuf, Option<BinaryIdentity>), Slot>>;

fn cache() -> &'static Slots {
    static CACHE: OnceLock<Slots> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// What tells one binary file from another at the same path: a binary replaced or
/// upgraded in place has a new inode, size or modification time, and is read afresh.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BinaryIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl BinaryIdentity {
    /// The identity of the file `path` resolves to (symlinks followed).
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        BinaryIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// The name of this identity's entry in the on-disk cache.
    fn file_name(&self) -> String {
        format!(
            "{}-{}-{}-{}.{:09}",
            self.dev, self.ino, self.size, self.mtime, self.mtime_nsec
        )
    }
}

/// The directory of the on-disk version cache: `<cache dir>/cli-versions`, used only when
/// it is a directory of this user's that nobody else can write (created 0700 if missing).
fn disk_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let dir = super::cache_dir()?.join("cli-versions");
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir()
        && meta.uid() == nix::unistd::geteuid().as_raw()
        && meta.permissions().mode() & 0o022 == 0;
    if !private {
        tracing::debug!(
            target: "pulumi_auto::cli",
            dir = %dir.display(),
            "the CLI version cache directory is not private to this user; not using it"
        );
        return None;
    }
    Some(dir)
}

/// Reads the version recorded for `id`, if any (and if it still parses).
fn read_disk(dir: &Path, id: &BinaryIdentity) -> Option<Version> {
    let text = std::fs::read_to_string(dir.join(id.file_name())).ok()?;
    parse_version(&text).ok()
}

/// Records `version` for `id`: written to a temporary file, then renamed into place, so a
/// concurrent reader sees the whole entry or none.
fn write_disk(dir: &Path, id: &BinaryIdentity, version: &Version) {
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, version.to_string().as_bytes())?;
        tmp.persist(dir.join(id.file_name())).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::debug!(target: "pulumi_auto::cli", error = %e, "could not record the CLI version");
    }
}

/// The version of the binary at `path`, computed at most once per process however many
/// callers ask at the same time, and at most once per binary file across processes of this
/// user (an on-disk cache keyed by the file's device, inode, size and modification time).
/// `read` runs `pulumi version` and returns its stdout.
pub(crate) async fn cached_version<F, Fut>(path: &Path, read: F) -> Result<Version, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let id = tokio::fs::metadata(path)
        .await
        .ok()
        .map(|m| BinaryIdentity::of(&m));
    let slot = {
        let mut map = match cache().lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((path.to_path_buf(), id.clone()))
            .or_default()
            .clone()
    };
    slot.get_or_init(|| async {
        let disk = match id.clone() {
            Some(id) => tokio::task::spawn_blocking(move || {
                let dir = disk_dir()?;
                let found = read_disk(&dir, &id);
                Some((dir, id, found))
            })
            .await
            .ok()
            .flatten(),
            None => None,
        };
        if let Some((_, _, Some(v))) = &disk {
            return Ok(v.clone());
        }
        let out = read().await?;
        let v = parse_version(&out).map_err(|e| format!("{e}: {:?}", truncate(&out, 200)))?;
        if let Some((dir, id, None)) = disk {
            let recorded = v.clone();
            let _ = tokio::task::spawn_blocking(move || write_disk(&dir, &id, &recorded)).await;
        }
        Ok(v)
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
