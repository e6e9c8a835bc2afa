//! What the human types: secrets (from stdin, or a prompt without echo on a terminal)
//! and the stack name that confirms a destroy.
//!
//! Reads block, so they run on a blocking thread while the caller watches for Ctrl-C. A
//! prompt with echo off goes through [`crate::terminal`], so that an interrupt restores
//! the terminal's settings before the tool exits.

use std::io::{BufRead, Write};

use pulumi_auto::Secret;

use crate::exit::Failure;
use crate::interrupt::Interrupts;
use crate::terminal::{restore_terminal, stdin_is_terminal, without_echo};

/// One line of stdin without its line ending; `None` at end of input.
fn read_line() -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(Some(line))
}

/// Shows `prompt` on stderr and reads a line from the terminal with echo off.
fn read_hidden(prompt: &str) -> std::io::Result<Option<String>> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let line = without_echo(read_line);
    eprintln!();
    line
}

/// Shows `prompt` on stderr and reads a line (echoed).
fn read_visible(prompt: &str) -> std::io::Result<Option<String>> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    read_line()
}

/// Runs a blocking read on its own thread; an interrupt ends the wait as cancelled (the
/// thread is left blocked on the read; the tool exits soon after).
async fn blocking<T: Send + 'static>(
    ints: &mut Interrupts,
    what: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    let task = tokio::task::spawn_blocking(f);
    let r = ints
        .short(what, async {
            task.await
                .map_err(|e| Failure::failed(format!("{what}: {e}")))
        })
        .await;
    if r.is_err() {
        restore_terminal();
    }
    r?.map_err(|e| Failure::failed(format!("{what}: {e}")))
}

/// A secret value: from a prompt without echo when stdin is a terminal, else the next
/// line of stdin. `what` names it in the prompt and in errors (never its value).
pub async fn secret(ints: &mut Interrupts, what: &str) -> Result<Secret, Failure> {
    let value = if stdin_is_terminal() {
        let prompt = format!("{what} (input hidden): ");
        blocking(ints, &format!("reading {what}"), move || {
            read_hidden(&prompt)
        })
        .await?
    } else {
        blocking(ints, &format!("reading {what}"), read_line).await?
    };
    match value {
        Some(v) if !v.is_empty() => Ok(Secret::new(v)),
        Some(_) => Err(Failure::usage(format!("{what}: the value is empty"))),
        None => Err(Failure::usage(format!(
            "{what}: no value on standard input (give one line per secret, in the order of the --secret flags)"
        ))),
    }
}

/// The stack name as the human types it at the destroy prompt (`None` at end of input).
pub async fn typed_stack_name(
    ints: &mut Interrupts,
    prompt: String,
) -> Result<Option<String>, Failure> {
    blocking(ints, "waiting for the confirmation", move || {
        read_visible(&prompt)
    })
    .await
    .map(|v| v.map(|s| s.trim().to_owned()))
}
