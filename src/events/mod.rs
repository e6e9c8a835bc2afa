//! Engine events: the typed model, the live event-log reader (a
//! [`Stream`](futures_core::Stream)) and a progress tracker.
//!
//! The CLI reports everything an operation does as engine events: one JSON object per
//! line in its `--event-log`, from a `preludeEvent` through resource steps and
//! diagnostics to a `summaryEvent` and the final `cancelEvent`.
//!
//! - [`parse_event_line`] turns a line into an [`EngineEvent`]. Kinds and fields this
//!   crate does not know are kept as raw JSON, never an error.
//! - [`EventLog`] makes the named pipe to pass as `--event-log` and reads it while the CLI
//!   runs, yielding an [`EventStream`] of events in order.
//! - [`Progress`] folds events into a one-line live view (`3/5 resources · creating b`).
//! - [`read_event_log_file`] and [`parse_event_log`] read recorded logs.
//!
//! ```
//! use pulumi_auto::events::{parse_event_line, EventKind, Progress};
//! let lines = [
//!     r#"{"sequence":0,"timestamp":1795357700,"preludeEvent":{"config":{"files:dir":"/tmp/x"}}}"#,
//!     r#"{"sequence":1,"timestamp":1795357700,"resourcePreEvent":{"metadata":{"op":"create","urn":"urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note","type":"pulumi-python:dynamic:Resource","old":null,"new":null,"detailedDiff":null,"logical":true,"provider":""}}}"#,
//!     r#"{"sequence":2,"timestamp":1795357707,"summaryEvent":{"maybeCorrupt":false,"durationSeconds":1,"resourceChanges":{"create":3},"PolicyPacks":{},"isPreview":false,"result":"succeeded"}}"#,
//!     r#"{"sequence":3,"timestamp":1795357707,"cancelEvent":{}}"#,
//! ];
//! let mut progress = Progress::default();
//! for line in lines {
//!     let ev = parse_event_line(line)?;
//!     progress.update(&ev);
//!     if let EventKind::ResourcePre(pre) = &ev.kind {
//!         assert_eq!(pre.metadata.name(), "note");
//!         assert_eq!(progress.to_string(), "0/1 resources · creating note");
//!     }
//!     if let Some(summary) = ev.summary() {
//!         assert_eq!(summary.count("create"), 3);
//!         assert!(summary.succeeded());
//!     }
//! }
//! assert!(progress.is_finished());
//! # Ok::<(), pulumi_auto::events::EventParseError>(())
//! ```

mod progress;
mod reader;

pub use crate::model::{DiagnosticSeverity, DiffKind, StepOp};
pub use progress::{Progress, ResourceStep, op_in_progress_text};
pub use pulumi_auto_types::events::{
    CancelEvent, DiagnosticEvent, EngineEvent, ErrorEvent, EventKind, EventParseError,
    KNOWN_EVENT_NAMES, OpType, PolicyEvent, PolicyLoadEvent, PolicyRemediationEvent,
    PolicySummaryEvent, PreludeEvent, ProgressEvent, PropertyDiff, ResourceFailedEvent,
    ResourceStepEvent, StartDebuggingEvent, StdoutEvent, StepEventMetadata, StepEventStateMetadata,
    SummaryEvent, is_default_provider, parse_event_line, urn_name, urn_type,
};
pub use reader::{
    EventItem, EventLog, EventLogOptions, EventReadError, EventStream, FIFO_NAME, MAX_LINE,
    StreamEnd, parse_event_log, read_event_log_file,
};
