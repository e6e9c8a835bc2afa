//! Ephemeral stacks for test harnesses: created with a unique name, torn down even when
//! the test panics, and never leaked silently.
//!
//! An [`EphemeralStack`] is a guard. [`EphemeralStack::builder`] creates a stack with a
//! unique name (`<prefix>-<time>-<random>`) on an isolated backend by default (a
//! temporary directory of its own holding the file backend and `PULUMI_HOME`), tags it
//! [`EPHEMERAL_TAG`] with its owner, host, process, creation time and run id, and sets
//! its config. [`teardown`](EphemeralStack::teardown) destroys its resources, removes the
//! stack and deletes its temporary directory. A guard dropped without a teardown (a
//! panicking test, an early `?` return) tears down in its `Drop`, on a thread of its own
//! with its own runtime, so it works inside and outside async code.
//!
//! Nothing is leaked silently: before the stack exists, a ledger entry (a small JSON
//! file in [`default_ledger_dir`]) records where it lives; the entry goes only when the
//! teardown has succeeded. A process killed outright (SIGKILL, a CI timeout) leaves the
//! entry and the tagged stack behind, and the janitor ([`sweep`], [`sweep_ledger`])
//! removes them on a later run.
//!
//! The ledger is trusted only as far as it can be: its directory must be the user's own
//! and private (checked on every write and sweep, refused otherwise), and the janitor
//! acts on an entry only when the world agrees with it. The temporary directory must
//! hold the marker file [`MARKER_FILE`] with the random id the entry records (so only a
//! directory this library made is ever deleted), and the stack on the backend must
//! carry the entry's own [`EPHEMERAL_TAG`] and not be tagged protected.
//!
//! Setting [`KEEP_ENV`] (`PULUMI_AUTO_KEEP_EPHEMERAL=1`) keeps stacks for debugging: the
//! teardown logs where the stack is and leaves it, and its ledger entry, in place.
//!
//! The parts, each a module of its own: the tag and the unique name (`tag`), the ledger
//! and the checks that keep it from being planted (`ledger`), the guard and its teardown
//! (`guard`), the builder on top of [`LocalWorkspaceBuilder`](crate::workspace::LocalWorkspaceBuilder)
//! (`builder`), and the janitor (`janitor`). File-system work (the ledger, the temporary
//! directory, reading `/proc`) runs on tokio's blocking threads; a guard's `Drop` tears
//! down on a thread of its own.
//!
//! ```no_run
//! use pulumi_auto::ephemeral::EphemeralStack;
//! use pulumi_auto::ops::UpOptions;
//!
//! # async fn demo() -> pulumi_auto::Result<()> {
//! let stack = EphemeralStack::builder("fixtures/programs/files")
//!     .prefix("files-test")
//!     .config("dir", "/tmp/files-test")
//!     .create()
//!     .await?;
//! let up = stack.up(UpOptions::default()).await?;
//! assert!(up.outputs.contains_key("files"));
//! stack.teardown().await?; // or let it drop: the guard tears down anyway
//! # Ok(()) }
//! ```

mod builder;
mod guard;
mod janitor;
mod ledger;
mod tag;

pub use builder::EphemeralStackBuilder;
pub use guard::{EphemeralStack, KEEP_ENV, TeardownOutcome, keep_requested};
pub use janitor::{SkipReason, SweepOptions, SweepReport, sweep, sweep_decision, sweep_ledger};
pub use ledger::{
    LEDGER_ENV, Ledger, LedgerEntry, MARKER_FILE, check_private_dir, default_ledger_dir,
};
pub use tag::{EPHEMERAL_TAG, EphemeralTag, MAX_PREFIX_LEN, unique_name};

use crate::error::{Error, Result};

/// Runs blocking work (file-system calls, reading `/proc`) on tokio's blocking threads,
/// off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::io("ephemeral stack file work", std::io::Error::other(e)))?
}
