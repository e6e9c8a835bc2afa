//! [`EventKind`]: what an engine event reports, one variant per payload.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::payloads::{
    CancelEvent, DiagnosticEvent, ErrorEvent, PolicyEvent, PolicyLoadEvent, PolicyRemediationEvent,
    PolicySummaryEvent, PreludeEvent, ProgressEvent, ResourceFailedEvent, ResourceStepEvent,
    StartDebuggingEvent, StdoutEvent, SummaryEvent,
};

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
