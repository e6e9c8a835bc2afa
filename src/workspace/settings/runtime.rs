//! The language runtime of a project (`runtime:` in `Pulumi.yaml`), a plain name or a
//! map with options.

use serde::de::Error as _;
use serde::ser::{Error as _, SerializeMap as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use yaml_serde::{Mapping, Value};

use super::yaml::{kind, reserved_key};

/// The shape of a `runtime` value.
pub(super) const RUNTIME_SHAPE: &str =
    "a runtime name such as `python`, or a map with `name` and `options`";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::settings::*;

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
}
