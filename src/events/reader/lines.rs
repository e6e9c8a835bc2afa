//! Bytes into lines, lines into events: the splitter the pipe reader feeds, and the
//! parsers of recorded logs.

use std::path::Path;

use pulumi_auto_types::events::{EngineEvent, EventParseError, parse_event_line, snippet};

use super::{EventItem, EventReadError};

/// Cuts bytes into lines and parses the complete ones.
pub(super) struct LineSplitter {
    buf: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
    max_line: usize,
}

impl LineSplitter {
    pub(super) fn new(max_line: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            skipping: false,
            max_line,
        }
    }

    /// Feeds bytes; pushes an item for each complete line in them (blank lines skipped).
    pub(super) fn feed(&mut self, data: &[u8], out: &mut Vec<EventItem>) {
        let mut rest = data;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..i];
            rest = &rest[i + 1..];
            if self.skipping {
                self.skipping = false;
                self.buf.clear();
                continue;
            }
            if self.buf.len() + line.len() > self.max_line {
                self.buf.clear();
                out.push(Err(EventReadError::LineTooLong {
                    limit: self.max_line,
                }));
                continue;
            }
            if self.buf.is_empty() {
                push_line(line, out);
            } else {
                self.buf.extend_from_slice(line);
                push_line(&self.buf, out);
                self.buf.clear();
            }
        }
        if self.skipping {
            return;
        }
        if self.buf.len() + rest.len() > self.max_line {
            self.buf = Vec::new();
            self.skipping = true;
            out.push(Err(EventReadError::LineTooLong {
                limit: self.max_line,
            }));
        } else {
            self.buf.extend_from_slice(rest);
        }
    }

    /// The end of the input: a partial line left over, if any.
    pub(super) fn finish(&mut self) -> Option<EventReadError> {
        let partial = std::mem::take(&mut self.buf);
        let skipped = std::mem::replace(&mut self.skipping, false);
        if skipped || partial.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let head = &partial[..partial.len().min(4 * 200)];
        Some(EventReadError::Truncated {
            snippet: snippet(&String::from_utf8_lossy(head)),
        })
    }
}

/// Parses one complete line into `out` (a blank one is skipped).
fn push_line(line: &[u8], out: &mut Vec<EventItem>) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let text = String::from_utf8_lossy(line);
    out.push(parse_event_line(&text).map_err(EventReadError::from));
}

/// Parses a whole recorded event log (e.g. a file the CLI wrote), one result per
/// non-blank line, in order.
///
/// ```
/// use pulumi_auto::events::parse_event_log;
/// let text = "{\"sequence\":0,\"timestamp\":1,\"cancelEvent\":{}}\n\n{\"seq";
/// let items: Vec<_> = parse_event_log(text).collect();
/// assert!(items[0].as_ref().unwrap().is_cancel());
/// assert!(items[1].is_err());
/// ```
pub fn parse_event_log(text: &str) -> impl Iterator<Item = Result<EngineEvent, EventParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_event_line(l).map_err(|mut e| {
                e.reason = format!("line {}: {}", i + 1, e.reason);
                e
            })
        })
}

/// Reads a recorded event-log file. Every non-blank line must be an event; the first
/// that is not is the error (its reason names the line). Invalid UTF-8 is replaced.
pub fn read_event_log_file(path: impl AsRef<Path>) -> Result<Vec<EngineEvent>, EventReadError> {
    let bytes = std::fs::read(path.as_ref())?;
    let text = String::from_utf8_lossy(&bytes);
    parse_event_log(&text)
        .map(|r| r.map_err(EventReadError::from))
        .collect()
}
