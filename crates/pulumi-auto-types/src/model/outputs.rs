//! Stack outputs: `pulumi stack output --json [--show-secrets]`, or the outputs of
//! the root stack resource in engine events and deployments.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ModelError, Sensitivity, parse_json};
use super::secrets::{SECRET_PLACEHOLDER, contains_secret_placeholder, unwrap_secrets};

/// Stack outputs by name.
pub type OutputMap = BTreeMap<String, OutputValue>;

/// One stack output: its value and whether it is (or contains) a secret
/// (Go `auto.OutputValue`).
///
/// When the plaintext of a secret is not known, `value` is the string
/// [`SECRET_PLACEHOLDER`] (or contains it where the secret was nested).
///
/// `Debug` never prints the value of a secret output, and neither does serialising it:
/// a secret's value is written as [`SECRET_PLACEHOLDER`] unless asked for
/// ([`Revealed`](crate::secret::Revealed)).
#[derive(Clone, PartialEq, Deserialize)]
pub struct OutputValue {
    /// The value, as plain JSON.
    pub value: Value,
    /// True if the output is secret or contains a secret.
    #[serde(default)]
    pub secret: bool,
}

impl OutputValue {
    /// A non-secret output.
    pub fn plain(value: Value) -> Self {
        OutputValue {
            value,
            secret: false,
        }
    }

    /// A secret output.
    pub fn secret(value: Value) -> Self {
        OutputValue {
            value,
            secret: true,
        }
    }

    /// True if this output is secret but its plaintext is not known: the value
    /// is, or contains, [`SECRET_PLACEHOLDER`].
    pub fn is_redacted(&self) -> bool {
        self.secret && contains_secret_placeholder(&self.value)
    }
}

impl fmt::Debug for OutputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("OutputValue");
        if self.secret {
            s.field("value", &SECRET_PLACEHOLDER);
        } else {
            s.field("value", &self.value);
        }
        s.field("secret", &self.secret).finish()
    }
}

impl Serialize for OutputValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("OutputValue", 2)?;
        if self.secret && !crate::secret::revealing() {
            s.serialize_field("value", SECRET_PLACEHOLDER)?;
        } else {
            s.serialize_field("value", &self.value)?;
        }
        s.serialize_field("secret", &self.secret)?;
        s.end()
    }
}

const WHAT_PLAIN: &str = "`pulumi stack output --json` output";
const WHAT_REVEALED: &str = "`pulumi stack output --json --show-secrets` output";

/// Parses the output of `pulumi stack output --json` and, optionally, of
/// `pulumi stack output --json --show-secrets`.
///
/// An output is secret when its value in `plain_json` is, or contains at any
/// depth, the string `"[secret]"`. Its value is taken from `revealed_json` when that
/// is given (and has the output), otherwise from `plain_json`. Outputs only present
/// in `revealed_json` are included as non-secret, as the Go SDK does. `null` is
/// read as no outputs.
///
/// Unlike the Go SDK, which looks for the substring `[secret]` anywhere in the
/// serialised value, only whole string values equal to `"[secret]"` count.
///
/// ```
/// use pulumi_auto_types::model::parse_outputs;
/// use serde_json::json;
///
/// let plain = r#"{"url": "http://x", "token": "[secret]"}"#;
/// let revealed = r#"{"url": "http://x", "token": "t0k3n"}"#;
/// let outs = parse_outputs(plain, Some(revealed))?;
/// assert!(!outs["url"].secret);
/// assert!(outs["token"].secret);
/// assert_eq!(outs["token"].value, json!("t0k3n"));
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_outputs(
    plain_json: &str,
    revealed_json: Option<&str>,
) -> Result<OutputMap, ModelError> {
    let plain: Option<Map<String, Value>> =
        parse_json(WHAT_PLAIN, plain_json, Sensitivity::Secret)?;
    let plain = plain.unwrap_or_default();
    let revealed = match revealed_json {
        Some(json) => {
            let revealed: Option<Map<String, Value>> =
                parse_json(WHAT_REVEALED, json, Sensitivity::Secret)?;
            Some(revealed.unwrap_or_default())
        }
        None => None,
    };

    let mut outputs = OutputMap::new();
    for (name, plain_value) in &plain {
        let secret = contains_secret_placeholder(plain_value);
        let value = revealed
            .as_ref()
            .and_then(|r| r.get(name))
            .unwrap_or(plain_value)
            .clone();
        outputs.insert(name.clone(), OutputValue { value, secret });
    }
    if let Some(revealed) = revealed {
        for (name, value) in revealed {
            outputs
                .entry(name)
                .or_insert_with(|| OutputValue::plain(value));
        }
    }
    Ok(outputs)
}

/// Builds outputs from a serialised property map as found in engine events
/// (`resOutputsEvent.metadata.new.outputs` of the root stack resource) and in
/// deployments (the root stack resource's `outputs`).
///
/// Signature-tagged secrets are unwrapped with [`unwrap_secrets`]: an output is
/// secret if it is or contains one; a `plaintext` secret is decoded, a `ciphertext`
/// one (engine events always use `"ciphertext": "[secret]"`) becomes
/// [`SECRET_PLACEHOLDER`].
///
/// ```
/// use pulumi_auto_types::model::outputs_from_property_map;
/// use serde_json::json;
///
/// let outs = json!({
///     "dir": "/tmp/x",
///     "token": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
///               "ciphertext": "[secret]"}
/// });
/// let map = outputs_from_property_map(outs.as_object().unwrap());
/// assert!(!map["dir"].secret);
/// assert!(map["token"].secret && map["token"].is_redacted());
/// ```
pub fn outputs_from_property_map(outputs: &Map<String, Value>) -> OutputMap {
    outputs
        .iter()
        .map(|(name, value)| {
            let (value, secret) = unwrap_secrets(value);
            (name.clone(), OutputValue { value, secret })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secrets::{SECRET_SIG, SIG_KEY};
    use serde_json::json;

    // As printed by `pulumi stack output --json` (2-space indent, trailing newline)
    // for the `files` fixture program.
    const PLAIN: &str = r#"{
  "count": 2,
  "dir": "/tmp/files-test",
  "files": {
    "greeting": {
      "path": "/tmp/files-test/greeting.txt",
      "size": 5
    },
    "note": {
      "path": "/tmp/files-test/note.txt",
      "size": 7
    }
  },
  "greetingPath": "/tmp/files-test/greeting.txt",
  "nested": {
    "inner": "[secret]",
    "open": 1
  },
  "token": "[secret]"
}
"#;

    const REVEALED: &str = r#"{
  "count": 2,
  "dir": "/tmp/files-test",
  "files": {
    "greeting": {
      "path": "/tmp/files-test/greeting.txt",
      "size": 5
    },
    "note": {
      "path": "/tmp/files-test/note.txt",
      "size": 7
    }
  },
  "greetingPath": "/tmp/files-test/greeting.txt",
  "nested": {
    "inner": "deep",
    "open": 1
  },
  "token": "token-default"
}
"#;

    #[test]
    fn plain_only() {
        let outs = parse_outputs(PLAIN, None).unwrap();
        assert_eq!(outs.len(), 6);
        assert_eq!(outs["count"], OutputValue::plain(json!(2)));
        assert!(outs["token"].secret);
        assert_eq!(outs["token"].value, json!("[secret]"));
        assert!(outs["token"].is_redacted());
        assert!(
            outs["nested"].secret,
            "a nested [secret] makes the output secret"
        );
        assert!(!outs["files"].secret);
        assert_eq!(outs["files"].value["note"]["size"], json!(7));
    }

    #[test]
    fn with_revealed_values() {
        let outs = parse_outputs(PLAIN, Some(REVEALED)).unwrap();
        assert_eq!(outs["token"], OutputValue::secret(json!("token-default")));
        assert!(!outs["token"].is_redacted());
        assert_eq!(outs["nested"].value, json!({"inner": "deep", "open": 1}));
        assert!(outs["nested"].secret);
        assert_eq!(outs["dir"], OutputValue::plain(json!("/tmp/files-test")));
    }

    #[test]
    fn empty_and_null_documents() {
        assert!(parse_outputs("{}\n", None).unwrap().is_empty());
        assert!(parse_outputs("null", Some("null")).unwrap().is_empty());
        assert!(matches!(
            parse_outputs("", None),
            Err(ModelError::Empty { .. })
        ));
    }

    #[test]
    fn keys_only_in_revealed_are_kept_as_plain() {
        let outs = parse_outputs(r#"{"a": 1}"#, Some(r#"{"a": 1, "b": 2}"#)).unwrap();
        assert_eq!(outs["b"], OutputValue::plain(json!(2)));
    }

    #[test]
    fn errors_name_the_document_and_hide_secrets() {
        let err = parse_outputs(PLAIN, Some(r#"{"token": "hunter2" "#)).unwrap_err();
        assert_eq!(err.what(), Some(WHAT_REVEALED));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_outputs("[1,2]", None).unwrap_err();
        assert_eq!(err.what(), Some(WHAT_PLAIN));
        assert!(matches!(err, ModelError::Json { .. }));
    }

    #[test]
    fn debug_hides_secret_values() {
        let outs = parse_outputs(PLAIN, Some(REVEALED)).unwrap();
        let dbg = format!("{outs:?}");
        assert!(!dbg.contains("token-default"), "{dbg}");
        assert!(!dbg.contains("deep"), "{dbg}");
        assert!(dbg.contains("/tmp/files-test"));
    }

    #[test]
    fn from_engine_property_map() {
        let props = json!({
            "count": 2,
            "token": {SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"},
            "revealed": {SIG_KEY: SECRET_SIG, "plaintext": "{\"a\":1}"},
            "files": {"greeting": {"path": "/p", "size": {SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"}}}
        });
        let outs = outputs_from_property_map(props.as_object().unwrap());
        assert_eq!(outs["count"], OutputValue::plain(json!(2)));
        assert_eq!(outs["token"], OutputValue::secret(json!("[secret]")));
        assert_eq!(outs["revealed"], OutputValue::secret(json!({"a": 1})));
        assert!(outs["files"].secret);
        assert_eq!(
            outs["files"].value,
            json!({"greeting": {"path": "/p", "size": "[secret]"}})
        );
    }

    #[test]
    fn output_value_serde() {
        let v = OutputValue::secret(json!(["hunter2"]));
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(s, r#"{"value":"[secret]","secret":true}"#);
        let back: OutputValue = serde_json::from_str(&s).unwrap();
        assert!(back.is_redacted());
        let s = serde_json::to_string(&crate::secret::Revealed(&v)).unwrap();
        assert_eq!(s, r#"{"value":["hunter2"],"secret":true}"#);
        let plain = serde_json::to_string(&OutputValue::plain(json!(2))).unwrap();
        assert_eq!(plain, r#"{"value":2,"secret":false}"#);
        let back: OutputValue = serde_json::from_str(r#"{"value":[1]}"#).unwrap();
        assert_eq!(back, OutputValue::plain(json!([1])));
    }
}
