//! The secret parts of a backend URL: the password of its userinfo
//! (`postgres://user:password@host/db`) and the values of password-like query parameters
//! (libpq's `?password=…`, `sslpassword=…`, a `token=…`). They travel only in the CLI's
//! environment, and are shown as [`REDACTED`] in `Debug` output and errors.
//!
//! ```
//! use pulumi_auto::workspace::{redact_url, url_has_credentials};
//! let url = "postgres://me:p%2Fq@db.example:5432/state?sslmode=disable&password=hunter2";
//! assert_eq!(
//!     redact_url(url),
//!     "postgres://me:[secret]@db.example:5432/state?sslmode=disable&password=[secret]"
//! );
//! assert!(url_has_credentials(url));
//! assert!(!url_has_credentials("file:///tmp/state"));
//! ```

use std::ops::Range;

use crate::secret::{REDACTED, Secret};

/// The byte range of the password in a URL's userinfo (`scheme://user:password@host/…`),
/// and where the host starts.
///
/// The userinfo ends at the last `@` that leaves a plausible userinfo before it: a user
/// part (before the first `:`) without `/`, `?` or `#`, and no `://` (an `@` inside a URL
/// given as a query parameter, `?endpoint=http://a:b@c`, is not the userinfo's). The
/// password itself may then hold anything, `/`, `?`, `#` and `@` included, as a hand-made
/// URL sometimes does.
fn userinfo_password(url: &str) -> (Option<Range<usize>>, usize) {
    let Some(scheme_end) = url.find("://") else {
        return (None, 0);
    };
    let start = scheme_end + 3;
    let rest = &url[start..];
    for (at, _) in rest.match_indices('@').rev() {
        let userinfo = &rest[..at];
        if userinfo.contains("://") {
            continue;
        }
        let user = userinfo.split(':').next().unwrap_or_default();
        if user.contains(['/', '?', '#']) {
            continue;
        }
        let host = start + at + 1;
        return match userinfo.find(':') {
            Some(colon) if colon + 1 < userinfo.len() => {
                (Some(start + colon + 1..start + userinfo.len()), host)
            }
            _ => (None, host),
        };
    }
    (None, start)
}

/// Whether a query parameter of this name holds a secret (libpq's `password` and
/// `sslpassword`, and any `…password…`, `…passwd…`, `pwd`, `…secret…` or `…token…`).
fn secret_param(name: &str) -> bool {
    let name = percent_decode(name)
        .unwrap_or_else(|| name.to_owned())
        .to_ascii_lowercase();
    name == "pwd"
        || ["password", "passwd", "secret", "token"]
            .iter()
            .any(|s| name.contains(s))
}

/// The byte ranges of every secret part of `url`, in order, not overlapping.
fn secret_ranges(url: &str) -> Vec<Range<usize>> {
    let (password, host) = userinfo_password(url);
    let mut ranges: Vec<Range<usize>> = password.into_iter().collect();
    let after_host = &url[host..];
    let Some(q) = after_host.find('?') else {
        return ranges;
    };
    let query_start = host + q + 1;
    let query = &url[query_start..];
    let query = &query[..query.find('#').unwrap_or(query.len())];
    let mut offset = query_start;
    for param in query.split('&') {
        if let Some((name, value)) = param.split_once('=')
            && !value.is_empty()
            && secret_param(name)
        {
            let value_start = offset + name.len() + 1;
            ranges.push(value_start..value_start + value.len());
        }
        offset += param.len() + 1;
    }
    ranges
}

/// `url` with its secret parts (the userinfo's password, password-like query parameters)
/// replaced by [`REDACTED`]; a URL without any is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for r in secret_ranges(url) {
        out.push_str(&url[last..r.start]);
        out.push_str(REDACTED);
        last = r.end;
    }
    out.push_str(&url[last..]);
    out
}

/// Whether `url` carries a password or a password-like query parameter.
pub fn url_has_credentials(url: &str) -> bool {
    !secret_ranges(url).is_empty()
}

/// The secret parts of `url`, as written and decoded (`%2F` → `/`; in the query also `+`
/// → space), for redacting them from whatever the CLI prints.
pub(crate) fn url_secrets(url: &str) -> Vec<Secret> {
    let mut out: Vec<String> = Vec::new();
    for r in secret_ranges(url) {
        let raw = &url[r];
        let mut forms = vec![raw.to_owned()];
        forms.extend(percent_decode(raw));
        forms.extend(percent_decode(&raw.replace('+', " ")));
        for f in forms {
            if !f.is_empty() && !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out.into_iter().map(Secret::new).collect()
}

/// `%XX` escapes decoded; `None` if an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposed(url: &str) -> Vec<String> {
        url_secrets(url)
            .iter()
            .map(|s| s.expose().to_owned())
            .collect()
    }

    #[test]
    fn userinfo_passwords_are_found_and_redacted() {
        let url = "postgres://user:s3cr%40t@127.0.0.1:5432/db?sslmode=disable&table=t";
        assert_eq!(exposed(url), ["s3cr%40t", "s3cr@t"]);
        assert_eq!(
            redact_url(url),
            "postgres://user:[secret]@127.0.0.1:5432/db?sslmode=disable&table=t"
        );
        // An '@', '/', '?' or '#' in the password itself (unescaped).
        for (url, password) in [
            ("postgres://u:p@ss@h/db", "p@ss"),
            ("postgres://u:p/q@h/db", "p/q"),
            ("postgres://u:p?q@h/db", "p?q"),
            ("postgres://u:p#q@h/db", "p#q"),
            ("postgres://u:a/b?c#d@e@h:1/db?x=1", "a/b?c#d@e"),
        ] {
            assert_eq!(redact_url(url).matches(REDACTED).count(), 1, "{url}");
            assert!(!redact_url(url).contains(password), "{url}");
            assert_eq!(exposed(url), [password], "{url}");
        }
    }

    #[test]
    fn query_passwords_are_found_and_redacted() {
        let url = "postgres://u@h/db?sslmode=disable&password=p%2Fq+r&sslpassword=k3y&table=t";
        assert_eq!(
            redact_url(url),
            "postgres://u@h/db?sslmode=disable&password=[secret]&sslpassword=[secret]&table=t"
        );
        assert_eq!(exposed(url), ["p%2Fq+r", "p/q+r", "p/q r", "k3y"]);
        // Both places at once, a fragment after the query, names in any case.
        let url = "postgres://u:pw1@h/db?PassWord=pw2#frag";
        assert_eq!(
            redact_url(url),
            "postgres://u:[secret]@h/db?PassWord=[secret]#frag"
        );
        assert_eq!(
            redact_url("https://h/x?token=t0k&region=eu"),
            "https://h/x?token=[secret]&region=eu"
        );
        assert!(url_has_credentials("s3://b?aws_secret=x"));
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "postgres://user@host/db",
            "postgres://user:@host/db",
            "postgres://host/db?password=",
            "file:///tmp/state",
            "file:///tmp/a@b/state",
            "s3://bucket/prefix?endpoint=http://a:b@c",
            "s3://bucket/x?endpoint=a:b@c",
            "https://api.pulumi.com",
            "postgres://",
            "no scheme at all:x@y",
        ] {
            assert!(url_secrets(url).is_empty(), "{url}");
            assert_eq!(redact_url(url), url);
            assert!(!url_has_credentials(url), "{url}");
        }
        assert_eq!(percent_decode("bad%4"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }
}
