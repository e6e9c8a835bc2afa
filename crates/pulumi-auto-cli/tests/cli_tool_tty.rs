//! The `pulumi-auto` tool on a real terminal, as a human uses it: each run is started in a
//! detached tmux session (its own server and socket), the screen is read with
//! `capture-pane`, keys are typed with `send-keys`, and the exit code is read from the
//! dead pane (`remain-on-exit`).
//!
//! - the destroy prompt: a wrong name is refused (3), the stack's name destroys (0);
//! - a secret typed at the hidden prompt is stored and never shown on the screen; Ctrl-C
//!   at a prompt cancels (4);
//! - after every run, the terminal echoes typing again (the tool turns echo off for hidden
//!   prompts and while its bar shows);
//! - the live progress bar, one Ctrl-C (graceful cancel, exit 4), and two (stop at once);
//!   no process of the run survives either.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{PASSPHRASE, TestEnv};

const TOOL: &str = env!("CARGO_BIN_EXE_pulumi-auto");
const TMUX: &str = "/usr/bin/tmux";
/// What bash prints after the tool, before its exit code.
const EXITED: &str = "[pulumi-auto exited with ";
/// What bash prints then when the terminal echoes typing, or does not.
const ECHO_ON: &str = "[terminal echo: on]";
const ECHO_OFF: &str = "[terminal echo: off]";

/// One tmux server with one session running the tool.
struct Tmux {
    socket: PathBuf,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Starts `pulumi-auto <args>` on a 160x50 terminal, with the test's environment,
    /// plus `tool_env` for the tool (and what it starts) only.
    ///
    /// The tool runs under `bash -c`, which prints its exit code when it ends: tmux does
    /// not reliably record a dead pane's exit status (it sometimes misses the SIGCHLD).
    /// bash leaves a Ctrl-C the tool handles to the tool (it goes on once the tool exits).
    fn start(env: &TestEnv, tool_env: &[(&str, &str)], args: &[&str]) -> Tmux {
        assert!(
            Path::new(TMUX).exists(),
            "tmux is needed for the terminal tests (apt-get install tmux)"
        );
        let dir = env.root.path();
        let n = common::unique_marker();
        let socket = dir.join(format!("tmux-{n}.sock"));
        let conf = dir.join(format!("tmux-{n}.conf"));
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g history-limit 10000\n",
        )
        .unwrap();
        let mut inner = String::new();
        for (k, v) in tool_env {
            inner.push_str(&format!("{k}={} ", quote(v)));
        }
        inner.push_str(&format!(
            "{} --work-dir {}",
            quote(TOOL),
            quote(&env.program.display().to_string())
        ));
        for a in args {
            inner.push(' ');
            inner.push_str(&quote(a));
        }
        inner.push_str(&format!("; echo \"{EXITED}$?]\"; "));
        // Whether the tool left the terminal echoing (it turns echo off for hidden
        // prompts and while its bar shows).
        inner.push_str(&format!(
            "if stty -a | tr ' ;' '\\n\\n' | grep -qx -- -echo; then echo '{ECHO_OFF}'; else echo '{ECHO_ON}'; fi"
        ));
        let cmd = format!("exec /bin/bash -c {}", quote(&inner));
        // The server starts here, so the session's environment is this command's.
        let st = Command::new(TMUX)
            .arg("-S")
            .arg(&socket)
            .arg("-f")
            .arg(&conf)
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "160",
                "-y",
                "50",
                &cmd,
            ])
            .env(
                "PULUMI_BACKEND_URL",
                format!("file://{}", env.state.display()),
            )
            .env("PULUMI_HOME", &env.home)
            .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(st.success(), "tmux new-session failed: {st}");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new(TMUX)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen and its scrollback, lines joined where they wrapped.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-5000", "-t", "t"])
    }

    /// Waits until the screen shows `needle`; returns the screen.
    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < end,
                "{needle:?} never showed; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses keys (`Enter`, `C-c`).
    fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// The exit code once the tool has exited (bash prints it).
    fn exit_code(&self) -> Option<i32> {
        let screen = self.screen();
        let (_, rest) = screen.split_once(EXITED)?;
        rest.split(']').next()?.trim().parse().ok()
    }

    /// Waits for the tool to exit; checks that it left the terminal echoing; returns its
    /// exit code.
    fn wait_exit(&self, limit: Duration) -> i32 {
        let end = Instant::now() + limit;
        loop {
            if let Some(code) = self.exit_code() {
                let screen = self.wait_for("[terminal echo: o", Duration::from_secs(10));
                assert!(
                    screen.contains(ECHO_ON) && !screen.contains(ECHO_OFF),
                    "the tool left the terminal without echo:\n{screen}"
                );
                return code;
            }
            assert!(
                Instant::now() < end,
                "the tool did not exit; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(TMUX)
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

/// `up` of the files program without a terminal (assert_cmd), for the tests that need a
/// stack with resources.
fn up_files(env: &TestEnv) {
    let dir = format!("dir={}", env.files.display());
    let out = assert_cmd::Command::new(TOOL)
        .env(
            "PULUMI_BACKEND_URL",
            format!("file://{}", env.state.display()),
        )
        .env("PULUMI_HOME", &env.home)
        .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        .arg("--work-dir")
        .arg(&env.program)
        .args(["--stack", "dev", "up", "--config", &dir])
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
}

#[tokio::test]
async fn destroy_asks_for_the_stack_name_on_a_terminal() {
    let env = TestEnv::new("files").await;
    up_files(&env);

    // Ctrl-C at the prompt: cancelled, nothing deleted.
    let t = Tmux::start(&env, &[], &["--stack", "dev", "destroy"]);
    t.wait_for("Type the stack name (dev)", Duration::from_secs(120));
    t.press("C-c");
    assert_eq!(t.wait_exit(Duration::from_secs(30)), 4, "{}", t.screen());
    assert!(t.screen().contains("cancelled:"), "{}", t.screen());
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    drop(t);

    // A wrong name: refused, nothing deleted.
    let t = Tmux::start(&env, &[], &["--stack", "dev", "destroy"]);
    let screen = t.wait_for("Type the stack name (dev)", Duration::from_secs(120));
    assert!(screen.contains("would delete 3 resource(s)"), "{screen}");
    assert!(screen.contains("greeting"), "{screen}");
    t.type_text("prod");
    t.press("Enter");
    assert_eq!(t.wait_exit(Duration::from_secs(60)), 3, "{}", t.screen());
    assert!(t.screen().contains("refused"), "{}", t.screen());
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    drop(t);

    // The stack's name: destroyed.
    let t = Tmux::start(&env, &[], &["--stack", "dev", "destroy"]);
    t.wait_for("Type the stack name (dev)", Duration::from_secs(120));
    t.type_text("dev");
    t.press("Enter");
    assert_eq!(t.wait_exit(Duration::from_secs(120)), 0, "{}", t.screen());
    let screen = t.screen();
    assert!(
        screen.contains("destroy of stack dev succeeded"),
        "{screen}"
    );
    assert!(env.file_names().is_empty(), "{:?}", env.file_names());
}

#[tokio::test]
async fn ctrl_c_at_the_hidden_prompt_cancels_and_restores_the_terminal() {
    let env = TestEnv::new("files").await;
    let t = Tmux::start(
        &env,
        &[],
        &["--stack", "dev", "config", "set", "--secret", "token"],
    );
    t.wait_for("secret token (input hidden): ", Duration::from_secs(60));
    t.type_text("half-typed");
    t.press("C-c");
    // `wait_exit` also checks that echo is back on.
    assert_eq!(t.wait_exit(Duration::from_secs(30)), 4, "{}", t.screen());
    let screen = t.screen();
    assert!(screen.contains("cancelled:"), "{screen}");
    assert!(!screen.contains("half-typed"), "{screen}");
    // Nothing ran: no stack was created.
    assert!(env.ws.list_stacks().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_secret_typed_at_the_prompt_is_not_echoed() {
    let env = TestEnv::new("files").await;
    let secret = "typed-at-the-prompt-value";
    let t = Tmux::start(
        &env,
        &[],
        &["--stack", "dev", "config", "set", "--secret", "token"],
    );
    t.wait_for("secret token (input hidden): ", Duration::from_secs(60));
    t.type_text(secret);
    t.press("Enter");
    assert_eq!(t.wait_exit(Duration::from_secs(60)), 0, "{}", t.screen());
    let screen = t.screen();
    assert!(
        screen.contains("set token (secret) on stack dev"),
        "{screen}"
    );
    assert!(!screen.contains(secret), "the secret was echoed:\n{screen}");
    let token = env
        .ws
        .select_stack("dev")
        .await
        .unwrap()
        .get_config("token")
        .await
        .unwrap();
    assert!(token.secret);
    assert_eq!(token.as_str(), Some(secret));
}

/// Starts `up` of the slow program under tmux with a marker in its environment; returns
/// once its dynamic provider runs and the progress bar shows a create in flight.
async fn slow_up(env: &TestEnv, marker: &str, delay: &str, count: &str) -> Tmux {
    let dir = format!("dir={}", env.files.display());
    let delay = format!("delay={delay}");
    let count = format!("count={count}");
    let t = Tmux::start(
        env,
        &[("PULUMI_AUTO_TEST_MARKER", marker)],
        &[
            "--stack", "dev", "up", "--config", &dir, "--config", &delay, "--config", &count,
        ],
    );
    let seen = common::wait_for_provider(marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")),
        "the provider never started: {seen:?}\n{}",
        t.screen()
    );
    // The live bar: the operation, resources done / total, the step in flight.
    // The bar shows the step once the engine has reported it, which can be a moment
    // after the provider starts: wait for it rather than for the counter.
    let total = &count["count=".len()..];
    let screen = t.wait_for("creating slow-", Duration::from_secs(30));
    assert!(screen.contains("up dev"), "{screen}");
    assert!(screen.contains(&format!("0/{total}")), "{screen}");
    t
}

#[tokio::test]
async fn one_ctrl_c_cancels_gracefully_with_exit_4_and_no_process_left() {
    let env = TestEnv::new("slow").await;
    let marker = common::unique_marker();
    let t = slow_up(&env, &marker, "6", "2").await;
    t.press("C-c");
    t.wait_for("cancelling gracefully", Duration::from_secs(10));
    // The engine finishes the creates in flight (6 s), then stops.
    assert_eq!(t.wait_exit(Duration::from_secs(90)), 4, "{}", t.screen());
    let screen = t.screen();
    assert!(screen.contains("cancelled:"), "{screen}");
    // The bar is gone, with no stale copy left where the ^C was echoed.
    assert!(!screen.contains("up dev ["), "{screen}");
    assert!(!screen.contains("terminating pulumi now"), "{screen}");
    let left = common::wait_until_gone(&marker).await;
    assert!(left.is_empty(), "processes survived the cancel: {left:?}");
}

#[tokio::test]
async fn a_second_ctrl_c_stops_at_once_with_exit_4_and_no_process_left() {
    let env = TestEnv::new("slow").await;
    let marker = common::unique_marker();
    // Creates that take a minute: a graceful cancel would wait for them.
    let t = slow_up(&env, &marker, "60", "1").await;
    t.press("C-c");
    t.wait_for("cancelling gracefully", Duration::from_secs(10));
    let second = Instant::now();
    t.press("C-c");
    // pulumi and its plugins go within seconds (3 s for pulumi to end, then killed); the
    // tool itself then reads the stack's health (one `stack export`) before it exits.
    let run_processes = || {
        common::processes_with_marker(&marker)
            .into_iter()
            .filter(|(_, cmd)| !cmd.contains(TOOL) && !cmd.contains("stack export"))
            .collect::<Vec<_>>()
    };
    while !run_processes().is_empty() {
        assert!(
            second.elapsed() < Duration::from_secs(10),
            "still running 10 s after the second Ctrl-C: {:?}",
            run_processes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = second.elapsed();
    assert_eq!(t.wait_exit(Duration::from_secs(60)), 4, "{}", t.screen());
    eprintln!(
        "second Ctrl-C: pulumi gone after {took:?}, the tool exited after {:?}",
        second.elapsed()
    );
    let screen = t.screen();
    assert!(screen.contains("terminating pulumi now"), "{screen}");
    assert!(!screen.contains("up dev ["), "{screen}");
    let left = common::wait_until_gone(&marker).await;
    assert!(
        left.is_empty(),
        "processes survived the hard stop: {left:?}"
    );
    // Killed mid-create: the tool says what the stack was left with, as the library's
    // health check sees it.
    let health = env
        .ws
        .select_stack("dev")
        .await
        .unwrap()
        .health()
        .await
        .unwrap();
    assert_eq!(health.locks.len(), 1, "{health:?}");
    assert_eq!(health.pending_creates().count(), 1, "{health:?}");
    assert!(
        screen.contains("stack dev was left with 1 lock(s)"),
        "{screen}"
    );
    assert!(screen.contains("creating slow-0"), "{screen}");
}
