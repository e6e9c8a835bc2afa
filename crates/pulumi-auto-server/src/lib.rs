//! `pulumi-auto-server`: a Pulumi service backend that the real, unmodified `pulumi` CLI logs
//! in to (`pulumi login http://HOST:PORT`) and uses for everything it does with stacks:
//! stacks and their tags, updates with leases, checkpoints and engine events, history,
//! export and import, and the service secrets provider.
//!
//! State lives in one store ([`store::Store`]): SQLite in the data directory by default, or
//! PostgreSQL. Tokens are kept as SHA-256 hashes; secret values are encrypted with a data key
//! per stack, wrapped by a master key that lives in a 0600 file of the data directory (or an
//! environment variable) and never in the database.
#![deny(missing_docs)]

pub mod api;
pub mod crypto;
pub mod error;
pub mod openapi;
pub mod programs;
pub mod replica;
pub mod rest;
pub mod server;
pub mod store;
pub mod web;

pub use error::{Error, Result};
pub use server::{ServeOptions, serve};
