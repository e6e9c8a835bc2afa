//! The shapes that pulumi-auto's library, command-line tool, server and REST client share,
//! with their pure parsers: serde only, no runtime, no process.
//!
//! - [`model`]: typed models of the `pulumi` CLI's JSON outputs (outputs, history, config,
//!   stacks, plugins, deployments, previews).
//! - [`events`]: the engine-event model and its line parser.
//! - [`secret`]: [`Secret`], a string that never shows itself, and redaction.
//!
//! The `pulumi-auto` library re-exports all of it under the same paths
//! (`pulumi_auto::model`, `pulumi_auto::events`, `pulumi_auto::Secret`).
#![deny(missing_docs)]

pub mod events;
pub mod model;
pub mod secret;

pub use secret::Secret;
