//! The ledger: one entry (a private JSON file) per ephemeral stack, written before the
//! stack exists and removed after its teardown, so that nothing leaks silently; and the
//! checks that keep it from being planted (a private directory, files of the user's own,
//! the temporary directory's marker).
//!
//! Everything here is blocking file-system work: async callers run it through
//! [`blocking`](super::blocking).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tag::EphemeralTag;
use crate::error::{Error, Result};
use crate::workspace::redact_url;

/// Overrides the ledger directory ([`default_ledger_dir`]).
pub const LEDGER_ENV: &str = "PULUMI_AUTO_EPHEMERAL_LEDGER";

/// The file, in an ephemeral stack's temporary directory, that holds the random id its
/// ledger entry records ([`LedgerEntry::marker`]): a directory without it, or with
/// another id, is never deleted.
pub const MARKER_FILE: &str = ".pulumi-auto-ephemeral";

/// Where ledger entries go by default: `$PULUMI_AUTO_EPHEMERAL_LEDGER`, else
/// `ephemeral-ledger` in the crate's cache directory ([`crate::cli::cache_dir`]), else
/// (no `HOME`, `XDG_CACHE_HOME` or `PULUMI_AUTO_CACHE_DIR`: systemd units, some CI) in a
/// directory of the user's own in the system temp directory, `pulumi-auto-<uid>`.
///
/// Whichever it is, it is used only while it is private (see [`check_private_dir`]).
pub fn default_ledger_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(LEDGER_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match crate::cli::cache_dir() {
        Some(cache) => cache.join("ephemeral-ledger"),
        None => fallback_ledger_dir(&std::env::temp_dir(), nix::unistd::geteuid().as_raw()),
    }
}

/// The ledger directory without a cache directory: per user, in `temp`.
fn fallback_ledger_dir(temp: &Path, uid: u32) -> PathBuf {
    temp.join(format!("pulumi-auto-{uid}"))
        .join("ephemeral-ledger")
}

/// Checks that `dir` is fit to hold a ledger: a directory (not a symlink) owned by this
/// user, that no other user can write to or read; its parent owned by this user or root
/// and not writable by others (unless sticky, as `/tmp`), so nobody can swap it.
///
/// A directory of the user's own that others can read but not write (an older ledger
/// made with the umask's `0755`) is made `0700`. Anything else is refused with
/// [`Error::InvalidInput`] naming the directory and the problem; nothing is changed then.
pub fn check_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let uid = nix::unistd::geteuid().as_raw();
    let refuse = |why: String| {
        Err(Error::invalid(
            "ephemeral ledger directory",
            format!(
                "{}: {why}; it must be a private directory (mode 0700) of your own",
                dir.display()
            ),
        ))
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        Error::io(
            format!("checking the ledger directory {}", dir.display()),
            e,
        )
    })?;
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return refuse("it is not a directory".into());
    }
    if meta.uid() != uid {
        return refuse(format!(
            "it is owned by uid {}, not by you (uid {uid})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return refuse(format!("other users may write to it (mode {mode:04o})"));
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        let p = std::fs::metadata(parent)
            .map_err(|e| Error::io(format!("checking the directory {}", parent.display()), e))?;
        let pmode = p.mode() & 0o7777;
        let sticky = pmode & 0o1000 != 0;
        if p.uid() != uid && p.uid() != 0 {
            return refuse(format!(
                "its parent {} is owned by uid {}, who could replace it",
                parent.display(),
                p.uid()
            ));
        }
        if pmode & 0o022 != 0 && !sticky {
            return refuse(format!(
                "other users may write to its parent {} (mode {pmode:04o}) and replace it",
                parent.display()
            ));
        }
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io(
                format!("making the ledger directory {} private", dir.display()),
                e,
            )
        })?;
        tracing::info!(dir = %dir.display(), "made the ephemeral ledger directory private (0700)");
    }
    Ok(())
}

/// Creates the ledger directory if missing (mode 0700, missing parents too), then checks
/// it ([`check_private_dir`]).
pub(super) fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating the ledger {}", dir.display()), e))?;
    }
    check_private_dir(dir)
}

/// Creates `path` (it must not exist yet), mode 0600, holding `text`.
pub(super) fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// A ledger entry: where an ephemeral stack lives, written before the stack is created and
/// removed after its teardown succeeded. Its file (mode 0600) holds the backend URL as
/// given, password included, so that a janitor can reach the backend; its `Debug` hides
/// the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The stack's name.
    pub stack: String,
    /// The program directory (the workspace's `work_dir`).
    pub program_dir: PathBuf,
    /// The backend URL.
    pub backend_url: String,
    /// The `PULUMI_HOME` used.
    pub pulumi_home: PathBuf,
    /// The stack's temporary directory, deleted by its teardown.
    pub temp_dir: PathBuf,
    /// The random id in `temp_dir`'s [`MARKER_FILE`]: the directory is deleted only while
    /// it holds this id (empty in entries of older versions: their directories are kept).
    #[serde(default)]
    pub marker: String,
    /// Whether the backend lives in `temp_dir`.
    pub isolated: bool,
    /// The file holding the generated passphrase, if one was generated.
    pub passphrase_file: Option<PathBuf>,
    /// The stack's tag.
    pub tag: EphemeralTag,
}

impl std::fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerEntry")
            .field("stack", &self.stack)
            .field("program_dir", &self.program_dir)
            .field("backend_url", &redact_url(&self.backend_url))
            .field("pulumi_home", &self.pulumi_home)
            .field("temp_dir", &self.temp_dir)
            .field("marker", &self.marker)
            .field("isolated", &self.isolated)
            .field("passphrase_file", &self.passphrase_file)
            .field("tag", &self.tag)
            .finish()
    }
}

impl LedgerEntry {
    /// Writes the entry into the ledger `dir` (made private first); returns its file.
    pub(super) fn write(&self, dir: &Path) -> Result<PathBuf> {
        ensure_private_dir(dir)?;
        let file = dir.join(format!("{}.json", self.stack));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::invalid("ledger entry", e.to_string()))?;
        write_private(&file, &text)?;
        Ok(file)
    }

    /// Reads every entry of a ledger directory; unreadable files are reported, not fatal,
    /// and so is a file that is not a regular file of this user's (a symbolic link, or
    /// one another user put there). The directory itself is not checked here (see
    /// [`check_private_dir`], which [`sweep_ledger`](super::sweep_ledger) runs first).
    pub fn read_all(dir: &Path) -> Ledger {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ledger {
                entries: ok,
                unreadable: bad,
            };
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            match read_own_file(&path)
                .and_then(|t| serde_json::from_str::<LedgerEntry>(&t).map_err(|e| e.to_string()))
            {
                Ok(entry) => ok.push((path, entry)),
                Err(e) => bad.push((path, e)),
            }
        }
        ok.sort_by(|a, b| a.0.cmp(&b.0));
        Ledger {
            entries: ok,
            unreadable: bad,
        }
    }
}

/// The text of a regular file owned by this user (not through a symbolic link).
pub(super) fn read_own_file(path: &Path) -> std::result::Result<String, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.uid() != uid {
        return Err(format!(
            "owned by uid {}, not by you (uid {uid})",
            meta.uid()
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// The contents of a ledger directory.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Each entry with its file.
    pub entries: Vec<(PathBuf, LedgerEntry)>,
    /// Files that could not be read or parsed, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Whether `entry.temp_dir` is the directory this library made for the entry: a real
/// directory of this user's holding the entry's marker. `Ok(false)` when it is gone.
pub(super) fn check_temp_dir(entry: &LedgerEntry) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let dir = &entry.temp_dir;
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("checking {}", dir.display()), e)),
    };
    let refuse = |why: &str| {
        Err(Error::invalid(
            "ephemeral temporary directory",
            format!(
                "{} {why}: it is not the directory pulumi-auto made for stack {:?}, and is left alone",
                dir.display(),
                entry.stack
            ),
        ))
    };
    if !meta.is_dir() || meta.file_type().is_symlink() {
        return refuse("is not a directory");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return refuse("is not yours");
    }
    match read_own_file(&dir.join(MARKER_FILE)) {
        Ok(id) if !entry.marker.is_empty() && id == entry.marker => Ok(true),
        Ok(_) => refuse("holds another marker"),
        Err(_) => refuse(&format!("has no marker file {MARKER_FILE}")),
    }
}

/// Deletes an ephemeral stack's temporary directory, if it is still there and is the one
/// this library made for it ([`MARKER_FILE`]).
pub(super) fn remove_temp_dir(entry: &LedgerEntry) -> Result<()> {
    if !check_temp_dir(entry)? {
        return Ok(());
    }
    std::fs::remove_dir_all(&entry.temp_dir).map_err(|e| {
        Error::io(
            format!(
                "removing the temporary directory {}",
                entry.temp_dir.display()
            ),
            e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::tag::test_tag as tag;
    use super::*;

    #[test]
    fn debug_hides_a_backend_password() {
        let entry = LedgerEntry {
            stack: "s".into(),
            program_dir: "/p".into(),
            backend_url: "postgres://u:hunter2-pw@h:5432/db".into(),
            pulumi_home: "/h".into(),
            temp_dir: "/t".into(),
            marker: "m".into(),
            isolated: false,
            passphrase_file: None,
            tag: tag(1, 1, "h"),
        };
        let text = format!("{entry:?}");
        assert!(!text.contains("hunter2-pw"), "{text}");
        assert!(text.contains("postgres://u:"), "{text}");
    }

    #[test]
    fn the_fallback_ledger_is_per_user() {
        assert_eq!(
            fallback_ledger_dir(Path::new("/tmp"), 1000),
            Path::new("/tmp/pulumi-auto-1000/ephemeral-ledger")
        );
    }

    #[test]
    fn ledger_directories_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        // Created private, parents included.
        let fresh = root.path().join("a/b/ledger");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&root.path().join("a/b")), 0o700);
        // Readable by others (an older ledger): made private.
        set(&fresh, 0o755);
        check_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        // Writable by others: refused, and left as it is.
        set(&fresh, 0o777);
        let e = check_private_dir(&fresh).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        assert!(e.to_string().contains("mode 0777"), "{e}");
        assert_eq!(mode(&fresh), 0o777);
        set(&fresh, 0o700);
        // Its parent writable by others, not sticky: refused; sticky (as /tmp): fine.
        let parent = root.path().join("a/b");
        set(&parent, 0o777);
        assert!(check_private_dir(&fresh).is_err());
        set(&parent, 0o1777);
        check_private_dir(&fresh).unwrap();
        set(&parent, 0o700);
        // A symbolic link, a file: refused.
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(check_private_dir(&link).is_err());
        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(check_private_dir(&file).is_err());
        // Another user's directory: refused (`/` is root's; as root, chown one away).
        if nix::unistd::geteuid().is_root() {
            let theirs = root.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            set(&theirs, 0o700);
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = check_private_dir(&theirs).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        } else {
            let e = check_private_dir(Path::new("/")).unwrap_err();
            assert!(e.to_string().contains("owned by uid 0"), "{e}");
        }
    }

    #[test]
    fn only_a_marked_temporary_directory_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("precious"), "x").unwrap();
        let mut entry = LedgerEntry {
            stack: "s".into(),
            program_dir: "/p".into(),
            backend_url: "file:///x".into(),
            pulumi_home: "/h".into(),
            temp_dir: dir.clone(),
            marker: "id-1".into(),
            isolated: true,
            passphrase_file: None,
            tag: tag(1, 1, "h"),
        };
        // No marker file, another id, an entry without an id: refused, nothing deleted.
        assert!(remove_temp_dir(&entry).is_err());
        write_private(&dir.join(MARKER_FILE), "id-2").unwrap();
        let e = remove_temp_dir(&entry).unwrap_err();
        assert!(e.to_string().contains("another marker"), "{e}");
        entry.marker = String::new();
        assert!(remove_temp_dir(&entry).is_err());
        assert!(dir.join("precious").exists());
        // A symbolic link to a marked directory: refused.
        entry.marker = "id-2".into();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let linked = LedgerEntry {
            temp_dir: link,
            ..entry.clone()
        };
        assert!(remove_temp_dir(&linked).is_err());
        assert!(dir.join("precious").exists());
        // The right id: removed; gone already: fine.
        remove_temp_dir(&entry).unwrap();
        assert!(!dir.exists());
        remove_temp_dir(&entry).unwrap();
    }
}
