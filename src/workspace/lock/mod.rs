//! The settings-file lock: every command that may write a stack's settings file
//! (`Pulumi.<stack>.yaml`) or the project's (`Pulumi.yaml`) runs while holding it
//! exclusively, so two writers never interleave their read-modify-write of one file (the
//! CLI's own writes are neither serialized nor atomic: two `pulumi config set` at once lose
//! keys, and can leave a file without its `encryptionsalt`, whose secrets can then no
//! longer be read). A command that only reads the stack's settings (an engine operation,
//! `stack export`) holds it shared, so it never reads a file half-written.
//!
//! Within a process, one async read-write lock per settings file. Across processes, an
//! advisory lock that every pulumi-auto driver takes the same way (documented in the
//! README):
//!
//! 1. open (creating it if needed) the lock file `.<file name>.lock` next to the settings
//!    file, e.g. `.Pulumi.dev.yaml.lock`;
//! 2. take `flock(LOCK_EX)` on it to write, `flock(LOCK_SH)` to read (here with `LOCK_NB`,
//!    polled, so that no thread is blocked);
//! 3. check that the path still names the file that was locked (same device and inode);
//!    if not, a previous holder removed it: close it and start again;
//! 4. when done, remove the lock file while holding it exclusively (a reader first tries
//!    `LOCK_EX|LOCK_NB`, and leaves the file to the last reader when that fails), then
//!    close it, which releases the lock.
//!
//! The kernel releases a `flock` when its holder dies, so a killed driver leaves no stale
//! lock (at most a lock file, which the next holder removes). Where the lock file cannot
//! be created (a read-only project directory, which the CLI cannot write either), only the
//! in-process lock is taken.
//!
//! Which commands write or read is a pure function of their arguments
//! ([`settings_access`]). An engine operation (`up`, `preview`, `refresh`, `destroy`,
//! `import`) reads the stack's settings, and writes them only before its engine starts
//! and only when it is given config (`--config`, `--config-file`) or the settings hold no
//! secrets provider yet (no `encryptionsalt`, no `encryptedkey`: the CLI sets one up and
//! saves it). So it holds the lock until its first engine event: exclusively in those
//! cases, shared otherwise, so that concurrent operations of one stack still meet at the
//! backend's own lock. `destroy --remove` deletes the file at its end and holds the lock
//! exclusively throughout.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

mod access;

pub(crate) use access::for_invocation;

/// The lock file of a settings file: `.<name>.lock` in the same directory.
pub(crate) fn lock_path(settings_file: &Path) -> PathBuf {
    let name = settings_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    settings_file.with_file_name(format!(".{name}.lock"))
}

/// The locks of one command: released when dropped (or, for an engine operation, when
/// its engine starts).
#[derive(Default)]
pub(crate) struct SettingsLock {
    held: Vec<Held>,
    until_engine_starts: bool,
}

impl std::fmt::Debug for SettingsLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsLock")
            .field(
                "files",
                &self.held.iter().map(|h| &h.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SettingsLock {
    /// Locks these settings files (`exclusive` to write, else shared), in a fixed order
    /// (so that two commands locking the same two files cannot deadlock), waiting as
    /// long as needed unless `cancel` fires or `deadline` passes ([`Error::Cancelled`]).
    pub(crate) async fn acquire(
        mut files: Vec<PathBuf>,
        exclusive: bool,
        until_engine_starts: bool,
        cancel: Option<&CancellationToken>,
        deadline: Option<Instant>,
    ) -> Result<SettingsLock> {
        files.sort();
        files.dedup();
        let mut held = Vec::with_capacity(files.len());
        for file in files {
            held.push(Held::acquire(&file, exclusive, cancel, deadline).await?);
        }
        Ok(SettingsLock {
            held,
            until_engine_starts,
        })
    }

    /// The engine has started (its first event arrived): an operation that writes only
    /// before that releases its locks.
    pub(crate) fn engine_started(&mut self) {
        if self.until_engine_starts && !self.held.is_empty() {
            self.held.clear();
        }
    }
}

/// One settings file's lock, held.
struct Held {
    /// The settings file.
    path: PathBuf,
    /// The lock file and its flock (`None` where it could not be created).
    file: Option<(PathBuf, Flock<File>)>,
    exclusive: bool,
    _in_process: InProcess,
}

/// The in-process side of a [`Held`] lock (held for its `Drop`, never read).
#[allow(dead_code)]
enum InProcess {
    Shared(tokio::sync::OwnedRwLockReadGuard<()>),
    Exclusive(tokio::sync::OwnedRwLockWriteGuard<()>),
}

impl Drop for Held {
    /// Releases the lock at once, on the dropping thread: one `unlink` and one `close`,
    /// which must happen before the in-process guard goes, so that the next holder in this
    /// process finds the file gone rather than locked.
    fn drop(&mut self) {
        if let Some((lock_file, flock)) = self.file.take() {
            // Removed while held exclusively: whoever waits on this file finds it gone
            // (step 3) and starts again on a new one. A reader that cannot have it
            // exclusively leaves it to the readers still holding it.
            if self.exclusive || flock.relock(FlockArg::LockExclusiveNonblock).is_ok() {
                let _ = std::fs::remove_file(&lock_file);
            }
            drop(flock);
        }
    }
}

/// The in-process lock of each lock file.
fn in_process(lock_file: &Path) -> Arc<tokio::sync::RwLock<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Weak<tokio::sync::RwLock<()>>>>> =
        OnceLock::new();
    let mut map = match LOCKS.get_or_init(Default::default).lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(m) = map.get(lock_file).and_then(Weak::upgrade) {
        return m;
    }
    map.retain(|_, w| w.strong_count() > 0);
    let m = Arc::new(tokio::sync::RwLock::new(()));
    map.insert(lock_file.to_path_buf(), Arc::downgrade(&m));
    m
}

/// Waits for `fut`, or fails when `cancel` fires or `deadline` passes.
async fn bounded<T>(
    fut: impl Future<Output = T>,
    cancel: Option<&CancellationToken>,
    deadline: Option<Instant>,
    what: &Path,
) -> Result<T> {
    let cancelled = async {
        match cancel {
            Some(t) => t.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let timed_out = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        v = fut => Ok(v),
        _ = cancelled => Err(stopped(what)),
        _ = timed_out => Err(stopped(what)),
    }
}

fn stopped(what: &Path) -> Error {
    tracing::info!(target: "pulumi_auto::cli", file = %what.display(), "cancelled while waiting for the settings lock");
    Error::Cancelled { failure: None }
}

/// The shortest and longest pause between two tries of another process's lock.
const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(50);

impl Held {
    async fn acquire(
        settings_file: &Path,
        exclusive: bool,
        cancel: Option<&CancellationToken>,
        deadline: Option<Instant>,
    ) -> Result<Held> {
        let lock_file = canonical_lock_path(settings_file).await?;
        let rw = in_process(&lock_file);
        let guard = if exclusive {
            InProcess::Exclusive(bounded(rw.write_owned(), cancel, deadline, settings_file).await?)
        } else {
            InProcess::Shared(bounded(rw.read_owned(), cancel, deadline, settings_file).await?)
        };
        let held = |file| Held {
            path: settings_file.to_path_buf(),
            file,
            exclusive,
            _in_process: guard,
        };
        let mut pause = POLL_FIRST;
        let mut logged = false;
        loop {
            match try_lock_off_thread(&lock_file, exclusive).await {
                Ok(Attempt::Locked(flock)) => return Ok(held(Some((lock_file, flock)))),
                Ok(Attempt::Busy) => {}
                Ok(Attempt::Unavailable(e)) => {
                    tracing::debug!(target: "pulumi_auto::cli", file = %lock_file.display(), error = %e,
                        "no settings lock file (read-only directory?): locking within this process only");
                    return Ok(held(None));
                }
                Err(e) => {
                    return Err(Error::io(format!("locking {}", lock_file.display()), e));
                }
            }
            if !logged {
                tracing::debug!(target: "pulumi_auto::cli", file = %settings_file.display(),
                    "waiting for another process's settings lock");
                logged = true;
            }
            bounded(tokio::time::sleep(pause), cancel, deadline, settings_file).await?;
            pause = (pause * 2).min(POLL_MAX);
        }
    }
}

/// The lock file's path with its directory resolved (so that two spellings of one
/// project directory share one lock); the directory is created if missing, as the CLI
/// creates a `stackConfigDir` when it writes.
async fn canonical_lock_path(settings_file: &Path) -> Result<PathBuf> {
    let lock_file = lock_path(settings_file);
    let dir = match lock_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !tokio::fs::try_exists(&dir).await.unwrap_or(false) {
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let dir = tokio::fs::canonicalize(&dir)
        .await
        .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
    Ok(match lock_file.file_name() {
        Some(name) => dir.join(name),
        None => lock_file,
    })
}

enum Attempt {
    Locked(Flock<File>),
    Busy,
    /// The lock file cannot be created here (read-only directory, no permission).
    Unavailable(std::io::Error),
}

/// [`try_lock`] on tokio's blocking pool: opening the file and the `flock` are system
/// calls that may wait on the file system (a slow or network disk), which an async task
/// must not do on its worker thread.
async fn try_lock_off_thread(lock_file: &Path, exclusive: bool) -> std::io::Result<Attempt> {
    let lock_file = lock_file.to_path_buf();
    tokio::task::spawn_blocking(move || try_lock(&lock_file, exclusive))
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())))
}

/// One non-blocking try at the cross-process lock (steps 1 to 3 of the module docs).
fn try_lock(lock_file: &Path, exclusive: bool) -> std::io::Result<Attempt> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(lock_file)
        .or_else(|e| match e.kind() {
            // Another user's lock file, that we may not write: reading is enough to lock.
            std::io::ErrorKind::PermissionDenied if lock_file.exists() => {
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(lock_file)
            }
            _ => Err(e),
        });
    let file = match opened {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            return Ok(Attempt::Unavailable(e));
        }
        Err(e) => return Err(e),
    };
    let how = if exclusive {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    let flock = match Flock::lock(file, how) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(Attempt::Busy),
        Err((_, nix::errno::Errno::EINTR)) => return Ok(Attempt::Busy),
        Err((_, errno)) => return Err(errno.into()),
    };
    // Still the file at that path? A holder that finished removed it before unlocking.
    let mine = flock.metadata()?;
    match std::fs::symlink_metadata(lock_file) {
        Ok(now) if now.dev() == mine.dev() && now.ino() == mine.ino() => Ok(Attempt::Locked(flock)),
        _ => Ok(Attempt::Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_names() {
        assert_eq!(
            lock_path(Path::new("/p/Pulumi.dev.yaml")),
            Path::new("/p/.Pulumi.dev.yaml.lock")
        );
        assert_eq!(
            lock_path(Path::new("/p/cfg/Pulumi.yaml")),
            Path::new("/p/cfg/.Pulumi.yaml.lock")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_at_a_time_and_nothing_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Pulumi.dev.yaml");
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (file, inside, most) = (file.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let lock = SettingsLock::acquire(vec![file], true, false, None, None)
                        .await
                        .unwrap();
                    use std::sync::atomic::Ordering::SeqCst;
                    let n = inside.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(n, SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, SeqCst);
                    drop(lock);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(!lock_path(&file).exists(), "the lock file is removed");
    }

    #[tokio::test]
    async fn another_holder_is_waited_for_and_a_wait_can_be_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Pulumi.dev.yaml");
        // Another process's lock, as a flock on the lock file from another descriptor.
        let lock_file = lock_path(&file);
        let other = File::create(&lock_file).unwrap();
        let other = Flock::lock(other, FlockArg::LockExclusiveNonblock).unwrap();
        let token = CancellationToken::new();
        let waiting = {
            let (file, token) = (file.clone(), token.clone());
            tokio::spawn(async move {
                SettingsLock::acquire(vec![file], true, false, Some(&token), None).await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "took a lock another process holds");
        token.cancel();
        assert!(matches!(
            waiting.await.unwrap(),
            Err(Error::Cancelled { failure: None })
        ));
        // A deadline ends the wait the same way.
        let started = Instant::now();
        let r = SettingsLock::acquire(
            vec![file.clone()],
            true,
            false,
            None,
            Some(Instant::now() + Duration::from_millis(100)),
        )
        .await;
        assert!(matches!(r, Err(Error::Cancelled { .. })));
        assert!(started.elapsed() < Duration::from_secs(2));
        // Released (and removed, as a finishing holder does): taken at once.
        std::fs::remove_file(&lock_file).unwrap();
        drop(other);
        let lock = SettingsLock::acquire(vec![file], true, false, None, None)
            .await
            .unwrap();
        assert_eq!(lock.held.len(), 1);
        assert!(lock.held[0].file.is_some());
    }

    #[tokio::test]
    async fn a_waiter_on_a_removed_lock_file_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Pulumi.dev.yaml");
        let first = SettingsLock::acquire(vec![file.clone()], true, false, None, None)
            .await
            .unwrap();
        let second = tokio::spawn({
            let file = file.clone();
            async move { SettingsLock::acquire(vec![file], true, false, None, None).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        let second = second.await.unwrap().unwrap();
        // It holds the lock on the file that is at the path now.
        let (path, flock) = second.held[0].file.as_ref().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(path).unwrap().ino(),
            flock.metadata().unwrap().ino()
        );
    }

    #[tokio::test]
    async fn readers_share_and_a_writer_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Pulumi.dev.yaml");
        let read =
            |file: &PathBuf| SettingsLock::acquire(vec![file.clone()], false, false, None, None);
        let r1 = read(&file).await.unwrap();
        let r2 = read(&file).await.unwrap();
        // Two readers at once, each with a shared flock of its own.
        assert!(r1.held[0].file.is_some() && r2.held[0].file.is_some());
        let writer = tokio::spawn({
            let file = file.clone();
            async move { SettingsLock::acquire(vec![file], true, false, None, None).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!writer.is_finished(), "a writer got in beside readers");
        // The first reader out leaves the lock file to the other.
        drop(r1);
        assert!(lock_path(&file).exists());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!writer.is_finished());
        drop(r2);
        let w = writer.await.unwrap().unwrap();
        // A reader from another process (a shared flock) waits for the writer.
        let (path, _) = w.held[0].file.as_ref().unwrap();
        let other = File::open(path).unwrap();
        assert!(matches!(
            Flock::lock(other, FlockArg::LockSharedNonblock),
            Err((_, nix::errno::Errno::EWOULDBLOCK))
        ));
        drop(w);
        assert!(!lock_path(&file).exists());
    }

    #[tokio::test]
    async fn engine_start_releases_only_an_operations_lock() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Pulumi.dev.yaml");
        let mut op = SettingsLock::acquire(vec![file.clone()], true, true, None, None)
            .await
            .unwrap();
        op.engine_started();
        assert!(op.held.is_empty());
        let mut whole = SettingsLock::acquire(vec![file], true, false, None, None)
            .await
            .unwrap();
        whole.engine_started();
        assert_eq!(whole.held.len(), 1);
    }
}
