//! Stack state: `pulumi stack export [--show-secrets]`, the input of
//! `pulumi stack import`.
//!
//! The types follow Go's `apitype.UntypedDeployment`, `DeploymentV3`, `ResourceV3`
//! and `OperationV2`. Every struct keeps the fields it does not model in an `extra`
//! map, and fields the CLI omits when empty (`omitempty`) are written back only when
//! present, so parsing an export and serialising it again gives the same JSON
//! value: export → edit → import loses nothing. The one normalisation is the one Go
//! itself applies: an explicit empty collection, `false` or `null` in a field that
//! Go marks `omitempty` is dropped (the CLI never writes those).

mod resource;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use resource::ResourceState;

use super::enums::{OperationType, PluginKind};
use super::error::{ModelError, Sensitivity, parse_json, serialize_error};
use super::outputs::OutputMap;
use super::serde_util::{is_zero_u32, null_as_default};

/// The type token of the root stack resource.
pub const ROOT_STACK_TYPE: &str = "pulumi:pulumi:Stack";

/// The prefix of provider resource type tokens (`pulumi:providers:aws`).
pub const PROVIDER_TYPE_PREFIX: &str = "pulumi:providers:";

/// The output of `pulumi stack export` (Go `apitype.UntypedDeployment`):
/// `{"version": 3|4, "features"?: [...], "deployment": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// The schema version: 3, or 4 when `features` are used.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Features the state uses (version 4 only), e.g. `refreshBeforeUpdate`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub features: Vec<String>,
    /// The state; `None` (JSON `null`) for a stack that has never been updated.
    #[serde(default)]
    pub deployment: Option<DeploymentV3>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The state of a stack (Go `apitype.DeploymentV3`; versions 3 and 4 share it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentV3 {
    /// Metadata about the update that wrote this state.
    pub manifest: Manifest,
    /// The secrets provider configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_providers: Option<SecretsProviders>,
    /// The resources, in dependency order (a resource follows its parent, provider
    /// and dependencies).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<ResourceState>,
    /// Operations that were in flight when the state was written: an interrupted
    /// update leaves them behind.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pending_operations: Vec<PendingOperation>,
    /// Snapshot metadata (the CLI always writes it, usually as `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<SnapshotMetadata>,
    /// Fields this crate does not model (`snippets`, `extensions`, …), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Metadata about the update that wrote a state (Go `apitype.ManifestV1`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// When the state was written (RFC 3339 with nanoseconds, as Go prints
    /// `time.Time`).
    #[serde(default)]
    pub time: String,
    /// A checksum of `version`.
    #[serde(default)]
    pub magic: String,
    /// The CLI version that wrote the state (e.g. `v3.259.0`).
    #[serde(default)]
    pub version: String,
    /// Plugins used.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub plugins: Vec<ManifestPlugin>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A plugin recorded in a [`Manifest`] (Go `apitype.PluginInfoV1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestPlugin {
    /// The plugin name.
    #[serde(default)]
    pub name: String,
    /// Where the plugin binary was.
    #[serde(default)]
    pub path: String,
    /// The plugin kind.
    #[serde(rename = "type")]
    pub type_: PluginKind,
    /// The plugin version.
    #[serde(default)]
    pub version: String,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The secrets provider configuration of a state (Go `apitype.SecretsProvidersV1`),
/// e.g. `{"type": "passphrase", "state": {"salt": "v1:…"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretsProviders {
    /// The provider type: `passphrase`, `service`, `cloud`, `b64`, …
    #[serde(rename = "type", default)]
    pub type_: String,
    /// Provider-specific state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Snapshot metadata (Go `apitype.SnapshotMetadataV1`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SnapshotMetadata {
    /// Set when the engine found the snapshot inconsistent
    /// (`{"version", "command", "error", "env_vars"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity_error: Option<Value>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An operation in flight when a state was written (Go `apitype.OperationV2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// The resource state the operation started from.
    pub resource: ResourceState,
    /// What the engine was doing.
    #[serde(rename = "type")]
    pub type_: OperationType,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Deployment {
    /// All resources in the state, including the root stack and providers (empty if
    /// the stack was never updated).
    pub fn resources(&self) -> &[ResourceState] {
        self.deployment
            .as_ref()
            .map_or(&[], |d| d.resources.as_slice())
    }

    /// The pending operations (empty if none).
    pub fn pending_operations(&self) -> &[PendingOperation] {
        self.deployment
            .as_ref()
            .map_or(&[], |d| d.pending_operations.as_slice())
    }

    /// True if the state has pending operations, i.e. an update was interrupted.
    /// Pending `creating` operations survive later updates until
    /// `pulumi refresh --clear-pending-creates` (or an import) resolves them.
    pub fn has_pending_operations(&self) -> bool {
        !self.pending_operations().is_empty()
    }

    /// The number of resources the program manages: all resources except the
    /// root stack, provider resources, and resources marked `delete` (old copies
    /// awaiting deletion after a replacement, which would otherwise be counted
    /// twice). Components count. For the raw count use `resources().len()`; that is
    /// what `pulumi stack ls` reports as `resourceCount`.
    pub fn resource_count(&self) -> usize {
        self.resources()
            .iter()
            .filter(|r| !r.is_root_stack() && !r.is_provider() && !r.delete)
            .count()
    }

    /// The root stack resource, if the state has one.
    pub fn root_stack(&self) -> Option<&ResourceState> {
        self.resources().iter().find(|r| r.is_root_stack())
    }

    /// The resource with this URN (the live one if a `delete`-marked copy also
    /// exists).
    pub fn find_resource(&self, urn: &str) -> Option<&ResourceState> {
        let mut matching = self.resources().iter().filter(|r| r.urn == urn);
        let first = matching.next()?;
        if !first.delete {
            return Some(first);
        }
        matching.find(|r| !r.delete).or(Some(first))
    }

    /// The stack outputs recorded in the state (the root stack's outputs). Secrets
    /// are decoded for an export taken with `--show-secrets`; otherwise they are
    /// [`crate::model::SECRET_PLACEHOLDER`] with `secret: true`.
    pub fn stack_outputs(&self) -> OutputMap {
        self.root_stack()
            .map(ResourceState::unwrapped_outputs)
            .unwrap_or_default()
    }

    /// The secrets provider type (`passphrase`, `service`, …), if recorded.
    pub fn secrets_provider_type(&self) -> Option<&str> {
        self.deployment
            .as_ref()?
            .secrets_providers
            .as_ref()
            .map(|s| s.type_.as_str())
    }

    /// The deployment as a JSON value.
    pub fn to_value(&self) -> Result<Value, ModelError> {
        serde_json::to_value(self).map_err(|e| serialize_error(WHAT_WRITE, &e))
    }

    /// The deployment as compact JSON, ready for `pulumi stack import --file`.
    /// It holds secrets in plaintext if the export was taken with `--show-secrets`.
    pub fn to_json(&self) -> Result<String, ModelError> {
        serde_json::to_string(self).map_err(|e| serialize_error(WHAT_WRITE, &e))
    }

    /// The deployment as indented JSON.
    pub fn to_json_pretty(&self) -> Result<String, ModelError> {
        serde_json::to_string_pretty(self).map_err(|e| serialize_error(WHAT_WRITE, &e))
    }
}

const WHAT: &str = "`pulumi stack export` output";
const WHAT_WRITE: &str = "deployment for `pulumi stack import`";

/// Parses the output of `pulumi stack export [--show-secrets]`.
///
/// ```
/// use pulumi_auto_types::model::parse_deployment;
///
/// let dep = parse_deployment(r#"{
///   "version": 3,
///   "deployment": {
///     "manifest": {"time": "2026-08-20T08:44:10.5Z", "magic": "m", "version": "v3.259.0"},
///     "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}},
///     "resources": [
///       {"urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev", "custom": false,
///        "type": "pulumi:pulumi:Stack", "outputs": {"dir": "/tmp/x"}}
///     ],
///     "metadata": {}
///   }
/// }"#)?;
/// assert_eq!(dep.resources().len(), 1);
/// assert_eq!(dep.resource_count(), 0);
/// assert!(!dep.has_pending_operations());
/// assert_eq!(dep.stack_outputs()["dir"].value, "/tmp/x");
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_deployment(json: &str) -> Result<Deployment, ModelError> {
    parse_json(WHAT, json, Sensitivity::Secret)
}
