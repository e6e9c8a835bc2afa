//! Stack configuration: `pulumi config --json [--show-secrets]`,
//! `pulumi config get KEY --json`, and the input of `pulumi config set-all --json`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ModelError, Sensitivity, parse_json, serialize_error};
use super::secrets::SECRET_PLACEHOLDER;

/// Config values by fully qualified key (`project:key`, `aws:region`).
pub type ConfigMap = BTreeMap<String, ConfigValue>;

/// One configuration value, in the CLI's `configValueJSON` shape:
/// `{"value"?: string, "objectValue"?: any, "secret": bool}`.
///
/// - `value` is the string value; for an object value (set with `--path`) it is the
///   JSON text of the object. It is absent for secrets listed without
///   `--show-secrets`; in `stack history` it is `"ERROR_UNABLE_TO_DECRYPT"` when
///   decryption failed.
/// - `object_value` is the parsed object for object values.
///
/// `Debug` never prints the value of a secret: it shows `"[secret]"` instead. Serialising
/// a secret leaves its value out (as the CLI lists secrets without `--show-secrets`)
/// unless asked for ([`Revealed`](crate::secret::Revealed)).
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    /// The value as a string (JSON text for object values); `None` when hidden.
    #[serde(default)]
    pub value: Option<String>,
    /// The parsed value, for object values.
    #[serde(default)]
    pub object_value: Option<Value>,
    /// True for secrets.
    #[serde(default)]
    pub secret: bool,
}

impl ConfigValue {
    /// A plaintext string value.
    pub fn plain(value: impl Into<String>) -> Self {
        ConfigValue {
            value: Some(value.into()),
            object_value: None,
            secret: false,
        }
    }

    /// A secret string value.
    pub fn secret(value: impl Into<String>) -> Self {
        ConfigValue {
            value: Some(value.into()),
            object_value: None,
            secret: true,
        }
    }

    /// An object (structured) value; `value` is set to its JSON text, as the CLI
    /// expects for `config set-all --json`.
    pub fn object(object: Value, secret: bool) -> Self {
        ConfigValue {
            value: Some(object.to_string()),
            object_value: Some(object),
            secret,
        }
    }

    /// The string value, if present.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// True if the value is hidden (a secret listed without `--show-secrets`).
    pub fn is_hidden(&self) -> bool {
        self.value.is_none() && self.object_value.is_none()
    }
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ConfigValue");
        if self.secret {
            s.field("value", &self.value.as_ref().map(|_| SECRET_PLACEHOLDER));
            s.field(
                "object_value",
                &self.object_value.as_ref().map(|_| SECRET_PLACEHOLDER),
            );
        } else {
            s.field("value", &self.value);
            s.field("object_value", &self.object_value);
        }
        s.field("secret", &self.secret).finish()
    }
}

impl Serialize for ConfigValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let shown = !self.secret || crate::secret::revealing();
        let mut s = serializer.serialize_struct("ConfigValue", 3)?;
        match &self.value {
            Some(v) if shown => s.serialize_field("value", v)?,
            _ => s.skip_field("value")?,
        }
        match &self.object_value {
            Some(v) if shown => s.serialize_field("objectValue", v)?,
            _ => s.skip_field("objectValue")?,
        }
        s.serialize_field("secret", &self.secret)?;
        s.end()
    }
}

const WHAT_LIST: &str = "`pulumi config --json` output";
const WHAT_GET: &str = "`pulumi config get --json` output";
const WHAT_SET_ALL: &str = "`pulumi config set-all --json` input";

/// Parses the output of `pulumi config --json [--show-secrets]`. `null` is read as
/// no config.
///
/// ```
/// use pulumi_auto_types::model::parse_config;
///
/// let cfg = parse_config(r#"{
///   "proj:dir": {"value": "/tmp/x", "secret": false},
///   "proj:token": {"secret": true}
/// }"#)?;
/// assert_eq!(cfg["proj:dir"].as_str(), Some("/tmp/x"));
/// assert!(cfg["proj:token"].secret && cfg["proj:token"].is_hidden());
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_config(json: &str) -> Result<ConfigMap, ModelError> {
    let map: Option<ConfigMap> = parse_json(WHAT_LIST, json, Sensitivity::Secret)?;
    Ok(map.unwrap_or_default())
}

/// Parses the output of `pulumi config get KEY --json` (one value; the CLI always
/// decrypts secrets here).
pub fn parse_config_value(json: &str) -> Result<ConfigValue, ModelError> {
    parse_json(WHAT_GET, json, Sensitivity::Secret)
}

/// Serialises `config` as the argument of `pulumi config set-all --json`.
///
/// Every entry needs a value: an entry with only `object_value` gets `value` filled
/// in with the object's JSON text (the CLI reads the object from `value`); an entry
/// with neither is rejected with [`ModelError::MissingConfigValue`].
///
/// The result holds secrets in plaintext. Keep it out of logs and error messages.
///
/// ```
/// use pulumi_auto_types::model::{ConfigMap, ConfigValue, config_set_all_json};
/// use serde_json::json;
///
/// let mut cfg = ConfigMap::new();
/// cfg.insert("proj:name".into(), ConfigValue::plain("web"));
/// cfg.insert("proj:tags".into(), ConfigValue::object(json!({"a": 1}), false));
/// let arg = config_set_all_json(&cfg)?;
/// assert_eq!(arg, r#"{"proj:name":{"value":"web","secret":false},"proj:tags":{"value":"{\"a\":1}","objectValue":{"a":1},"secret":false}}"#);
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn config_set_all_json(config: &ConfigMap) -> Result<String, ModelError> {
    let mut out = ConfigMap::new();
    for (key, entry) in config {
        let mut entry = entry.clone();
        if entry.value.is_none() {
            match &entry.object_value {
                Some(object) => entry.value = Some(object.to_string()),
                None => return Err(ModelError::MissingConfigValue { key: key.clone() }),
            }
        }
        out.insert(key.clone(), entry);
    }
    serde_json::to_string(&crate::secret::Revealed(&out))
        .map_err(|e| serialize_error(WHAT_SET_ALL, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // `pulumi config --json` (no --show-secrets): secrets have no value.
    const LIST: &str = r#"{
  "aws:region": {
    "value": "us-west-2",
    "secret": false
  },
  "files:dir": {
    "value": "/tmp/files-test",
    "secret": false
  },
  "files:names": {
    "value": "[\"a\",\"b\"]",
    "objectValue": [
      "a",
      "b"
    ],
    "secret": false
  },
  "files:db": {
    "secret": true
  },
  "files:token": {
    "secret": true
  }
}
"#;

    const LIST_SHOW_SECRETS: &str = r#"{
  "files:db": {
    "value": "{\"password\":\"pw1\",\"user\":\"u\"}",
    "objectValue": {
      "password": "pw1",
      "user": "u"
    },
    "secret": true
  },
  "files:token": {
    "value": "hunter2",
    "secret": true
  }
}
"#;

    #[test]
    fn list_without_secrets() {
        let cfg = parse_config(LIST).unwrap();
        assert_eq!(cfg.len(), 5);
        assert_eq!(cfg["aws:region"], ConfigValue::plain("us-west-2"));
        assert_eq!(cfg["files:names"].object_value, Some(json!(["a", "b"])));
        assert_eq!(cfg["files:names"].as_str(), Some(r#"["a","b"]"#));
        assert!(cfg["files:token"].secret);
        assert!(cfg["files:token"].is_hidden());
        assert!(!cfg["files:dir"].is_hidden());
    }

    #[test]
    fn list_with_secrets() {
        let cfg = parse_config(LIST_SHOW_SECRETS).unwrap();
        assert_eq!(cfg["files:token"], ConfigValue::secret("hunter2"));
        assert_eq!(
            cfg["files:db"],
            ConfigValue::object(json!({"password": "pw1", "user": "u"}), true)
        );
    }

    #[test]
    fn debug_never_prints_secrets() {
        let cfg = parse_config(LIST_SHOW_SECRETS).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("pw1"), "{dbg}");
        assert!(dbg.contains("[secret]"), "{dbg}");
        let plain = format!("{:?}", ConfigValue::plain("visible"));
        assert!(plain.contains("visible"));
        let hidden = format!(
            "{:?}",
            ConfigValue {
                secret: true,
                ..Default::default()
            }
        );
        assert!(hidden.contains("None"));
    }

    #[test]
    fn get_single_value() {
        // `pulumi config get files:token --json` (2-space indent).
        let v =
            parse_config_value("{\n  \"value\": \"hunter2\",\n  \"secret\": true\n}\n").unwrap();
        assert_eq!(v, ConfigValue::secret("hunter2"));
        let v = parse_config_value(
            r#"{"value":"[1,2]","objectValue":[1,2],"secret":false,"future":1}"#,
        )
        .unwrap();
        assert_eq!(v.object_value, Some(json!([1, 2])));
    }

    #[test]
    fn null_and_errors() {
        assert!(parse_config("null").unwrap().is_empty());
        assert!(parse_config("{}").unwrap().is_empty());
        let err = parse_config(r#"{"k": {"value": 5, "secret": true}}"#).unwrap_err();
        assert_eq!(err.what(), Some(WHAT_LIST));
        let err = parse_config_value(r#"{"value": "hunter2", "secret": "yes"}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn serialising_masks_secrets_unless_revealed() {
        let mut cfg = parse_config(LIST_SHOW_SECRETS).unwrap();
        cfg.insert("files:dir".into(), ConfigValue::plain("/tmp/x"));
        let masked = serde_json::to_string(&cfg).unwrap();
        for text in ["hunter2", "pw1"] {
            assert!(!masked.contains(text), "{masked}");
        }
        let back = parse_config(&masked).unwrap();
        for key in ["files:db", "files:token"] {
            assert!(back[key].secret && back[key].is_hidden(), "{key}");
        }
        assert_eq!(back["files:dir"], cfg["files:dir"]);
        let revealed = serde_json::to_string(&crate::secret::Revealed(&cfg)).unwrap();
        assert_eq!(parse_config(&revealed).unwrap(), cfg);
    }

    #[test]
    fn set_all_round_trips_through_the_list_shape() {
        let cfg = parse_config(LIST_SHOW_SECRETS).unwrap();
        let arg = config_set_all_json(&cfg).unwrap();
        assert_eq!(parse_config(&arg).unwrap(), cfg);
    }

    #[test]
    fn set_all_fills_value_from_object_and_rejects_hidden() {
        let mut cfg = ConfigMap::new();
        cfg.insert(
            "p:o".into(),
            ConfigValue {
                value: None,
                object_value: Some(json!({"x": [true]})),
                secret: true,
            },
        );
        let arg = config_set_all_json(&cfg).unwrap();
        assert_eq!(
            arg,
            r#"{"p:o":{"value":"{\"x\":[true]}","objectValue":{"x":[true]},"secret":true}}"#
        );
        let hidden = parse_config(LIST).unwrap();
        assert_eq!(
            config_set_all_json(&hidden),
            Err(ModelError::MissingConfigValue {
                key: "files:db".into()
            })
        );
    }
}
