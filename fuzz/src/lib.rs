//! What the fuzz targets do with an input: run one of pulumi-auto's parsers on it, then
//! every accessor on what parsed (helpers, `Debug`, re-serialisation) and the messages of
//! what did not. Each function returns `Ok` with a short description of what parsed, or
//! the error's message.
//!
//! The stable test `tests/parsers_never_panic.rs` includes this file too, so the fuzz
//! targets and the normal test suite drive the parsers the same way.

use std::fmt::Debug;

use pulumi_auto::cli::parse_version;
use pulumi_auto::events::{self, EngineEvent, Progress};
use pulumi_auto::model::{self, OutputMap, PreviewDigest};
use pulumi_auto::workspace::settings::{
    self, ProjectSettings, StackSettings, parse_project, parse_stack_settings,
};
use serde_json::Value;

/// The JSON parsers [`json_output`] dispatches to, by index modulo their number.
pub const JSON_PARSERS: &[&str] = &[
    "outputs",
    "outputs+revealed",
    "history",
    "config",
    "config-value",
    "stack-list",
    "tags",
    "preview",
    "preview-output",
    "deployment",
    "plugins",
    "whoami",
];

/// The YAML parsers [`yaml_settings`] dispatches to, by index modulo their number.
pub const YAML_PARSERS: &[&str] = &["project", "stack-settings"];

/// `Debug` and `Display` of an error, as a caller would log it.
fn message<E: std::fmt::Display + Debug>(e: E) -> String {
    let _ = format!("{e:?}");
    e.to_string()
}

/// One engine event through every accessor and the progress tracker.
fn exercise_event(ev: &EngineEvent, progress: &mut Progress) {
    let _ = format!("{ev:?}");
    let json = ev.to_json();
    let _ = serde_json::to_string(&json);
    let _ = ev.kind.payload_json();
    let _ = (ev.name(), ev.is_cancel(), ev.is_resource_pre());
    let _ = (ev.is_resource_outputs(), ev.is_resource_failure());
    if let Some(s) = ev.summary_event() {
        let _ = (s.count("create"), s.succeeded());
    }
    let _ = ev.diagnostic().map(|d| format!("{d:?}"));
    if let Some(step) = ev.step() {
        let _ = (
            step.name(),
            step.is_root_stack(),
            step.is_default_provider(),
        );
        let _ = step.state().map(|s| format!("{s:?}"));
        let _ = events::op_in_progress_text(&step.op);
    }
    if let Some(urn) = ev.urn() {
        let _ = (events::urn_name(urn), events::urn_type(urn));
        let _ = events::is_default_provider(urn);
    }
    let _ = ev.resource_name();
    if let Some(outputs) = ev.root_stack_outputs() {
        exercise_outputs(&model::outputs_from_property_map(outputs));
    }
    let _ = ev.error_message();
    progress.update(ev);
    let _ = (progress.total(), progress.done(), progress.failed());
    let _ = (progress.in_flight().len(), progress.failures().len());
    let _ = (
        progress.errors().len(),
        progress.result(),
        progress.is_preview(),
    );
    let _ = (progress.is_finished(), progress.events_seen());
    let _ = progress.last_sequence();
}

/// `parse_event_line` on the whole text.
pub fn event_line(text: &str) -> Result<String, String> {
    let ev = events::parse_event_line(text).map_err(message)?;
    exercise_event(&ev, &mut Progress::new());
    let _: Result<EngineEvent, _> = text.parse();
    Ok(ev.name().to_owned())
}

/// `parse_event_log` on the text: the number of events, or the first line's error.
pub fn event_log(text: &str) -> Result<String, String> {
    let mut progress = Progress::new();
    let mut count = 0usize;
    let mut first_error = None;
    for item in events::parse_event_log(text) {
        match item {
            Ok(ev) => {
                count += 1;
                exercise_event(&ev, &mut progress);
            }
            Err(e) => {
                let e = message(e);
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(format!("{count} events")),
    }
}

fn exercise_value(value: &Value) {
    let _ = model::contains_secret_object(value);
    let _ = model::contains_secret_placeholder(value);
    let (plain, _) = model::unwrap_secrets(value);
    let _ = serde_json::to_string(&plain);
}

fn exercise_outputs(outputs: &OutputMap) {
    let _ = format!("{outputs:?}");
    for output in outputs.values() {
        exercise_value(&output.value);
    }
}

fn exercise_preview(digest: &PreviewDigest) {
    let _ = format!("{digest:?}");
    let _ = (
        digest.duration(),
        digest.has_changes(),
        digest.errors().count(),
    );
    for step in &digest.steps {
        let _ = (step.resource_type(), digest.change_count(&step.op));
    }
    let _ = serde_json::to_string(digest);
}

/// JSON parser number `which` (modulo [`JSON_PARSERS`]'s length) on the text.
/// `outputs+revealed` takes the plain document before the first NUL and the revealed
/// one after it (the same text for both without a NUL).
pub fn json_output(which: usize, text: &str) -> Result<String, String> {
    let name = JSON_PARSERS[which % JSON_PARSERS.len()];
    match name {
        "outputs" => {
            let outputs = model::parse_outputs(text, None).map_err(message)?;
            exercise_outputs(&outputs);
            Ok(format!("{} outputs", outputs.len()))
        }
        "outputs+revealed" => {
            let (plain, revealed) = text.split_once('\0').unwrap_or((text, text));
            let outputs = model::parse_outputs(plain, Some(revealed)).map_err(message)?;
            exercise_outputs(&outputs);
            Ok(format!("{} outputs", outputs.len()))
        }
        "history" => {
            let history = model::parse_history(text).map_err(message)?;
            for update in &history {
                let _ = (format!("{update:?}"), update.succeeded());
            }
            let _ = serde_json::to_string(&history);
            Ok(format!("{} updates", history.len()))
        }
        "config" => {
            let config = model::parse_config(text).map_err(message)?;
            let _ = format!("{config:?}");
            for value in config.values() {
                let _ = value.object_value.as_ref().map(exercise_value);
            }
            let _ = model::config_set_all_json(&config);
            Ok(format!("{} keys", config.len()))
        }
        "config-value" => {
            let value = model::parse_config_value(text).map_err(message)?;
            let _ = format!("{value:?}");
            let _ = serde_json::to_string(&value);
            Ok("1 value".to_owned())
        }
        "stack-list" => {
            let stacks = model::parse_stack_list(text).map_err(message)?;
            let _ = (format!("{stacks:?}"), model::current_stack(&stacks));
            Ok(format!("{} stacks", stacks.len()))
        }
        "tags" => {
            let tags = model::parse_tags(text).map_err(message)?;
            let _ = format!("{tags:?}");
            Ok(format!("{} tags", tags.len()))
        }
        "preview" => {
            let digest = model::parse_preview(text).map_err(message)?;
            exercise_preview(&digest);
            Ok(format!("{} steps", digest.steps.len()))
        }
        "preview-output" => {
            let digest = model::parse_preview_output(text).map_err(message)?;
            exercise_preview(&digest);
            Ok(format!("{} steps", digest.steps.len()))
        }
        "deployment" => {
            let deployment = model::parse_deployment(text).map_err(message)?;
            let _ = format!("{deployment:?}");
            let _ = (
                deployment.resource_count(),
                deployment.has_pending_operations(),
            );
            let _ = (deployment.secrets_provider_type(), deployment.root_stack());
            exercise_outputs(&deployment.stack_outputs());
            for resource in deployment.resources() {
                let _ = (
                    resource.name(),
                    resource.is_provider(),
                    resource.is_root_stack(),
                );
                let _ = deployment.find_resource(&resource.urn);
                let _ = resource.property_dependencies_of("content");
                exercise_outputs(&resource.unwrapped_outputs());
            }
            let _ = deployment.pending_operations().len();
            let _ = (
                deployment.to_value().is_ok(),
                deployment.to_json_pretty().is_ok(),
            );
            if let Ok(json) = deployment.to_json() {
                let _ = model::parse_deployment(&json);
            }
            Ok(format!("{} resources", deployment.resources().len()))
        }
        "plugins" => {
            let plugins = model::parse_plugins(text).map_err(message)?;
            let _ = (format!("{plugins:?}"), serde_json::to_string(&plugins));
            Ok(format!("{} plugins", plugins.len()))
        }
        "whoami" => {
            let who = model::parse_whoami(text).map_err(message)?;
            let _ = (format!("{who:?}"), serde_json::to_string(&who));
            Ok(who.user.clone())
        }
        other => Err(format!("no JSON parser named {other}")),
    }
}

fn exercise_project(project: &ProjectSettings) {
    let _ = format!("{project:?}");
    let _ = project.validate();
    let _ = project.config_types().map(|types| format!("{types:?}"));
    let _ = (project.runtime.is_map_form(), project.runtime.virtualenv());
    let _ = project.runtime.toolchain();
    if let Ok(text) = settings::render_project(project) {
        let _ = parse_project(&text);
    }
}

fn exercise_stack(stack: &StackSettings) {
    let _ = format!("{stack:?}");
    let _ = stack.has_secrets();
    for key in stack.config.keys() {
        let _ = stack.is_secure(key);
    }
    if let Ok(text) = settings::render_stack_settings(stack) {
        let _ = parse_stack_settings(&text);
    }
}

/// YAML parser number `which` (modulo [`YAML_PARSERS`]'s length) on the text.
pub fn yaml_settings(which: usize, text: &str) -> Result<String, String> {
    match YAML_PARSERS[which % YAML_PARSERS.len()] {
        "project" => {
            let project = parse_project(text).map_err(message)?;
            exercise_project(&project);
            Ok(project.name.clone())
        }
        _ => {
            let stack = parse_stack_settings(text).map_err(message)?;
            exercise_stack(&stack);
            Ok(format!("{} config keys", stack.config.len()))
        }
    }
}

/// `parse_version` on the text.
pub fn version(text: &str) -> Result<String, String> {
    let version = parse_version(text).map_err(message)?;
    let _ = version >= pulumi_auto::cli::MINIMUM_VERSION;
    Ok(version.to_string())
}
