//! Installed plugins: `pulumi plugin ls --json`.

use serde::{Deserialize, Serialize};

use super::enums::PluginKind;
use super::error::{ModelError, Sensitivity, parse_json};
use super::serde_util::{empty_string_as_none, none_as_empty_string};

/// One entry of `pulumi plugin ls --json` (the CLI's `pluginInfoJSON`, Go
/// `auto.PluginInfo`). The list covers the plugin cache (`$PULUMI_HOME/plugins`)
/// only, not plugins bundled next to the `pulumi` binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    /// The plugin name (e.g. `aws`).
    pub name: String,
    /// The plugin kind.
    pub kind: PluginKind,
    /// The version without a leading `v` (e.g. `6.1.0`); `None` when the CLI prints
    /// an empty version.
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        serialize_with = "none_as_empty_string"
    )]
    pub version: Option<String>,
    /// Size on disk in bytes.
    #[serde(default)]
    pub size: u64,
    /// When the plugin was installed, if known (e.g. `2026-08-20T08:44:10.000Z`).
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub install_time: Option<String>,
    /// When the plugin was last used, if known.
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_time: Option<String>,
}

impl PluginInfo {
    /// The version as semver, if present and valid (a leading `v` is accepted).
    pub fn semver(&self) -> Option<semver::Version> {
        let v = self.version.as_deref()?;
        semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok()
    }
}

const WHAT: &str = "`pulumi plugin ls --json` output";

/// Parses the output of `pulumi plugin ls --json`. `null` is read as no plugins.
///
/// ```
/// use pulumi_auto_types::model::{parse_plugins, PluginKind};
///
/// let plugins = parse_plugins(r#"[{"name": "random", "kind": "resource",
///     "version": "4.16.0", "size": 31457280, "installTime": "2026-08-20T08:44:10.000Z"}]"#)?;
/// assert_eq!(plugins[0].kind, PluginKind::Resource);
/// assert_eq!(plugins[0].semver(), Some(semver::Version::new(4, 16, 0)));
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_plugins(json: &str) -> Result<Vec<PluginInfo>, ModelError> {
    let list: Option<Vec<PluginInfo>> = parse_json(WHAT, json, Sensitivity::Plain)?;
    Ok(list.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[
  {
    "name": "aws",
    "kind": "resource",
    "version": "6.50.1",
    "size": 812345678,
    "installTime": "2026-08-20T08:44:10.000Z",
    "lastUsedTime": "2026-08-21T10:00:00.000Z"
  },
  {
    "name": "yaml",
    "kind": "language",
    "version": "",
    "size": 0
  },
  {
    "name": "mystery",
    "kind": "widget",
    "version": "1.0.0-beta.1",
    "size": 10,
    "extra": 1
  }
]
"#;

    #[test]
    fn parses_plugin_list() {
        let p = parse_plugins(LIST).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].name, "aws");
        assert_eq!(p[0].size, 812_345_678);
        assert_eq!(p[0].semver(), Some(semver::Version::new(6, 50, 1)));
        assert_eq!(
            p[0].last_used_time.as_deref(),
            Some("2026-08-21T10:00:00.000Z")
        );
        assert_eq!(p[1].kind, PluginKind::Language);
        assert_eq!(p[1].version, None);
        assert_eq!(p[1].semver(), None);
        assert_eq!(p[1].install_time, None);
        assert_eq!(p[2].kind, PluginKind::Other("widget".into()));
        assert!(p[2].semver().is_some());
    }

    #[test]
    fn empty_and_errors() {
        assert!(parse_plugins("[]").unwrap().is_empty());
        assert!(parse_plugins("null").unwrap().is_empty());
        assert!(parse_plugins(r#"[{"name":"a","kind":"resource","size":-1}]"#).is_err());
    }
}
