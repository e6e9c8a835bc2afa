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
static MAX_JOBS: OnceLock<usize> = OnceLock::new();

/// Sets how many operations this replica runs at once at most (`--max-jobs`; once, at
/// start). Queued operations beyond it are left to other replicas, or wait.
pub fn set_max_jobs(n: usize) {
    let _ = MAX_JOBS.set(n);
}

/// How many operations this replica runs at once at most: no limit unless `--max-jobs`
/// says (0: it takes requests but runs no queued operation).
pub fn max_jobs() -> usize {
    MAX_JOBS.get().copied().unwrap_or(usize::MAX)
}

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

/// The URL a client reached this server at: `X-Forwarded-Proto` (else `http`) and `Host`.
pub fn request_base_url(headers: &axum::http::HeaderMap) -> Option<String> {
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    if host.is_empty() || host.contains(['/', ' ', '"', '\\']) {
        return None;
    }
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    Some(format!("{proto}://{host}"))
}

/// A stored deployment with its service secrets provider's URL made `url`, or `None` when
/// it already is (or the deployment has no service secrets provider). The CLI that reads a
/// deployment constructs its secrets manager for the URL recorded there, with the
/// credentials it holds for that URL: a stack last written through another replica (or a
/// dead one) records that replica's URL, so each replica answers with the URL it was
/// reached at. Only that string changes; the rest of the text stays byte for byte.
pub fn with_secrets_url(text: &str, url: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let sp = v.get("deployment")?.get("secrets_providers")?;
    if sp.get("type")?.as_str()? != "service" {
        return None;
    }
    let old = sp.get("state")?.get("url")?.as_str()?;
    if old.is_empty() || old == url {
        return None;
    }
    let key = text.find("\"secrets_providers\"")?;
    let old_lit = serde_json::to_string(old).ok()?;
    let at = key + text[key..].find(&old_lit)?;
    let new_lit = serde_json::to_string(url).ok()?;
    Some(format!(
        "{}{new_lit}{}",
        &text[..at],
        &text[at + old_lit.len()..]
    ))
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
    fn secrets_urls() {
        let text = r#"{"version":3,"deployment":{"manifest":{"time":"t"},"secrets_providers":{"type":"service","state":{"url":"http://127.0.0.1:1","owner":"o","project":"p","stack":"s"}},"resources":[{"outputs":{"u":"http://127.0.0.1:1"}}]}}"#;
        let out = with_secrets_url(text, "http://127.0.0.1:2").unwrap();
        assert_eq!(
            out,
            text.replacen("http://127.0.0.1:1", "http://127.0.0.1:2", 1)
        );
        // The resource's output keeps its value.
        assert!(out.contains(r#""u":"http://127.0.0.1:1""#));
        assert_eq!(with_secrets_url(text, "http://127.0.0.1:1"), None);
        let passphrase = text.replace(r#""type":"service""#, r#""type":"passphrase""#);
        assert_eq!(with_secrets_url(&passphrase, "http://x"), None);
        assert_eq!(with_secrets_url("{}", "http://x"), None);
        assert_eq!(with_secrets_url("not json", "http://x"), None);
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(request_base_url(&h), None);
        h.insert("host", "127.0.0.1:8000".parse().unwrap());
        assert_eq!(request_base_url(&h).unwrap(), "http://127.0.0.1:8000");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(request_base_url(&h).unwrap(), "https://127.0.0.1:8000");
        h.insert("host", "a/b".parse().unwrap());
        assert_eq!(request_base_url(&h), None);
    }

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
