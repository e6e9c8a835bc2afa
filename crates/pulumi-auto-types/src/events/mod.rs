//! The typed engine-event model and the line parser.
//!
//! The shapes follow Go's `sdk/go/common/apitype/events.go` (pulumi v3.259.0). Every
//! payload struct keeps the fields it does not know in `extra`, tolerates missing fields
//! and `null`s (Go writes a nil map as `null`), and serialises back in Go's field order.
//!
//! Its files: the payload structs, one per kind (`payloads.rs`); [`EventKind`], which
//! holds one (`kind.rs`); the line parser and the serde of an [`EngineEvent`]
//! (`parse.rs`); the URN helpers [`urn_name`] and [`urn_type`] (`urn.rs`).

mod kind;
mod parse;
mod payloads;
#[cfg(test)]
mod tests;
mod urn;

use std::fmt;

use serde_json::{Map, Value};

pub use kind::{EventKind, KNOWN_EVENT_NAMES};
pub use parse::{EventParseError, parse_event_line, snippet};
pub use payloads::{
    CancelEvent, DiagnosticEvent, ErrorEvent, PolicyEvent, PolicyLoadEvent, PolicyRemediationEvent,
    PolicySummaryEvent, PreludeEvent, ProgressEvent, PropertyDiff, ResourceFailedEvent,
    ResourceStepEvent, StartDebuggingEvent, StdoutEvent, StepEventMetadata, StepEventStateMetadata,
    SummaryEvent,
};
pub use urn::{is_default_provider, urn_name, urn_type};

use crate::model::{DiagnosticSeverity, StepOp};

/// A resource step's operation (`create`, `update`, `delete`, `replace`, `same`, …).
///
/// The same open enum as the preview digest's [`StepOp`]: values this crate does not know
/// are kept in `StepOp::Other`, and it displays and serialises as the CLI's string.
pub type OpType = StepOp;

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

impl EngineEvent {
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
