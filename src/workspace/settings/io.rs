//! The settings files on disk: finding the project file, where a stack's settings live
//! (`stackConfigDir`, `.yml`), reading them, and writing them atomically under the
//! settings lock. Blocking work runs on tokio's blocking pool (`tokio::fs`,
//! `spawn_blocking`).

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use yaml_serde::Value;

use super::project::{ProjectSettings, parse_project_in, render_project};
use super::stack::{StackSettings, parse_stack_in, render_stack_settings};
use super::yaml::strip_bom;
use crate::error::{Error, Result};
use crate::workspace::lock::SettingsLock;
use crate::workspace::validate::validate_stack_name;

/// The project file names the CLI accepts, in the order this module looks for them.
pub const PROJECT_FILE_NAMES: [&str; 2] = ["Pulumi.yaml", "Pulumi.yml"];

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
    let _lock = SettingsLock::acquire(vec![path.clone()], true, false, None, None).await?;
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
    validate_stack_name(stack)?;
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
    let _lock = SettingsLock::acquire(vec![path.clone()], true, false, None, None).await?;
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
    use super::super::stack::tests::STACK;
    use super::*;
    use crate::workspace::settings::*;

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
        assert!(e.to_string().contains("no Pulumi.yaml in"), "{e}");

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
        assert!(e.to_string().contains("no Pulumi.yaml in"), "{e}");
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(read_project(&missing).await.is_err());

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = find_project_file(&file).await.unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        let e = find_project_file(&file.join("below")).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Pulumi.yaml");
        std::fs::write(&path, "name: bad name\nruntime: go\n").unwrap();
        let e = read_project(dir.path()).await.unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(e.to_string().contains("[A-Za-z0-9_.-]{1,100}"), "{e}");

        std::fs::write(&path, b"name: \xff\xfe\nruntime: go\n").unwrap();
        let e = read_project(dir.path()).await.unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
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
        let msg = e.to_string();
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(!missing.exists());

        let e = write_stack_settings(&missing, "dev", &StackSettings::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(e.to_string().contains("does not exist"), "{e}");
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
        assert!(e.to_string().contains("Pulumi.bad.yaml"), "{e}");
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
}
