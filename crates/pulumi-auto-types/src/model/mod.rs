//! Typed models of the `pulumi` CLI's JSON outputs, and pure parsers for them.
//!
//! Every parser takes the text the CLI printed and returns typed values; none of
//! them runs a process or touches the file system. They tolerate unknown fields
//! everywhere, read Go's `null` for empty maps and lists as empty, and keep open
//! string sets (update kinds, step operations, …) in enums with an `Other(String)`
//! fallback.
//!
//! | Command | Parser | Result |
//! |---|---|---|
//! | `stack output --json [--show-secrets]` | [`parse_outputs`] | [`OutputMap`] |
//! | `stack history --json` | [`parse_history`] | `Vec<`[`UpdateSummary`]`>` |
//! | `config --json` | [`parse_config`] | [`ConfigMap`] |
//! | `config get KEY --json` | [`parse_config_value`] | [`ConfigValue`] |
//! | `config set-all --json` (input) | [`config_set_all_json`] | `String` |
//! | `stack ls --json` | [`parse_stack_list`] | `Vec<`[`StackSummary`]`>` |
//! | `whoami --json` | [`parse_whoami`] | [`WhoAmI`] |
//! | `stack tag ls --json` | [`parse_tags`] | [`StackTags`] |
//! | `plugin ls --json` | [`parse_plugins`] | `Vec<`[`PluginInfo`]`>` |
//! | `stack export` / `stack import` | [`parse_deployment`], [`Deployment::to_json`] | [`Deployment`] |
//! | `preview --json` | [`parse_preview`] | [`PreviewDigest`] |
//! | `up --json` without `--skip-preview` | [`parse_preview_output`] | [`PreviewDigest`] |
//!
//! Failures are [`ModelError`]s. They name the document and carry at most
//! [`MAX_SNIPPET_CHARS`] characters of it; for documents that may hold secrets,
//! string contents in the snippet are masked. `Debug` of [`ConfigValue`] and
//! [`OutputValue`] never prints a secret's value.
//!
//! # Example
//!
//! ```
//! use pulumi_auto_types::model::{parse_outputs, parse_stack_list, current_stack};
//!
//! let stacks = parse_stack_list(r#"[{"name": "dev", "current": true, "resourceCount": 3}]"#)?;
//! assert_eq!(current_stack(&stacks).unwrap().name, "dev");
//!
//! let outputs = parse_outputs(
//!     r#"{"url": "http://localhost:8080", "password": "[secret]"}"#,
//!     Some(r#"{"url": "http://localhost:8080", "password": "hunter2"}"#),
//! )?;
//! assert!(outputs["password"].secret);
//! assert_eq!(outputs["password"].value, "hunter2");
//! assert!(!format!("{outputs:?}").contains("hunter2"));
//! # Ok::<(), pulumi_auto_types::model::ModelError>(())
//! ```

mod config;
mod deployment;
mod enums;
mod error;
mod history;
mod outputs;
mod plugins;
mod preview;
#[cfg(test)]
mod robustness_tests;
mod secrets;
mod serde_util;
mod stack;
mod whoami;

pub use config::{ConfigMap, ConfigValue, config_set_all_json, parse_config, parse_config_value};
pub use deployment::{
    Deployment, DeploymentV3, Manifest, ManifestPlugin, PROVIDER_TYPE_PREFIX, PendingOperation,
    ROOT_STACK_TYPE, ResourceState, SecretsProviders, SnapshotMetadata, parse_deployment,
};
pub use enums::{
    DiagnosticSeverity, DiffKind, OperationResult, OperationType, PluginKind, StepOp, UpdateKind,
    UpdateResult,
};
pub use error::{MAX_SNIPPET_CHARS, ModelError};
pub use history::{UpdateSummary, parse_history};
pub use outputs::{OutputMap, OutputValue, outputs_from_property_map, parse_outputs};
pub use plugins::{PluginInfo, parse_plugins};
pub use preview::{
    PreviewDiagnostic, PreviewDigest, PreviewPropertyDiff, PreviewStep, parse_preview,
    parse_preview_output,
};
pub use secrets::{
    ARCHIVE_SIG, ASSET_SIG, RESOURCE_REFERENCE_SIG, SECRET_PLACEHOLDER, SECRET_SIG, SIG_KEY,
    UNKNOWN_PLACEHOLDER, contains_secret_object, contains_secret_placeholder, is_secret_object,
    unwrap_secrets,
};
pub use stack::{StackSummary, StackTags, current_stack, parse_stack_list, parse_tags};
pub use whoami::{TokenInformation, WhoAmI, parse_whoami};
