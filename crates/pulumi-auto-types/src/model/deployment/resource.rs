//! [`ResourceState`]: one resource in a state, with a `Debug` that hides secrets.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{PROVIDER_TYPE_PREFIX, ROOT_STACK_TYPE};
use crate::model::outputs::{OutputMap, outputs_from_property_map};
use crate::model::secrets::redact_plaintexts;
use crate::model::serde_util::{is_false, null_as_default};

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
