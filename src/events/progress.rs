//! A compact live view of an operation, folded from its events: resources finished out
//! of those seen, the steps in flight, failures and the final result.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::StepOp;
use pulumi_auto_types::events::{
    EngineEvent, EventKind, StepEventMetadata, SummaryEvent, urn_name,
};

/// At most this many error messages are kept.
const MAX_ERRORS: usize = 1000;

/// One resource step: its operation and resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceStep {
    /// The operation.
    pub op: StepOp,
    /// The resource's URN.
    pub urn: String,
}

impl ResourceStep {
    fn of(meta: &StepEventMetadata) -> Self {
        ResourceStep {
            op: meta.op.clone(),
            urn: meta.urn.clone(),
        }
    }

    /// The resource's name (the end of its URN).
    pub fn name(&self) -> &str {
        urn_name(&self.urn)
    }
}

impl fmt::Display for ResourceStep {
    /// `creating note`, or the op itself when it has no wording.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = op_in_progress_text(&self.op);
        let text = if text.is_empty() {
            self.op.as_str()
        } else {
            text
        };
        write!(f, "{text} {}", self.name())
    }
}

/// The CLI's wording for a step in progress: `creating`, `deleting original`, … Empty for
/// steps it shows no status for (`same`, `remove-pending-replace`); unknown operations
/// read as themselves.
///
/// ```
/// use pulumi_auto::events::{op_in_progress_text, StepOp};
/// assert_eq!(op_in_progress_text(&StepOp::CreateReplacement), "creating replacement");
/// assert_eq!(op_in_progress_text(&StepOp::Same), "");
/// ```
pub fn op_in_progress_text(op: &StepOp) -> &str {
    match op {
        StepOp::Create => "creating",
        StepOp::Update => "updating",
        StepOp::Delete => "deleting",
        StepOp::Replace => "replacing",
        StepOp::CreateReplacement => "creating replacement",
        StepOp::DeleteReplaced => "deleting original",
        StepOp::Read => "reading",
        StepOp::ReadReplacement => "reading for replacement",
        StepOp::Refresh => "refreshing",
        StepOp::Discard => "discarding",
        StepOp::DiscardReplaced => "discarding original",
        StepOp::Import => "importing",
        StepOp::ImportReplacement => "importing replacement",
        StepOp::Same | StepOp::RemovePendingReplace | StepOp::ExtendParameterize => "",
        other => other.as_str(),
    }
}

/// Tracks an operation's progress. Feed it every event with [`Progress::update`]; its
/// [`Display`](fmt::Display) is one line such as `3/5 resources · creating file-b`.
///
/// Resources are counted by URN, from any step event (planned or not), except the root
/// stack and default providers, which the CLI does not show either. A `preludeEvent`
/// after other events starts a new engine run and resets the view.
///
/// ```
/// use pulumi_auto::events::{parse_event_line, Progress};
/// let mut p = Progress::default();
/// p.update(&parse_event_line(r#"{"sequence":0,"timestamp":0,"resourcePreEvent":{"metadata":{"op":"create","urn":"urn:pulumi:dev::p::t::a","type":"t","provider":""}}}"#).unwrap());
/// assert_eq!(p.in_flight().len(), 1);
/// assert_eq!(p.to_string(), "0/1 resources · creating a");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Progress {
    resources: BTreeSet<String>,
    done: BTreeSet<String>,
    failed_urns: BTreeSet<String>,
    failures: Vec<ResourceStep>,
    in_flight: Vec<ResourceStep>,
    errors: Vec<String>,
    summary: Option<SummaryEvent>,
    planning: bool,
    finished: bool,
    events: u64,
    last_sequence: Option<u64>,
}

/// Whether a step's resource is counted: not the root stack, not a default provider.
fn counted(meta: &StepEventMetadata) -> bool {
    !meta.is_root_stack() && !meta.is_default_provider()
}

impl Progress {
    /// A tracker with nothing seen yet.
    pub fn new() -> Self {
        Progress::default()
    }

    /// Takes one event into account.
    pub fn update(&mut self, ev: &EngineEvent) {
        if matches!(ev.kind, EventKind::Prelude(_)) && self.events > 0 {
            *self = Progress::default();
        }
        self.events += 1;
        self.last_sequence = Some(ev.sequence);
        match &ev.kind {
            EventKind::ResourcePre(e) => {
                let meta = &e.metadata;
                self.planning |= e.planning;
                if counted(meta) {
                    self.resources.insert(meta.urn.clone());
                }
                if counted(meta) && !e.planning && !op_in_progress_text(&meta.op).is_empty() {
                    self.in_flight.retain(|s| s.urn != meta.urn);
                    self.in_flight.push(ResourceStep::of(meta));
                }
            }
            EventKind::ResourceOutputs(e) => {
                let meta = &e.metadata;
                self.planning |= e.planning;
                self.in_flight.retain(|s| s.urn != meta.urn);
                if counted(meta) {
                    self.resources.insert(meta.urn.clone());
                    if !self.failed_urns.contains(&meta.urn) {
                        self.done.insert(meta.urn.clone());
                    }
                }
            }
            EventKind::ResourceOperationFailed(e) => {
                let meta = &e.metadata;
                self.in_flight.retain(|s| s.urn != meta.urn);
                self.failures.push(ResourceStep::of(meta));
                if counted(meta) {
                    self.resources.insert(meta.urn.clone());
                    self.done.remove(&meta.urn);
                    self.failed_urns.insert(meta.urn.clone());
                }
            }
            EventKind::Summary(s) => {
                self.summary = Some(s.clone());
                self.in_flight.clear();
            }
            EventKind::Cancel(_) => {
                self.finished = true;
                self.in_flight.clear();
            }
            _ => {
                if let Some(msg) = ev.error_message()
                    && self.errors.len() < MAX_ERRORS
                {
                    self.errors.push(msg);
                }
            }
        }
    }

    /// Resources seen so far (planned or touched), without the root stack and default
    /// providers.
    pub fn total(&self) -> usize {
        self.resources.len()
    }

    /// Resources whose step finished (in a preview: was planned), failures excluded.
    pub fn done(&self) -> usize {
        self.done.len()
    }

    /// Resources with a failed step.
    pub fn failed(&self) -> usize {
        self.failed_urns.len()
    }

    /// The steps running now, oldest first (counted resources only).
    pub fn in_flight(&self) -> &[ResourceStep] {
        &self.in_flight
    }

    /// Every failed step, in order (the root stack and default providers included).
    pub fn failures(&self) -> &[ResourceStep] {
        &self.failures
    }

    /// Error messages so far (`error` diagnostics and engine errors; the first 1000).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The summary, once it arrived.
    pub fn summary(&self) -> Option<&SummaryEvent> {
        self.summary.as_ref()
    }

    /// The final result (`succeeded`, `failed`, `canceled`), once the summary arrived.
    pub fn result(&self) -> Option<&str> {
        self.summary.as_ref().map(|s| s.result.as_str())
    }

    /// Whether the run is a preview (planned steps, or a preview summary).
    pub fn is_preview(&self) -> bool {
        self.planning || self.summary.as_ref().is_some_and(|s| s.is_preview)
    }

    /// Whether the engine run ended (its `cancelEvent` arrived).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// How many events were taken into account (in this engine run).
    pub fn events_seen(&self) -> u64 {
        self.events
    }

    /// The sequence number of the last event.
    pub fn last_sequence(&self) -> Option<u64> {
        self.last_sequence
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} resources",
            self.done() + self.failed(),
            self.total()
        )?;
        if self.failed() > 0 {
            write!(f, " ({} failed)", self.failed())?;
        }
        if let Some(result) = self.result() {
            return write!(f, " · {result}");
        }
        if let Some(latest) = self.in_flight.last() {
            write!(f, " · {latest}")?;
            let more = self.in_flight.len() - 1;
            if more > 0 {
                write!(f, " (+{more} more)")?;
            }
        } else if self.finished {
            write!(f, " · ended")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{parse_event_line, read_event_log_file};

    fn step(kind: &str, seq: u64, op: &str, name: &str, extra: &str) -> EngineEvent {
        let ty = if name.starts_with("default") {
            "pulumi:providers:aws"
        } else if name == "proj-dev" {
            "pulumi:pulumi:Stack"
        } else {
            "aws:s3/bucket:Bucket"
        };
        let line = format!(
            r#"{{"sequence":{seq},"timestamp":1,"{kind}":{{"metadata":{{"op":"{op}","urn":"urn:pulumi:dev::proj::{ty}::{name}","type":"{ty}","old":null,"new":null,"detailedDiff":null,"provider":""}}{extra}}}}}"#
        );
        parse_event_line(&line).unwrap()
    }

    fn pre(seq: u64, op: &str, name: &str) -> EngineEvent {
        step("resourcePreEvent", seq, op, name, "")
    }

    fn out(seq: u64, op: &str, name: &str) -> EngineEvent {
        step("resOutputsEvent", seq, op, name, "")
    }

    fn event(seq: u64, payload: &str) -> EngineEvent {
        parse_event_line(&format!(r#"{{"sequence":{seq},"timestamp":1,{payload}}}"#)).unwrap()
    }

    fn summary(seq: u64, result: &str, preview: bool) -> EngineEvent {
        event(
            seq,
            &format!(
                r#""summaryEvent":{{"maybeCorrupt":false,"durationSeconds":1,"resourceChanges":{{"create":2}},"PolicyPacks":{{}},"isPreview":{preview},"result":"{result}"}}"#
            ),
        )
    }

    #[test]
    fn an_update_from_start_to_end() {
        let mut p = Progress::new();
        assert_eq!(p.to_string(), "0/0 resources");
        let evs = [
            event(0, r#""preludeEvent":{"config":{}}"#),
            pre(1, "create", "proj-dev"),
            pre(2, "create", "default_6_0_0"),
            out(3, "create", "default_6_0_0"),
            pre(4, "same", "file-a"),
            out(5, "same", "file-a"),
            pre(6, "create", "file-b"),
        ];
        for ev in &evs {
            p.update(ev);
        }
        // The root stack and the default provider are not counted.
        assert_eq!(p.total(), 2);
        assert_eq!(p.done(), 1);
        // Only counted resources are shown in flight (not the stack, which ends last).
        assert_eq!(p.in_flight().len(), 1);
        assert_eq!(p.to_string(), "1/2 resources · creating file-b");
        p.update(&pre(7, "update", "file-c"));
        assert_eq!(p.to_string(), "1/3 resources · updating file-c (+1 more)");
        p.update(&out(8, "create", "file-b"));
        assert_eq!(p.to_string(), "2/3 resources · updating file-c");
        p.update(&out(9, "update", "file-c"));
        p.update(&out(10, "create", "proj-dev"));
        assert!(p.in_flight().is_empty());
        assert_eq!(p.to_string(), "3/3 resources");
        p.update(&summary(11, "succeeded", false));
        assert_eq!(p.to_string(), "3/3 resources · succeeded");
        assert!(!p.is_finished());
        p.update(&event(12, r#""cancelEvent":{}"#));
        assert!(p.is_finished());
        assert!(!p.is_preview());
        assert_eq!(p.result(), Some("succeeded"));
        assert_eq!(p.summary().unwrap().count("create"), 2);
        assert_eq!(p.events_seen(), 13);
        assert_eq!(p.last_sequence(), Some(12));
    }

    #[test]
    fn the_brief_example_line() {
        let mut p = Progress::new();
        for (i, name) in ["a", "file-b", "c", "d", "e"].iter().enumerate() {
            p.update(&step(
                "resourcePreEvent",
                i as u64,
                "create",
                name,
                r#","planning":true"#,
            ));
        }
        for (i, name) in ["a", "c", "d"].iter().enumerate() {
            p.update(&out(10 + i as u64, "create", name));
        }
        p.update(&pre(20, "create", "file-b"));
        assert_eq!(p.to_string(), "3/5 resources · creating file-b");
    }

    #[test]
    fn failures_are_counted_and_listed() {
        let mut p = Progress::new();
        p.update(&pre(1, "create", "good"));
        p.update(&out(2, "create", "good"));
        p.update(&pre(3, "create", "bad"));
        p.update(&event(
            4,
            r#""diagnosticEvent":{"urn":"urn:pulumi:dev::proj::aws:s3/bucket:Bucket::bad","prefix":"error: ","message":"bucket exists\n","color":"never","severity":"error"}"#,
        ));
        p.update(&step(
            "resOpFailedEvent",
            5,
            "create",
            "bad",
            r#","status":0,"steps":0"#,
        ));
        assert_eq!((p.total(), p.done(), p.failed()), (2, 1, 1));
        assert_eq!(p.failures()[0].name(), "bad");
        assert_eq!(p.failures()[0].op, StepOp::Create);
        assert_eq!(p.errors(), ["bucket exists"]);
        assert!(p.in_flight().is_empty());
        assert_eq!(p.to_string(), "2/2 resources (1 failed)");
        p.update(&event(6, r#""errorEvent":{"error":"internal"}"#));
        assert_eq!(p.errors().len(), 2);
        p.update(&summary(7, "failed", false));
        assert_eq!(p.to_string(), "2/2 resources (1 failed) · failed");
    }

    #[test]
    fn a_replacement_is_one_resource() {
        let mut p = Progress::new();
        for (seq, op) in [
            (1, "create-replacement"),
            (3, "replace"),
            (5, "delete-replaced"),
        ] {
            p.update(&pre(seq, op, "note"));
            if op == "delete-replaced" {
                assert_eq!(p.to_string(), "1/1 resources · deleting original note");
            }
            p.update(&out(seq + 1, op, "note"));
        }
        assert_eq!((p.total(), p.done()), (1, 1));
    }

    #[test]
    fn a_preview_counts_planned_steps() {
        let mut p = Progress::new();
        p.update(&step(
            "resourcePreEvent",
            1,
            "create",
            "a",
            r#","planning":true"#,
        ));
        assert!(p.in_flight().is_empty());
        assert_eq!(p.to_string(), "0/1 resources");
        p.update(&step(
            "resOutputsEvent",
            2,
            "create",
            "a",
            r#","planning":true"#,
        ));
        p.update(&summary(3, "succeeded", true));
        assert!(p.is_preview());
        assert_eq!(p.to_string(), "1/1 resources · succeeded");
    }

    #[test]
    fn a_new_run_resets_and_a_bare_cancel_ends() {
        let mut p = Progress::new();
        p.update(&event(0, r#""preludeEvent":{"config":{}}"#));
        p.update(&pre(1, "create", "a"));
        p.update(&event(2, r#""cancelEvent":{}"#));
        assert_eq!(p.to_string(), "0/1 resources · ended");
        p.update(&event(0, r#""preludeEvent":{"config":{}}"#));
        assert_eq!((p.total(), p.events_seen(), p.is_finished()), (0, 1, false));
    }

    #[test]
    fn unknown_ops_read_as_themselves() {
        let mut p = Progress::new();
        p.update(&pre(1, "teleport", "a"));
        assert_eq!(p.to_string(), "0/1 resources · teleport a");
        assert_eq!(op_in_progress_text(&StepOp::Same), "");
    }

    fn fold(name: &str) -> Progress {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cli")
            .join(name);
        let mut p = Progress::new();
        for ev in read_event_log_file(&path).unwrap() {
            p.update(&ev);
        }
        p
    }

    #[test]
    fn recorded_runs() {
        // files program: greeting and note (the stack and default provider not counted).
        let p = fold("up.events.jsonl");
        assert_eq!(p.to_string(), "2/2 resources · succeeded");
        assert!(p.is_finished() && !p.is_preview());
        let p = fold("preview.events.jsonl");
        assert_eq!(p.to_string(), "2/2 resources · succeeded");
        assert!(p.is_preview());
        let p = fold("up-update.events.jsonl");
        assert_eq!(p.result(), Some("succeeded"));
        assert_eq!(p.done(), p.total());
        let p = fold("destroy.events.jsonl");
        assert_eq!(p.to_string(), "3/3 resources · succeeded");
        let p = fold("up-resource-failure.events.jsonl");
        assert_eq!(p.to_string(), "2/2 resources (1 failed) · failed");
        assert_eq!(p.failures()[0].name(), "bad");
        assert!(!p.errors().is_empty());
        let p = fold("up-program-failure.events.jsonl");
        assert_eq!(p.result(), Some("failed"));
        assert!(!p.errors().is_empty());
    }
}
