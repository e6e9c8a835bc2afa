//! `pulumi-auto`: the Automation API tutorial's flow as a command-line tool, over the
//! `pulumi_auto` library.
//!
//! ```text
//! pulumi-auto [--work-dir DIR] [--stack NAME] [--backend URL] [--json] <command>
//!   up        [--config K=V]... [--secret K]... [--install] [--message M] [--refresh]
//!   preview   [--config K=V]... [--secret K]... [--install] [--expect-no-changes]
//!   refresh   [--install]
//!   destroy   [--yes-destroy=STACK] [--override-protection] [--remove]
//!   outputs   [--show-secrets]
//!   config set KEY [VALUE] [--secret] [--path]
//!   config get KEY [--path] [--show-secrets]
//!   stacks
//!   service [--url URL] stacks [--org O] [--project P] [--tag-name N [--tag-value V]]
//!   service [--url URL] updates ORG/PROJECT/STACK
//!   service [--url URL] events ORG/PROJECT/STACK UPDATE_ID
//! ```
//!
//! Exit codes: 0 success, 1 failed, 2 usage or bad input, 3 destroy refused, 4 cancelled.
//! `--help` says more; the README has the whole story.
#![deny(missing_docs)]
// Every item of the tool has its rustdoc, private ones included (`missing_docs` alone
// checks only what a binary exports: nothing).
#![deny(clippy::missing_docs_in_private_items)]

mod args;
mod commands;
mod exit;
mod input;
mod interrupt;
mod report;
mod terminal;

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

use crate::args::Cli;
use crate::exit::{Exit, Failure};
use crate::interrupt::Interrupts;
use crate::report::{Mode, Ui};

fn main() {
    // Usage errors exit with code 2 here, before anything runs.
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_target(false)
            .init();
    }
    let ui = Ui::new(cli.global.json);
    let command = cli.command.name();
    let stack = cli.global.stack.clone();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ui.err(&format!("error: could not start the async runtime: {e}"));
            std::process::exit(Exit::Failed.code());
        }
    };
    let result = rt.block_on(async {
        let ints = Interrupts::install()
            .map_err(|e| Failure::failed(format!("could not watch for Ctrl-C: {e}")))?;
        commands::run(cli.global, cli.command, ui.clone(), ints).await
    });
    ui.finish();
    // Shutting the runtime down ends what it still runs: after a second Ctrl-C, that is
    // the library's stop of pulumi, which then kills pulumi's session at once. A prompt's
    // reader thread may still be blocked on the terminal: it is not waited for.
    rt.shutdown_timeout(Duration::from_millis(100));
    let result = result.map_err(|mut f| {
        if let Some(stack) = f.stack.take() {
            f.message = format!("{}; {}", f.message, after_hard_stop(&stack));
        }
        f
    });
    std::process::exit(report(&ui, command, stack, result));
}

/// What a stack stopped at once was left with, read once pulumi is gone.
fn after_hard_stop(stack: &pulumi_auto::Stack) -> String {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(commands::left_behind(stack)),
        Err(_) => format!(
            "check stack {} for a stale lock or pending operations before the next update",
            stack.name()
        ),
    }
}

/// Prints the failure (stderr) and, with `--json`, the result object; returns the exit
/// code.
fn report(
    ui: &Ui,
    command: &str,
    stack: Option<String>,
    result: Result<commands::Fields, Failure>,
) -> i32 {
    let (exit, mut fields, error) = match result {
        Ok(fields) => (Exit::Ok, fields, None),
        Err(f) => {
            terminal::restore_terminal();
            (f.exit, commands::Fields::new(), Some(ui.redact(&f.message)))
        }
    };
    if let Some(msg) = &error {
        let label = match exit {
            Exit::Refused => "refused",
            Exit::Cancelled => "cancelled",
            _ => "error",
        };
        ui.err(&format!("{label}: {msg}"));
    }
    if ui.mode == Mode::Json {
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), json!("result"));
        obj.insert("command".into(), json!(command));
        obj.insert("stack".into(), json!(stack));
        obj.insert("status".into(), json!(exit.status()));
        obj.insert("exitCode".into(), json!(exit.code()));
        if let Some(msg) = error {
            obj.insert("error".into(), json!(msg));
        }
        obj.append(&mut fields);
        ui.json(&Value::Object(obj));
    }
    exit.code()
}
