//! Typed project settings (`Pulumi.yaml`) and stack settings (`Pulumi.<stack>.yaml`).
//!
//! These are the files the CLI reads. This module reads and writes them directly and never
//! starts a process. The official Automation API SDKs do the same
//! (`ProjectSettings`/`SaveProjectSettings`, `StackSettings`/`SaveStackSettings`).
//!
//! **Read-modify-write keeps every field.** Fields this module has no typed field for
//! (for example `resources:`/`outputs:` of a YAML program, or a key added by a newer CLI)
//! go into `extra` maps and are written back. Anything that is not data is lost, because
//! the whole file is written anew:
//! * **comments** and blank lines,
//! * anchors and aliases (an alias is written out as a copy of its value),
//! * quoting style and indentation,
//! * key order: typed fields are written in a fixed order (`name`, `runtime`, `main`,
//!   `description`, …), then unknown fields in their original order.
//!
//! The Python and Node.js SDKs lose the same things. The CLI itself and the Go SDK try a
//! comment-preserving edit of the original text (Go's `yamlutil.Edit`), so a comment that
//! survives `pulumi config set` does not survive a write through this module.
//!
//! Stack settings have the same rules. Their `config` is written sorted by key. Secret
//! values stay in the form the CLI wrote: `{secure: v1:…}` maps of ciphertext. This module
//! never decrypts anything and never produces plaintext for a secret.
//!
//! Writes are atomic: a temporary file is written in the same directory, synced, then
//! renamed over the target, so a reader sees either the old or the new file. An existing
//! file keeps its permissions. A new file gets `0644` minus the umask. A write holds the
//! file's settings lock (the one every pulumi-auto command that writes it holds, within
//! the process and across processes; see the README's "Concurrent config writes").
//!
//! ```
//! use pulumi_auto::workspace::settings::{parse_project, render_project};
//!
//! let mut project = parse_project("name: demo\nruntime: python\nresources: {}\n")?;
//! assert_eq!(project.runtime.name, "python");
//! project.runtime.set_virtualenv("venv");
//! let text = render_project(&project)?;
//! assert!(text.contains("virtualenv: venv"));
//! assert!(text.contains("resources: {}")); // unknown fields are kept
//! # Ok::<(), pulumi_auto::Error>(())
//! ```
//!
//! On disk:
//!
//! ```no_run
//! # async fn demo() -> pulumi_auto::Result<()> {
//! use std::path::Path;
//! use pulumi_auto::workspace::settings;
//!
//! let dir = Path::new("fixtures/programs/files");
//! let mut project = settings::read_project(dir).await?;
//! project.description = Some("managed by pulumi-auto".into());
//! settings::write_project(dir, &project).await?;
//!
//! let stack = settings::read_stack_settings(dir, "organization/files/dev").await?;
//! println!("secrets provider: {:?}", stack.secrets_provider);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::de::Error as _;
use serde::ser::{Error as _, SerializeMap as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use yaml_serde::{Mapping, Value};

use crate::error::{Error, Result};

/// The project file names the CLI accepts, in the order this module looks for them.
pub const PROJECT_FILE_NAMES: [&str; 2] = ["Pulumi.yaml", "Pulumi.yml"];

/// The rule a project name must follow (the CLI's rule).
const PROJECT_NAME_RULE: &str = "a project name must match [A-Za-z0-9_.-]{1,100}";

/// The shape of a `runtime` value.
const RUNTIME_SHAPE: &str = "a runtime name such as `python`, or a map with `name` and `options`";

/// The top-level keys [`ProjectSettings`] has typed fields for.
const PROJECT_KEYS: [&str; 15] = [
    "name",
    "runtime",
    "main",
    "description",
    "author",
    "website",
    "license",
    "config",
    "stackConfigDir",
    "template",
    "backend",
    "options",
    "packages",
    "plugins",
    "requiredPulumiVersion",
];

/// The top-level keys [`StackSettings`] has typed fields for.
const STACK_KEYS: [&str; 5] = [
    "secretsprovider",
    "encryptedkey",
    "encryptionsalt",
    "config",
    "environment",
];

// ---------------------------------------------------------------------------------------
// Project settings
// ---------------------------------------------------------------------------------------

/// The language runtime of a project: the `runtime` field of `Pulumi.yaml`.
///
/// In YAML it is either a plain name (`runtime: python`) or a map
/// (`runtime: {name: python, options: {virtualenv: venv}}`). It is written back as a plain
/// name when it has no `options` and no unknown fields, and as a map otherwise. A map with
/// an empty `options: {}` stays a map.
///
/// ```
/// use pulumi_auto::workspace::settings::ProjectRuntime;
///
/// let mut runtime = ProjectRuntime::new("python");
/// assert!(!runtime.is_map_form());
/// runtime.set_virtualenv("venv");
/// runtime.set_toolchain("uv");
/// assert_eq!(runtime.virtualenv(), Some("venv"));
/// assert_eq!(runtime.toolchain(), Some("uv"));
/// assert!(runtime.is_map_form());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ProjectRuntime {
    /// The runtime name: `python`, `nodejs`, `go`, `dotnet`, `java`, `yaml`, ….
    pub name: String,
    /// The runtime options (`virtualenv`, `toolchain`, `typescript`, `binary`, …). `None`
    /// when absent; with no options and no `extra` fields the runtime is written as a plain
    /// name.
    pub options: Option<Mapping>,
    /// Fields of the runtime map other than `name` and `options`, kept as they were. The
    /// project schema allows none, but they are not dropped.
    pub extra: Mapping,
}

impl ProjectRuntime {
    /// A runtime with only a name, e.g. `ProjectRuntime::new("python")`.
    pub fn new(name: impl Into<String>) -> Self {
        ProjectRuntime {
            name: name.into(),
            options: None,
            extra: Mapping::new(),
        }
    }

    /// True when the runtime is written as a map (`{name: …, options: …}`) rather than a
    /// plain name.
    pub fn is_map_form(&self) -> bool {
        self.options.is_some() || !self.extra.is_empty()
    }

    /// A runtime option, e.g. `option("virtualenv")`.
    pub fn option(&self, key: &str) -> Option<&Value> {
        self.options.as_ref()?.get(key)
    }

    /// A runtime option that is a string.
    pub fn option_str(&self, key: &str) -> Option<&str> {
        self.option(key).and_then(Value::as_str)
    }

    /// Sets a runtime option and returns the old value. The runtime becomes a map.
    pub fn set_option(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.options
            .get_or_insert_with(Mapping::new)
            .insert(Value::String(key.into()), value.into())
    }

    /// Removes a runtime option and returns it. When that leaves no options, `options`
    /// becomes `None`, so the runtime can be written as a plain name again.
    pub fn remove_option(&mut self, key: &str) -> Option<Value> {
        let options = self.options.as_mut()?;
        let old = options.shift_remove(key);
        if old.is_some() && options.is_empty() {
            self.options = None;
        }
        old
    }

    /// The Python virtual environment directory (`options.virtualenv`).
    pub fn virtualenv(&self) -> Option<&str> {
        self.option_str("virtualenv")
    }

    /// Sets the Python virtual environment directory (`options.virtualenv`).
    pub fn set_virtualenv(&mut self, dir: impl Into<String>) {
        self.set_option("virtualenv", dir.into());
    }

    /// The language toolchain (`options.toolchain`), e.g. `pip`, `poetry`, `uv` for Python.
    pub fn toolchain(&self) -> Option<&str> {
        self.option_str("toolchain")
    }

    /// Sets the language toolchain (`options.toolchain`).
    pub fn set_toolchain(&mut self, toolchain: impl Into<String>) {
        self.set_option("toolchain", toolchain.into());
    }
}

impl From<&str> for ProjectRuntime {
    fn from(name: &str) -> Self {
        ProjectRuntime::new(name)
    }
}

impl From<String> for ProjectRuntime {
    fn from(name: String) -> Self {
        ProjectRuntime::new(name)
    }
}

impl Serialize for ProjectRuntime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.is_map_form() {
            return serializer.serialize_str(&self.name);
        }
        if let Some(key) = reserved_key(&self.extra, &["name", "options"]) {
            return Err(S::Error::custom(format!(
                "runtime `extra` has the field `{key}`, which is a typed field; set it there"
            )));
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        if let Some(options) = &self.options {
            map.serialize_entry("options", options)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ProjectRuntime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            // A missing or empty runtime is reported by validation, with the file's name.
            Value::Null => Ok(ProjectRuntime::default()),
            Value::String(name) => Ok(ProjectRuntime::new(name)),
            Value::Mapping(mut map) => {
                let name = match map.shift_remove("name") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(name)) => name,
                    Some(other) => {
                        return Err(D::Error::custom(format!(
                            "`name` must be a string, found {}",
                            kind(&other)
                        )));
                    }
                };
                let options = match map.shift_remove("options") {
                    None | Some(Value::Null) => None,
                    Some(Value::Mapping(options)) => Some(options),
                    Some(other) => {
                        return Err(D::Error::custom(format!(
                            "`options` must be a map, found {}",
                            kind(&other)
                        )));
                    }
                };
                Ok(ProjectRuntime {
                    name,
                    options,
                    extra: map,
                })
            }
            other => Err(D::Error::custom(format!(
                "expected {RUNTIME_SHAPE}, found {}",
                kind(&other)
            ))),
        }
    }
}

/// Where the project's state is stored: the `backend` field of `Pulumi.yaml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct ProjectBackend {
    /// The backend URL, in the form `pulumi login` takes (`file:///dir`, `s3://bucket`,
    /// `https://api.pulumi.com`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Other fields of the `backend` map, kept as they were.
    #[serde(flatten)]
    pub extra: Mapping,
}

impl ProjectBackend {
    /// A backend with the given URL.
    pub fn new(url: impl Into<String>) -> Self {
        ProjectBackend {
            url: Some(url.into()),
            extra: Mapping::new(),
        }
    }
}

/// A project's settings: the contents of `Pulumi.yaml` (or `Pulumi.yml`).
///
/// Field names follow the file (`stackConfigDir` is [`stack_config_dir`](Self::stack_config_dir)
/// and so on). Fields this crate does not interpret are kept as YAML values. Unknown
/// top-level fields are kept in [`extra`](Self::extra).
///
/// ```
/// use pulumi_auto::workspace::settings::{ProjectBackend, ProjectSettings, render_project};
///
/// let mut project = ProjectSettings::new("infra", "python");
/// project.backend = Some(ProjectBackend::new("file:///tmp/state"));
/// assert_eq!(
///     render_project(&project)?,
///     "name: infra\nruntime: python\nbackend:\n  url: file:///tmp/state\n"
/// );
/// # Ok::<(), pulumi_auto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct ProjectSettings {
    /// The project name (required; `[A-Za-z0-9_.-]{1,100}`).
    pub name: String,
    /// The language runtime (required).
    pub runtime: ProjectRuntime,
    /// The program's entry point, relative to the project directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// A description of the project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The project's author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The project's website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The project's license.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Project-level config declarations (`config:`), kept as YAML values: a key maps to a
    /// declaration map (`type`, `description`, `default`, `value`, `secret`, `items`) or to
    /// a shorthand value. See [`config_types`](Self::config_types) for a typed view.
    ///
    /// The old form `config: <dir>` (a string naming the stack config directory) is read
    /// into [`stack_config_dir`](Self::stack_config_dir), as the CLI does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Mapping>,
    /// The directory of the `Pulumi.<stack>.yaml` files, relative to the project directory.
    #[serde(rename = "stackConfigDir", skip_serializing_if = "Option::is_none")]
    pub stack_config_dir: Option<String>,
    /// The template manifest, when the project is a template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// Where the state is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<ProjectBackend>,
    /// Project options (e.g. `refresh: always`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    /// Package dependencies (`packages:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Value>,
    /// Plugin overrides (`plugins:` with `providers`, `languages`, `analyzers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Value>,
    /// The CLI versions the project accepts, e.g. `>=3.200.0`.
    #[serde(
        rename = "requiredPulumiVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub required_pulumi_version: Option<String>,
    /// Every other top-level field (e.g. `resources`, `variables`, `outputs` of a YAML
    /// program), kept in file order and written back after the typed fields.
    #[serde(flatten)]
    pub extra: Mapping,
}

impl ProjectSettings {
    /// Settings with a name and a runtime and nothing else.
    pub fn new(name: impl Into<String>, runtime: impl Into<ProjectRuntime>) -> Self {
        ProjectSettings {
            name: name.into(),
            runtime: runtime.into(),
            ..ProjectSettings::default()
        }
    }

    /// Checks what the CLI requires: a valid `name` and a non-empty runtime name.
    /// Reading and writing both call it.
    pub fn validate(&self) -> Result<()> {
        self.validate_in("project settings")
    }

    fn validate_in(&self, origin: &str) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid(
                origin,
                format!("project is missing a 'name' attribute ({PROJECT_NAME_RULE})"),
            ));
        }
        if let Err(e) = super::validate_project_name(&self.name) {
            let reason = match e {
                Error::InvalidInput { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(Error::invalid(
                origin,
                format!("project name {reason} ({PROJECT_NAME_RULE})"),
            ));
        }
        if self.runtime.name.trim().is_empty() {
            return Err(Error::invalid(
                origin,
                format!("project is missing a 'runtime' attribute (expected {RUNTIME_SHAPE})"),
            ));
        }
        Ok(())
    }

    /// The project-level config declarations, typed. The shorthand forms are expanded the
    /// way the CLI expands them: a plain value (string, number, bool or list) under a key
    /// of this project (`key` or `<project>:key`) is a `default`; under another namespace
    /// (`aws:region`) it is a `value`.
    ///
    /// ```
    /// use pulumi_auto::workspace::settings::parse_project;
    /// let project = parse_project(
    ///     "name: web\nruntime: nodejs\nconfig:\n  port: 8080\n  aws:region: us-east-1\n  \
    ///      size:\n    type: string\n    default: small\n",
    /// )?;
    /// let types = project.config_types()?;
    /// assert_eq!(types["port"].default.as_ref().and_then(|v| v.as_u64()), Some(8080));
    /// assert_eq!(types["aws:region"].value.as_ref().and_then(|v| v.as_str()), Some("us-east-1"));
    /// assert_eq!(types["size"].type_name.as_deref(), Some("string"));
    /// # Ok::<(), pulumi_auto::Error>(())
    /// ```
    pub fn config_types(&self) -> Result<BTreeMap<String, ProjectConfigType>> {
        let mut out = BTreeMap::new();
        let Some(config) = &self.config else {
            return Ok(out);
        };
        let own_prefix = format!("{}:", self.name);
        for (key, value) in config {
            let Some(key) = key.as_str() else {
                return Err(Error::invalid(
                    "project config",
                    format!("config keys must be strings, found {}", kind(key)),
                ));
            };
            let declaration = match value {
                Value::Null => ProjectConfigType::default(),
                Value::Mapping(_) => config_type_from_value(value.clone())
                    .map_err(|e| Error::invalid("project config", format!("{key}: {e}")))?,
                shorthand => {
                    let mut declaration = ProjectConfigType::default();
                    if !key.contains(':') || key.starts_with(&own_prefix) {
                        declaration.default = Some(shorthand.clone());
                    } else {
                        declaration.value = Some(shorthand.clone());
                    }
                    declaration
                }
            };
            out.insert(key.to_owned(), declaration);
        }
        Ok(out)
    }
}

/// A typed view of one project-level config declaration (see
/// [`ProjectSettings::config_types`]).
///
/// To change a declaration, edit [`ProjectSettings::config`]; a declaration converts with
/// `yaml_serde::to_value(&declaration)`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct ProjectConfigType {
    /// The declared type: `string`, `integer`, `boolean` or `array`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// A description of the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For an `array`, the type of its items (`{type: …, items: …}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Value>,
    /// The default, for a key of this project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The value, for a key of another namespace (`aws:region`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Whether the value must be set as a secret.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Other fields of the declaration, kept as they were.
    #[serde(flatten)]
    pub extra: Mapping,
}

// ---------------------------------------------------------------------------------------
// Stack settings
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Pure parsing and rendering
// ---------------------------------------------------------------------------------------

/// Parses the text of a `Pulumi.yaml` and checks it like [`read_project`] does.
pub fn parse_project(text: &str) -> Result<ProjectSettings> {
    parse_project_in(text, "Pulumi.yaml")
}

/// Renders project settings as YAML text, ready to write as `Pulumi.yaml`.
///
/// Fails when the settings would not read back: an invalid name, an empty runtime name, or
/// an `extra` field that repeats a typed field (such as `name` in [`ProjectSettings::extra`]).
pub fn render_project(settings: &ProjectSettings) -> Result<String> {
    const WHAT: &str = "project settings";
    settings.validate_in(WHAT)?;
    check_reserved(&settings.extra, &PROJECT_KEYS, WHAT)?;
    check_reserved(
        &settings.runtime.extra,
        &["name", "options"],
        "project runtime",
    )?;
    if let Some(backend) = &settings.backend {
        check_reserved(&backend.extra, &["url"], "project backend")?;
    }
    yaml_serde::to_string(settings)
        .map_err(|e| Error::invalid(WHAT, format!("cannot be written as YAML: {e}")))
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

fn parse_project_in(text: &str, origin: &str) -> Result<ProjectSettings> {
    let bad = |reason: String| Error::invalid(origin, reason);
    let project = match parse_document(text, origin)? {
        Value::Null => {
            return Err(bad(format!(
                "the file is empty; a project needs at least `name` and `runtime` ({PROJECT_NAME_RULE})"
            )));
        }
        document => project_from_value(document).map_err(bad)?,
    };
    project.validate_in(origin)?;
    Ok(project)
}

fn parse_stack_in(text: &str, origin: &str) -> Result<StackSettings> {
    match parse_document(text, origin)? {
        Value::Null => Ok(StackSettings::default()),
        document => stack_from_value(document).map_err(|reason| Error::invalid(origin, reason)),
    }
}

/// The YAML document in `text` (a leading byte order mark is ignored).
/// Deeper than this, flow collections (`[`, `{`) are refused before parsing: the YAML
/// parser refuses more than 128 levels anyway, but only after a scan whose time grows with
/// the square of the depth (about a second for 16,000 levels).
const MAX_FLOW_DEPTH: usize = 1000;

/// The deepest nesting of `[`/`{` outside quoted scalars and comments (an estimate: a
/// bracket in a plain scalar counts too, which only matters past the limit).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn parse_document(text: &str, origin: &str) -> Result<Value> {
    if flow_depth(text) > MAX_FLOW_DEPTH {
        return Err(Error::invalid(
            origin,
            format!("not valid YAML: collections nested more than {MAX_FLOW_DEPTH} levels deep"),
        ));
    }
    yaml_serde::from_str(strip_bom(text))
        .map_err(|e| Error::invalid(origin, format!("not valid YAML: {e}")))
}

// The settings are read from a `yaml_serde::Value` rather than with `#[serde(flatten)]`:
// flattening buffers unknown fields in a form that cannot hold YAML tags (`!Ref x`), so a
// tagged value anywhere in an unknown field would make the whole file unreadable.

fn project_from_value(value: Value) -> Result<ProjectSettings, String> {
    let mut map = into_mapping(value, "a map of project settings")?;
    // The old form `config: <dir>` names the stack config directory; the CLI reads it as
    // `stackConfigDir`, and so does this module.
    if let Some(Value::String(dir)) = map.get("config") {
        if map.contains_key("stackConfigDir") {
            return Err(
                "`config` and `stackConfigDir` both name the stack config directory; use only `stackConfigDir`"
                    .into(),
            );
        }
        let dir = Value::String(dir.clone());
        map.insert("config".into(), Value::Null);
        map.insert("stackConfigDir".into(), dir);
    }
    Ok(ProjectSettings {
        name: take(&mut map, "name")?.unwrap_or_default(),
        runtime: take(&mut map, "runtime")?.unwrap_or_default(),
        main: take(&mut map, "main")?,
        description: take(&mut map, "description")?,
        author: take(&mut map, "author")?,
        website: take(&mut map, "website")?,
        license: take(&mut map, "license")?,
        config: take(&mut map, "config")?,
        stack_config_dir: take(&mut map, "stackConfigDir")?,
        template: take(&mut map, "template")?,
        backend: take(&mut map, "backend")?,
        options: take(&mut map, "options")?,
        packages: take(&mut map, "packages")?,
        plugins: take(&mut map, "plugins")?,
        required_pulumi_version: take(&mut map, "requiredPulumiVersion")?,
        extra: map,
    })
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

fn backend_from_value(value: Value) -> Result<ProjectBackend, String> {
    let mut map = into_mapping(value, "a map")?;
    Ok(ProjectBackend {
        url: take(&mut map, "url")?,
        extra: map,
    })
}

fn config_type_from_value(value: Value) -> Result<ProjectConfigType, String> {
    let mut map = into_mapping(value, "a map")?;
    Ok(ProjectConfigType {
        type_name: take(&mut map, "type")?,
        description: take(&mut map, "description")?,
        items: take(&mut map, "items")?,
        default: take(&mut map, "default")?,
        value: take(&mut map, "value")?,
        secret: take(&mut map, "secret")?.unwrap_or(false),
        extra: map,
    })
}

/// Removes `key` from `map` and converts its value; a missing or null value is `None`.
/// Errors name the key.
fn take<T: serde::de::DeserializeOwned>(map: &mut Mapping, key: &str) -> Result<Option<T>, String> {
    match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => yaml_serde::from_value(value)
            .map(Some)
            .map_err(|e| format!("{key}: {e}")),
    }
}

fn into_mapping(value: Value, what: &str) -> Result<Mapping, String> {
    match value {
        Value::Mapping(map) => Ok(map),
        other => Err(format!("expected {what}, found {}", kind(&other))),
    }
}

impl<'de> Deserialize<'de> for ProjectSettings {
    /// Reads the fields without checking them; [`parse_project`] also validates.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        project_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for StackSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        stack_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ProjectBackend {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        backend_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ProjectConfigType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        config_type_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// An `InvalidInput` error when `extra` has one of the typed keys (it would be written
/// twice).
fn check_reserved(extra: &Mapping, typed: &[&str], what: &str) -> Result<()> {
    match reserved_key(extra, typed) {
        Some(key) => Err(Error::invalid(
            what,
            format!("`extra` has the field `{key}`, which is a typed field; set it there"),
        )),
        None => Ok(()),
    }
}

fn reserved_key<'a>(extra: &'a Mapping, typed: &[&str]) -> Option<&'a str> {
    extra
        .keys()
        .filter_map(Value::as_str)
        .find(|k| typed.contains(k))
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A short name for the kind of a YAML value, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

// ---------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------

/// The project file in `dir`: `Pulumi.yaml`, else `Pulumi.yml`.
///
/// Fails with [`Error::InvalidInput`] ("no Pulumi.yaml in `<dir>`") when there is neither, or
/// when `dir` is missing or not a directory. An empty path means the current directory.
pub async fn find_project_file(dir: &Path) -> Result<PathBuf> {
    let dir = non_empty(dir);
    match dir_status(dir).await? {
        DirStatus::Dir => {}
        DirStatus::Missing => {
            return Err(Error::invalid(
                "project directory",
                format!(
                    "no Pulumi.yaml in {}: the directory does not exist",
                    dir.display()
                ),
            ));
        }
        DirStatus::NotDir => {
            return Err(Error::invalid(
                "project directory",
                format!("no Pulumi.yaml in {}: not a directory", dir.display()),
            ));
        }
    }
    locate_project_file(dir).await?.ok_or_else(|| {
        Error::invalid(
            "project directory",
            format!(
                "no Pulumi.yaml in {} (looked for {})",
                dir.display(),
                PROJECT_FILE_NAMES.join(" and ")
            ),
        )
    })
}

/// Reads and checks the project settings in `dir` (see [`find_project_file`]).
///
/// Errors name the file: [`Error::InvalidInput`] for a file that is not valid YAML, has no
/// valid `name` or no runtime; [`Error::Io`] when it cannot be read.
pub async fn read_project(dir: &Path) -> Result<ProjectSettings> {
    let path = find_project_file(dir).await?;
    let origin = path.display().to_string();
    let text = read_text(&path).await?.ok_or_else(|| {
        Error::invalid(
            origin.as_str(),
            "the file disappeared while it was being read",
        )
    })?;
    parse_project_in(&text, &origin)
}

/// Writes project settings to the project file in `dir`: the `Pulumi.yaml` or
/// `Pulumi.yml` that exists, else a new `Pulumi.yaml`. The write is atomic.
///
/// The settings are checked first (see [`render_project`]), so an invalid project never
/// reaches the disk. `dir` must exist.
pub async fn write_project(dir: &Path, settings: &ProjectSettings) -> Result<()> {
    let dir = non_empty(dir);
    let text = render_project(settings)?;
    require_dir_for_write(dir, "Pulumi.yaml").await?;
    let path = locate_project_file(dir)
        .await?
        .unwrap_or_else(|| dir.join(PROJECT_FILE_NAMES[0]));
    tracing::debug!(path = %path.display(), "writing project settings");
    let _lock =
        super::lock::SettingsLock::acquire(vec![path.clone()], true, false, None, None).await?;
    write_atomic(path, text).await
}

/// The file name of a stack's settings, `Pulumi.<stack>.yaml`. Of a qualified name
/// (`org/stack`, `org/project/stack`) only the last part is used, as the CLI does.
///
/// Next to a `Pulumi.yml` the CLI uses `.yml` instead; [`stack_settings_path`] takes care
/// of that and of `stackConfigDir`.
///
/// ```
/// use pulumi_auto::workspace::settings::stack_settings_file_name;
/// assert_eq!(stack_settings_file_name("dev"), "Pulumi.dev.yaml");
/// assert_eq!(stack_settings_file_name("acme/web/prod"), "Pulumi.prod.yaml");
/// ```
pub fn stack_settings_file_name(stack: &str) -> String {
    format!("Pulumi.{}.yaml", last_segment(stack))
}

/// Where the CLI keeps the settings of `stack` for the project in `dir`: in the project's
/// `stackConfigDir` (relative to `dir`) if it sets one, else in `dir`. The extension is
/// that of the project file (`.yml` next to a `Pulumi.yml`), else `.yaml`.
///
/// The stack name is checked first. `dir` must exist; the project file is optional.
pub async fn stack_settings_path(dir: &Path, stack: &str) -> Result<PathBuf> {
    super::validate_stack_name(stack)?;
    let dir = non_empty(dir);
    require_dir_for_write(dir, &stack_settings_file_name(stack)).await?;
    let mut file_name = stack_settings_file_name(stack);
    let mut base = dir.to_path_buf();
    if let Some(project_file) = locate_project_file(dir).await? {
        if project_file.extension().is_some_and(|e| e == "yml") {
            file_name = format!("Pulumi.{}.yml", last_segment(stack));
        }
        let origin = project_file.display().to_string();
        let text = read_text(&project_file).await?.unwrap_or_default();
        if let Some(sub) = stack_config_dir_of(&text, &origin)? {
            base = join_relative(dir, &sub);
        }
    }
    Ok(base.join(file_name))
}

/// Reads the settings of `stack` (see [`stack_settings_path`]). A missing file gives the
/// default (empty) settings, as for a stack that has no config yet.
pub async fn read_stack_settings(dir: &Path, stack: &str) -> Result<StackSettings> {
    let path = stack_settings_path(dir, stack).await?;
    match read_text(&path).await? {
        Some(text) => parse_stack_in(&text, &path.display().to_string()),
        None => Ok(StackSettings::default()),
    }
}

/// Writes the settings of `stack` (see [`stack_settings_path`]) atomically. A missing
/// `stackConfigDir` is created, as the CLI does; `dir` itself must exist.
pub async fn write_stack_settings(dir: &Path, stack: &str, settings: &StackSettings) -> Result<()> {
    let text = render_stack_settings(settings)?;
    let path = stack_settings_path(dir, stack).await?;
    if let Some(parent) = path.parent()
        && parent != non_empty(dir)
    {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|source| Error::Io {
                context: format!("creating the stack config directory {}", parent.display()),
                source,
            })?;
    }
    tracing::debug!(path = %path.display(), "writing stack settings");
    let _lock =
        super::lock::SettingsLock::acquire(vec![path.clone()], true, false, None, None).await?;
    write_atomic(path, text).await
}

enum DirStatus {
    Dir,
    Missing,
    NotDir,
}

async fn dir_status(dir: &Path) -> Result<DirStatus> {
    match tokio::fs::metadata(dir).await {
        Ok(m) if m.is_dir() => Ok(DirStatus::Dir),
        Ok(_) => Ok(DirStatus::NotDir),
        Err(e) if is_missing(&e) => Ok(DirStatus::Missing),
        Err(source) => Err(Error::Io {
            context: format!("checking the directory {}", dir.display()),
            source,
        }),
    }
}

async fn require_dir_for_write(dir: &Path, file: &str) -> Result<()> {
    let problem = match dir_status(dir).await? {
        DirStatus::Dir => return Ok(()),
        DirStatus::Missing => "the directory does not exist",
        DirStatus::NotDir => "not a directory",
    };
    Err(Error::invalid(
        "project directory",
        format!("cannot use {file} in {}: {problem}", dir.display()),
    ))
}

/// The first of [`PROJECT_FILE_NAMES`] that is a file in `dir`.
async fn locate_project_file(dir: &Path) -> Result<Option<PathBuf>> {
    for name in PROJECT_FILE_NAMES {
        let path = dir.join(name);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => return Ok(Some(path)),
            Ok(_) => {}
            Err(e) if is_missing(&e) => {}
            Err(source) => {
                return Err(Error::Io {
                    context: format!("checking {}", path.display()),
                    source,
                });
            }
        }
    }
    Ok(None)
}

/// The text of a file, `None` when it does not exist.
async fn read_text(path: &Path) -> Result<Option<String>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::invalid(path.display().to_string(), "the file is not UTF-8")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            context: format!("reading {}", path.display()),
            source,
        }),
    }
}

/// The stack config directory a project file names (`stackConfigDir`, or the old
/// `config: <dir>`), read leniently so that only a YAML syntax error fails.
fn stack_config_dir_of(text: &str, origin: &str) -> Result<Option<String>> {
    let document: Value = yaml_serde::from_str(strip_bom(text))
        .map_err(|e| Error::invalid(origin, format!("not valid YAML: {e}")))?;
    let pick = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(pick("stackConfigDir").or_else(|| pick("config")))
}

/// `dir` joined with `sub` the way Go's `filepath.Join` does: a leading `/` of `sub` does
/// not make it absolute.
fn join_relative(dir: &Path, sub: &str) -> PathBuf {
    let mut out = dir.to_path_buf();
    for part in Path::new(sub).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => out.push(".."),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn last_segment(stack: &str) -> &str {
    stack.rsplit_once('/').map_or(stack, |(_, last)| last)
}

fn non_empty(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

fn is_missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename.
async fn write_atomic(path: PathBuf, contents: String) -> Result<()> {
    let context = format!("writing {}", path.display());
    match tokio::task::spawn_blocking(move || write_atomic_blocking(&path, contents.as_bytes()))
        .await
    {
        Ok(result) => result.map_err(|source| Error::Io { context, source }),
        Err(join) => Err(Error::Io {
            context,
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

fn write_atomic_blocking(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Through a symlink, write its target, as a plain write would; renaming over the link
    // would replace the link itself.
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pulumi-auto-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Created with 0644 minus the umask, as the CLI's own writes are.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    // Dropped on any error below, which removes the temporary file.
    let mut tmp = builder.tempfile_in(dir)?;
    if let Some(permissions) = existing {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        // Best effort: make the rename itself durable.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: &Error) -> String {
        e.to_string()
    }

    // ---- project: round trips -------------------------------------------------------

    #[test]
    fn string_runtime_round_trips_as_a_string() {
        let text = "name: web\nruntime: nodejs\ndescription: A web app\n";
        let p = parse_project(text).unwrap();
        assert_eq!(p.name, "web");
        assert_eq!(p.runtime, ProjectRuntime::new("nodejs"));
        assert!(!p.runtime.is_map_form());
        assert_eq!(p.description.as_deref(), Some("A web app"));
        let out = render_project(&p).unwrap();
        assert_eq!(out, text);
        assert_eq!(parse_project(&out).unwrap(), p);
    }

    #[test]
    fn map_runtime_with_options() {
        let text = "\
name: files
description: Real files
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
";
        let mut p = parse_project(text).unwrap();
        assert_eq!(p.runtime.name, "python");
        assert_eq!(p.runtime.virtualenv(), Some("venv"));
        assert_eq!(p.runtime.toolchain(), Some("pip"));
        assert!(p.runtime.is_map_form());
        let out = render_project(&p).unwrap();
        assert_eq!(
            out,
            "name: files\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\ndescription: Real files\n"
        );
        assert_eq!(parse_project(&out).unwrap(), p);

        p.runtime.set_virtualenv(".venv");
        p.runtime.set_toolchain("uv");
        let again = parse_project(&render_project(&p).unwrap()).unwrap();
        assert_eq!(again.runtime.virtualenv(), Some(".venv"));
        assert_eq!(again.runtime.toolchain(), Some("uv"));
    }

    #[test]
    fn runtime_form_follows_options() {
        // A string runtime given options becomes a map …
        let mut p = parse_project("name: a\nruntime: python\n").unwrap();
        p.runtime.set_virtualenv("venv");
        assert!(
            render_project(&p)
                .unwrap()
                .contains("runtime:\n  name: python\n  options:\n    virtualenv: venv\n")
        );
        // … and a map runtime that loses its last option becomes a string again.
        assert_eq!(
            p.runtime.remove_option("virtualenv"),
            Some(Value::from("venv"))
        );
        assert_eq!(p.runtime.options, None);
        assert_eq!(render_project(&p).unwrap(), "name: a\nruntime: python\n");
        // A map without options is written as a string (same meaning).
        let p = parse_project("name: a\nruntime:\n  name: go\n").unwrap();
        assert_eq!(render_project(&p).unwrap(), "name: a\nruntime: go\n");
        // An explicit empty `options: {}` keeps the map form.
        let p = parse_project("name: a\nruntime:\n  name: go\n  options: {}\n").unwrap();
        assert_eq!(
            render_project(&p).unwrap(),
            "name: a\nruntime:\n  name: go\n  options: {}\n"
        );
        // Other runtime options are typed values too.
        let p =
            parse_project("name: a\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n")
                .unwrap();
        assert_eq!(p.runtime.option("typescript"), Some(&Value::Bool(false)));
        assert_eq!(p.runtime.option_str("typescript"), None);
        assert_eq!(p.runtime.virtualenv(), None);
    }

    #[test]
    fn backend_url() {
        let p =
            parse_project("name: a\nruntime: go\nbackend:\n  url: s3://bucket/state\n").unwrap();
        assert_eq!(
            p.backend.as_ref().and_then(|b| b.url.as_deref()),
            Some("s3://bucket/state")
        );
        let mut p = ProjectSettings::new("a", "go");
        p.backend = Some(ProjectBackend::new("file:///tmp/x"));
        assert_eq!(
            render_project(&p).unwrap(),
            "name: a\nruntime: go\nbackend:\n  url: file:///tmp/x\n"
        );
        // `backend:` with nothing under it.
        let p = parse_project("name: a\nruntime: go\nbackend:\n").unwrap();
        assert_eq!(p.backend, None);
    }

    #[test]
    fn config_declarations_round_trip_and_typed_view() {
        let text = "\
name: web
runtime: nodejs
config:
  port:
    type: integer
    default: 8080
    description: The port
  tags:
    type: array
    items:
      type: string
  dbPassword:
    type: string
    secret: true
  web:replicas: 3
  aws:region: us-west-2
  greeting: hello
  ratio: 0.5
  pulumi:tags:
    value:
      team: infra
";
        let p = parse_project(text).unwrap();
        let config = p.config.as_ref().unwrap();
        assert_eq!(config.len(), 8);
        // Round trip keeps the declarations exactly (as values, in order).
        let out = render_project(&p).unwrap();
        let again = parse_project(&out).unwrap();
        assert_eq!(again, p);
        let keys: Vec<&str> = again
            .config
            .as_ref()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "port",
                "tags",
                "dbPassword",
                "web:replicas",
                "aws:region",
                "greeting",
                "ratio",
                "pulumi:tags"
            ]
        );

        let types = p.config_types().unwrap();
        let port = &types["port"];
        assert_eq!(port.type_name.as_deref(), Some("integer"));
        assert_eq!(port.default, Some(Value::from(8080)));
        assert_eq!(port.description.as_deref(), Some("The port"));
        assert!(!port.secret);
        assert_eq!(
            types["tags"]
                .items
                .as_ref()
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str),
            Some("string")
        );
        assert!(types["dbPassword"].secret);
        // Shorthand: own namespace → default; other namespace → value.
        assert_eq!(types["web:replicas"].default, Some(Value::from(3)));
        assert_eq!(types["greeting"].default, Some(Value::from("hello")));
        assert_eq!(types["ratio"].default, Some(Value::from(0.5)));
        assert_eq!(types["aws:region"].value, Some(Value::from("us-west-2")));
        assert_eq!(types["aws:region"].default, None);
        assert!(
            types["pulumi:tags"]
                .value
                .as_ref()
                .is_some_and(Value::is_mapping)
        );
    }

    #[test]
    fn config_types_rejects_bad_declarations() {
        let p = parse_project("name: a\nruntime: go\nconfig:\n  x:\n    secret: maybe\n").unwrap();
        let e = p.config_types().unwrap_err();
        assert!(reason(&e).contains("x:"), "{e}");
        let p = parse_project("name: a\nruntime: go\nconfig:\n  1: x\n").unwrap();
        assert!(p.config_types().is_err());
    }

    #[test]
    fn legacy_config_dir_string_becomes_stack_config_dir() {
        let p = parse_project("name: a\nruntime: go\nconfig: stacks\n").unwrap();
        assert_eq!(p.stack_config_dir.as_deref(), Some("stacks"));
        assert_eq!(p.config, None);
        assert_eq!(
            render_project(&p).unwrap(),
            "name: a\nruntime: go\nstackConfigDir: stacks\n"
        );
        let e = parse_project("name: a\nruntime: go\nconfig: stacks\nstackConfigDir: other\n")
            .unwrap_err();
        assert!(reason(&e).contains("stackConfigDir"), "{e}");
    }

    #[test]
    fn unknown_fields_are_kept_at_every_level() {
        let text = "\
name: yaml-program
runtime:
  name: yaml
  options:
    compiler: pcl
  futureRuntimeKey: 1
description: uses everything
main: src/
author: someone
website: https://example.com
license: Apache-2.0
stackConfigDir: stacks
template:
  displayName: Starter
  config:
    aws:region:
      default: us-east-1
  futureTemplateKey: true
backend:
  url: file://~
  futureBackendKey: [a, b]
options:
  refresh: always
packages:
  random: random@4.0.0
plugins:
  providers:
    - name: aws
      path: ../bin
requiredPulumiVersion: '>=3.200.0'
zeta: last-unknown
resources:
  bucket:
    type: aws:s3:Bucket
    properties:
      tags: !Tagged {a: b}
outputs:
  name: ${bucket.id}
variables:
  nested:
    deeply:
      - 1
      - two: 2
";
        let p = parse_project(text).unwrap();
        assert_eq!(p.main.as_deref(), Some("src/"));
        assert_eq!(p.author.as_deref(), Some("someone"));
        assert_eq!(p.website.as_deref(), Some("https://example.com"));
        assert_eq!(p.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(p.stack_config_dir.as_deref(), Some("stacks"));
        assert_eq!(p.required_pulumi_version.as_deref(), Some(">=3.200.0"));
        assert_eq!(
            p.runtime.extra.get("futureRuntimeKey"),
            Some(&Value::from(1))
        );
        let backend = p.backend.as_ref().unwrap();
        assert_eq!(backend.url.as_deref(), Some("file://~"));
        assert!(backend.extra.contains_key("futureBackendKey"));
        assert_eq!(
            p.template.as_ref().and_then(|t| t.get("futureTemplateKey")),
            Some(&Value::Bool(true))
        );
        let unknown: Vec<&str> = p.extra.keys().filter_map(Value::as_str).collect();
        assert_eq!(unknown, ["zeta", "resources", "outputs", "variables"]);

        let out = render_project(&p).unwrap();
        let again = parse_project(&out).unwrap();
        assert_eq!(again, p);
        // Unknown fields come after the typed ones, in their original order.
        let pos = |k: &str| out.find(&format!("\n{k}:")).unwrap();
        assert!(pos("requiredPulumiVersion") < pos("zeta"));
        assert!(pos("zeta") < pos("resources"));
        assert!(pos("resources") < pos("outputs"));
        assert!(out.contains("!Tagged"), "{out}");
        // And the whole document is the same data.
        let before: Value = yaml_serde::from_str(text).unwrap();
        let after: Value = yaml_serde::from_str(&out).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn comments_are_not_preserved() {
        // Documented limitation: the file is written anew (as the Python and Node.js SDKs
        // do; the CLI and the Go SDK try to keep comments).
        let text = "# top comment\nname: a # trailing\nruntime: go\n";
        let p = parse_project(text).unwrap();
        let out = render_project(&p).unwrap();
        assert_eq!(out, "name: a\nruntime: go\n");
        assert!(!out.contains('#'));
    }

    #[test]
    fn aliases_are_expanded() {
        let p = parse_project("name: a\nruntime: go\nx: &v [1, 2]\ny: *v\n").unwrap();
        let out = render_project(&p).unwrap();
        assert!(!out.contains('&') && !out.contains('*'), "{out}");
        assert_eq!(p.extra.get("x"), p.extra.get("y"));
    }

    #[test]
    fn bom_is_ignored() {
        let p = parse_project("\u{feff}name: a\nruntime: go\n").unwrap();
        assert_eq!(p.name, "a");
        let s = parse_stack_settings("\u{feff}secretsprovider: passphrase\n").unwrap();
        assert_eq!(s.secrets_provider.as_deref(), Some("passphrase"));
    }

    // ---- project: validation --------------------------------------------------------

    #[test]
    fn missing_name() {
        let e = parse_project("runtime: python\n").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let msg = reason(&e);
        assert!(msg.contains("Pulumi.yaml"), "{msg}");
        assert!(msg.contains("missing a 'name'"), "{msg}");
        assert!(msg.contains("[A-Za-z0-9_.-]{1,100}"), "{msg}");
        assert!(parse_project("name: ''\nruntime: go\n").is_err());
        assert!(parse_project("name:\nruntime: go\n").is_err());
    }

    #[test]
    fn invalid_name() {
        for bad in ["my project", "a/b", "ü", &"x".repeat(101)] {
            let text = format!("name: {bad:?}\nruntime: go\n");
            let e = parse_project(&text).unwrap_err();
            let msg = reason(&e);
            assert!(msg.contains("[A-Za-z0-9_.-]{1,100}"), "{msg}");
            assert!(msg.contains("Pulumi.yaml"), "{msg}");
        }
        for good in ["a", "my-project_1.0", &"x".repeat(100)] {
            let text = format!("name: {good:?}\nruntime: go\n");
            assert!(parse_project(&text).is_ok(), "{good}");
        }
        // A name that is not a string.
        let e = parse_project("name: [1]\nruntime: go\n").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }

    #[test]
    fn missing_or_bad_runtime() {
        for text in [
            "name: a\n",
            "name: a\nruntime:\n",
            "name: a\nruntime: ''\n",
            "name: a\nruntime: '  '\n",
            "name: a\nruntime:\n  options:\n    virtualenv: venv\n",
        ] {
            let e = parse_project(text).unwrap_err();
            assert!(reason(&e).contains("'runtime'"), "{text:?}: {e}");
        }
        for text in [
            "name: a\nruntime: 3\n",
            "name: a\nruntime: [python]\n",
            "name: a\nruntime:\n  name: [x]\n",
            "name: a\nruntime:\n  name: python\n  options: venv\n",
        ] {
            let e = parse_project(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text:?}: {e:?}");
            assert!(reason(&e).contains("runtime"), "{text:?}: {e}");
        }
    }

    #[test]
    fn malformed_documents() {
        for text in [
            "",
            "# only a comment\n",
            "---\n",
            "- a\n- b\n",
            "just a string",
            "name: [unclosed\n",
            "a: 1\na: 2\n",
            "name: a\nruntime: go\n---\nname: b\n",
        ] {
            let e = parse_project(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text:?}: {e:?}");
            assert!(reason(&e).contains("Pulumi.yaml"), "{text:?}: {e}");
        }
        // Typed fields of the wrong type say which field.
        let e = parse_project("name: a\nruntime: go\nbackend: [1]\n").unwrap_err();
        assert!(reason(&e).contains("backend"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let deep = format!(
            "name: a\nruntime: go\nx: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let laughs = "name: a\nruntime: go\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
        let inputs = [
            deep.as_str(),
            laughs,
            "\0\u{1}\u{2}",
            "name: !!binary aGVsbG8=\nruntime: go\n",
            "? [complex, key]\n: value\nname: a\nruntime: go\n",
            "name: a\nruntime: go\n1: int-key\nnull: null-key\n",
            "name: a\nruntime: !custom python\n",
            "name: a\nruntime: go\nconfig: 5\n",
            "name: a\nruntime: go\nconfig: [1]\n",
            "&x name: a\n",
            "name: *undefined\n",
            "name: a\nruntime: go\n<<: {x: 1}\n",
            "\t\tname: a",
            "name: \"\\uD800\"\nruntime: go\n",
        ];
        for text in inputs {
            // Any outcome but a panic is fine; a successful parse must render and re-parse.
            if let Ok(p) = parse_project(text)
                && let Ok(out) = render_project(&p)
            {
                assert_eq!(parse_project(&out).unwrap(), p, "{text:?}");
            }
            let _ = parse_stack_settings(text);
        }
    }

    #[test]
    fn render_rejects_what_would_not_read_back() {
        let mut p = ProjectSettings::new("a", "go");
        p.extra.insert("name".into(), "b".into());
        let e = render_project(&p).unwrap_err();
        assert!(reason(&e).contains("`name`"), "{e}");

        let mut p = ProjectSettings::new("a", "go");
        p.runtime.extra.insert("options".into(), Value::Null);
        assert!(render_project(&p).is_err());
        // The Serialize impl refuses it too, for other serializers.
        assert!(serde_json::to_string(&p.runtime).is_err());

        let mut p = ProjectSettings::new("a", "go");
        let mut backend = ProjectBackend::new("file:///x");
        backend.extra.insert("url".into(), "file:///y".into());
        p.backend = Some(backend);
        assert!(render_project(&p).is_err());

        assert!(render_project(&ProjectSettings::default()).is_err());
        assert!(render_project(&ProjectSettings::new("bad name", "go")).is_err());
        assert!(render_project(&ProjectSettings::new("a", "")).is_err());
        assert!(ProjectSettings::new("a", "go").validate().is_ok());
    }

    // ---- stack settings -------------------------------------------------------------

    const STACK: &str = "\
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

    // ---- files ----------------------------------------------------------------------

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") || n.starts_with(".pulumi-auto-"))
            .collect()
    }

    #[tokio::test]
    async fn finds_yaml_and_yml() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_project_file(dir.path()).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(reason(&e).contains("no Pulumi.yaml in"), "{e}");

        std::fs::write(dir.path().join("Pulumi.yml"), "name: y\nruntime: go\n").unwrap();
        assert_eq!(
            find_project_file(dir.path()).await.unwrap(),
            dir.path().join("Pulumi.yml")
        );
        assert_eq!(read_project(dir.path()).await.unwrap().name, "y");

        std::fs::write(dir.path().join("Pulumi.yaml"), "name: a\nruntime: go\n").unwrap();
        assert_eq!(
            find_project_file(dir.path()).await.unwrap(),
            dir.path().join("Pulumi.yaml")
        );
        assert_eq!(read_project(dir.path()).await.unwrap().name, "a");
    }

    #[tokio::test]
    async fn a_directory_named_pulumi_yaml_is_not_a_project_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Pulumi.yaml")).unwrap();
        std::fs::write(dir.path().join("Pulumi.yml"), "name: y\nruntime: go\n").unwrap();
        assert_eq!(
            find_project_file(dir.path()).await.unwrap(),
            dir.path().join("Pulumi.yml")
        );
    }

    #[tokio::test]
    async fn missing_or_non_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = find_project_file(&missing).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(reason(&e).contains("no Pulumi.yaml in"), "{e}");
        assert!(reason(&e).contains("does not exist"), "{e}");
        assert!(read_project(&missing).await.is_err());

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = find_project_file(&file).await.unwrap_err();
        assert!(reason(&e).contains("not a directory"), "{e}");
        let e = find_project_file(&file.join("below")).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Pulumi.yaml");
        std::fs::write(&path, "name: bad name\nruntime: go\n").unwrap();
        let e = read_project(dir.path()).await.unwrap_err();
        assert!(reason(&e).contains(&path.display().to_string()), "{e}");
        assert!(reason(&e).contains("[A-Za-z0-9_.-]{1,100}"), "{e}");

        std::fs::write(&path, b"name: \xff\xfe\nruntime: go\n").unwrap();
        let e = read_project(dir.path()).await.unwrap_err();
        assert!(reason(&e).contains("UTF-8"), "{e}");
    }

    #[tokio::test]
    async fn write_project_keeps_the_existing_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let yml = dir.path().join("Pulumi.yml");
        std::fs::write(&yml, "name: a\n# comment\nruntime: go\nresources: {}\n").unwrap();
        let mut p = read_project(dir.path()).await.unwrap();
        p.description = Some("changed".into());
        write_project(dir.path(), &p).await.unwrap();
        assert!(!dir.path().join("Pulumi.yaml").exists());
        let text = std::fs::read_to_string(&yml).unwrap();
        assert_eq!(
            text,
            "name: a\nruntime: go\ndescription: changed\nresources: {}\n"
        );
        assert_eq!(read_project(dir.path()).await.unwrap(), p);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn write_project_creates_pulumi_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = ProjectSettings::new("fresh", "python");
        p.runtime.set_virtualenv("venv");
        write_project(dir.path(), &p).await.unwrap();
        let path = dir.path().join("Pulumi.yaml");
        assert_eq!(read_project(dir.path()).await.unwrap(), p);
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            // 0644 minus whatever the umask removes; never the temp file's 0600 alone.
            assert_ne!(mode & 0o044, 0, "mode {mode:o}");
            assert_eq!(mode & 0o133, 0, "mode {mode:o}");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn write_keeps_permissions_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let target = real.join("Pulumi.yaml");
        std::fs::write(&target, "name: a\nruntime: go\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir(&project).unwrap();
        std::os::unix::fs::symlink(&target, project.join("Pulumi.yaml")).unwrap();

        let p = ProjectSettings::new("b", "go");
        write_project(&project, &p).await.unwrap();
        assert!(
            std::fs::symlink_metadata(project.join("Pulumi.yaml"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "name: b\nruntime: go\n"
        );
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(leftovers(&real).is_empty());
        assert!(leftovers(&project).is_empty());
    }

    #[tokio::test]
    async fn invalid_settings_never_reach_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Pulumi.yaml");
        std::fs::write(&path, "name: a\nruntime: go\n").unwrap();
        let e = write_project(dir.path(), &ProjectSettings::new("bad name", "go"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "name: a\nruntime: go\n"
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn writing_into_a_missing_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = write_project(&missing, &ProjectSettings::new("a", "go"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let msg = reason(&e);
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(!missing.exists());

        let e = write_stack_settings(&missing, "dev", &StackSettings::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(reason(&e).contains("does not exist"), "{e}");
        assert!(!missing.exists());
        assert!(read_stack_settings(&missing, "dev").await.is_err());
    }

    #[tokio::test]
    async fn stack_settings_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Pulumi.yaml"), "name: web\nruntime: go\n").unwrap();
        // Missing file → default.
        assert_eq!(
            read_stack_settings(dir.path(), "dev").await.unwrap(),
            StackSettings::default()
        );
        let s = parse_stack_settings(STACK).unwrap();
        write_stack_settings(dir.path(), "acme/web/dev", &s)
            .await
            .unwrap();
        assert!(dir.path().join("Pulumi.dev.yaml").is_file());
        assert_eq!(read_stack_settings(dir.path(), "dev").await.unwrap(), s);
        assert_eq!(
            read_stack_settings(dir.path(), "acme/dev").await.unwrap(),
            s
        );
        assert!(leftovers(dir.path()).is_empty());

        // Invalid stack names are refused before touching the disk.
        for bad in ["", "a/b/c/d", "dev; rm", "dev\\x"] {
            assert!(read_stack_settings(dir.path(), bad).await.is_err(), "{bad}");
            assert!(
                write_stack_settings(dir.path(), bad, &s).await.is_err(),
                "{bad}"
            );
        }

        // Errors in the file name the file.
        std::fs::write(dir.path().join("Pulumi.bad.yaml"), "config: [1]\n").unwrap();
        let e = read_stack_settings(dir.path(), "bad").await.unwrap_err();
        assert!(reason(&e).contains("Pulumi.bad.yaml"), "{e}");
    }

    #[tokio::test]
    async fn stack_settings_without_a_project_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = StackSettings {
            secrets_provider: Some("passphrase".into()),
            ..StackSettings::default()
        };
        write_stack_settings(dir.path(), "dev", &s).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("Pulumi.dev.yaml")).unwrap(),
            "secretsprovider: passphrase\n"
        );
    }

    #[tokio::test]
    async fn stack_settings_follow_the_project_like_the_cli() {
        // Next to a Pulumi.yml the CLI uses Pulumi.<stack>.yml.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Pulumi.yml"), "name: web\nruntime: go\n").unwrap();
        assert_eq!(
            stack_settings_path(dir.path(), "dev").await.unwrap(),
            dir.path().join("Pulumi.dev.yml")
        );

        // stackConfigDir is honoured, and created on write.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Pulumi.yaml"),
            "name: web\nruntime: go\nstackConfigDir: /stacks/\n",
        )
        .unwrap();
        let expected = dir.path().join("stacks").join("Pulumi.prod.yaml");
        assert_eq!(
            stack_settings_path(dir.path(), "org/web/prod")
                .await
                .unwrap(),
            expected
        );
        let mut s = StackSettings::default();
        s.config.insert("web:x".into(), "1".into());
        write_stack_settings(dir.path(), "prod", &s).await.unwrap();
        assert!(expected.is_file());
        assert!(!dir.path().join("Pulumi.prod.yaml").exists());
        assert_eq!(read_stack_settings(dir.path(), "prod").await.unwrap(), s);

        // The old `config: <dir>` form too.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Pulumi.yaml"),
            "name: web\nruntime: go\nconfig: cfg\n",
        )
        .unwrap();
        assert_eq!(
            stack_settings_path(dir.path(), "dev").await.unwrap(),
            dir.path().join("cfg").join("Pulumi.dev.yaml")
        );
    }

    #[test]
    fn deep_flow_nesting_is_refused_fast() {
        let deep = format!("name: {}{}", "[".repeat(50_000), "]".repeat(50_000));
        let err = parse_project(&deep).unwrap_err();
        assert!(err.to_string().contains("nested more than"), "{err}");
        // Just under the limit, the parser itself answers (its own 128-level limit).
        let ok_depth = format!("name: {}{}", "[".repeat(1000), "]".repeat(1000));
        let err = parse_project(&ok_depth).unwrap_err();
        assert!(!err.to_string().contains("nested more than"), "{err}");
        assert_eq!(flow_depth("a: '[[['  # {{{\nb: [1, {c: 2}]"), 2);
    }
}
