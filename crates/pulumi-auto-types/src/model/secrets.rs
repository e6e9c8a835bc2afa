//! Pulumi's signature-tagged secret values and the `"[secret]"` placeholder.
//!
//! In serialised state (`pulumi stack export`) and engine events a secret is an
//! object tagged with [`SIG_KEY`]` = `[`SECRET_SIG`] and carrying either
//! `"plaintext"` (the JSON encoding of the value, with `--show-secrets`) or
//! `"ciphertext"` (encrypted, or the literal `"[secret]"` in engine events).
//! Command outputs such as `pulumi stack output --json` print
//! [`SECRET_PLACEHOLDER`] instead.

use serde_json::{Map, Value};

/// The key that marks a signature-tagged object (Go `sig.Key`).
pub const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";

/// The signature of a secret value (Go `sig.Secret`).
pub const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";

/// The signature of an asset (Go `sig.AssetSig`).
pub const ASSET_SIG: &str = "c44067f5952c0a294b673a41bacd8c17";

/// The signature of an archive (Go `sig.ArchiveSig`).
pub const ARCHIVE_SIG: &str = "0def7320c3a5731c473e5ecbe6d01bc7";

/// The signature of a resource reference (Go `sig.ResourceReference`).
pub const RESOURCE_REFERENCE_SIG: &str = "5cf8f73096256a8f31e491e813e4eb8e";

/// The string the CLI prints in place of a secret when secrets are not shown, and
/// the redacted marker this crate uses for secrets it cannot decode.
pub const SECRET_PLACEHOLDER: &str = "[secret]";

/// The string that stands for a value not known until the update runs (preview
/// states, engine events).
pub const UNKNOWN_PLACEHOLDER: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/// True if `object` is a signature-tagged secret (`{SIG_KEY: SECRET_SIG, …}`).
pub fn is_secret_object(object: &Map<String, Value>) -> bool {
    object.get(SIG_KEY).and_then(Value::as_str) == Some(SECRET_SIG)
}

/// Replaces every signature-tagged secret in `value` with its value, and reports
/// whether there was any secret.
///
/// - With `"plaintext"`, the plaintext is JSON-decoded (and unwrapped again, in case
///   it holds further tagged values). If it is not valid JSON the plaintext string
///   itself is used.
/// - With `"ciphertext"` (or neither), the secret becomes the string
///   [`SECRET_PLACEHOLDER`]: the value cannot be recovered here.
///
/// Other tagged objects (assets, archives, resource references) are kept, with
/// their fields unwrapped. Plain `"[secret]"` strings are not treated as secrets; see
/// [`contains_secret_placeholder`].
///
/// ```
/// use pulumi_auto_types::model::unwrap_secrets;
/// use serde_json::json;
///
/// let v = json!({"user": "admin", "password": {
///     "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
///     "plaintext": "\"hunter2\""
/// }});
/// let (plain, secret) = unwrap_secrets(&v);
/// assert!(secret);
/// assert_eq!(plain, json!({"user": "admin", "password": "hunter2"}));
/// ```
pub fn unwrap_secrets(value: &Value) -> (Value, bool) {
    let mut found = false;
    let out = unwrap_into(value, &mut found, 0);
    (out, found)
}

/// Recursion limit for decoding nested plaintexts; `serde_json` already limits
/// nesting depth within one document.
const MAX_PLAINTEXT_DEPTH: usize = 32;

fn unwrap_into(value: &Value, found: &mut bool, depth: usize) -> Value {
    match value {
        Value::Object(object) if is_secret_object(object) => {
            *found = true;
            match object.get("plaintext").and_then(Value::as_str) {
                Some(plaintext) if depth < MAX_PLAINTEXT_DEPTH => {
                    match serde_json::from_str::<Value>(plaintext) {
                        Ok(decoded) => unwrap_into(&decoded, found, depth + 1),
                        Err(_) => Value::String(plaintext.to_string()),
                    }
                }
                Some(plaintext) => Value::String(plaintext.to_string()),
                None => Value::String(SECRET_PLACEHOLDER.to_string()),
            }
        }
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (k.clone(), unwrap_into(v, found, depth)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| unwrap_into(v, found, depth)).collect())
        }
        other => other.clone(),
    }
}

/// `value` with the `plaintext` of every signature-tagged secret replaced by
/// [`SECRET_PLACEHOLDER`] (the tagged objects themselves are kept). Used by `Debug`
/// implementations so that they never print a decrypted secret.
pub(crate) fn redact_plaintexts(value: &Value) -> Value {
    match value {
        Value::Object(object) if is_secret_object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| {
                    if k == "plaintext" {
                        (k.clone(), Value::String(SECRET_PLACEHOLDER.to_string()))
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect(),
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (k.clone(), redact_plaintexts(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_plaintexts).collect()),
        other => other.clone(),
    }
}

/// True if `value` is, or contains at any depth, a signature-tagged secret.
pub fn contains_secret_object(value: &Value) -> bool {
    match value {
        Value::Object(object) => {
            is_secret_object(object) || object.values().any(contains_secret_object)
        }
        Value::Array(items) => items.iter().any(contains_secret_object),
        _ => false,
    }
}

/// True if `value` is, or contains at any depth, the string [`SECRET_PLACEHOLDER`]
/// (how `pulumi stack output --json` and the preview digest show secrets).
pub fn contains_secret_placeholder(value: &Value) -> bool {
    match value {
        Value::String(s) => s == SECRET_PLACEHOLDER,
        Value::Object(object) => object.values().any(contains_secret_placeholder),
        Value::Array(items) => items.iter().any(contains_secret_placeholder),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret_plain(plaintext: &str) -> Value {
        json!({SIG_KEY: SECRET_SIG, "plaintext": plaintext})
    }

    fn secret_cipher(ciphertext: &str) -> Value {
        json!({SIG_KEY: SECRET_SIG, "ciphertext": ciphertext})
    }

    #[test]
    fn plain_values_are_untouched() {
        let v = json!({"a": [1, "x", null, {"b": true}], "c": 2.5});
        assert_eq!(unwrap_secrets(&v), (v.clone(), false));
        assert!(!contains_secret_object(&v));
    }

    #[test]
    fn top_level_plaintext_is_decoded() {
        assert_eq!(
            unwrap_secrets(&secret_plain("\"s3cr3t\"")),
            (json!("s3cr3t"), true)
        );
        assert_eq!(unwrap_secrets(&secret_plain("42")), (json!(42), true));
        assert_eq!(
            unwrap_secrets(&secret_plain(r#"{"k":[1,2]}"#)),
            (json!({"k": [1, 2]}), true)
        );
    }

    #[test]
    fn ciphertext_becomes_placeholder() {
        assert_eq!(
            unwrap_secrets(&secret_cipher("[secret]")),
            (json!(SECRET_PLACEHOLDER), true)
        );
        assert_eq!(
            unwrap_secrets(&secret_cipher("v1:abc:def")),
            (json!(SECRET_PLACEHOLDER), true)
        );
        assert_eq!(
            unwrap_secrets(&json!({SIG_KEY: SECRET_SIG})),
            (json!(SECRET_PLACEHOLDER), true)
        );
    }

    #[test]
    fn nested_secrets_mark_the_container() {
        let v = json!({"db": {"host": "h", "pw": secret_cipher("[secret]")}, "list": [1, secret_plain("\"x\"")]});
        let (out, secret) = unwrap_secrets(&v);
        assert!(secret);
        assert_eq!(
            out,
            json!({"db": {"host": "h", "pw": "[secret]"}, "list": [1, "x"]})
        );
        assert!(contains_secret_object(&v));
    }

    #[test]
    fn plaintext_holding_tagged_values_is_unwrapped_again() {
        let inner = serde_json::to_string(&json!({"deep": secret_plain("\"y\"")})).unwrap();
        assert_eq!(
            unwrap_secrets(&secret_plain(&inner)),
            (json!({"deep": "y"}), true)
        );
    }

    #[test]
    fn malformed_plaintext_is_kept_as_string() {
        assert_eq!(
            unwrap_secrets(&secret_plain("not json")),
            (json!("not json"), true)
        );
    }

    #[test]
    fn other_signatures_are_kept() {
        let asset = json!({SIG_KEY: ASSET_SIG, "hash": "abc", "text": "hi"});
        assert_eq!(unwrap_secrets(&asset), (asset.clone(), false));
        let wrong_sig_type = json!({SIG_KEY: 5});
        assert_eq!(
            unwrap_secrets(&wrong_sig_type),
            (wrong_sig_type.clone(), false)
        );
    }

    #[test]
    fn redaction_keeps_shape_but_drops_plaintext() {
        let v = json!({"a": [secret_plain("\"pw\"")], "b": secret_cipher("v1:x"), "c": 1});
        let r = redact_plaintexts(&v);
        assert_eq!(
            r,
            json!({"a": [{SIG_KEY: SECRET_SIG, "plaintext": "[secret]"}], "b": secret_cipher("v1:x"), "c": 1})
        );
    }

    #[test]
    fn placeholder_detection() {
        assert!(contains_secret_placeholder(&json!("[secret]")));
        assert!(contains_secret_placeholder(&json!({"a": ["[secret]"]})));
        assert!(!contains_secret_placeholder(&json!("a [secret] inside")));
        assert!(!contains_secret_placeholder(&json!({"[secret]": 1})));
    }
}
