//! This server process as one replica of several on one database: a random id made at
//! start (logged, and kept in the `replicas` table with a heartbeat renewed every third of
//! the heartbeat timeout), which names the jobs it claims. A replica whose heartbeat is
//! older than the timeout is taken for dead: a survivor fails its unfinished jobs and
//! repairs their stacks ([`crate::programs`]).

use std::sync::OnceLock;
use std::time::Duration;

/// The default heartbeat timeout (`--heartbeat-timeout`).
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(15);

static ID: OnceLock<String> = OnceLock::new();
static TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// This process's replica id (random, made on first use).
pub fn id() -> &'static str {
    ID.get_or_init(crate::crypto::new_id)
}

/// Sets the heartbeat timeout (once, at start; later calls are ignored).
pub fn set_heartbeat_timeout(timeout: Duration) {
    let _ = TIMEOUT.set(timeout);
}

/// How long a replica may go without renewing its heartbeat before it is taken for dead.
pub fn heartbeat_timeout() -> Duration {
    TIMEOUT.get().copied().unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT)
}

/// How often the heartbeat is renewed, and survivors look for dead replicas' jobs: a
/// third of the timeout (so two renewals may fail before a replica is taken for dead).
pub fn heartbeat_interval() -> Duration {
    interval_of(heartbeat_timeout())
}

/// A third of `timeout`, at least 100 ms.
pub fn interval_of(timeout: Duration) -> Duration {
    (timeout / 3).max(Duration::from_millis(100))
}

/// The heartbeat timeout in milliseconds.
pub fn timeout_ms() -> i64 {
    i64::try_from(heartbeat_timeout().as_millis()).unwrap_or(i64::MAX)
}

/// Parses `--heartbeat-timeout`: seconds (fractions allowed), from 1 to 3600.
pub fn parse_timeout(arg: &str) -> Result<Duration, String> {
    match arg.trim().parse::<f64>() {
        Ok(v) if (1.0..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "--heartbeat-timeout {arg:?}: expected seconds from 1 to 3600"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "0.5", "3601", "x", "", "-3", "NaN", "inf"] {
            let e = parse_timeout(bad).unwrap_err();
            assert!(e.contains("--heartbeat-timeout"), "{e}");
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(interval_of(Duration::from_secs(15)), Duration::from_secs(5));
        assert_eq!(
            interval_of(Duration::from_millis(30)),
            Duration::from_millis(100)
        );
        assert_eq!(id(), id());
        assert_eq!(id().len(), crate::crypto::new_id().len());
    }
}
