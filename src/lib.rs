//! pulumi-auto: drive the real `pulumi` CLI from Rust, the counterpart of Pulumi's
//! Automation API.
//!
//! - [`cli`]: finding the binary, its version (read once), running it (own session,
//!   concurrent output, stdin only for secrets, graceful cancel).
//! - [`workspace`]: [`LocalWorkspace`], a program directory with its environment and
//!   backend: stacks, plugins, project and stack settings.
//! - [`stack`]: [`Stack`], one stack's config, tags, outputs, history and state.
//! - [`ops`]: up, preview, refresh, destroy and import, with typed live events.
//! - [`approval`]: no destroy without an explicit approval naming the stack.
//! - [`events`]: the engine-event model and the event-log reader.
//! - [`model`]: typed shapes of the CLI's JSON outputs (from `pulumi-auto-types`, as are
//!   the engine-event model and [`Secret`]).
//! - [`error`]: one error enum for everything.
//! - `inline` (feature `inline`): inline programs, a Rust closure as the Pulumi program.
//!
//! ```no_run
//! # async fn demo() -> pulumi_auto::Result<()> {
//! use pulumi_auto::{LocalWorkspace, Secret, ops::UpOptions};
//! let ws = LocalWorkspace::builder("fixtures/programs/files")
//!     .passphrase(Secret::new("correct horse battery staple"))
//!     .build()
//!     .await?;
//! let stack = ws.create_or_select_stack("dev").await?;
//! stack.set_config("dir", "/tmp/files").await?;
//! let up = stack.up(UpOptions::default()).await?;
//! println!("{:?}", up.summary.resource_changes);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod approval;
pub mod cli;
pub mod ephemeral;
pub mod error;
pub mod events;
#[cfg(feature = "inline")]
pub mod inline;
pub use pulumi_auto_types::model;
pub mod ops;
pub mod recovery;
pub use pulumi_auto_types::secret;
pub mod stack;
pub mod workspace;

pub use approval::{DestroyApproval, DestroyPlan};
pub use ephemeral::EphemeralStack;
pub use error::{CommandFailure, Error, Result};
pub use secret::Secret;
pub use stack::{ConfigKey, ConfigSetValue, Stack};
pub use workspace::LocalWorkspace;
