//! The guard: an [`EphemeralStack`] exists for as long as it does, and is torn down by
//! [`teardown`](EphemeralStack::teardown) or, failing that, by its `Drop`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use super::blocking;
use super::ledger::{LedgerEntry, remove_temp_dir};
use crate::approval::DestroyApproval;
use crate::error::{Error, Result};
use crate::ops::{DestroyOptions, UpOptions, UpResult};
use crate::stack::Stack;
use crate::workspace::{LocalWorkspace, redact_url};

/// Set to `1` (or `true`) to keep ephemeral stacks instead of tearing them down.
pub const KEEP_ENV: &str = "PULUMI_AUTO_KEEP_EPHEMERAL";

/// True when `PULUMI_AUTO_KEEP_EPHEMERAL` asks to keep ephemeral stacks.
pub fn keep_requested() -> bool {
    keep_value(std::env::var(KEEP_ENV).ok().as_deref())
}

/// Whether a value of [`KEEP_ENV`] asks to keep (anything but empty, `0` or `false`).
fn keep_value(v: Option<&str>) -> bool {
    v.map(|v| {
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
    .unwrap_or(false)
}

/// Names of the guards alive in this process: the janitor never sweeps them.
fn live_guards() -> &'static Mutex<HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Records that a guard of stack `name` is alive in this process, or no longer.
pub(super) fn set_live(name: &str, live: bool) {
    let mut set = match live_guards().lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if live {
        set.insert(name.to_owned());
    } else {
        set.remove(name);
    }
}

/// Whether a guard of stack `name` is alive in this process.
pub(super) fn is_live_here(name: &str) -> bool {
    match live_guards().lock() {
        Ok(s) => s.contains(name),
        Err(poisoned) => poisoned.into_inner().contains(name),
    }
}

/// What a live guard holds.
struct Live {
    stack: Stack,
    entry: LedgerEntry,
    ledger_file: PathBuf,
}

/// A stack that exists for as long as this guard: see the [module docs](super).
///
/// It derefs to its [`Stack`], so every stack operation is available on it; destroying it
/// needs no approval ([`teardown`](Self::teardown) carries its own).
pub struct EphemeralStack {
    inner: Option<Live>,
}

impl std::fmt::Debug for EphemeralStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(l) => f
                .debug_struct("EphemeralStack")
                .field("stack", &l.entry.stack)
                .field("backend_url", &redact_url(&l.entry.backend_url))
                .field("temp_dir", &l.entry.temp_dir)
                .finish(),
            None => f.write_str("EphemeralStack(torn down)"),
        }
    }
}

/// What a teardown did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TeardownOutcome {
    /// Resources destroyed, stack removed, temporary directory and ledger entry deleted.
    Removed {
        /// The stack's name.
        stack: String,
    },
    /// Kept because [`KEEP_ENV`] is set (or [`EphemeralStack::keep`] was called); its
    /// ledger entry stays so a janitor can remove it later.
    Kept {
        /// Where it lives.
        entry: Box<LedgerEntry>,
    },
}

impl EphemeralStack {
    /// The guard of a stack just created, recorded in the ledger at `ledger_file`.
    pub(super) fn arm(stack: Stack, entry: LedgerEntry, ledger_file: PathBuf) -> EphemeralStack {
        set_live(&entry.stack, true);
        EphemeralStack {
            inner: Some(Live {
                stack,
                entry,
                ledger_file,
            }),
        }
    }

    fn live(&self) -> &Live {
        match &self.inner {
            Some(l) => l,
            // `inner` is only taken by methods that consume the guard.
            None => unreachable!("an ephemeral stack is used after its teardown"),
        }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.live().stack
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.live().entry.stack
    }

    /// Its workspace.
    pub fn workspace(&self) -> &LocalWorkspace {
        self.live().stack.workspace()
    }

    /// Where it lives (the ledger entry).
    pub fn entry(&self) -> &LedgerEntry {
        &self.live().entry
    }

    /// `pulumi up` on the stack ([`Stack::up`]).
    pub async fn up(&self, opts: UpOptions) -> Result<UpResult> {
        self.stack().up(opts).await
    }

    /// Destroys the stack's resources, removes the stack (one process: `destroy
    /// --remove`), deletes its temporary directory and its ledger entry. When [`KEEP_ENV`]
    /// is set it keeps everything instead and says where. On failure nothing more is
    /// deleted: the state and the ledger entry stay, so no resource is lost track of, and
    /// the error says why.
    pub async fn teardown(mut self) -> Result<TeardownOutcome> {
        let Some(live) = self.inner.take() else {
            return Err(Error::invalid("ephemeral stack", "already torn down"));
        };
        if keep_requested() {
            return Ok(keep(live));
        }
        teardown_live(live).await
    }

    /// Disarms the guard and keeps the stack, as [`KEEP_ENV`] does; returns where it is.
    /// A janitor can remove it later.
    pub fn keep(mut self) -> LedgerEntry {
        match self.inner.take() {
            Some(live) => match keep(live) {
                TeardownOutcome::Kept { entry } => *entry,
                TeardownOutcome::Removed { .. } => unreachable!("keep never removes"),
            },
            None => unreachable!("an ephemeral stack is used after its teardown"),
        }
    }
}

impl std::ops::Deref for EphemeralStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        self.stack()
    }
}

/// Disarms a guard, leaving its stack and ledger entry in place.
fn keep(live: Live) -> TeardownOutcome {
    set_live(&live.entry.stack, false);
    tracing::warn!(
        stack = %live.entry.stack,
        backend = %redact_url(&live.entry.backend_url),
        ledger = %live.ledger_file.display(),
        "keeping ephemeral stack"
    );
    TeardownOutcome::Kept {
        entry: Box::new(live.entry),
    }
}

/// Tears a guard's stack down; its ledger entry goes only once everything else has.
async fn teardown_live(live: Live) -> Result<TeardownOutcome> {
    let name = live.entry.stack.clone();
    let result = remove_everything(&live.stack, &live.entry).await;
    set_live(&name, false);
    match result {
        Ok(()) => {
            let file = live.ledger_file;
            let _ = blocking(move || Ok(std::fs::remove_file(&file))).await?;
            Ok(TeardownOutcome::Removed { stack: name })
        }
        Err(e) => {
            tracing::error!(
                stack = %name,
                ledger = %live.ledger_file.display(),
                error = %e,
                "ephemeral stack teardown failed; it is kept in the ledger for a janitor"
            );
            Err(e)
        }
    }
}

/// Destroys an ephemeral stack's resources and removes it (one process: `destroy
/// --remove`), with the approval every ephemeral stack carries.
pub(super) async fn destroy_and_remove(stack: &Stack) -> Result<()> {
    let approval = DestroyApproval::ephemeral(stack.name().to_owned());
    stack
        .destroy(DestroyOptions::default().remove(true), &approval)
        .await
        .map(drop)
}

/// Destroy and remove (one process), delete the temp directory. Stops at the first
/// failure.
pub(super) async fn remove_everything(stack: &Stack, entry: &LedgerEntry) -> Result<()> {
    destroy_and_remove(stack).await?;
    let entry = entry.clone();
    blocking(move || remove_temp_dir(&entry)).await
}

impl Drop for EphemeralStack {
    fn drop(&mut self) {
        let Some(live) = self.inner.take() else {
            return;
        };
        if keep_requested() {
            keep(live);
            return;
        }
        let name = live.entry.stack.clone();
        let ledger = live.ledger_file.clone();
        if let Err(e) = teardown_on_own_thread(live) {
            tracing::error!(
                stack = %name,
                ledger = %ledger.display(),
                error = %e,
                "an ephemeral stack dropped without teardown could not be removed; \
                 it is recorded in the ledger for a janitor"
            );
        }
    }
}

/// Async cleanup from a synchronous drop: the teardown runs on a dedicated thread with a
/// runtime of its own, never on the caller's runtime (which may be single-threaded, or
/// shutting down), and is joined, so the stack is gone before the drop returns (also
/// during a panic's unwinding).
fn teardown_on_own_thread(live: Live) -> Result<()> {
    let worker = std::thread::Builder::new()
        .name(format!("teardown-{}", live.entry.stack))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(teardown_live(live)).map(drop),
                Err(e) => {
                    set_live(&live.entry.stack, false);
                    Err(Error::io("starting a runtime for an ephemeral teardown", e))
                }
            }
        })
        .map_err(|e| Error::io("starting a thread for an ephemeral teardown", e))?;
    worker.join().unwrap_or_else(|_| {
        Err(Error::invalid(
            "ephemeral teardown",
            "the teardown thread panicked",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_env_values() {
        for v in ["1", "true", "yes", " TRUE "] {
            assert!(keep_value(Some(v)), "{v}");
        }
        for v in ["", "0", "false", "False", "  "] {
            assert!(!keep_value(Some(v)), "{v}");
        }
        assert!(!keep_value(None));
    }
}
