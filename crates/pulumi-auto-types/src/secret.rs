//! [`Secret`]: a string that never shows itself.
//!
//! Secret config values travel to the CLI on standard input, never on its command line.
//! This type keeps them out of `Debug` output, logs and error messages: it has no
//! `Display`, its `Debug` prints `[secret]`, and reading it takes an explicit
//! [`Secret::expose`].
//!
//! ```
//! use pulumi_auto_types::Secret;
//! let s = Secret::new("hunter2");
//! assert_eq!(format!("{s:?}"), "[secret]");
//! assert_eq!(s.expose(), "hunter2");
//! ```

use std::fmt;

/// The text that stands in for a secret value wherever one would be shown.
pub const REDACTED: &str = "[secret]";

/// A secret string: redacted in `Debug`, never displayed, read with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value as secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain value. Call it only where the value must leave the process (the CLI's stdin).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Replaces every occurrence of each secret (of at least 3 bytes, so that short values
/// do not blank out unrelated text) in `text` with [`REDACTED`].
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let v = s.expose();
        if v.len() >= 3 && out.contains(v) {
            out = out.replace(v, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("p@ss w0rd");
        assert_eq!(format!("{s:?}"), "[secret]");
        assert_eq!(format!("{:?}", vec![s.clone()]), "[[secret]]");
        assert_eq!(s.expose(), "p@ss w0rd");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let secrets = [Secret::new("topsecret"), Secret::new("ab")];
        let out = redact("x topsecret y topsecret ab", &secrets);
        assert_eq!(out, "x [secret] y [secret] ab");
    }
}
