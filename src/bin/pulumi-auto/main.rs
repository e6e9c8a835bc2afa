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
//! ```
//!
//! Exit codes: 0 success, 1 failed, 2 usage or bad input, 3 destroy refused, 4 cancelled.
//! `--help` says more; the README has the whole story.

mod args;
mod commands;
mod exit;
mod input;
mod interrupt;
mod report;

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

use crate::args::Cli;
use crate::exit::Exit;
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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            std::process::exit(Exit::Failed.code());
        }
    };
    let code = rt.block_on(run(cli));
    // A prompt's reader thread may still be blocked on the terminal: do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(code);
}

async fn run(cli: Cli) -> i32 {
    let ui = Ui::new(cli.global.json);
    let command = cli.command.name();
    let stack = cli.global.stack.clone();
    let ints = match Interrupts::install() {
        Ok(i) => i,
        Err(e) => {
            ui.err(&format!("error: could not watch for Ctrl-C: {e}"));
            return Exit::Failed.code();
        }
    };
    let result = commands::run(cli.global, cli.command, ui.clone(), ints).await;
    ui.finish();
    let (exit, mut fields, error) = match result {
        Ok(fields) => (Exit::Ok, fields, None),
        Err(f) => {
            input::restore_terminal();
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
