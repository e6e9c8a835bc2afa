//! Who made an ephemeral stack, where and when ([`EphemeralTag`]), and its unique name.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The stack tag that marks an ephemeral stack; its value is an [`EphemeralTag`] as JSON.
pub const EPHEMERAL_TAG: &str = "pulumi-auto:ephemeral";

/// The longest prefix accepted, leaving room for the suffix within the CLI's name limit.
pub const MAX_PREFIX_LEN: usize = 60;

/// Who made an ephemeral stack, where and when: the value of its [`EPHEMERAL_TAG`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralTag {
    /// The user that created it (`$USER`, or the numeric uid).
    pub owner: String,
    /// The host it was created on.
    pub host: String,
    /// The creating process.
    pub pid: u32,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The run that created it: the builder's
    /// [`run_id`](super::EphemeralStackBuilder::run_id), by default `$GITHUB_RUN_ID`,
    /// `$CI_PIPELINE_ID` or `<host>-<pid>`.
    pub run_id: String,
}

impl EphemeralTag {
    /// The tag of a stack this process creates now. Reads `/proc` (blocking).
    pub(super) fn now(run_id: Option<String>) -> EphemeralTag {
        let host = hostname();
        let pid = std::process::id();
        let run_id = run_id
            .or_else(|| std::env::var("GITHUB_RUN_ID").ok())
            .or_else(|| std::env::var("CI_PIPELINE_ID").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{host}-{pid}"));
        EphemeralTag {
            owner: owner(),
            host,
            pid,
            created: unix_now(),
            run_id,
        }
    }

    /// Parses a tag value; `None` when it is not one of ours.
    ///
    /// ```
    /// use pulumi_auto::ephemeral::EphemeralTag;
    /// let t = EphemeralTag::parse(
    ///     r#"{"owner":"ci","host":"h","pid":7,"created":1700000000,"run_id":"r1"}"#,
    /// ).unwrap();
    /// assert_eq!(t.pid, 7);
    /// assert!(EphemeralTag::parse("true").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<EphemeralTag> {
        serde_json::from_str(value).ok()
    }

    /// The tag value (compact JSON).
    pub fn to_value(&self) -> String {
        // Plain strings and integers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// How old the stack is at `now` (zero if it claims to be from the future).
    pub fn age(&self, now: SystemTime) -> Duration {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Duration::from_secs(now.saturating_sub(self.created))
    }
}

/// A unique, time-ordered stack name: `<prefix>-<unix millis, hex>-<random, 8 hex>`.
///
/// ```
/// let a = pulumi_auto::ephemeral::unique_name("t");
/// let b = pulumi_auto::ephemeral::unique_name("t");
/// assert_ne!(a, b);
/// assert!(a.starts_with("t-"));
/// pulumi_auto::workspace::validate_stack_name(&a).unwrap();
/// ```
pub fn unique_name(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let bytes = random_bytes::<4>();
    format!("{prefix}-{millis:011x}-{}", hex(&bytes))
}

/// Checks a name prefix: not empty, at most [`MAX_PREFIX_LEN`] characters of
/// `[A-Za-z0-9_.-]`.
pub(super) fn check_prefix(prefix: &str) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid("ephemeral stack prefix", reason));
    if prefix.is_empty() {
        return bad("the prefix may not be empty".into());
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return bad(format!(
            "{prefix:?} is longer than {MAX_PREFIX_LEN} characters"
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(format!(
            "{prefix:?}: may only contain alphanumerics, hyphens, underscores or periods (not {c:?})"
        ));
    }
    Ok(())
}

/// Lower-case hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` random bytes from `/dev/urandom` (a randomly keyed hash without it).
pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if from_os.is_err() {
        // No /dev/urandom: the standard library's randomly keyed hasher, over a counter.
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        for chunk in out.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    out
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This host's name (`/proc/sys/kernel/hostname`, else `/etc/hostname`). Blocking.
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The user running this process: `$USER`, else `uid-<uid>` (from `/proc/self`).
fn owner() -> String {
    std::env::var("USER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self")
                .map(|m| format!("uid-{}", m.uid()))
                .unwrap_or_else(|_| "unknown-user".into())
        })
}

/// A tag for tests: owner `me`, run `r`.
#[cfg(test)]
pub(super) fn test_tag(created: u64, pid: u32, host: &str) -> EphemeralTag {
    EphemeralTag {
        owner: "me".into(),
        host: host.into(),
        pid,
        created,
        run_id: "r".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tag_round_trip() {
        let t = test_tag(1_700_000_000, 42, "h");
        assert_eq!(EphemeralTag::parse(&t.to_value()), Some(t));
        assert_eq!(EphemeralTag::parse(""), None);
        assert_eq!(EphemeralTag::parse("{}"), None);
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("files-test_1.x").is_ok());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("a/b").is_err());
        assert!(check_prefix("a b").is_err());
        assert!(check_prefix(&"a".repeat(MAX_PREFIX_LEN + 1)).is_err());
        // The longest prefix still gives a valid stack name.
        let name = unique_name(&"a".repeat(MAX_PREFIX_LEN));
        crate::workspace::validate_stack_name(&name).unwrap();
    }

    #[test]
    fn names_are_unique_and_time_ordered() {
        let mut names: Vec<String> = (0..1000).map(|_| unique_name("p")).collect();
        let set: HashSet<&String> = names.iter().collect();
        assert_eq!(set.len(), names.len());
        let first = names.remove(0);
        std::thread::sleep(Duration::from_millis(2));
        let later = unique_name("p");
        assert!(later[..16] > first[..16], "{later} vs {first}");
    }
}
