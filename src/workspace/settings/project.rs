//! Project settings (`Pulumi.yaml`): the typed fields, their checks, and reading and
//! rendering the text (pure; the files are in `io`).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use yaml_serde::{Mapping, Value};

use super::runtime::{ProjectRuntime, RUNTIME_SHAPE};
use super::yaml::{check_reserved, into_mapping, kind, parse_document, take};
use crate::error::{Error, Result};
use crate::workspace::validate::validate_project_name;

/// The rule a project name must follow (the CLI's rule).
const PROJECT_NAME_RULE: &str = "a project name must match [A-Za-z0-9_.-]{1,100}";

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
        if let Err(e) = validate_project_name(&self.name) {
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

/// Parses the text of a `Pulumi.yaml` and checks it like [`read_project`](super::read_project) does.
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

pub(super) fn parse_project_in(text: &str, origin: &str) -> Result<ProjectSettings> {
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

impl<'de> Deserialize<'de> for ProjectSettings {
    /// Reads the fields without checking them; [`parse_project`] also validates.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        project_from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.to_string().contains("x:"), "{e}");
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
        assert!(e.to_string().contains("stackConfigDir"), "{e}");
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

    // ---- project: validation --------------------------------------------------------

    #[test]
    fn missing_name() {
        let e = parse_project("runtime: python\n").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let msg = e.to_string();
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
            let msg = e.to_string();
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
            assert!(e.to_string().contains("'runtime'"), "{text:?}: {e}");
        }
        for text in [
            "name: a\nruntime: 3\n",
            "name: a\nruntime: [python]\n",
            "name: a\nruntime:\n  name: [x]\n",
            "name: a\nruntime:\n  name: python\n  options: venv\n",
        ] {
            let e = parse_project(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text:?}: {e:?}");
            assert!(e.to_string().contains("runtime"), "{text:?}: {e}");
        }
    }

    #[test]
    fn render_rejects_what_would_not_read_back() {
        let mut p = ProjectSettings::new("a", "go");
        p.extra.insert("name".into(), "b".into());
        let e = render_project(&p).unwrap_err();
        assert!(e.to_string().contains("`name`"), "{e}");

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
}
