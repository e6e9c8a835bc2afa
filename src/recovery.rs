//! Finding and repairing what a killed update leaves behind: a stale lock and pending
//! operations. Nothing here runs on its own: [`Stack::health`] reports, and only an
//! explicit [`Stack::recover`] changes anything.
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::recovery::{PendingCreates, RecoverOptions};
//! let health = stack.health().await?;
//! if !health.is_clean() {
//!     println!("{} lock(s), {} pending operation(s)", health.locks.len(), health.pending_operations.len());
//!     // Only when no update is running: a live update's lock looks the same.
//!     stack.recover(RecoverOptions { clear_locks: true, pending_creates: PendingCreates::Clear }).await?;
//! }
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::PendingOperation;
use crate::ops::RefreshOptions;
use crate::stack::Stack;

/// A lock on the stack, as the file backend records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockInfo {
    /// The process that took it.
    #[serde(default)]
    pub pid: i64,
    /// Its user.
    #[serde(default)]
    pub username: String,
    /// Its host.
    #[serde(default)]
    pub hostname: String,
    /// When (RFC 3339).
    #[serde(default)]
    pub timestamp: String,
    /// The lock file.
    #[serde(skip)]
    pub file: PathBuf,
}

/// What a stack's state looks like after a possible crash.
#[derive(Debug, Clone, Default)]
pub struct StackHealth {
    /// Locks held on the stack (file backend only; other backends report none here and
    /// refuse a concurrent update with [`Error::ConcurrentUpdate`]).
    pub locks: Vec<LockInfo>,
    /// Operations the engine began and never finished.
    pub pending_operations: Vec<PendingOperation>,
}

impl StackHealth {
    /// No lock and no pending operation.
    pub fn is_clean(&self) -> bool {
        self.locks.is_empty() && self.pending_operations.is_empty()
    }

    /// The pending `creating` operations: resources that may exist without being in the
    /// state.
    pub fn pending_creates(&self) -> impl Iterator<Item = &PendingOperation> {
        self.pending_operations
            .iter()
            .filter(|p| p.type_.as_str() == "creating")
    }
}

/// What to do with pending creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PendingCreates {
    /// Leave them (the next refresh will ask again).
    #[default]
    Leave,
    /// Drop them from the state: the caller knows the resources were not created, or will
    /// be recreated and adopted by the provider (`refresh --clear-pending-creates`).
    Clear,
    /// Adopt them with the IDs the caller knows: `(urn, id)` pairs
    /// (`refresh --import-pending-creates`).
    Import(Vec<(String, String)>),
}

/// What [`Stack::recover`] may do.
#[derive(Debug, Clone, Default)]
pub struct RecoverOptions {
    /// Delete the stack's locks (`pulumi cancel`). Only safe when no update is running.
    pub clear_locks: bool,
    /// What to do with pending creates.
    pub pending_creates: PendingCreates,
}

/// The file backend's state directory, when the workspace uses one.
fn file_backend_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://")?;
    let path = path.split('?').next().unwrap_or(path);
    if let Some(rest) = path.strip_prefix('~') {
        return std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest.trim_start_matches('/')));
    }
    Some(PathBuf::from(path))
}

impl Stack {
    /// Reports the stack's locks (file backend, read from disk) and pending operations
    /// (one `stack export`). Changes nothing.
    pub async fn health(&self) -> Result<StackHealth> {
        let mut health = StackHealth::default();
        if let Some(dir) = self.workspace().backend_url().and_then(file_backend_dir) {
            let fq = self.fully_qualified_name();
            let locks = dir.join(".pulumi/locks").join(&fq);
            if let Ok(mut rd) = tokio::fs::read_dir(&locks).await {
                while let Ok(Some(entry)) = rd.next_entry().await {
                    let file = entry.path();
                    if file.extension().is_some_and(|e| e == "json") {
                        let text = tokio::fs::read_to_string(&file)
                            .await
                            .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
                        let mut info: LockInfo =
                            serde_json::from_str(&text).map_err(|e| Error::Parse {
                                command: format!("reading {}", file.display()),
                                reason: e.to_string(),
                            })?;
                        info.file = file;
                        health.locks.push(info);
                    }
                }
            }
        }
        let dep = self.export_stack().await?;
        health.pending_operations = dep.pending_operations().to_vec();
        Ok(health)
    }

    /// Repairs what [`health`](Self::health) found, as far as `opts` allows: kills the
    /// processes left by drivers that died ([`reap_orphans`](crate::cli::reap_orphans);
    /// never a CLI still running), clears the locks (`pulumi cancel`), then resolves
    /// pending creates with a refresh. Returns the health afterwards. Never call it while
    /// an update may still be running.
    pub async fn recover(&self, opts: RecoverOptions) -> Result<StackHealth> {
        crate::cli::reap_orphans(false);
        let before = self.health().await?;
        if opts.clear_locks && !before.locks.is_empty() {
            self.cancel().await?;
        }
        let has_creates = before.pending_creates().next().is_some();
        // Pending updates and deletes: the refresh reads those resources back and drops
        // the operations (nothing may exist that the state does not know of).
        let has_others = before.pending_operations.len() > before.pending_creates().count();
        let refreshed = match &opts.pending_creates {
            PendingCreates::Clear if has_creates => {
                self.refresh(RefreshOptions::default().clear_pending_creates(true))
                    .await?;
                true
            }
            PendingCreates::Import(pairs) if has_creates => {
                let mut o = RefreshOptions::default();
                for (urn, id) in pairs {
                    o = o.import_pending_create(urn.clone(), id.clone());
                }
                self.refresh(o).await?;
                true
            }
            _ => false,
        };
        if has_others && !refreshed {
            self.refresh(RefreshOptions::default()).await?;
        }
        self.health().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_backend_dirs() {
        assert_eq!(
            file_backend_dir("file:///tmp/s"),
            Some(PathBuf::from("/tmp/s"))
        );
        assert_eq!(
            file_backend_dir("file:///tmp/s?no_tmp_dir=true"),
            Some(PathBuf::from("/tmp/s"))
        );
        assert_eq!(file_backend_dir("s3://bucket"), None);
        assert_eq!(file_backend_dir("https://api.pulumi.com"), None);
    }

    #[test]
    fn lock_files_parse() {
        let l: LockInfo = serde_json::from_str(
            r#"{"pid":15886,"username":"root","hostname":"vm","timestamp":"2026-11-22T14:40:56Z"}"#,
        )
        .unwrap();
        assert_eq!((l.pid, l.username.as_str()), (15886, "root"));
    }
}
