//! The typed engine-event model and the line parser.
//!
//! The shapes follow Go's `sdk/go/common/apitype/events.go` (pulumi v3.259.0). Every
//! payload struct keeps the fields it does not know in `extra`, tolerates missing fields
//! and `null`s (Go writes a nil map as `null`), and serialises back in Go's field order.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::{DiagnosticSeverity, DiffKind, OperationResult, ROOT_STACK_TYPE, StepOp};

/// A resource step's operation (`create`, `update`, `delete`, `replace`, `same`, …).
///
/// The same open enum as the preview digest's [`StepOp`]: values this crate does not know
/// are kept in `StepOp::Other`, and it displays and serialises as the CLI's string.
pub type OpType = StepOp;

/// How many characters of a bad line an error keeps.
const SNIPPET_CHARS: usize = 200;

/// One engine event: its place in the run, its time and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineEvent {
    /// Position in the run, from 0; contiguous in the event log.
    pub sequence: u64,
    /// Unix seconds.
    pub timestamp: i64,
    /// What happened.
    pub kind: EventKind,
    /// Top-level fields other than `sequence`, `timestamp` and the payload (none today),
    /// as sent.
    pub extra: Map<String, Value>,
}

/// What an engine event reports: one variant per payload field of Go's `EngineEvent`.
/// Unknown kinds (from a newer CLI) are kept as raw JSON in [`EventKind::Unknown`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// `cancelEvent`: the last event of every engine run, successful or not.
    Cancel(CancelEvent),
    /// `stdoutEvent`: text the engine prints (e.g. "^C received; cancelling").
    Stdout(StdoutEvent),
    /// `diagnosticEvent`: program output, warnings, errors.
    Diagnostic(DiagnosticEvent),
    /// `preludeEvent`: the first event, with the config the run uses (secrets blinded).
    Prelude(PreludeEvent),
    /// `summaryEvent`: the change summary and the result, just before `cancelEvent`.
    Summary(SummaryEvent),
    /// `resourcePreEvent`: a resource step starts (or is planned, in a preview).
    ResourcePre(ResourceStepEvent),
    /// `resOutputsEvent`: a resource step finished; carries the resource's new state.
    ResourceOutputs(ResourceStepEvent),
    /// `resOpFailedEvent`: a resource step failed.
    ResourceOperationFailed(ResourceFailedEvent),
    /// `policyEvent`: a policy violation.
    Policy(PolicyEvent),
    /// `policyRemediationEvent`: a policy changed a resource's properties.
    PolicyRemediation(PolicyRemediationEvent),
    /// `policyLoadEvent`: policy packs are loading.
    PolicyLoad(PolicyLoadEvent),
    /// `policyAnalyzeSummaryEvent`: the policies a resource passed and failed.
    PolicyAnalyzeSummary(PolicySummaryEvent),
    /// `policyRemediateSummaryEvent`: the remediations run on a resource.
    PolicyRemediateSummary(PolicySummaryEvent),
    /// `policyAnalyzeStackSummaryEvent`: the stack policies passed and failed.
    PolicyAnalyzeStackSummary(PolicySummaryEvent),
    /// `startDebuggingEvent`: a debugger may attach.
    StartDebugging(StartDebuggingEvent),
    /// `progressEvent`: download or install progress (of a plugin, a policy pack).
    Progress(ProgressEvent),
    /// `errorEvent`: an internal engine error.
    Error(ErrorEvent),
    /// A payload this crate does not know, or a known one whose shape it could not read
    /// (a field of an unexpected type), as sent.
    Unknown {
        /// The payload field's name (e.g. `fooEvent`).
        name: String,
        /// Its JSON.
        payload: Value,
    },
}

/// The payload field names of the kinds this crate knows, in Go's order.
pub const KNOWN_EVENT_NAMES: [&str; 17] = [
    "cancelEvent",
    "stdoutEvent",
    "diagnosticEvent",
    "preludeEvent",
    "summaryEvent",
    "resourcePreEvent",
    "resOutputsEvent",
    "resOpFailedEvent",
    "policyEvent",
    "policyRemediationEvent",
    "policyLoadEvent",
    "policyAnalyzeSummaryEvent",
    "policyRemediateSummaryEvent",
    "policyAnalyzeStackSummaryEvent",
    "startDebuggingEvent",
    "progressEvent",
    "errorEvent",
];

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

/// A resource's name: what follows the type in its URN
/// (`urn:pulumi:<stack>::<project>::<type>::<name>`; the name may contain `::`).
/// A string that is not a URN is returned whole.
///
/// ```
/// use pulumi_auto_types::events::urn_name;
/// assert_eq!(urn_name("urn:pulumi:dev::proj::aws:s3/bucket:Bucket::logs"), "logs");
/// assert_eq!(urn_name("urn:pulumi:dev::proj::my:C$aws:s3/bucket:Bucket::a::b"), "a::b");
/// ```
pub fn urn_name(urn: &str) -> &str {
    urn.splitn(4, "::").nth(3).unwrap_or(urn)
}

/// A resource's type from its URN: the last `$`-separated part of the qualified type.
/// Empty for a string that is not a URN.
///
/// ```
/// use pulumi_auto_types::events::urn_type;
/// assert_eq!(urn_type("urn:pulumi:dev::proj::my:C$aws:s3/bucket:Bucket::logs"), "aws:s3/bucket:Bucket");
/// ```
pub fn urn_type(urn: &str) -> &str {
    urn.split("::")
        .nth(2)
        .and_then(|q| q.rsplit('$').next())
        .unwrap_or("")
}

/// True for a default provider's URN: type `pulumi:providers:<pkg>`, name starting with
/// `default` (the rule of Go's `providers.IsDefaultProvider`).
pub fn is_default_provider(urn: &str) -> bool {
    urn_type(urn).starts_with("pulumi:providers:") && urn_name(urn).starts_with("default")
}

/// A line (or JSON value) that is not an engine event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an engine event ({reason}): {snippet:?}")]
pub struct EventParseError {
    /// Why.
    pub reason: String,
    /// The start of the line (at most 200 characters), never the whole of a long line.
    pub snippet: String,
}

impl EventParseError {
    fn new(reason: impl Into<String>, text: &str) -> Self {
        EventParseError {
            reason: reason.into(),
            snippet: snippet(text),
        }
    }
}

/// The first 200 characters of `text`: how much of a bad line an error keeps.
pub fn snippet(text: &str) -> String {
    text.chars().take(SNIPPET_CHARS).collect()
}

/// Reads a payload as `T`; a known kind whose shape changed is kept as `Unknown`.
fn typed<T: DeserializeOwned>(
    name: &str,
    payload: Value,
    wrap: impl FnOnce(T) -> EventKind,
) -> EventKind {
    match T::deserialize(&payload) {
        Ok(v) => wrap(v),
        Err(_) => EventKind::Unknown {
            name: name.to_owned(),
            payload,
        },
    }
}

impl EventKind {
    /// Builds the kind for a payload field name and its JSON. Never fails: unknown names,
    /// and known ones with an unreadable payload, become [`EventKind::Unknown`].
    pub fn from_payload(name: &str, payload: Value) -> EventKind {
        use EventKind as K;
        match name {
            "cancelEvent" => typed(name, payload, K::Cancel),
            "stdoutEvent" => typed(name, payload, K::Stdout),
            "diagnosticEvent" => typed(name, payload, K::Diagnostic),
            "preludeEvent" => typed(name, payload, K::Prelude),
            "summaryEvent" => typed(name, payload, K::Summary),
            "resourcePreEvent" => typed(name, payload, K::ResourcePre),
            "resOutputsEvent" => typed(name, payload, K::ResourceOutputs),
            "resOpFailedEvent" => typed(name, payload, K::ResourceOperationFailed),
            "policyEvent" => typed(name, payload, K::Policy),
            "policyRemediationEvent" => typed(name, payload, K::PolicyRemediation),
            "policyLoadEvent" => typed(name, payload, K::PolicyLoad),
            "policyAnalyzeSummaryEvent" => typed(name, payload, K::PolicyAnalyzeSummary),
            "policyRemediateSummaryEvent" => typed(name, payload, K::PolicyRemediateSummary),
            "policyAnalyzeStackSummaryEvent" => typed(name, payload, K::PolicyAnalyzeStackSummary),
            "startDebuggingEvent" => typed(name, payload, K::StartDebugging),
            "progressEvent" => typed(name, payload, K::Progress),
            "errorEvent" => typed(name, payload, K::Error),
            _ => K::Unknown {
                name: name.to_owned(),
                payload,
            },
        }
    }

    /// The payload field's name in the JSON (`cancelEvent`, `resOutputsEvent`, …).
    pub fn name(&self) -> &str {
        match self {
            EventKind::Cancel(_) => "cancelEvent",
            EventKind::Stdout(_) => "stdoutEvent",
            EventKind::Diagnostic(_) => "diagnosticEvent",
            EventKind::Prelude(_) => "preludeEvent",
            EventKind::Summary(_) => "summaryEvent",
            EventKind::ResourcePre(_) => "resourcePreEvent",
            EventKind::ResourceOutputs(_) => "resOutputsEvent",
            EventKind::ResourceOperationFailed(_) => "resOpFailedEvent",
            EventKind::Policy(_) => "policyEvent",
            EventKind::PolicyRemediation(_) => "policyRemediationEvent",
            EventKind::PolicyLoad(_) => "policyLoadEvent",
            EventKind::PolicyAnalyzeSummary(_) => "policyAnalyzeSummaryEvent",
            EventKind::PolicyRemediateSummary(_) => "policyRemediateSummaryEvent",
            EventKind::PolicyAnalyzeStackSummary(_) => "policyAnalyzeStackSummaryEvent",
            EventKind::StartDebugging(_) => "startDebuggingEvent",
            EventKind::Progress(_) => "progressEvent",
            EventKind::Error(_) => "errorEvent",
            EventKind::Unknown { name, .. } => name,
        }
    }

    /// The payload as JSON.
    pub fn payload_json(&self) -> Value {
        fn ser<T: Serialize>(v: &T) -> Value {
            // Serialising these types to a `Value` cannot fail (string keys only).
            serde_json::to_value(v).unwrap_or(Value::Null)
        }
        match self {
            EventKind::Cancel(p) => ser(p),
            EventKind::Stdout(p) => ser(p),
            EventKind::Diagnostic(p) => ser(p),
            EventKind::Prelude(p) => ser(p),
            EventKind::Summary(p) => ser(p),
            EventKind::ResourcePre(p) | EventKind::ResourceOutputs(p) => ser(p),
            EventKind::ResourceOperationFailed(p) => ser(p),
            EventKind::Policy(p) => ser(p),
            EventKind::PolicyRemediation(p) => ser(p),
            EventKind::PolicyLoad(p) => ser(p),
            EventKind::PolicyAnalyzeSummary(p)
            | EventKind::PolicyRemediateSummary(p)
            | EventKind::PolicyAnalyzeStackSummary(p) => ser(p),
            EventKind::StartDebugging(p) => ser(p),
            EventKind::Progress(p) => ser(p),
            EventKind::Error(p) => ser(p),
            EventKind::Unknown { payload, .. } => payload.clone(),
        }
    }
}

/// Parses one line of an event log. Surrounding whitespace is ignored. Never panics; an
/// unknown kind is [`EventKind::Unknown`], not an error.
///
/// The payload is the first field (in the line's order) named like a known kind, else
/// the first other field whose name ends in `Event`; the remaining fields go to
/// [`EngineEvent::extra`]. A missing `timestamp` reads as 0; a missing or non-integer
/// `sequence` is an error.
///
/// ```
/// use pulumi_auto_types::events::{parse_event_line, EventKind};
/// let ev = parse_event_line(r#"{"sequence":3,"timestamp":1700000000,"cancelEvent":{}}"#).unwrap();
/// assert_eq!(ev.sequence, 3);
/// assert!(ev.is_cancel());
/// assert!(parse_event_line("{\"sequence\":4,\"timest").is_err());
/// ```
pub fn parse_event_line(line: &str) -> Result<EngineEvent, EventParseError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(EventParseError::new("empty line", line));
    }
    let value: Value = serde_json::from_str(trimmed)
        .map_err(|e| EventParseError::new(format!("invalid JSON: {e}"), line))?;
    EngineEvent::from_json_value(value).map_err(|reason| EventParseError::new(reason, line))
}

impl std::str::FromStr for EngineEvent {
    type Err = EventParseError;
    /// Same as [`parse_event_line`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_event_line(s)
    }
}

impl EngineEvent {
    /// Builds an event from a parsed JSON value; the error is the reason it is not one.
    /// (Public through `Deserialize`, e.g. for the service's `events` arrays.)
    fn from_json_value(value: Value) -> Result<EngineEvent, String> {
        let Value::Object(mut map) = value else {
            return Err("not a JSON object".into());
        };
        let sequence = match map.shift_remove("sequence") {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| format!("sequence {n} is not a non-negative integer"))?,
            Some(_) => return Err("sequence is not a number".into()),
            None => return Err("no sequence".into()),
        };
        let timestamp = match map.shift_remove("timestamp") {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("timestamp {n} is not an integer"))?,
            Some(Value::Null) | None => 0,
            Some(_) => return Err("timestamp is not a number".into()),
        };
        let key = map
            .iter()
            .find(|(k, v)| !v.is_null() && KNOWN_EVENT_NAMES.contains(&k.as_str()))
            .or_else(|| {
                map.iter()
                    .find(|(k, v)| !v.is_null() && k.ends_with("Event"))
            })
            .map(|(k, _)| k.clone())
            .ok_or("no event payload field")?;
        let payload = map.shift_remove(&key).unwrap_or(Value::Null);
        Ok(EngineEvent {
            sequence,
            timestamp,
            kind: EventKind::from_payload(&key, payload),
            extra: map,
        })
    }

    /// The event as JSON, as the CLI writes it (fields in Go's order; `extra` last).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The payload field's name (`cancelEvent`, `resourcePreEvent`, …).
    pub fn name(&self) -> &str {
        self.kind.name()
    }

    /// True for `cancelEvent`, the final event of an engine run.
    pub fn is_cancel(&self) -> bool {
        matches!(self.kind, EventKind::Cancel(_))
    }

    /// The summary, for a `summaryEvent`.
    pub fn summary(&self) -> Option<&SummaryEvent> {
        match &self.kind {
            EventKind::Summary(s) => Some(s),
            _ => None,
        }
    }

    /// The same as [`summary`](Self::summary).
    pub fn summary_event(&self) -> Option<&SummaryEvent> {
        self.summary()
    }

    /// The diagnostic, for a `diagnosticEvent`.
    pub fn diagnostic(&self) -> Option<&DiagnosticEvent> {
        match &self.kind {
            EventKind::Diagnostic(d) => Some(d),
            _ => None,
        }
    }

    /// The step, for `resourcePreEvent`, `resOutputsEvent` and `resOpFailedEvent`.
    pub fn step(&self) -> Option<&StepEventMetadata> {
        match &self.kind {
            EventKind::ResourcePre(e) | EventKind::ResourceOutputs(e) => Some(&e.metadata),
            EventKind::ResourceOperationFailed(e) => Some(&e.metadata),
            _ => None,
        }
    }

    /// The URN of the resource the event is about, if any (steps, diagnostics, policy
    /// events).
    pub fn urn(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Diagnostic(d) => d.urn.as_deref().filter(|u| !u.is_empty()),
            EventKind::Policy(p) => p.resource_urn.as_deref(),
            EventKind::PolicyRemediation(p) => p.resource_urn.as_deref(),
            EventKind::PolicyAnalyzeSummary(p) | EventKind::PolicyRemediateSummary(p) => {
                p.resource_urn.as_deref()
            }
            _ => self.step().map(|s| s.urn.as_str()),
        }
    }

    /// The name of the resource the event is about (see [`urn_name`]).
    pub fn resource_name(&self) -> Option<&str> {
        self.urn().map(urn_name)
    }

    /// True for a `resourcePreEvent`.
    pub fn is_resource_pre(&self) -> bool {
        matches!(self.kind, EventKind::ResourcePre(_))
    }

    /// True for a `resOutputsEvent`.
    pub fn is_resource_outputs(&self) -> bool {
        matches!(self.kind, EventKind::ResourceOutputs(_))
    }

    /// True for a `resOpFailedEvent`.
    pub fn is_resource_failure(&self) -> bool {
        matches!(self.kind, EventKind::ResourceOperationFailed(_))
    }

    /// The root stack's outputs (secrets blinded), for its `resOutputsEvent`.
    pub fn root_stack_outputs(&self) -> Option<&Map<String, Value>> {
        match &self.kind {
            EventKind::ResourceOutputs(e) if e.metadata.is_root_stack() => {
                e.metadata.new.as_ref().map(|n| &n.outputs)
            }
            _ => None,
        }
    }

    /// The text of an error: an `error` diagnostic or an `errorEvent`.
    pub fn error_message(&self) -> Option<String> {
        match &self.kind {
            EventKind::Diagnostic(d) if d.severity == DiagnosticSeverity::Error => {
                Some(d.message.trim_end().to_owned())
            }
            EventKind::Error(e) => Some(e.error.clone()),
            _ => None,
        }
    }
}

impl Serialize for EngineEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.extra.len()))?;
        map.serialize_entry("sequence", &self.sequence)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry(self.kind.name(), &self.kind.payload_json())?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for EngineEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        EngineEvent::from_json_value(value).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EngineEvent {
    /// A short description: `#<sequence> <kind>` and the resource or message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.sequence, self.name())?;
        match &self.kind {
            EventKind::ResourcePre(e) | EventKind::ResourceOutputs(e) => {
                write!(f, " {} {}", e.metadata.op, e.metadata.urn)
            }
            EventKind::ResourceOperationFailed(e) => {
                write!(f, " {} {}", e.metadata.op, e.metadata.urn)
            }
            EventKind::Diagnostic(d) => {
                write!(f, " {}: {}", d.severity, snippet(d.message.trim_end()))
            }
            EventKind::Summary(s) => write!(f, " {}", s.result),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> EngineEvent {
        parse_event_line(line).unwrap_or_else(|e| panic!("{e}"))
    }

    const URN_A: &str = "urn:pulumi:dev::proj::pulumi-python:dynamic:Resource::a";

    #[test]
    fn cancel() {
        let ev = parse(r#"{"sequence":12,"timestamp":1795358434,"cancelEvent":{}}"#);
        assert_eq!(ev.sequence, 12);
        assert_eq!(ev.timestamp, 1795358434);
        assert!(ev.is_cancel());
        assert_eq!(ev.name(), "cancelEvent");
    }

    #[test]
    fn stdout() {
        let ev = parse(
            r#"{"sequence":1,"timestamp":2,"stdoutEvent":{"message":"^C received; cancelling\n","color":"never"}}"#,
        );
        let EventKind::Stdout(s) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(s.message, "^C received; cancelling\n");
        assert_eq!(s.color, "never");
    }

    #[test]
    fn diagnostic() {
        let line = format!(
            r#"{{"sequence":5,"timestamp":2,"diagnosticEvent":{{"urn":"{URN_A}","prefix":"error: ","message":"boom\n","color":"never","severity":"error","streamID":7,"ephemeral":true}}}}"#
        );
        let ev = parse(&line);
        let d = ev.diagnostic().unwrap();
        assert_eq!(d.severity, DiagnosticSeverity::Error);
        assert_eq!(d.prefix.as_deref(), Some("error: "));
        assert_eq!(d.stream_id, Some(7));
        assert!(d.ephemeral);
        assert_eq!(ev.urn(), Some(URN_A));
        assert_eq!(ev.resource_name(), Some("a"));
        assert_eq!(ev.error_message().as_deref(), Some("boom"));
        // Minimal: severity only.
        let ev = parse(
            r#"{"sequence":6,"timestamp":2,"diagnosticEvent":{"message":"x","color":"never","severity":"info#err"}}"#,
        );
        let d = ev.diagnostic().unwrap();
        assert_eq!(d.severity, DiagnosticSeverity::InfoErr);
        assert_eq!(d.urn, None);
        assert_eq!(ev.urn(), None);
        assert_eq!(ev.error_message(), None);
    }

    #[test]
    fn prelude() {
        let ev = parse(
            r#"{"sequence":0,"timestamp":1,"preludeEvent":{"config":{"files:dir":"/tmp/x","files:token":"[secret]"}}}"#,
        );
        let EventKind::Prelude(p) = &ev.kind else {
            panic!()
        };
        assert_eq!(p.config["files:token"], "[secret]");
        // Go writes a nil map as null.
        let ev = parse(r#"{"sequence":0,"timestamp":1,"preludeEvent":{"config":null}}"#);
        let EventKind::Prelude(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert!(p.config.is_empty());
    }

    #[test]
    fn summary() {
        let ev = parse(
            r#"{"sequence":40,"timestamp":1795358437,"summaryEvent":{"maybeCorrupt":false,"durationSeconds":3,"resourceChanges":{"create":1,"replace":1,"same":1,"update":1},"PolicyPacks":{"aws-guard":"v1.2.0"},"isPreview":true,"result":"succeeded"}}"#,
        );
        let s = ev.summary().unwrap();
        assert!(!s.maybe_corrupt);
        assert_eq!(s.duration_seconds, 3);
        assert_eq!(s.count("replace"), 1);
        assert_eq!(s.count("delete"), 0);
        assert_eq!(s.policy_packs["aws-guard"], "v1.2.0");
        assert!(s.is_preview);
        assert!(s.succeeded());
        assert!(s.extra.is_empty(), "PolicyPacks must not land in extra");
        let ev = parse(
            r#"{"sequence":4,"timestamp":1,"summaryEvent":{"maybeCorrupt":true,"durationSeconds":0,"resourceChanges":null,"PolicyPacks":null,"isPreview":false,"result":"canceled"}}"#,
        );
        let s = ev.summary().unwrap();
        assert!(s.maybe_corrupt && !s.succeeded());
        assert!(s.resource_changes.is_empty() && s.policy_packs.is_empty());
    }

    fn step_json(op: &str) -> String {
        format!(
            r#"{{"op":"{op}","urn":"{URN_A}","type":"pulumi-python:dynamic:Resource","old":{{"type":"pulumi-python:dynamic:Resource","urn":"{URN_A}","custom":true,"id":"a-1","parent":"urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev","protect":true,"inputs":{{"path":"/tmp/a"}},"outputs":{{"path":"/tmp/a","size":1}},"provider":"urn:pulumi:dev::proj::pulumi:providers:pulumi-python::default::abc","hideDiffs":[["a","b"]]}},"new":null,"keys":["path"],"diffs":["path","size"],"detailedDiff":{{"path":{{"diffKind":"update-replace","inputDiff":true}}}},"logical":true,"provider":"urn:pulumi:dev::proj::pulumi:providers:pulumi-python::default::abc"}}"#
        )
    }

    #[test]
    fn resource_pre_and_outputs() {
        let ev = parse(&format!(
            r#"{{"sequence":11,"timestamp":1,"resourcePreEvent":{{"metadata":{},"planning":true}}}}"#,
            step_json("replace")
        ));
        let EventKind::ResourcePre(e) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert!(e.planning);
        let m = &e.metadata;
        assert_eq!(m.op, OpType::Replace);
        assert_eq!(m.op.to_string(), "replace");
        assert_eq!(m.name(), "a");
        assert!(m.new.is_none());
        let old = m.old.as_ref().unwrap();
        assert!(old.custom && old.protect && !old.taint);
        assert_eq!(old.id, "a-1");
        assert_eq!(old.outputs["size"], 1);
        assert_eq!(old.hide_diffs.len(), 1);
        assert_eq!(m.state().unwrap().id, "a-1");
        assert_eq!(m.keys, ["path"]);
        assert_eq!(m.diffs, ["path", "size"]);
        let dd = m.detailed_diff.as_ref().unwrap();
        assert_eq!(dd["path"].diff_kind, DiffKind::UpdateReplace);
        assert!(dd["path"].input_diff);
        assert!(m.logical);
        assert_eq!(ev.urn(), Some(URN_A));
        assert!(ev.is_resource_pre());

        let ev = parse(&format!(
            r#"{{"sequence":12,"timestamp":1,"resOutputsEvent":{{"metadata":{}}}}}"#,
            step_json("create-replacement")
        ));
        let EventKind::ResourceOutputs(e) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert!(!e.planning);
        assert_eq!(e.metadata.op, OpType::CreateReplacement);
        assert!(ev.is_resource_outputs());
    }

    #[test]
    fn unknown_op_is_kept() {
        let ev = parse(&format!(
            r#"{{"sequence":1,"timestamp":1,"resourcePreEvent":{{"metadata":{}}}}}"#,
            step_json("teleport")
        ));
        let op = &ev.step().unwrap().op;
        assert_eq!(op, &OpType::Other("teleport".into()));
        assert_eq!(op.to_string(), "teleport");
    }

    #[test]
    fn resource_failed() {
        let ev = parse(&format!(
            r#"{{"sequence":24,"timestamp":1,"resOpFailedEvent":{{"metadata":{},"status":1,"steps":2}}}}"#,
            step_json("create")
        ));
        let EventKind::ResourceOperationFailed(e) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!((e.status, e.steps), (1, 2));
        assert!(ev.is_resource_failure());
        assert_eq!(ev.step().unwrap().op, OpType::Create);
    }

    #[test]
    fn root_stack_outputs() {
        let ev = parse(
            r#"{"sequence":29,"timestamp":1,"resOutputsEvent":{"metadata":{"op":"create","urn":"urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev","type":"pulumi:pulumi:Stack","old":null,"new":{"type":"pulumi:pulumi:Stack","urn":"urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev","id":"","parent":"","inputs":{},"outputs":{"count":2},"provider":""},"detailedDiff":null,"logical":true,"provider":""}}}"#,
        );
        assert_eq!(ev.root_stack_outputs().unwrap()["count"], 2);
        assert!(ev.step().unwrap().is_root_stack());
        assert!(ev.step().unwrap().detailed_diff.is_none());
    }

    #[test]
    fn policy_events() {
        let ev = parse(&format!(
            r#"{{"sequence":3,"timestamp":1,"policyEvent":{{"resourceUrn":"{URN_A}","message":"no public buckets","color":"never","policyName":"no-public","policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"v1","enforcementLevel":"mandatory","severity":"high"}}}}"#
        ));
        let EventKind::Policy(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.enforcement_level, "mandatory");
        assert_eq!(p.severity.as_deref(), Some("high"));
        assert_eq!(ev.urn(), Some(URN_A));

        let ev = parse(&format!(
            r#"{{"sequence":4,"timestamp":1,"policyRemediationEvent":{{"resourceUrn":"{URN_A}","color":"never","policyName":"tags","policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"v1","before":{{"tags":null}},"after":{{"tags":{{"team":"x"}}}}}}}}"#
        ));
        let EventKind::PolicyRemediation(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.after.as_ref().unwrap()["tags"]["team"], "x");
        assert_eq!(ev.urn(), Some(URN_A));

        let ev = parse(r#"{"sequence":5,"timestamp":1,"policyLoadEvent":{}}"#);
        assert!(matches!(ev.kind, EventKind::PolicyLoad(_)));

        let ev = parse(&format!(
            r#"{{"sequence":6,"timestamp":1,"policyAnalyzeSummaryEvent":{{"resourceUrn":"{URN_A}","policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"v1","passed":["a","b"],"failed":["c"]}}}}"#
        ));
        let EventKind::PolicyAnalyzeSummary(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!((p.passed.len(), p.failed.len()), (2, 1));

        let ev = parse(&format!(
            r#"{{"sequence":7,"timestamp":1,"policyRemediateSummaryEvent":{{"resourceUrn":"{URN_A}","policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"v1","passed":["tags"]}}}}"#
        ));
        let EventKind::PolicyRemediateSummary(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.passed, ["tags"]);
        assert!(p.failed.is_empty());

        let ev = parse(
            r#"{"sequence":8,"timestamp":1,"policyAnalyzeStackSummaryEvent":{"policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"v1","failed":["stack-size"]}}"#,
        );
        let EventKind::PolicyAnalyzeStackSummary(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.resource_urn, None);
        assert_eq!(p.failed, ["stack-size"]);
        assert_eq!(ev.urn(), None);
    }

    #[test]
    fn debugging_progress_error() {
        let ev = parse(
            r#"{"sequence":1,"timestamp":1,"startDebuggingEvent":{"config":{"type":"python","port":5678}}}"#,
        );
        let EventKind::StartDebugging(d) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(d.config.as_ref().unwrap()["port"], 5678);

        let ev = parse(
            r#"{"sequence":2,"timestamp":1,"progressEvent":{"type":"plugin-download","id":"aws-6.0.0","message":"Downloading plugin aws","received":1048576,"total":104857600,"done":false}}"#,
        );
        let EventKind::Progress(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.type_, "plugin-download");
        assert_eq!((p.received, p.total, p.done), (1048576, 104857600, false));

        let ev = parse(r#"{"sequence":3,"timestamp":1,"errorEvent":{"error":"internal: oops"}}"#);
        let EventKind::Error(e) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(e.error, "internal: oops");
        assert_eq!(ev.error_message().as_deref(), Some("internal: oops"));
    }

    #[test]
    fn unknown_kind_is_kept() {
        let ev = parse(r#"{"sequence":9,"timestamp":1,"teleportEvent":{"to":"mars","n":[1,2]}}"#);
        let EventKind::Unknown { name, payload } = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(name, "teleportEvent");
        assert_eq!(payload["to"], "mars");
        assert_eq!(ev.name(), "teleportEvent");
    }

    #[test]
    fn known_kind_with_unreadable_shape_is_kept_as_unknown() {
        let ev = parse(r#"{"sequence":9,"timestamp":1,"summaryEvent":{"durationSeconds":"long"}}"#);
        let EventKind::Unknown { name, payload } = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(name, "summaryEvent");
        assert_eq!(payload["durationSeconds"], "long");
        let ev = parse(r#"{"sequence":9,"timestamp":1,"cancelEvent":[]}"#);
        assert!(matches!(ev.kind, EventKind::Unknown { .. }));
    }

    #[test]
    fn unknown_fields_are_preserved() {
        let ev = parse(&format!(
            r#"{{"sequence":1,"timestamp":1,"runId":"r-1","resourcePreEvent":{{"metadata":{{"op":"create","urn":"{URN_A}","type":"t","new":{{"type":"t","urn":"{URN_A}","id":"","parent":"","inputs":{{}},"outputs":{{}},"provider":"","sparkle":1}},"detailedDiff":null,"provider":"","futureField":[1]}},"hint":"x"}},"cancelEvent":null}}"#
        ));
        assert_eq!(ev.extra["runId"], "r-1");
        assert_eq!(ev.extra["cancelEvent"], Value::Null);
        let EventKind::ResourcePre(e) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(e.extra["hint"], "x");
        assert_eq!(e.metadata.extra["futureField"], serde_json::json!([1]));
        assert_eq!(e.metadata.new.as_ref().unwrap().extra["sparkle"], 1);
        // Unknown fields survive a round trip.
        let back = ev.to_json();
        assert_eq!(back["runId"], "r-1");
        assert_eq!(back["resourcePreEvent"]["hint"], "x");
        assert_eq!(back["resourcePreEvent"]["metadata"]["new"]["sparkle"], 1);
        assert_eq!(parse(&back.to_string()), ev);
        let ev = parse(r#"{"sequence":1,"timestamp":1,"cancelEvent":{"reason":"done"}}"#);
        let EventKind::Cancel(c) = &ev.kind else {
            panic!()
        };
        assert_eq!(c.extra["reason"], "done");
    }

    #[test]
    fn missing_optional_fields_default() {
        let ev = parse(r#"{"sequence":1,"resourcePreEvent":{"metadata":{}}}"#);
        assert_eq!(ev.timestamp, 0);
        let m = ev.step().unwrap();
        assert_eq!(m.op, OpType::default());
        assert_eq!(m.urn, "");
        assert!(m.old.is_none() && m.detailed_diff.is_none() && m.keys.is_empty());
        let ev = parse(r#"{"sequence":1,"timestamp":1,"diagnosticEvent":{}}"#);
        assert_eq!(ev.diagnostic().unwrap().message, "");
    }

    #[test]
    fn a_known_kind_wins_over_other_fields() {
        let ev = parse(r#"{"sequence":1,"timestamp":1,"meta":{"a":1},"cancelEvent":{}}"#);
        assert!(ev.is_cancel());
        assert_eq!(ev.extra["meta"]["a"], 1);
    }

    fn err(line: &str) -> EventParseError {
        match parse_event_line(line) {
            Err(e) => e,
            Ok(ev) => panic!("parsed {line:?} as {ev:?}"),
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for line in [
            "",
            "   \t ",
            "{",
            r#"{"sequence":1,"timestamp":1,"cancelEvent":{}"#,
            r#"{"sequence":1,"timestamp":1,"cancelEv"#,
            "not json",
            "[1,2,3]",
            "42",
            "\"cancelEvent\"",
            "null",
            "true",
            "{}",
            r#"{"timestamp":1,"cancelEvent":{}}"#,
            r#"{"sequence":"1","timestamp":1,"cancelEvent":{}}"#,
            r#"{"sequence":-1,"timestamp":1,"cancelEvent":{}}"#,
            r#"{"sequence":1.5,"timestamp":1,"cancelEvent":{}}"#,
            r#"{"sequence":1,"timestamp":"now","cancelEvent":{}}"#,
            r#"{"sequence":1,"timestamp":1}"#,
            r#"{"sequence":1,"timestamp":1,"meta":{"a":1}}"#,
            r#"{"sequence":1,"timestamp":1,"cancelEvent":null}"#,
            r#"{"sequence":1,"timestamp":1,"cancelEvent":{}} trailing"#,
            "\u{feff}{\"sequence\":1}",
        ] {
            let e = err(line);
            assert!(e.snippet.chars().count() <= 200);
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn huge_numbers() {
        // Beyond u64 / i64: an error, not a panic or a wrap.
        err(r#"{"sequence":18446744073709551616,"timestamp":1,"cancelEvent":{}}"#);
        err(r#"{"sequence":1,"timestamp":9223372036854775808,"cancelEvent":{}}"#);
        err(r#"{"sequence":1e400,"timestamp":1,"cancelEvent":{}}"#);
        let ev = parse(
            r#"{"sequence":18446744073709551615,"timestamp":-9223372036854775808,"cancelEvent":{}}"#,
        );
        assert_eq!((ev.sequence, ev.timestamp), (u64::MAX, i64::MIN));
        // A huge count inside a payload keeps the event, as Unknown if it does not fit.
        let ev = parse(
            r#"{"sequence":1,"timestamp":1,"summaryEvent":{"durationSeconds":99999999999999999999999,"result":"succeeded"}}"#,
        );
        assert!(matches!(ev.kind, EventKind::Unknown { .. }));
        let ev = parse(
            r#"{"sequence":1,"timestamp":1,"progressEvent":{"type":"plugin-download","received":9223372036854775807,"total":9223372036854775807,"done":true}}"#,
        );
        let EventKind::Progress(p) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.total, i64::MAX);
    }

    #[test]
    fn errors_keep_only_a_snippet() {
        let long = format!("{{\"sequence\":1,\"x\":\"{}", "é".repeat(100_000));
        let e = err(&long);
        assert_eq!(e.snippet.chars().count(), 200);
        assert!(e.to_string().len() < 1000);
    }

    #[test]
    fn never_panics_on_prefixes_and_nesting() {
        let line = format!(
            r#"{{"sequence":1,"timestamp":1,"resourcePreEvent":{}}}"#,
            format_args!(r#"{{"metadata":{}}}"#, step_json("update"))
        );
        for i in 0..=line.len() {
            if line.is_char_boundary(i) {
                let _ = parse_event_line(&line[..i]);
            }
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        err(&deep);
        let deep_payload = format!(
            r#"{{"sequence":1,"timestamp":1,"fooEvent":{}1{}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        assert!(matches!(
            parse(&deep_payload).kind,
            EventKind::Unknown { .. }
        ));
    }

    #[test]
    fn display_and_from_str() {
        let ev: EngineEvent = r#"{"sequence":3,"timestamp":1,"diagnosticEvent":{"message":"hello\n","color":"never","severity":"warning"}}"#
            .parse()
            .unwrap();
        assert_eq!(ev.to_string(), "#3 diagnosticEvent warning: hello");
    }

    #[test]
    fn urn_helpers() {
        assert_eq!(urn_name(URN_A), "a");
        assert_eq!(urn_type(URN_A), "pulumi-python:dynamic:Resource");
        assert_eq!(urn_name("garbage"), "garbage");
        assert_eq!(urn_type("garbage"), "");
        assert!(is_default_provider(
            "urn:pulumi:dev::p::pulumi:providers:aws::default_6_0_0"
        ));
        assert!(!is_default_provider(
            "urn:pulumi:dev::p::pulumi:providers:aws::mine"
        ));
        assert!(!is_default_provider(
            "urn:pulumi:dev::p::aws:s3:Bucket::default"
        ));
    }

    /// Every line the real CLI wrote in the recorded fixtures parses as a known kind and
    /// serialises back to exactly the same JSON text.
    #[test]
    fn recorded_logs_round_trip_exactly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cli");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".events.jsonl") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            let mut last = None;
            for (i, line) in text.lines().enumerate() {
                let ev = parse(line);
                assert_eq!(ev.sequence, i as u64, "{}", path.display());
                assert!(!matches!(ev.kind, EventKind::Unknown { .. }), "{line}");
                assert!(ev.extra.is_empty());
                assert_eq!(
                    serde_json::to_string(&ev).unwrap(),
                    line,
                    "{}",
                    path.display()
                );
                let back: EngineEvent = serde_json::from_str(line).unwrap();
                assert_eq!(back, ev);
                last = Some(ev);
            }
            assert!(last.unwrap().is_cancel(), "{}", path.display());
        }
        assert!(files >= 5, "fixtures missing in {}", dir.display());
    }
}
