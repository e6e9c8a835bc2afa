//! The payload structs, one per event kind: the shapes of Go's `apitype` events, every
//! field optional and null-tolerant, unknown fields kept in `extra`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::OpType;
use super::urn::{is_default_provider, urn_name};
use crate::model::{DiagnosticSeverity, DiffKind, OperationResult, ROOT_STACK_TYPE};

/// Reads a field that may be `null` (Go's nil map or slice) as its default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Defines a payload struct: camelCase JSON names, every field optional and
/// null-tolerant, and unknown fields kept in `extra`.
macro_rules! payload {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(deserialize_with = "nullable")]
                pub $f: $t,
            )*
            /// Fields this crate does not know, as sent.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

payload!(
    /// `cancelEvent`: no fields today.
    CancelEvent {}
);

payload!(
    /// `policyLoadEvent`: no fields today.
    PolicyLoadEvent {}
);

payload!(
    /// `stdoutEvent`.
    StdoutEvent {
        /// The text.
        message: String,
        /// The colour mode (`never` with `--color never`).
        color: String,
    }
);

payload!(
    /// `diagnosticEvent`.
    DiagnosticEvent {
        /// The resource it is about, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        urn: Option<String>,
        /// A prefix such as `error: ` or `debug: `.
        #[serde(skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        /// The message (ANSI codes stripped; colour directives too with `--color never`).
        message: String,
        /// The colour mode.
        color: String,
        /// `debug`, `info`, `info#err` (program stderr), `warning` or `error`.
        severity: DiagnosticSeverity,
        /// The stream the message belongs to, when there are several.
        #[serde(rename = "streamID", skip_serializing_if = "Option::is_none")]
        stream_id: Option<i64>,
        /// Shown only while running (progress messages).
        #[serde(skip_serializing_if = "is_false")]
        ephemeral: bool,
    }
);

payload!(
    /// `preludeEvent`.
    PreludeEvent {
        /// The config the run uses, key → value (secrets blinded).
        config: BTreeMap<String, String>,
    }
);

payload!(
    /// `summaryEvent`.
    SummaryEvent {
        /// Whether one or more resources may be in an invalid state.
        maybe_corrupt: bool,
        /// How long the run took, in whole seconds (rounded up).
        duration_seconds: u64,
        /// Resource counts by operation (`create`, `same`, `update`, …). The root stack
        /// counts; default providers do not.
        resource_changes: BTreeMap<String, u64>,
        /// Policy packs that ran: name → version. The JSON key is `PolicyPacks`.
        #[serde(rename = "PolicyPacks")]
        policy_packs: BTreeMap<String, String>,
        /// Whether it was a preview.
        is_preview: bool,
        /// `succeeded`, `failed` or `canceled`.
        result: OperationResult,
    }
);

payload!(
    /// A property's change in a step.
    PropertyDiff {
        /// `add`, `update`, `delete`, and their `-replace` forms.
        diff_kind: DiffKind,
        /// Whether the old and new inputs differ (rather than old state and new inputs).
        input_diff: bool,
    }
);

payload!(
    /// A resource's state before or after a step (Go `StepEventStateMetadata`).
    StepEventStateMetadata {
        /// Its type token.
        #[serde(rename = "type")]
        type_: String,
        /// Its URN.
        urn: String,
        /// Managed by a provider plugin (not a component).
        #[serde(skip_serializing_if = "is_false")]
        custom: bool,
        /// Pending deletion after a replacement.
        #[serde(skip_serializing_if = "is_false")]
        delete: bool,
        /// The provider's ID (empty until created).
        id: String,
        /// The parent's URN.
        parent: String,
        /// Protected from deletion.
        #[serde(skip_serializing_if = "is_false")]
        protect: bool,
        /// Tainted: to be replaced on the next update.
        #[serde(skip_serializing_if = "is_false")]
        taint: bool,
        /// Not managed by this stack.
        #[serde(skip_serializing_if = "is_false")]
        external: bool,
        /// Kept in the cloud when deleted from the stack.
        #[serde(skip_serializing_if = "is_false")]
        retain_on_delete: bool,
        /// Its inputs (secrets blinded).
        inputs: Map<String, Value>,
        /// Its outputs (secrets blinded).
        outputs: Map<String, Value>,
        /// Its provider reference.
        provider: String,
        /// Errors from a partial create or update.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        init_errors: Vec<String>,
        /// Property paths whose diffs are hidden.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        hide_diffs: Vec<Value>,
    }
);

payload!(
    /// What a resource step does (Go `StepEventMetadata`).
    StepEventMetadata {
        /// The operation.
        op: OpType,
        /// The resource's URN.
        urn: String,
        /// Its type token.
        #[serde(rename = "type")]
        type_: String,
        /// The state before the step.
        old: Option<StepEventStateMetadata>,
        /// The state after the step.
        new: Option<StepEventStateMetadata>,
        /// Keys causing a replacement.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        keys: Vec<String>,
        /// Keys that changed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        diffs: Vec<String>,
        /// Property-level diffs by property path; `None` when the provider gave none.
        detailed_diff: Option<BTreeMap<String, PropertyDiff>>,
        /// A step of the program (shown to users) rather than an internal one.
        #[serde(skip_serializing_if = "is_false")]
        logical: bool,
        /// The provider performing the step.
        provider: String,
    }
);

payload!(
    /// `resourcePreEvent` and `resOutputsEvent`.
    ResourceStepEvent {
        /// The step.
        metadata: StepEventMetadata,
        /// A planned step (in a preview).
        #[serde(skip_serializing_if = "is_false")]
        planning: bool,
    }
);

payload!(
    /// `resOpFailedEvent`. A `diagnosticEvent` with the cause usually comes before it.
    ResourceFailedEvent {
        /// The step.
        metadata: StepEventMetadata,
        /// 0 ok, 1 partial failure, 2 unknown.
        status: i64,
        /// Steps taken.
        steps: i64,
    }
);

payload!(
    /// `policyEvent`: a policy violation.
    PolicyEvent {
        /// The resource, for a resource policy.
        #[serde(rename = "resourceUrn", skip_serializing_if = "Option::is_none")]
        resource_urn: Option<String>,
        /// The message.
        message: String,
        /// The colour mode.
        color: String,
        /// The policy.
        policy_name: String,
        /// Its pack.
        policy_pack_name: String,
        /// The pack's version.
        policy_pack_version: String,
        /// The pack's version tag.
        policy_pack_version_tag: String,
        /// `advisory`, `mandatory`, `remediate` or `disabled`.
        enforcement_level: String,
        /// `low`, `medium`, `high` or `critical`, when given.
        #[serde(skip_serializing_if = "Option::is_none")]
        severity: Option<String>,
    }
);

payload!(
    /// `policyRemediationEvent`.
    PolicyRemediationEvent {
        /// The resource.
        #[serde(rename = "resourceUrn", skip_serializing_if = "Option::is_none")]
        resource_urn: Option<String>,
        /// The colour mode.
        color: String,
        /// The policy.
        policy_name: String,
        /// Its pack.
        policy_pack_name: String,
        /// The pack's version.
        policy_pack_version: String,
        /// The pack's version tag.
        policy_pack_version_tag: String,
        /// Properties before.
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<Map<String, Value>>,
        /// Properties after.
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<Map<String, Value>>,
    }
);

payload!(
    /// `policyAnalyzeSummaryEvent`, `policyRemediateSummaryEvent` and
    /// `policyAnalyzeStackSummaryEvent`.
    PolicySummaryEvent {
        /// The resource (absent in the stack summary).
        #[serde(rename = "resourceUrn", skip_serializing_if = "Option::is_none")]
        resource_urn: Option<String>,
        /// The pack.
        policy_pack_name: String,
        /// Its version.
        policy_pack_version: String,
        /// Its version tag.
        policy_pack_version_tag: String,
        /// Policies passed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        passed: Vec<String>,
        /// Policies failed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        failed: Vec<String>,
    }
);

payload!(
    /// `startDebuggingEvent`.
    StartDebuggingEvent {
        /// The debug configuration.
        #[serde(skip_serializing_if = "Option::is_none")]
        config: Option<Map<String, Value>>,
    }
);

payload!(
    /// `progressEvent`.
    ProgressEvent {
        /// `plugin-download`, `plugin-install`, `policypack-download`, …
        #[serde(rename = "type")]
        type_: String,
        /// What progresses (unique per process).
        id: String,
        /// A message.
        message: String,
        /// Done so far (bytes, items). The JSON key is `received`.
        received: i64,
        /// In all.
        total: i64,
        /// Finished.
        done: bool,
    }
);

payload!(
    /// `errorEvent`.
    ErrorEvent {
        /// The error.
        error: String,
    }
);

impl SummaryEvent {
    /// The number of resources with this operation (`create`, `same`, …), 0 if none.
    pub fn count(&self, op: &str) -> u64 {
        self.resource_changes.get(op).copied().unwrap_or(0)
    }

    /// True when the result is `succeeded`.
    pub fn succeeded(&self) -> bool {
        self.result == OperationResult::Succeeded
    }
}

impl StepEventMetadata {
    /// The resource's name: the part of its URN after the type.
    pub fn name(&self) -> &str {
        urn_name(&self.urn)
    }

    /// True for the root `pulumi:pulumi:Stack` resource.
    pub fn is_root_stack(&self) -> bool {
        self.type_ == ROOT_STACK_TYPE
    }

    /// True for a default provider (`pulumi:providers:<pkg>` named `default…`), which
    /// the engine creates itself and the CLI does not show.
    pub fn is_default_provider(&self) -> bool {
        is_default_provider(&self.urn)
    }

    /// The state after the step, or before it when there is none (a delete).
    pub fn state(&self) -> Option<&StepEventStateMetadata> {
        self.new.as_ref().or(self.old.as_ref())
    }
}
