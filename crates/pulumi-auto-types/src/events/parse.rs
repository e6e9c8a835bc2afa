//! The line parser, and the serde of an [`EngineEvent`] (Go's field order).

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::EngineEvent;
use super::kind::{EventKind, KNOWN_EVENT_NAMES};

/// How many characters of a bad line an error keeps.
const SNIPPET_CHARS: usize = 200;

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
