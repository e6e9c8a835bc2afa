//! What the tool shows: a live progress bar on a terminal, plain lines otherwise, or JSON
//! lines with `--json`. Results go to stdout, progress and messages to stderr.
//!
//! Every line printed passes through [`Ui::redact`], which blanks the secret values the
//! tool was given (a second guard: the library and the engine already mask them).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pulumi_auto::Secret;
use pulumi_auto::events::{
    DiagnosticSeverity, EngineEvent, EventKind, Progress, StepOp, op_in_progress_text,
};
use serde_json::Value;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A live bar on stderr (stderr is a terminal).
    Bar,
    /// Plain lines on stderr.
    Plain,
    /// JSON lines on stdout; nothing on stderr but errors.
    Json,
}

/// The output side of the tool.
#[derive(Clone)]
pub struct Ui {
    /// How progress is shown.
    pub mode: Mode,
    /// The secret values no line may show.
    secrets: Arc<Mutex<Vec<Secret>>>,
    /// The bar on show, if any: lines go above it.
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

/// The text that replaces a secret value.
pub const MASK: &str = "[secret]";

impl Ui {
    /// The UI for these flags and the streams the tool has.
    pub fn new(json: bool) -> Ui {
        let mode = if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Plain
        };
        Ui {
            mode,
            secrets: Arc::default(),
            bar: Arc::default(),
        }
    }

    /// Remembers a secret value, so that no line printed shows it.
    pub fn add_secret(&self, s: &Secret) {
        if let Ok(mut v) = self.secrets.lock() {
            v.push(s.clone());
        }
    }

    /// `text` with every known secret value masked, as written and as JSON escapes it
    /// (the tool refuses secrets too short to mask: see `commands::check_maskable`).
    pub fn redact(&self, text: &str) -> String {
        match self.secrets.lock() {
            Ok(secrets) => pulumi_auto::secret::redact(text, &secrets),
            Err(poisoned) => pulumi_auto::secret::redact(text, &poisoned.into_inner()),
        }
    }

    /// A line on stdout (a result).
    pub fn out(&self, line: &str) {
        let line = self.redact(line);
        self.suspend(|| {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        });
    }

    /// A JSON value as one line on stdout.
    pub fn json(&self, v: &Value) {
        self.out(&v.to_string());
    }

    /// A message on stderr (above the bar when one shows). Silent in JSON mode.
    pub fn note(&self, line: &str) {
        if self.mode != Mode::Json {
            self.err(line);
        }
    }

    /// A message on stderr in every mode (errors).
    pub fn err(&self, line: &str) {
        let line = self.redact(line);
        let bar = self.bar.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(b) => b.println(line),
            None => {
                let mut e = std::io::stderr().lock();
                let _ = writeln!(e, "{line}");
            }
        }
    }

    /// Runs `f` (which writes to the terminal) with the bar, if any, out of the way.
    fn suspend(&self, f: impl FnOnce()) {
        let bar = self.bar.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Starts showing an operation; feed it the events, then [`finish`](Self::finish).
    pub fn start(&self, title: &str) -> Reporter {
        let bar = match self.mode {
            Mode::Bar => {
                let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                // No bar until a resource is seen (an empty bar would read as full).
                b.set_style(style(SPINNER_TEMPLATE));
                b.set_prefix(title.to_owned());
                b.enable_steady_tick(Duration::from_millis(120));
                crate::terminal::hide_typing();
                if let Ok(mut g) = self.bar.lock() {
                    *g = Some(b.clone());
                }
                Some(b)
            }
            Mode::Plain => {
                self.note(&format!("{title}…"));
                None
            }
            Mode::Json => None,
        };
        Reporter {
            ui: self.clone(),
            bar,
            progress: Arc::new(Mutex::new(Progress::new())),
        }
    }

    /// Stops showing the operation's bar.
    pub fn finish(&self) {
        let bar = self.bar.lock().ok().and_then(|mut b| b.take());
        if let Some(b) = bar {
            b.finish_and_clear();
            crate::terminal::show_typing();
        }
    }
}

// The line never fills the terminal's width: a `^C` echoed after a full-width line would
// wrap and leave a stale copy of the bar behind.
/// The bar's look before any resource is known.
const SPINNER_TEMPLATE: &str = "{spinner} {prefix} [{elapsed}] {msg}";
/// The bar's look once resources are known: done / total and the step in flight.
const BAR_TEMPLATE: &str = "{spinner} {prefix} [{elapsed}] [{bar:24}] {pos}/{len} {msg}";

/// The bar's style for `template`.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=>-")
}

/// Shows one operation's events as they arrive.
#[derive(Clone)]
pub struct Reporter {
    /// Where lines go.
    ui: Ui,
    /// The operation's bar (on a terminal).
    bar: Option<ProgressBar>,
    /// What the events so far add up to.
    progress: Arc<Mutex<Progress>>,
}

/// The past tense of a step, for the line printed when it ends.
fn done_text(op: &StepOp) -> String {
    let t = match op {
        StepOp::Create => "created",
        StepOp::Update => "updated",
        StepOp::Delete => "deleted",
        StepOp::Replace => "replaced",
        StepOp::CreateReplacement => "created replacement",
        StepOp::DeleteReplaced => "deleted original",
        StepOp::Read => "read",
        StepOp::ReadReplacement => "read for replacement",
        StepOp::Refresh => "refreshed",
        StepOp::Discard => "discarded",
        StepOp::DiscardReplaced => "discarded original",
        StepOp::Import => "imported",
        StepOp::ImportReplacement => "imported replacement",
        other => return format!("{other} done:"),
    };
    t.to_owned()
}

impl Reporter {
    /// A callback for an operation's `on_event` that shows each event here.
    pub fn callback(&self) -> impl Fn(&EngineEvent) + Send + Sync + 'static {
        let rep = self.clone();
        move |ev| rep.event(ev)
    }

    /// Takes one engine event: prints it (JSON mode), or updates the bar and prints the
    /// lines worth a line.
    pub fn event(&self, ev: &EngineEvent) {
        if self.ui.mode == Mode::Json {
            match serde_json::to_string(ev) {
                Ok(line) => self.ui.out(&line),
                Err(e) => self.ui.err(&format!("unprintable engine event: {e}")),
            }
            return;
        }
        let (line, counts, current) = {
            let Ok(mut p) = self.progress.lock() else {
                return;
            };
            p.update(ev);
            let counts = format!("[{}/{}]", p.done() + p.failed(), p.total());
            let current = p.in_flight().last().map(ToString::to_string);
            (
                self.line_for(ev, &counts),
                (p.done() + p.failed(), p.total()),
                current,
            )
        };
        if let Some(b) = &self.bar {
            if counts.1 > 0 && b.length() == Some(0) {
                b.set_style(style(BAR_TEMPLATE));
            }
            b.set_length(counts.1 as u64);
            b.set_position(counts.0 as u64);
            b.set_message(current.unwrap_or_default());
        }
        if let Some(line) = line {
            self.ui.note(&line);
        }
    }

    /// The line an event is worth, if any.
    fn line_for(&self, ev: &EngineEvent, counts: &str) -> Option<String> {
        let counted = |m: &pulumi_auto::events::StepEventMetadata| {
            !m.is_root_stack() && !m.is_default_provider()
        };
        match &ev.kind {
            EventKind::ResourcePre(e) if counted(&e.metadata) => {
                let m = &e.metadata;
                if e.planning {
                    return m
                        .op
                        .is_change()
                        .then(|| format!("  plan: {} {}", m.op, m.name()));
                }
                let text = op_in_progress_text(&m.op);
                // A bar shows the step in flight itself.
                (!text.is_empty() && self.bar.is_none())
                    .then(|| format!("{counts} {text} {}", m.name()))
            }
            EventKind::ResourceOutputs(e) if counted(&e.metadata) && !e.planning => {
                let m = &e.metadata;
                (!op_in_progress_text(&m.op).is_empty())
                    .then(|| format!("{counts} {} {}", done_text(&m.op), m.name()))
            }
            EventKind::ResourceOperationFailed(e) => Some(format!(
                "{counts} failed: {} {}",
                e.metadata.op,
                e.metadata.name()
            )),
            EventKind::Diagnostic(d) if !d.ephemeral => {
                let msg = d.message.trim_end();
                if msg.trim().is_empty() {
                    return None;
                }
                match d.severity {
                    DiagnosticSeverity::Error => Some(format!("error: {msg}")),
                    DiagnosticSeverity::Warning => Some(format!("warning: {msg}")),
                    DiagnosticSeverity::Info | DiagnosticSeverity::InfoErr => {
                        Some(format!("  | {msg}"))
                    }
                    _ => None,
                }
            }
            EventKind::Stdout(s) => {
                let msg = s.message.trim();
                (!msg.is_empty()).then(|| msg.to_owned())
            }
            _ => None,
        }
    }
}
