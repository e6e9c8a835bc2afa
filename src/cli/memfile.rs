//! Sealed in-memory files (`memfd`): what a CLI reads whole, complete before it starts,
//! and never on any disk.
//!
//! Two uses: the data fed to a CLI's stdin (a secret config value, a deployment to
//! import), so that the driver's death cannot hand the CLI a truncated value; and the
//! stack's passphrase, which the CLI reads from the file that
//! `PULUMI_CONFIG_PASSPHRASE_FILE` names instead of finding it in its environment, where
//! every plugin, language host and program it starts would inherit it.
//!
//! The passphrase file is the driver's own descriptor, opened by the CLI through
//! `/proc/<driver pid>/fd/<n>`: it is close-on-exec, so no process inherits it, and it
//! disappears with the driver. pulumi reads the file once per secrets manager (it caches
//! them by salt, `pkg/secrets/passphrase/manager.go`), when it first needs to encrypt or
//! decrypt: before the engine starts. Its content is taken `TrimSpace`d, so a passphrase
//! with leading or trailing white space keeps going in `PULUMI_CONFIG_PASSPHRASE`, as
//! does every passphrase when this process cannot be opened through `/proc` (it is not
//! dumpable).

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

/// An in-memory file with fixed content: it cannot be written, grown or shrunk.
pub(crate) struct SealedFile {
    file: File,
}

impl SealedFile {
    /// A sealed file holding `data`, its offset at the start; close-on-exec.
    pub(crate) fn new(name: &str, data: &[u8]) -> io::Result<SealedFile> {
        let fd: OwnedFd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
        let mut file = File::from(fd);
        file.write_all(data)?;
        file.seek(SeekFrom::Start(0))?;
        fcntl(
            &file,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_SEAL
                    | SealFlag::F_SEAL_SHRINK
                    | SealFlag::F_SEAL_GROW
                    | SealFlag::F_SEAL_WRITE,
            ),
        )?;
        Ok(SealedFile { file })
    }

    /// A child's stdin reading the file from its start (the same open file: use it for
    /// one child).
    pub(crate) fn stdio(&self) -> io::Result<Stdio> {
        Ok(Stdio::from(self.file.try_clone()?))
    }

    /// The path another process of this user opens to read the file, while it is held.
    pub(crate) fn proc_path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.file.as_raw_fd())
    }
}

/// The CLI reads a passphrase file `TrimSpace`d: only a passphrase without leading or
/// trailing white space (Go's `unicode.IsSpace`, the same set as Rust's) survives it.
pub(crate) fn survives_file(passphrase: &str) -> bool {
    passphrase.trim() == passphrase
}

/// Whether other processes of this user can open this one's descriptors through `/proc`.
pub(crate) fn proc_fds_reachable() -> bool {
    nix::sys::prctl::get_dumpable().unwrap_or(false)
        && std::path::Path::new("/proc/self/fd").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_content_is_read_whole_and_cannot_change() {
        let f = SealedFile::new("test", b"correct horse").unwrap();
        // Through /proc, as a child opens it: a new open file, from the start.
        assert_eq!(
            std::fs::read_to_string(f.proc_path()).unwrap(),
            "correct horse"
        );
        assert_eq!(
            std::fs::read_to_string(f.proc_path()).unwrap(),
            "correct horse"
        );
        assert!(
            std::fs::OpenOptions::new()
                .write(true)
                .open(f.proc_path())
                .and_then(|mut w| w.write_all(b"x"))
                .is_err(),
            "a sealed file took a write"
        );
        let mut again = String::new();
        f.file
            .try_clone()
            .unwrap()
            .read_to_string(&mut again)
            .unwrap();
        assert_eq!(again, "correct horse");
        // Close-on-exec: no child inherits it.
        let flags = fcntl(&f.file, FcntlArg::F_GETFD).unwrap();
        assert!(
            nix::fcntl::FdFlag::from_bits_truncate(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC)
        );
        assert!(proc_fds_reachable());
        let path = f.proc_path();
        drop(f);
        assert!(
            std::fs::read(&path).is_err(),
            "the file outlived its holder"
        );
    }

    #[test]
    fn white_space_at_the_edges_does_not_survive_a_file() {
        assert!(survives_file("a b"));
        assert!(survives_file(""));
        for p in [" a", "a\n", "\ta", "a\u{a0}", "a\u{2003}", "\u{85}a"] {
            assert!(!survives_file(p), "{p:?}");
        }
    }
}
