//! Stack settings (`Pulumi.<stack>.yaml`): the typed fields, a `Debug` that shows no
//! ciphertext, and reading and rendering the text (pure; the files are in `io`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use yaml_serde::{Mapping, Value};

use super::yaml::{check_reserved, into_mapping, parse_document, take};
use crate::error::{Error, Result};

/// The top-level keys [`StackSettings`] has typed fields for.
const STACK_KEYS: [&str; 5] = [
    "secretsprovider",
    "encryptedkey",
    "encryptionsalt",
    "config",
    "environment",
];

/// A stack's settings: the contents of `Pulumi.<stack>.yaml`.
///
/// `config` maps `namespace:key` to a YAML value. The value is a plain string, a
/// `{secure: v1:…}` map holding a secret's ciphertext, or an object or list (set with
/// `config set --path`), which may hold `{secure: …}` maps itself.
///
/// Its `Debug` output shows neither secret ciphertext nor `encryptedkey`/`encryptionsalt`.
/// They are not plaintext, but the salt holds a known-plaintext check that makes an
/// offline guess of the passphrase possible, so they are kept out of logs.
///
/// ```
/// use pulumi_auto::workspace::settings::{parse_stack_settings, render_stack_settings};
///
/// let mut stack = parse_stack_settings(
///     "encryptionsalt: v1:abc:def\nconfig:\n  app:token:\n    secure: v1:xyz\n",
/// )?;
/// assert!(stack.is_secure("app:token"));
/// stack.config.insert("app:name".into(), "web".into());
/// assert!(render_stack_settings(&stack)?.contains("app:name: web"));
/// assert!(!format!("{stack:?}").contains("v1:xyz"));
/// # Ok::<(), pulumi_auto::Error>(())
/// ```
#[derive(Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct StackSettings {
    /// The secrets provider (`secretsprovider`): `passphrase`, `awskms://…`, …. `None` means
    /// the backend's default provider.
    #[serde(rename = "secretsprovider", skip_serializing_if = "Option::is_none")]
    pub secrets_provider: Option<String>,
    /// The data key encrypted by a cloud secrets provider (`encryptedkey`).
    #[serde(rename = "encryptedkey", skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// The passphrase provider's salt and check value (`encryptionsalt`, `v1:…`).
    #[serde(rename = "encryptionsalt", skip_serializing_if = "Option::is_none")]
    pub encryption_salt: Option<String>,
    /// The stack's config, by `namespace:key`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Value>,
    /// The ESC environments the stack imports: a list of names, or an environment
    /// definition map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Value>,
    /// Every other top-level field, kept in file order and written back after the typed
    /// fields. (Go's `ProjectStack` has no such catch-all.)
    #[serde(flatten)]
    pub extra: Mapping,
}

impl StackSettings {
    /// True when the config value of `key` is a secret (`{secure: …}`).
    pub fn is_secure(&self, key: &str) -> bool {
        self.config
            .get(key)
            .is_some_and(|v| secure_ciphertext(v).is_some())
    }

    /// True when any config value is a secret or holds one.
    pub fn has_secrets(&self) -> bool {
        self.config.values().any(contains_secure)
    }
}

impl fmt::Debug for StackSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config: BTreeMap<&str, Redacted<'_>> = self
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), Redacted(v)))
            .collect();
        f.debug_struct("StackSettings")
            .field("secrets_provider", &self.secrets_provider)
            .field("encrypted_key", &self.encrypted_key.as_deref().map(Elided))
            .field(
                "encryption_salt",
                &self.encryption_salt.as_deref().map(Elided),
            )
            .field("config", &config)
            .field("environment", &self.environment.as_ref().map(Redacted))
            .field("extra", &RedactedMap(&self.extra))
            .finish()
    }
}

/// The ciphertext of a secret config value: `Some("v1:…")` for a `{secure: "v1:…"}` map
/// (a map with only the key `secure`, holding a string), else `None`.
pub fn secure_ciphertext(value: &Value) -> Option<&str> {
    match value {
        Value::Mapping(m) if m.len() == 1 => m.get("secure").and_then(Value::as_str),
        _ => None,
    }
}

/// True when `value` is a secret (`{secure: …}`) or an object or list holding one.
pub fn contains_secure(value: &Value) -> bool {
    if secure_ciphertext(value).is_some() {
        return true;
    }
    match value {
        Value::Mapping(m) => m.values().any(contains_secure),
        Value::Sequence(s) => s.iter().any(contains_secure),
        Value::Tagged(t) => contains_secure(&t.value),
        _ => false,
    }
}

/// A string shown only by its length.
struct Elided<'a>(&'a str);

impl fmt::Debug for Elided<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

/// A YAML value whose `{secure: …}` maps are shown without their ciphertext.
struct Redacted<'a>(&'a Value);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ciphertext) = secure_ciphertext(self.0) {
            return f.debug_map().entry(&"secure", &Elided(ciphertext)).finish();
        }
        match self.0 {
            Value::Mapping(m) => RedactedMap(m).fmt(f),
            Value::Sequence(s) => f.debug_list().entries(s.iter().map(Redacted)).finish(),
            Value::Tagged(t) => write!(f, "{} {:?}", t.tag, Redacted(&t.value)),
            other => other.fmt(f),
        }
    }
}

/// A YAML map shown through [`Redacted`].
struct RedactedMap<'a>(&'a Mapping);

impl fmt::Debug for RedactedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (Redacted(k), Redacted(v))))
            .finish()
    }
}

/// Parses the text of a `Pulumi.<stack>.yaml`. An empty document gives the default
/// (empty) settings.
pub fn parse_stack_settings(text: &str) -> Result<StackSettings> {
    parse_stack_in(text, "stack settings")
}

/// Renders stack settings as YAML text, ready to write as `Pulumi.<stack>.yaml`.
///
/// Fails when an `extra` field repeats a typed field (such as `config`).
pub fn render_stack_settings(settings: &StackSettings) -> Result<String> {
    const WHAT: &str = "stack settings";
    check_reserved(&settings.extra, &STACK_KEYS, WHAT)?;
    yaml_serde::to_string(settings)
        .map_err(|e| Error::invalid(WHAT, format!("cannot be written as YAML: {e}")))
}

pub(super) fn parse_stack_in(text: &str, origin: &str) -> Result<StackSettings> {
    match parse_document(text, origin)? {
        Value::Null => Ok(StackSettings::default()),
        document => stack_from_value(document).map_err(|reason| Error::invalid(origin, reason)),
    }
}

fn stack_from_value(value: Value) -> Result<StackSettings, String> {
    let mut map = into_mapping(value, "a map of stack settings")?;
    Ok(StackSettings {
        secrets_provider: take(&mut map, "secretsprovider")?,
        encrypted_key: take(&mut map, "encryptedkey")?,
        encryption_salt: take(&mut map, "encryptionsalt")?,
        config: take(&mut map, "config")?.unwrap_or_default(),
        environment: take(&mut map, "environment")?,
        extra: map,
    })
}

impl<'de> Deserialize<'de> for StackSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        stack_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::workspace::settings::*;

    // ---- stack settings -------------------------------------------------------------

    /// A stack settings file with secrets at every level (the file tests use it too).
    pub(crate) const STACK: &str = "\
secretsprovider: awskms://alias/pulumi?region=us-east-1
encryptedkey: AQICAHhKEYCIPHERTEXT==
config:
  app:count: \"3\"
  app:db:
    host: db.internal
    password:
      secure: v1:NESTEDCIPHERTEXT
    ports:
      - 5432
      - secure: v1:LISTCIPHERTEXT
  app:token:
    secure: v1:TOPCIPHERTEXT
  aws:region: us-east-1
environment:
  - shared/dev
  - app/dev
futureStackKey:
  nested: [1, 2]
";

    #[test]
    fn stack_settings_round_trip() {
        let s = parse_stack_settings(STACK).unwrap();
        assert_eq!(
            s.secrets_provider.as_deref(),
            Some("awskms://alias/pulumi?region=us-east-1")
        );
        assert_eq!(s.encrypted_key.as_deref(), Some("AQICAHhKEYCIPHERTEXT=="));
        assert_eq!(s.encryption_salt, None);
        assert_eq!(s.config.len(), 4);
        assert_eq!(s.config["app:count"], Value::from("3"));
        assert!(s.is_secure("app:token"));
        assert!(!s.is_secure("app:db"));
        assert!(!s.is_secure("aws:region"));
        assert!(!s.is_secure("missing"));
        assert!(contains_secure(&s.config["app:db"]));
        assert!(s.has_secrets());
        assert_eq!(
            secure_ciphertext(&s.config["app:token"]),
            Some("v1:TOPCIPHERTEXT")
        );
        assert_eq!(
            s.environment,
            Some(Value::Sequence(vec!["shared/dev".into(), "app/dev".into()]))
        );
        assert!(s.extra.contains_key("futureStackKey"));

        let out = render_stack_settings(&s).unwrap();
        assert_eq!(parse_stack_settings(&out).unwrap(), s);
        let before: Value = yaml_serde::from_str(STACK).unwrap();
        let after: Value = yaml_serde::from_str(&out).unwrap();
        assert_eq!(before, after);
        // The quoted "3" stays a string.
        assert!(
            out.contains("app:count: '3'") || out.contains("app:count: \"3\""),
            "{out}"
        );
    }

    #[test]
    fn stack_settings_passphrase_and_edits() {
        let text = "encryptionsalt: v1:SALT:CHECK\nconfig:\n  app:name: web\n";
        let mut s = parse_stack_settings(text).unwrap();
        assert_eq!(s.encryption_salt.as_deref(), Some("v1:SALT:CHECK"));
        s.config.insert("app:zeta".into(), "z".into());
        s.config.insert("app:alpha".into(), "a".into());
        let out = render_stack_settings(&s).unwrap();
        assert_eq!(
            out,
            "encryptionsalt: v1:SALT:CHECK\nconfig:\n  app:alpha: a\n  app:name: web\n  app:zeta: z\n"
        );
    }

    #[test]
    fn stack_settings_debug_hides_ciphertext() {
        let s = parse_stack_settings(&format!(
            "{STACK}encryptionsalt: v1:SALTSECRET:CHECK\nother:\n  secure: v1:EXTRACIPHERTEXT\n"
        ))
        .unwrap();
        let shown = format!("{s:?}");
        for hidden in [
            "TOPCIPHERTEXT",
            "NESTEDCIPHERTEXT",
            "LISTCIPHERTEXT",
            "EXTRACIPHERTEXT",
            "SALTSECRET",
            "KEYCIPHERTEXT",
        ] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
        for visible in [
            "app:token",
            "secure",
            "db.internal",
            "awskms://",
            "shared/dev",
        ] {
            assert!(shown.contains(visible), "{visible} not in {shown}");
        }
        // Pretty form too.
        assert!(!format!("{s:#?}").contains("TOPCIPHERTEXT"));
    }

    #[test]
    fn stack_settings_empty_and_malformed() {
        assert_eq!(parse_stack_settings("").unwrap(), StackSettings::default());
        assert_eq!(
            parse_stack_settings("# nothing\n").unwrap(),
            StackSettings::default()
        );
        assert_eq!(
            parse_stack_settings("{}\n").unwrap(),
            StackSettings::default()
        );
        assert_eq!(
            parse_stack_settings("config:\n").unwrap(),
            StackSettings::default()
        );
        assert_eq!(
            render_stack_settings(&StackSettings::default()).unwrap(),
            "{}\n"
        );
        for text in [
            "- a\n",
            "config: [1]\n",
            "secretsprovider: [x]\n",
            "config:\n  a: 1\n  a: 2\n",
        ] {
            let e = parse_stack_settings(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text:?}: {e:?}");
        }
        let mut s = StackSettings::default();
        s.extra.insert("config".into(), Value::Null);
        assert!(render_stack_settings(&s).is_err());
    }

    #[test]
    fn stack_settings_file_names() {
        assert_eq!(stack_settings_file_name("dev"), "Pulumi.dev.yaml");
        assert_eq!(stack_settings_file_name("org/dev"), "Pulumi.dev.yaml");
        assert_eq!(stack_settings_file_name("org/proj/dev"), "Pulumi.dev.yaml");
        assert_eq!(stack_settings_file_name("a.b-c_d"), "Pulumi.a.b-c_d.yaml");
    }
}
