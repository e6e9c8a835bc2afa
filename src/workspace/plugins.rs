//! The plugins of a workspace's `PULUMI_HOME`: install (from a server or a local file),
//! remove, list. Kinds, names and versions are checked and go after `--`.

use std::path::Path;

use crate::cli::Invocation;
use crate::error::{Error, Result};
use crate::model;

use super::LocalWorkspace;
use super::validate::check_flag_value;
use crate::cli::classify::parse_error;

impl LocalWorkspace {
    /// Installs a plugin (`kind` a [`PluginKind`](model::PluginKind), or its name:
    /// `resource`, `language`, `analyzer`, `converter` or `tool`; `name` by Pulumi's rule
    /// for plugin names; `version` a version, `1.2.3` or `v1.2.3`). One process.
    pub async fn install_plugin(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: &str,
        server: Option<&str>,
    ) -> Result<()> {
        let args = plugin_install_args(kind.into().as_str(), name, version, server, None)?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// Installs a plugin from a local binary, folder or tarball (`plugin install --file`),
    /// with no download. One process.
    pub async fn install_plugin_from_file(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<()> {
        if !file.exists() {
            return Err(Error::invalid(
                "plugin file",
                format!("{} does not exist", file.display()),
            ));
        }
        let file = crate::cli::absolute("plugin file", file)?;
        let args = plugin_install_args(kind.into().as_str(), name, version, None, Some(&file))?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// Removes a plugin: one kind and name, all its versions when `version` is `None`, else
    /// the versions matching `version` (a version or a range such as `>=1.0.0 <2.0.0`).
    /// Never more: kind, name and version are checked, and go to the CLI as positional
    /// arguments only. One process.
    pub async fn remove_plugin(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: Option<&str>,
    ) -> Result<()> {
        let args = plugin_remove_args(kind.into().as_str(), name, version)?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// The plugins in the plugin cache (`PULUMI_HOME/plugins`). One process.
    pub async fn list_plugins(&self) -> Result<Vec<model::PluginInfo>> {
        let out = self
            .run(Invocation::new(["plugin", "ls", "--json"]))
            .await?;
        model::parse_plugins(&out.stdout).map_err(|e| parse_error(&out, e))
    }
}

/// The plugin kinds of the pinned CLI (`apitype.IsPluginKind`).
const PLUGIN_KINDS: [&str; 5] = ["analyzer", "language", "resource", "converter", "tool"];

/// Checks a plugin kind and name: the kind one of [`PLUGIN_KINDS`]; the name by Pulumi's
/// rule (`[source/][publisher/]name`, each part `[A-Za-z0-9-][A-Za-z0-9-_.]*[A-Za-z0-9]`),
/// and no part beginning with `-`.
fn check_plugin(kind: &str, name: &str) -> Result<()> {
    if !PLUGIN_KINDS.contains(&kind) {
        return Err(Error::invalid(
            "plugin kind",
            format!("{kind:?}: expected one of {}", PLUGIN_KINDS.join(", ")),
        ));
    }
    let parts: Vec<&str> = name.split('/').collect();
    let part_ok = |p: &str| {
        let b = p.as_bytes();
        b.len() >= 2
            && (b[0].is_ascii_alphanumeric())
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    if parts.len() > 3 || !parts.iter().all(|p| part_ok(p)) {
        return Err(Error::invalid(
            "plugin name",
            format!(
                "{name:?}: expected `name`, `publisher/name` or `source/publisher/name`, each \
                 part letters, digits, `-`, `_` or `.`, beginning and ending with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks a plugin version: `1.2.3` or `v1.2.3` (semver, with pre-release and build).
fn check_plugin_version(version: &str) -> Result<()> {
    let v = version.strip_prefix('v').unwrap_or(version);
    semver::Version::parse(v)
        .map(drop)
        .map_err(|e| Error::invalid("plugin version", format!("{version:?}: {e}")))
}

/// Checks a plugin version range as `plugin rm` takes it: versions, each optionally
/// preceded by a comparison (`>=1.0.0 <2.0.0`), alternatives joined by `||`.
fn check_plugin_version_range(range: &str) -> Result<()> {
    let bad = || {
        Error::invalid(
            "plugin version",
            format!("{range:?}: expected a version or a range such as `>=1.0.0 <2.0.0`"),
        )
    };
    if range.trim().is_empty() || range.chars().any(char::is_control) {
        return Err(bad());
    }
    for alternative in range.split("||") {
        let mut any = false;
        for comparator in alternative.split_whitespace() {
            let v = comparator.trim_start_matches(['<', '>', '=', '!']);
            check_plugin_version(v).map_err(|_| bad())?;
            any = true;
        }
        if !any {
            return Err(bad());
        }
    }
    Ok(())
}

/// The argv of `plugin install`: kind, name and version after `--`.
fn plugin_install_args(
    kind: &str,
    name: &str,
    version: &str,
    server: Option<&str>,
    file: Option<&Path>,
) -> Result<Vec<String>> {
    check_plugin(kind, name)?;
    check_plugin_version(version)?;
    let mut args = vec!["plugin".to_owned(), "install".into()];
    if let Some(s) = server {
        check_flag_value("plugin server", s)?;
        args.push(format!("--server={s}"));
    }
    if let Some(f) = file {
        args.push(format!("--file={}", f.display()));
    }
    args.extend(["--".into(), kind.into(), name.into(), version.into()]);
    Ok(args)
}

/// The argv of `plugin rm`: kind, name and version after `--` (a name `-a` would be
/// `--all` otherwise).
fn plugin_remove_args(kind: &str, name: &str, version: Option<&str>) -> Result<Vec<String>> {
    check_plugin(kind, name)?;
    let mut args = vec![
        "plugin".to_owned(),
        "rm".into(),
        "--yes".into(),
        "--".into(),
        kind.into(),
        name.into(),
    ];
    if let Some(v) = version {
        check_plugin_version_range(v)?;
        args.push(v.into());
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_argv_puts_kind_name_and_version_after_the_flags() {
        assert_eq!(
            plugin_install_args(
                "resource",
                "files",
                "v1.2.3",
                Some("https://example.com/x"),
                None
            )
            .unwrap(),
            [
                "plugin",
                "install",
                "--server=https://example.com/x",
                "--",
                "resource",
                "files",
                "v1.2.3"
            ]
        );
        assert_eq!(
            plugin_install_args("resource", "files", "1.0.0", None, Some(Path::new("/b"))).unwrap(),
            [
                "plugin",
                "install",
                "--file=/b",
                "--",
                "resource",
                "files",
                "1.0.0"
            ]
        );
        assert_eq!(
            plugin_remove_args("resource", "files", Some(">=1.0.0 <2.0.0")).unwrap(),
            [
                "plugin",
                "rm",
                "--yes",
                "--",
                "resource",
                "files",
                ">=1.0.0 <2.0.0"
            ]
        );
        assert_eq!(
            plugin_remove_args("tool", "pulumi/neo", None).unwrap(),
            ["plugin", "rm", "--yes", "--", "tool", "pulumi/neo"]
        );
    }

    #[test]
    fn flag_like_plugin_inputs_are_refused() {
        let invalid = |r: Result<Vec<String>>| matches!(r, Err(Error::InvalidInput { .. }));
        for kind in ["-a", "--all", "resources", "", "Resource"] {
            assert!(invalid(plugin_remove_args(kind, "files", None)), "{kind:?}");
            assert!(invalid(plugin_install_args(
                kind, "files", "1.0.0", None, None
            )));
        }
        for name in [
            "-a", "--all", "a", "", "x/-a", "a/b/c/d", "a b", "files-", "files\n",
        ] {
            assert!(
                invalid(plugin_remove_args("resource", name, None)),
                "{name:?}"
            );
            assert!(
                invalid(plugin_install_args("resource", name, "1.0.0", None, None)),
                "{name:?}"
            );
        }
        for v in ["-a", "--yes", "", "1", "latest", "1.0.0\n", "v"] {
            assert!(
                invalid(plugin_install_args("resource", "files", v, None, None)),
                "{v:?}"
            );
        }
        for v in ["-a", "--yes", "", " ", "||", ">=", "1.0.0 ||", "x"] {
            assert!(
                invalid(plugin_remove_args("resource", "files", Some(v))),
                "{v:?}"
            );
        }
        for v in [
            "1.0.0",
            "v1.0.0",
            ">=1.0.0",
            "<2.0.0 >1.0.0",
            "1.0.0 || >=3.0.0-alpha.1",
        ] {
            assert!(
                plugin_remove_args("resource", "files", Some(v)).is_ok(),
                "{v:?}"
            );
        }
        assert!(invalid(plugin_install_args(
            "resource",
            "files",
            "1.0.0",
            Some("-x\u{7}"),
            None
        )));
    }
}
