//! The terminal's echo: turned off while a secret is typed or a progress bar is drawn, and
//! put back by whoever ends the tool ([`restore_terminal`]).
//!
//! The lowest module of the tool: the prompts ([`crate::input`]) and the progress bar
//! ([`crate::report`]) change the echo through it, and an interrupt or an error restores
//! it, so it depends on none of them.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::Mutex;

use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};

/// The settings of stdin's terminal while a prompt reads a secret without echo.
static SAVED_TERMINAL: Mutex<Option<Termios>> = Mutex::new(None);

/// The settings of stderr's terminal while a progress bar hides typing.
static SAVED_TYPING: Mutex<Option<Termios>> = Mutex::new(None);

/// True when standard input is a terminal (a human can answer prompts).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Turns the echo of `fd`'s terminal off (applied as `when` says); returns the settings
/// it had.
fn echo_off(fd: impl AsFd, when: SetArg) -> nix::Result<Termios> {
    let original = tcgetattr(&fd)?;
    let mut quiet = original.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&fd, when, &quiet)?;
    Ok(original)
}

/// Puts back the settings `slot` holds, on `fd`'s terminal; true if there were some.
fn put_back(slot: &Mutex<Option<Termios>>, fd: impl AsFd) -> bool {
    let saved = slot.lock().ok().and_then(|mut g| g.take());
    match saved {
        Some(t) => {
            let _ = tcsetattr(&fd, SetArg::TCSANOW, &t);
            true
        }
        None => false,
    }
}

/// Runs `read` with stdin's echo off (typed text flushed first); the settings are
/// recorded meanwhile, so that [`restore_terminal`] can put them back if the tool exits
/// during the read.
pub fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let stdin = std::io::stdin();
    let original = tcgetattr(&stdin)?;
    if let Ok(mut g) = SAVED_TERMINAL.lock() {
        *g = Some(original.clone());
    }
    echo_off(&stdin, SetArg::TCSAFLUSH)?;
    let result = read();
    let _ = tcsetattr(&stdin, SetArg::TCSAFLUSH, &original);
    if let Ok(mut g) = SAVED_TERMINAL.lock() {
        *g = None;
    }
    result
}

/// Puts back the terminal settings a prompt without echo or a progress bar changed.
pub fn restore_terminal() {
    if put_back(&SAVED_TERMINAL, std::io::stdin()) {
        eprintln!();
    }
    show_typing();
}

/// Stops the terminal echoing what is typed (a `^C` included) while a progress bar is
/// drawn on stderr: an echo moves the cursor under the bar, which then leaves stale
/// copies of itself. [`show_typing`] (or [`restore_terminal`]) puts the echo back.
pub fn hide_typing() {
    let stderr = std::io::stderr();
    if !stderr.is_terminal() {
        return;
    }
    let Ok(mut saved) = SAVED_TYPING.lock() else {
        return;
    };
    if saved.is_some() {
        return;
    }
    if let Ok(original) = echo_off(&stderr, SetArg::TCSANOW) {
        *saved = Some(original);
    }
}

/// Puts back the echo [`hide_typing`] turned off.
pub fn show_typing() {
    put_back(&SAVED_TYPING, std::io::stderr());
}
