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

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{OperationType, PluginKind};
use super::error::{ModelError, Sensitivity, parse_json, serialize_error};
use super::outputs::{OutputMap, outputs_from_property_map};
use super::secrets::redact_plaintexts;
use super::serde_util::{is_false, is_zero_u32, null_as_default};

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

/// One resource in a state (Go `apitype.ResourceV3`); also the shape of the old and
/// new states in the preview digest.
///
/// Property values (`inputs`, `outputs`) are kept as JSON. In an export, secrets in
/// them are signature-tagged objects (see [`crate::model::unwrap_secrets`]); in the
/// preview digest they are the string `"[secret]"`.
///
/// `Debug` prints the `plaintext` of tagged secrets as `"[secret]"`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// The resource URN, `urn:pulumi:<stack>::<project>::<type>::<name>`.
    #[serde(default)]
    pub urn: String,
    /// True for resources managed by a provider plugin (not components).
    #[serde(default)]
    pub custom: bool,
    /// True if the resource is to be deleted by the next update (the old half of a
    /// create-before-delete replacement).
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete: bool,
    /// The provider-assigned ID (custom resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The type token, e.g. `aws:s3/bucket:Bucket`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The inputs given to the provider.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub inputs: Map<String, Value>,
    /// The outputs the provider returned (for the root stack: the stack outputs).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub outputs: Map<String, Value>,
    /// The parent's URN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// True if the resource is protected from deletion.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protect: bool,
    /// True if the resource will be replaced by the next update.
    #[serde(default, skip_serializing_if = "is_false")]
    pub taint: bool,
    /// True if Pulumi does not manage the resource's lifecycle (read resources).
    #[serde(default, skip_serializing_if = "is_false")]
    pub external: bool,
    /// URNs of the resources this one depends on.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dependencies: Vec<String>,
    /// Errors from the last create or update that partially failed.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub init_errors: Vec<String>,
    /// The provider reference, `<provider URN>::<provider ID>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// For each input property, the URNs it depends on (`null` kept as `None`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub property_dependencies: BTreeMap<String, Option<Vec<String>>>,
    /// True for a resource deleted as part of a delete-before-replace that is not
    /// yet recreated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pending_replacement: bool,
    /// Outputs explicitly marked secret.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub additional_secret_outputs: Vec<String>,
    /// Previous URNs of this resource.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// Custom timeouts (`{"create", "update", "delete"}` in seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_timeouts: Option<Value>,
    /// The ID the resource was imported with.
    #[serde(rename = "importID", default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// True if deleting the resource only drops it from the state.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain_on_delete: bool,
    /// The URN of a resource whose deletion also deletes this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_with: Option<String>,
    /// When the resource was first added to the state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the resource state last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Where in the program the resource was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_position: Option<String>,
    /// Properties whose changes are ignored.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore_changes: Vec<String>,
    /// Properties whose changes force a replacement.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub replace_on_changes: Vec<String>,
    /// True if the resource is refreshed before every update.
    #[serde(default, skip_serializing_if = "is_false")]
    pub refresh_before_update: bool,
    /// The URN of the resource this one is a view of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_of: Option<String>,
    /// Fields this crate does not model (`stackTrace`, `hideDiff`,
    /// `resourceHooks`, …), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Debug-formats a JSON map with secret plaintexts redacted.
struct RedactedMap<'a>(&'a Map<String, Value>);

impl fmt::Debug for RedactedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, redact_plaintexts(v))))
            .finish()
    }
}

impl fmt::Debug for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceState")
            .field("urn", &self.urn)
            .field("custom", &self.custom)
            .field("delete", &self.delete)
            .field("id", &self.id)
            .field("type_", &self.type_)
            .field("inputs", &RedactedMap(&self.inputs))
            .field("outputs", &RedactedMap(&self.outputs))
            .field("parent", &self.parent)
            .field("protect", &self.protect)
            .field("taint", &self.taint)
            .field("external", &self.external)
            .field("dependencies", &self.dependencies)
            .field("init_errors", &self.init_errors)
            .field("provider", &self.provider)
            .field("property_dependencies", &self.property_dependencies)
            .field("pending_replacement", &self.pending_replacement)
            .field("additional_secret_outputs", &self.additional_secret_outputs)
            .field("aliases", &self.aliases)
            .field("custom_timeouts", &self.custom_timeouts)
            .field("import_id", &self.import_id)
            .field("retain_on_delete", &self.retain_on_delete)
            .field("deleted_with", &self.deleted_with)
            .field("created", &self.created)
            .field("modified", &self.modified)
            .field("source_position", &self.source_position)
            .field("ignore_changes", &self.ignore_changes)
            .field("replace_on_changes", &self.replace_on_changes)
            .field("refresh_before_update", &self.refresh_before_update)
            .field("view_of", &self.view_of)
            .field("extra", &RedactedMap(&self.extra))
            .finish()
    }
}

impl ResourceState {
    /// True for the root `pulumi:pulumi:Stack` resource.
    pub fn is_root_stack(&self) -> bool {
        self.type_ == ROOT_STACK_TYPE
    }

    /// True for provider resources (`pulumi:providers:*`).
    pub fn is_provider(&self) -> bool {
        self.type_.starts_with(PROVIDER_TYPE_PREFIX)
    }

    /// The resource name: the part of the URN after its last `::` separator
    /// (`urn:pulumi:dev::proj::aws:s3/bucket:Bucket::logs` → `logs`). Empty if the
    /// URN is malformed.
    pub fn name(&self) -> &str {
        self.urn.splitn(4, "::").nth(3).unwrap_or("")
    }

    /// The outputs with signature-tagged secrets unwrapped (see
    /// [`outputs_from_property_map`]).
    pub fn unwrapped_outputs(&self) -> OutputMap {
        outputs_from_property_map(&self.outputs)
    }

    /// The URNs input property `key` depends on (empty if none are recorded).
    pub fn property_dependencies_of(&self, key: &str) -> &[String] {
        self.property_dependencies
            .get(key)
            .and_then(Option::as_deref)
            .unwrap_or(&[])
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outputs::OutputValue;
    use crate::model::secrets::{SECRET_SIG, SIG_KEY};
    use serde_json::json;

    /// Parses, serialises and compares as JSON values.
    fn assert_round_trip(input: &str) -> Deployment {
        let parsed = parse_deployment(input).unwrap();
        let original: Value = serde_json::from_str(input).unwrap();
        let written = parsed.to_value().unwrap();
        assert_eq!(written, original, "round trip changed the document");
        let reparsed = parse_deployment(&parsed.to_json().unwrap()).unwrap();
        assert_eq!(reparsed, parsed);
        let pretty = parse_deployment(&parsed.to_json_pretty().unwrap()).unwrap();
        assert_eq!(pretty, parsed);
        parsed
    }

    // `pulumi stack export` of the `files` fixture after an update that was killed
    // mid-way: passphrase secrets (ciphertext), a pending create, a provider, a
    // dynamic-provider resource, and fields this crate does not model.
    const EXPORT_ENCRYPTED: &str = r#"{
    "version": 3,
    "deployment": {
        "manifest": {
            "time": "2026-08-20T08:44:12.123456789Z",
            "magic": "4f2b0a4e3f3c0f8d8d5c4f1d5e1b1a7c2c0f9e3d3b1a0f9e8d7c6b5a49382716",
            "version": "v3.259.0",
            "plugins": [
                {
                    "name": "python",
                    "path": "/opt/pulumi/bin/pulumi-language-python",
                    "type": "language",
                    "version": "3.259.0"
                }
            ]
        },
        "secrets_providers": {
            "type": "passphrase",
            "state": {
                "salt": "v1:QmFzZTY0U2FsdA==:v1:c29tZW5vbmNl:Y2lwaGVydGV4dA=="
            }
        },
        "resources": [
            {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack",
                "outputs": {
                    "count": 2,
                    "dir": "/tmp/files-test",
                    "files": {
                        "greeting": {"path": "/tmp/files-test/greeting.txt", "size": 5}
                    },
                    "token": {
                        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "ciphertext": "v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB"
                    }
                },
                "created": "2026-08-20T08:44:10.5Z",
                "modified": "2026-08-20T08:44:12.1Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default",
                "custom": true,
                "id": "8b5c3a2e-0000-4000-8000-000000000001",
                "type": "pulumi:providers:pulumi-python",
                "created": "2026-08-20T08:44:10.6Z",
                "modified": "2026-08-20T08:44:10.6Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/files-test/greeting.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {
                    "__provider": "gASVNgAAAAAAAACMCF9fbWFpbl9flIwMRmlsZVByb3ZpZGVylJOUKYGULg==",
                    "content": "hello",
                    "path": "/tmp/files-test/greeting.txt",
                    "size": null
                },
                "outputs": {
                    "__provider": "gASVNgAAAAAAAACMCF9fbWFpbl9flIwMRmlsZVByb3ZpZGVylJOUKYGULg==",
                    "content": "hello",
                    "path": "/tmp/files-test/greeting.txt",
                    "size": 5
                },
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "protect": true,
                "dependencies": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::other"],
                "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                "propertyDependencies": {
                    "content": [],
                    "path": null,
                    "size": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::other"]
                },
                "additionalSecretOutputs": ["content"],
                "customTimeouts": {"create": 60},
                "sourcePosition": "project:///__main__.py#62,13",
                "stackTrace": [{"sourcePosition": "project:///__main__.py#62,13"}],
                "ignoreChanges": ["size"],
                "hideDiff": ["content"],
                "resourceHooks": {"beforeCreate": ["audit"]},
                "created": "2026-08-20T08:44:11.0Z",
                "modified": "2026-08-20T08:44:11.0Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
                "custom": true,
                "delete": true,
                "id": "/tmp/files-test/old-note.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {"path": "/tmp/files-test/old-note.txt"},
                "outputs": {"path": "/tmp/files-test/old-note.txt", "size": 7},
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                "retainOnDelete": true,
                "importID": "/tmp/files-test/old-note.txt",
                "futureResourceField": {"nested": [1, 2, 3]}
            }
        ],
        "pending_operations": [
            {
                "resource": {
                    "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
                    "custom": true,
                    "type": "pulumi-python:dynamic:Resource",
                    "inputs": {
                        "content": "a note\n",
                        "path": "/tmp/files-test/note.txt",
                        "size": null
                    },
                    "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                    "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                    "created": "2026-08-20T08:44:11.2Z",
                    "modified": "2026-08-20T08:44:11.2Z"
                },
                "type": "creating"
            },
            {
                "resource": {
                    "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::extra",
                    "custom": true,
                    "type": "pulumi-python:dynamic:Resource"
                },
                "type": "transmogrifying",
                "futureOperationField": true
            }
        ],
        "metadata": {},
        "snippets": [
            {"uuid": "0b1e", "name": "s", "type": "t:m:R", "code": "x", "descriptor": {"name": "t"}}
        ]
    },
    "futureTopLevel": "kept"
}
"#;

    #[test]
    fn encrypted_export_round_trips_and_exposes_helpers() {
        let dep = assert_round_trip(EXPORT_ENCRYPTED);
        assert_eq!(dep.version, 3);
        assert!(dep.features.is_empty());
        assert_eq!(dep.extra["futureTopLevel"], json!("kept"));
        assert_eq!(dep.secrets_provider_type(), Some("passphrase"));

        let d = dep.deployment.as_ref().unwrap();
        assert_eq!(d.manifest.version, "v3.259.0");
        assert_eq!(d.manifest.plugins[0].type_, PluginKind::Language);
        assert_eq!(d.metadata, Some(SnapshotMetadata::default()));
        assert!(d.extra.contains_key("snippets"));

        assert_eq!(dep.resources().len(), 4);
        // root stack and provider excluded, and the delete-marked note too
        assert_eq!(dep.resource_count(), 1);
        assert!(dep.has_pending_operations());
        let ops = dep.pending_operations();
        assert_eq!(ops[0].type_, OperationType::Creating);
        assert_eq!(ops[0].resource.name(), "note");
        assert_eq!(ops[1].type_, OperationType::Other("transmogrifying".into()));

        let root = dep.root_stack().unwrap();
        assert!(root.is_root_stack() && !root.custom);
        assert_eq!(root.name(), "files-dev");

        let greeting = dep
            .find_resource("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting")
            .unwrap();
        assert!(greeting.protect && !greeting.delete);
        assert_eq!(greeting.id.as_deref(), Some("/tmp/files-test/greeting.txt"));
        assert_eq!(greeting.inputs["size"], Value::Null);
        assert_eq!(greeting.outputs["size"], json!(5));
        assert_eq!(greeting.custom_timeouts, Some(json!({"create": 60})));
        assert_eq!(greeting.property_dependencies_of("path"), &[] as &[String]);
        assert_eq!(
            greeting.property_dependencies_of("content"),
            &[] as &[String]
        );
        assert_eq!(greeting.property_dependencies_of("size").len(), 1);
        assert_eq!(
            greeting.property_dependencies_of("missing"),
            &[] as &[String]
        );
        assert!(greeting.extra.contains_key("stackTrace"));
        assert!(greeting.extra.contains_key("resourceHooks"));

        let note = dep
            .find_resource("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note")
            .unwrap();
        assert!(note.delete && note.retain_on_delete);
        assert_eq!(
            note.import_id.as_deref(),
            Some("/tmp/files-test/old-note.txt")
        );

        let provider = &dep.resources()[1];
        assert!(provider.is_provider());

        let outs = dep.stack_outputs();
        assert_eq!(outs["count"], OutputValue::plain(json!(2)));
        assert_eq!(outs["token"], OutputValue::secret(json!("[secret]")));
        assert!(outs["token"].is_redacted());
    }

    // `pulumi stack export --show-secrets`, version 4 with features.
    const EXPORT_SHOW_SECRETS_V4: &str = r#"{
    "version": 4,
    "features": ["refreshBeforeUpdate"],
    "deployment": {
        "manifest": {"time": "2026-08-20T08:44:12Z", "magic": "abc", "version": "v3.259.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:bm9uY2U=:Y3Q="}},
        "resources": [
            {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack",
                "outputs": {
                    "token": {
                        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "plaintext": "\"token-default\""
                    },
                    "db": {
                        "host": "db.local",
                        "password": {
                            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                            "plaintext": "\"pw\""
                        }
                    },
                    "asset": {
                        "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17",
                        "hash": "abc",
                        "text": "hi"
                    }
                }
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/g",
                "type": "pulumi-python:dynamic:Resource",
                "refreshBeforeUpdate": true,
                "taint": true,
                "external": true,
                "pendingReplacement": true,
                "initErrors": ["boom"],
                "aliases": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::old"],
                "deletedWith": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "replaceOnChanges": ["path"],
                "viewOf": "urn:pulumi:dev::files::x:y:Z::v"
            }
        ],
        "metadata": {
            "integrity_error": {"version": "v3.259.0", "command": "pulumi up", "error": "bad"}
        }
    }
}
"#;

    #[test]
    fn show_secrets_v4_export_round_trips_and_decodes_secrets() {
        let dep = assert_round_trip(EXPORT_SHOW_SECRETS_V4);
        assert_eq!(dep.version, 4);
        assert_eq!(dep.features, vec!["refreshBeforeUpdate"]);
        let outs = dep.stack_outputs();
        assert_eq!(outs["token"], OutputValue::secret(json!("token-default")));
        assert_eq!(
            outs["db"],
            OutputValue::secret(json!({"host": "db.local", "password": "pw"}))
        );
        assert!(!outs["asset"].secret);
        let g = &dep.resources()[1];
        assert!(g.refresh_before_update && g.taint && g.external && g.pending_replacement);
        assert_eq!(g.init_errors, vec!["boom"]);
        assert_eq!(g.replace_on_changes, vec!["path"]);
        assert!(
            dep.deployment
                .as_ref()
                .unwrap()
                .metadata
                .as_ref()
                .unwrap()
                .integrity_error
                .is_some()
        );
        assert_eq!(dep.resource_count(), 1);
        assert!(!dep.has_pending_operations());
    }

    #[test]
    fn never_updated_stack_has_null_deployment() {
        let dep = assert_round_trip("{\n    \"version\": 3,\n    \"deployment\": null\n}\n");
        assert!(dep.deployment.is_none());
        assert!(dep.resources().is_empty());
        assert!(dep.pending_operations().is_empty());
        assert_eq!(dep.resource_count(), 0);
        assert!(dep.stack_outputs().is_empty());
        assert_eq!(dep.secrets_provider_type(), None);
        assert_eq!(dep.root_stack(), None);
    }

    #[test]
    fn empty_stack_after_destroy() {
        let dep = assert_round_trip(
            r#"{"version":3,"deployment":{"manifest":{"time":"2026-08-20T08:44:12Z","magic":"m","version":"v3.259.0"},"secrets_providers":{"type":"passphrase","state":{"salt":"v1:x"}},"metadata":{}}}"#,
        );
        assert!(dep.resources().is_empty());
    }

    #[test]
    fn edits_survive_serialisation() {
        let mut dep = parse_deployment(EXPORT_ENCRYPTED).unwrap();
        let d = dep.deployment.as_mut().unwrap();
        d.pending_operations
            .retain(|op| op.type_ != OperationType::Creating);
        d.resources[2].protect = false;
        let v = dep.to_value().unwrap();
        assert_eq!(
            v["deployment"]["pending_operations"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert!(v["deployment"]["resources"][2].get("protect").is_none());
        assert_eq!(
            v["deployment"]["resources"][2]["resourceHooks"],
            json!({"beforeCreate": ["audit"]})
        );
        if let Some(d) = dep.deployment.as_mut() {
            d.pending_operations.clear();
        }
        let v = dep.to_value().unwrap();
        assert!(v["deployment"].get("pending_operations").is_none());
        assert!(!dep.has_pending_operations());
    }

    #[test]
    fn debug_redacts_plaintext_secrets() {
        let dep = parse_deployment(EXPORT_SHOW_SECRETS_V4).unwrap();
        let dbg = format!("{dep:?}");
        assert!(!dbg.contains("token-default"), "{dbg}");
        assert!(!dbg.contains("pw\\\""), "{dbg}");
        assert!(dbg.contains("db.local"));
        assert!(dbg.contains("[secret]"));
    }

    #[test]
    fn explicit_empty_omitempty_fields_are_normalised_like_go() {
        // The CLI never writes these (Go `omitempty`); if present they are dropped,
        // which `pulumi stack import` treats the same as absent.
        let dep = parse_deployment(
            r#"{"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},
                "resources":[{"urn":"u","custom":true,"type":"t","delete":false,"dependencies":[],"inputs":{}}],
                "pending_operations":[]}}"#,
        )
        .unwrap();
        assert_eq!(
            dep.to_value().unwrap(),
            json!({"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},
                   "resources":[{"urn":"u","custom":true,"type":"t"}]}})
        );
    }

    #[test]
    fn find_resource_prefers_live_copy() {
        let mk = |delete: bool, id: &str| ResourceState {
            urn: "urn:pulumi:s::p::t:m:R::r".into(),
            type_: "t:m:R".into(),
            delete,
            id: Some(id.into()),
            custom: true,
            ..Default::default()
        };
        let dep = Deployment {
            version: 3,
            features: vec![],
            deployment: Some(DeploymentV3 {
                manifest: Manifest::default(),
                secrets_providers: None,
                resources: vec![mk(true, "old"), mk(false, "new")],
                pending_operations: vec![],
                metadata: None,
                extra: Map::new(),
            }),
            extra: Map::new(),
        };
        assert_eq!(
            dep.find_resource("urn:pulumi:s::p::t:m:R::r")
                .and_then(|r| r.id.as_deref()),
            Some("new")
        );
        assert_eq!(dep.find_resource("nope"), None);
        assert_eq!(dep.resource_count(), 1);
    }

    #[test]
    fn names_from_urns() {
        let r = |urn: &str| ResourceState {
            urn: urn.into(),
            ..Default::default()
        };
        assert_eq!(
            r("urn:pulumi:dev::proj::aws:s3/bucket:Bucket::logs").name(),
            "logs"
        );
        assert_eq!(
            r("urn:pulumi:dev::proj::my:comp:C$aws:s3/bucket:Bucket::a::b").name(),
            "a::b"
        );
        assert_eq!(r("garbage").name(), "");
    }

    #[test]
    fn errors_are_bounded_and_masked() {
        assert!(matches!(
            parse_deployment(""),
            Err(ModelError::Empty { .. })
        ));
        let bad = EXPORT_SHOW_SECRETS_V4.replace("\"custom\": true", "\"custom\": \"yes\"");
        let err = parse_deployment(&bad).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("token-default"), "{text}");
        assert!(text.len() < 800, "{text}");
        assert!(parse_deployment(r#"{"version":3,"deployment":{"resources":[]}}"#).is_err());
        assert!(parse_deployment("[]").is_err());
    }

    #[test]
    fn secret_object_constants_match_the_fixture() {
        let dep = parse_deployment(EXPORT_ENCRYPTED).unwrap();
        let token = &dep.root_stack().unwrap().outputs["token"];
        assert_eq!(token[SIG_KEY], json!(SECRET_SIG));
    }
}
