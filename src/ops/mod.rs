//! The engine operations: up, preview, refresh, destroy and import.
//!
//! One command per file: each has its options (a builder), its argv (a pure function,
//! unit tested), its result and its [`Stack`](crate::Stack) methods (`up` and
//! `up_with_events` in `up.rs`, and so on). They share one runner (`engine.rs`): the CLI
//! writes its engine events to a named pipe (`--event-log`), which is read as it runs and
//! delivered, typed, to a callback ([`on_event`](UpOptions::on_event)) and, from the
//! `*_with_events` methods, to a [`Stream`](futures_core::Stream); the change summary and
//! the outputs come from those events, so `up` costs one `pulumi` process (two when an
//! output is secret: one more to reveal it).
//!
//! The results serialise ([`UpResult`], [`PreviewResult`], [`OpResult`], [`OpSummary`]),
//! secret values masked unless asked for ([`Revealed`](crate::secret::Revealed)).
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::ops::UpOptions;
//! let result = stack
//!     .up(UpOptions::default().on_event(|ev| println!("event {}", ev.sequence)))
//!     .await?;
//! println!("{:?} in {:?}", result.summary.resource_changes, result.summary.duration);
//! for (name, out) in &result.outputs {
//!     println!("{name} = {:?} (secret: {})", out.value, out.secret);
//! }
//! # Ok(()) }
//! ```

mod argv;
mod destroy;
mod engine;
mod import;
mod options;
mod preview;
mod refresh;
mod up;

pub use argv::{FlagSpec, check_extra_args, managed_flags};
pub use destroy::DestroyOptions;
pub use engine::{OpResult, OperationEvents, OperationFuture};
pub use import::{ImportOptions, ImportResource, ImportSource};
pub use options::{Color, CommonOptions, Control, DebugLogging, EventCallback};
pub use preview::{PreviewOptions, PreviewResult};
pub use pulumi_auto_types::summary::OpSummary;
pub use refresh::RefreshOptions;
pub use up::{UpOptions, UpResult};
