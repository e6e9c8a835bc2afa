//! The shapes that pulumi-auto's library, command-line tool, server and REST client share,
//! with their pure parsers: serde only, no runtime, no process.
//!
//! - [`model`]: typed models of the `pulumi` CLI's JSON outputs (outputs, history, config,
//!   stacks, plugins, deployments, previews).
//! - [`events`]: the engine-event model and its line parser.
//! - [`secret`]: [`Secret`], a string that never shows itself, redaction, and
//!   [`Revealed`](secret::Revealed), the explicit way to serialise secrets in plaintext
//!   (every shape here serialises them masked).
//! - [`summary`]: [`OpSummary`](summary::OpSummary), the change summary of an operation.
//! - [`approval`]: what a destroy preview would delete, why a destroy was refused.
//! - [`rest`]: the request and response shapes of the Pulumi Service REST API for users.
//!
//! The `pulumi-auto` library re-exports all of it under the same paths
//! (`pulumi_auto::model`, `pulumi_auto::events`, `pulumi_auto::Secret`,
//! `pulumi_auto::ops::OpSummary`, `pulumi_auto::approval::DestroyRefusal`).
//!
//! Feature `openapi` (off by default): the [`rest`] shapes also derive utoipa's
//! `ToSchema` (and the query shapes `IntoParams`), for the server's OpenAPI document.
#![deny(missing_docs)]

pub mod approval;
pub mod events;
pub mod model;
pub mod rest;
pub mod secret;
pub mod summary;

pub use secret::Secret;
