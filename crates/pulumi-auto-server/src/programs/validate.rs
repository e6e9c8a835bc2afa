//! The custom API's request bodies and names, checked before anything runs: a 400
//! `{code, message}` naming the bad part (never echoing a value, which may be a secret).
//! Pure functions.

use std::collections::BTreeMap;

use pulumi_auto::{ConfigSetValue, Secret};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The most config keys one request may set.
pub const MAX_CONFIG_KEYS: usize = 256;
/// The longest config value accepted, in bytes.
pub const MAX_CONFIG_VALUE: usize = 64 * 1024;
/// The largest request body of the custom API, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// Checks a program's name: 1 to 64 of `A-Z a-z 0-9 - _ .`, not starting with `-` or `.`.
pub fn program_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Bad Request: a program name is 1 to 64 of A-Z, a-z, 0-9, '-', '_', '.', not \
             starting with '-' or '.'",
        ))
    }
}

/// Checks a stack's name (a bare name: no `org/` or `project/` part), by Pulumi's rule
/// and the library's (not `-…`, `.` or `..`).
pub fn stack_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('-')
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Bad Request: a stack name is 1 to 100 of A-Z, a-z, 0-9, '-', '_', '.', not \
             starting with '-' and not '.' or '..'",
        ))
    }
}

/// A config value as the JSON body gives it: a string, a number or boolean (kept as
/// text), or `{"value": "...", "secret": true}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ConfigInput {
    /// A plain string.
    Plain(String),
    /// A number.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
    /// A value with its secrecy.
    Marked {
        /// The value.
        value: String,
        /// Whether it is a secret (encrypted in the stack's settings, never returned).
        #[serde(default)]
        secret: bool,
    },
}

impl std::fmt::Debug for ConfigInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigInput::Marked { secret: true, .. } => f.write_str("[secret]"),
            _ => f.write_str("[value]"),
        }
    }
}

/// Config checked and ready for the library: the values, and the secret ones apart (to
/// redact them from anything the server answers).
#[derive(Default)]
pub struct Config {
    /// `(key, value)` in key order.
    pub values: Vec<(String, ConfigSetValue)>,
    /// The secret values.
    pub secrets: Vec<Secret>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "keys",
                &self
                    .values
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Checks a body's config: at most [`MAX_CONFIG_KEYS`] keys, each a valid config key
/// (`key` or `namespace:key`), each value at most [`MAX_CONFIG_VALUE`] bytes without NUL.
pub fn config(input: BTreeMap<String, ConfigInput>) -> Result<Config> {
    if input.len() > MAX_CONFIG_KEYS {
        return Err(Error::bad_request(format!(
            "Bad Request: at most {MAX_CONFIG_KEYS} config keys per request"
        )));
    }
    let mut out = Config::default();
    for (key, value) in input {
        if key.len() > 256 {
            return Err(Error::bad_request(
                "Bad Request: a config key is at most 256 bytes",
            ));
        }
        if let Err(e) = pulumi_auto::workspace::validate_config_key(&key, false) {
            return Err(Error::bad_request(format!("Bad Request: {e}")));
        }
        let (text, secret) = match value {
            ConfigInput::Plain(s) => (s, false),
            ConfigInput::Number(n) => (n.to_string(), false),
            ConfigInput::Bool(b) => (b.to_string(), false),
            ConfigInput::Marked { value, secret } => (value, secret),
        };
        if text.len() > MAX_CONFIG_VALUE || text.contains('\0') {
            return Err(Error::bad_request(format!(
                "Bad Request: the value of config key {key:?} is over {MAX_CONFIG_VALUE} bytes \
                 or contains NUL"
            )));
        }
        if secret {
            let s = Secret::new(text);
            out.secrets.push(s.clone());
            out.values.push((key, ConfigSetValue::from(s)));
        } else {
            out.values.push((key, ConfigSetValue::from(text)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["files", "a.b-c_d", "X1"] {
            assert!(program_name(ok).is_ok(), "{ok}");
            assert!(stack_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a/b", "a b", "é", ".", "..", &"x".repeat(101)] {
            assert!(stack_name(bad).is_err(), "{bad}");
            assert!(program_name(bad).is_err(), "{bad}");
        }
        assert!(program_name(".hidden").is_err());
        assert!(program_name(&"p".repeat(65)).is_err());
    }

    #[test]
    fn config_values() {
        let body: BTreeMap<String, ConfigInput> = serde_json::from_str(
            r#"{"dir":"/tmp/x","count":3,"on":true,"token":{"value":"s3cr3t","secret":true}}"#,
        )
        .unwrap();
        let c = config(body).unwrap();
        assert_eq!(c.values.len(), 4);
        assert_eq!(c.secrets.len(), 1);
        assert_eq!(c.secrets[0].expose(), "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn config_refusals_never_echo_values() {
        let bad: BTreeMap<String, ConfigInput> =
            serde_json::from_str(r#"{"a:b:c":{"value":"hidden-value","secret":true}}"#).unwrap();
        let e = config(bad).unwrap_err().to_string();
        assert!(e.contains("a:b:c") && !e.contains("hidden-value"), "{e}");
        let big: BTreeMap<String, ConfigInput> = [(
            "k".to_owned(),
            ConfigInput::Plain("v".repeat(MAX_CONFIG_VALUE + 1)),
        )]
        .into_iter()
        .collect();
        assert!(config(big).is_err());
        let many: BTreeMap<String, ConfigInput> = (0..=MAX_CONFIG_KEYS)
            .map(|i| (format!("k{i}"), ConfigInput::Plain("v".into())))
            .collect();
        assert!(config(many).is_err());
        let nul: BTreeMap<String, ConfigInput> =
            [("k".to_owned(), ConfigInput::Plain("a\0b".into()))]
                .into_iter()
                .collect();
        assert!(config(nul).is_err());
    }
}
