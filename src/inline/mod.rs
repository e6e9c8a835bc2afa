//! Inline programs: a Rust closure as the Pulumi program (feature `inline`).
//!
//! The official Automation APIs run a program given as a function of the host language
//! through a language host served by the driver itself; so does this module. For each
//! operation (up, preview, refresh, destroy and the destroy preview), the driver serves
//! Pulumi's `LanguageRuntime` gRPC service on `127.0.0.1:<free port>` and passes
//! `--client=<address>` and `--exec-kind=auto.inline` to the CLI, whose engine calls
//! `Run` there: the program then registers its resources with the engine's resource
//! monitor, through a [`Context`]. No language host and no interpreter process run at
//! all: an `up` is the `pulumi` process, its providers, and this process.
//!
//! ```no_run
//! use pulumi_auto::inline::{InlineWorkspace, ResourceOptions, props};
//! use pulumi_auto::ops::UpOptions;
//!
//! # async fn demo() -> pulumi_auto::Result<()> {
//! let ws = InlineWorkspace::builder("files", |ctx| async move {
//!     let dir = ctx.config_str("dir").unwrap_or_else(|| "/tmp".into());
//!     let note = ctx
//!         .register_resource(
//!             "files:index:File",
//!             "note",
//!             props([("path", format!("{dir}/note.txt").into()), ("content", "hi".into())]),
//!             ResourceOptions::default(),
//!         )
//!         .await?;
//!     ctx.export("path", note.output("path").clone());
//!     Ok(())
//! })
//! .workspace(|b| b.backend_url("file:///tmp/pulumi-state"))
//! .build()
//! .await?;
//! let stack = ws.create_or_select_stack("dev").await?;
//! let up = stack.up(UpOptions::default()).await?;
//! println!("{:?}", up.outputs["path"].value);
//! # Ok(()) }
//! ```
//!
//! - The program runs once per run of the engine (an `up` runs it once: the library's
//!   `up` skips the CLI's preview; a `preview` once, with [`Context::is_preview`]).
//! - Many inline stacks, of one program or of many, run at once in one process: each
//!   operation has its own server and [`Context`], and nothing is global.
//! - A program's error or panic is [`Error::ProgramFailed`](crate::Error::ProgramFailed)
//!   with its message; the driver goes on. An operation started from inside a program is
//!   refused ([`Error::InvalidInput`](crate::Error::InvalidInput)).
//! - Cancelling or dropping an operation stops the CLI as for any program, then the
//!   server: its port closes and the program's task is aborted.
//! - Secret config values of a run are redacted from the program's error messages,
//!   engine errors and [`Context::log`] messages, and never shown by `Debug`.

mod context;
mod proto;
mod resource;
mod server;
mod stack;
mod value;

use std::pin::Pin;
use std::sync::Arc;

pub use context::{Context, LogLevel};
pub use proto::FILE_DESCRIPTOR_SET;
pub use resource::{Resource, ResourceOptions};
pub use stack::{InlineEphemeralStack, InlineStack, InlineWorkspace, InlineWorkspaceBuilder};
pub use value::{PropertyMap, Value, props};

/// What an inline program returns: `Ok(())`, or any error (its message, with its sources,
/// becomes [`Error::ProgramFailed`](crate::Error::ProgramFailed)'s).
pub type ProgramResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

type ProgramFuture = Pin<Box<dyn Future<Output = ProgramResult> + Send + 'static>>;

/// An inline program: a function of a [`Context`] returning a future, shared by every
/// run and operation of the stacks made from it.
#[derive(Clone)]
pub struct InlineProgram(Arc<dyn Fn(Context) -> ProgramFuture + Send + Sync + 'static>);

impl InlineProgram {
    /// Wraps a closure or function.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ProgramResult> + Send + 'static,
    {
        InlineProgram(Arc::new(move |ctx| Box::pin(f(ctx))))
    }
}

impl std::fmt::Debug for InlineProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InlineProgram")
    }
}

/// The message of a program's failure, secret config values redacted.
pub(crate) struct ProgramError(pub(crate) String);
