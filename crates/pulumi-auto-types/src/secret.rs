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

/// The shortest secret [`redact`] masks, in bytes: a shorter value would blank out
/// unrelated text (every `a` of a message, for a secret `a`).
pub const MIN_REDACTED_LEN: usize = 3;

/// Replaces every occurrence of each secret (of at least [`MIN_REDACTED_LEN`] bytes) in
/// `text` with [`REDACTED`]: as written, and as JSON writes it inside a string (a secret
/// with a `"`, a `\` or a control character is escaped there), so JSON output is masked
/// too.
///
/// ```
/// use pulumi_auto_types::secret::{Secret, redact};
/// let secrets = [Secret::new(r#"pa"ss\word"#)];
/// let json = serde_json::json!({"msg": r#"login with pa"ss\word"#}).to_string();
/// assert_eq!(redact(&json, &secrets), r#"{"msg":"login with [secret]"}"#);
/// ```
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let v = s.expose();
        if v.len() < MIN_REDACTED_LEN {
            continue;
        }
        if out.contains(v) {
            out = out.replace(v, REDACTED);
        }
        let escaped = json_escaped(v);
        if escaped != v && out.contains(escaped.as_str()) {
            out = out.replace(escaped.as_str(), REDACTED);
        }
    }
    out
}

/// `value` as it appears between the quotes of a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

thread_local! {
    /// Set while a [`Revealed`] value is being serialised on this thread.
    static REVEALING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Serialises the value it wraps with its secrets in plaintext: the explicit way to ask
/// for them.
///
/// The shapes that carry secret values ([`OutputValue`](crate::model::OutputValue),
/// [`ConfigValue`](crate::model::ConfigValue), and everything that holds them: the
/// results of operations, stack history) serialise them masked: a secret output's value
/// as `"[secret]"`, a secret config value without its value (as the CLI lists secrets
/// without `--show-secrets`). Inside a `Revealed`, they serialise their plaintext.
///
/// ```
/// use pulumi_auto_types::model::OutputValue;
/// use pulumi_auto_types::secret::Revealed;
/// let token = OutputValue::secret("hunter2".into());
/// assert_eq!(
///     serde_json::to_string(&token).unwrap(),
///     r#"{"value":"[secret]","secret":true}"#
/// );
/// assert_eq!(
///     serde_json::to_string(&Revealed(&token)).unwrap(),
///     r#"{"value":"hunter2","secret":true}"#
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Revealed<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> serde::Serialize for Revealed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// Restores the previous state, also when serialising panics.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                REVEALING.with(|r| r.set(self.0));
            }
        }
        let _restore = Restore(REVEALING.with(|r| r.replace(true)));
        self.0.serialize(serializer)
    }
}

/// Whether secrets are being serialised in plaintext right now (inside a [`Revealed`]):
/// what a `Serialize` impl of a shape with secret values asks before writing one.
pub fn revealing() -> bool {
    REVEALING.with(|r| r.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revealing_is_scoped_to_the_wrapped_value() {
        struct Probe;
        impl serde::Serialize for Probe {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bool(revealing())
            }
        }
        assert_eq!(serde_json::to_string(&Probe).unwrap(), "false");
        assert_eq!(serde_json::to_string(&Revealed(&Probe)).unwrap(), "true");
        assert_eq!(
            serde_json::to_string(&Revealed(&[Probe, Probe])).unwrap(),
            "[true,true]"
        );
        assert!(!revealing(), "the state is restored afterwards");
        assert_eq!(serde_json::to_string(&Probe).unwrap(), "false");
    }

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

    #[test]
    fn redact_masks_the_json_escaped_form() {
        for secret in ["with\"quote", "back\\slash", "tab\there", "nl\nline"] {
            let secrets = [Secret::new(secret)];
            let json = serde_json::json!({"m": format!("x {secret} y")}).to_string();
            let out = redact(&json, &secrets);
            assert_eq!(out, r#"{"m":"x [secret] y"}"#, "{secret:?}");
            assert_eq!(redact(&format!("x {secret} y"), &secrets), "x [secret] y");
        }
    }
}
