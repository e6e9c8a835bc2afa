//! The `pulumi-auto` command-line tool, run as a user would (no terminal), against the
//! real CLI: up with config and a secret read from stdin, JSON output, outputs, config,
//! stacks, destroy refusals and approval, usage errors and exit codes.
//!
//! The tool gets the test's isolated environment the way a user gives it: the backend,
//! `PULUMI_HOME` and the passphrase in its environment (`PULUMI_AUTO_CLI` is inherited).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{PASSPHRASE, TestEnv};
use serde_json::Value;

const TOOL: &str = env!("CARGO_BIN_EXE_pulumi-auto");

/// The tool's environment for this test: backend, PULUMI_HOME, passphrase.
fn envs(env: &TestEnv) -> Vec<(String, String)> {
    vec![
        (
            "PULUMI_BACKEND_URL".into(),
            format!("file://{}", env.state.display()),
        ),
        ("PULUMI_HOME".into(), env.home.display().to_string()),
        ("PULUMI_CONFIG_PASSPHRASE".into(), PASSPHRASE.into()),
    ]
}

/// `pulumi-auto --work-dir <program> <args>` in the test's environment.
fn tool(env: &TestEnv, args: &[&str]) -> Command {
    let mut c = Command::new(TOOL);
    c.envs(envs(env))
        .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE")
        .arg("--work-dir")
        .arg(&env.program)
        .args(args)
        .timeout(Duration::from_secs(180));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the tool; returns (exit code, stdout, stderr).
fn run(mut c: Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().expect("the tool was killed by a signal"),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Every stdout line parsed as JSON (panics on a line that is not).
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect()
}

/// The resources in the stack's state, as URNs.
async fn state_urns(env: &TestEnv, stack: &str) -> Vec<String> {
    env.ws
        .select_stack(stack)
        .await
        .unwrap()
        .export_stack()
        .await
        .unwrap()
        .resources()
        .iter()
        .map(|r| r.urn.clone())
        .collect()
}

/// `up` of the files program into `env.files`, plain output, one secret.
fn up_files(env: &TestEnv, secret: &str) -> (i32, String, String) {
    let dir = format!("dir={}", env.files.display());
    let mut c = tool(
        env,
        &[
            "--stack",
            "dev",
            "up",
            "--config",
            &dir,
            "--config",
            "greeting=hello from the tool",
            "--secret",
            "token",
        ],
    );
    c.write_stdin(format!("{secret}\n"));
    run(c)
}

#[tokio::test]
async fn up_with_config_and_a_secret_from_stdin_never_shows_the_secret() {
    let env = TestEnv::new("files").await;
    let secret = format!("tool-secret-{}", common::unique_marker());
    let marker = common::unique_marker();
    let dir = format!("dir={}", env.files.display());

    // Spawned directly so that every process of the run can be sampled while it runs.
    let mut child = std::process::Command::new(TOOL)
        .envs(envs(&env))
        .env("PULUMI_AUTO_TEST_MARKER", &marker)
        .arg("--work-dir")
        .arg(&env.program)
        .args([
            "--stack", "dev", "--json", "up", "--config", &dir, "--secret", "token",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{secret}").unwrap();
    }
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut command_lines = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        for (_, cmd) in common::processes_with_marker(&marker) {
            command_lines.insert(cmd);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the tool did not finish");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The secret is nowhere: not in the output, not on any command line seen.
    assert!(!stdout.contains(&secret), "secret on stdout");
    assert!(!stderr.contains(&secret), "secret on stderr: {stderr}");
    assert!(
        command_lines
            .iter()
            .any(|c| c.contains("--non-interactive up --stack dev")),
        "the sampling missed `pulumi up`: {command_lines:?}"
    );
    assert!(
        command_lines.iter().any(|c| c.contains("pulumi.dynamic")),
        "the sampling missed the provider: {command_lines:?}"
    );
    for c in &command_lines {
        assert!(!c.contains(&secret), "secret on a command line: {c}");
    }

    // --json: every line parses; engine events, then one result object, last.
    let lines = json_lines(&stdout);
    let (result, events) = lines.split_last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["command"], "up");
    assert_eq!(result["stack"], "dev");
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["exitCode"], 0);
    assert_eq!(result["summary"]["resourceChanges"]["create"], 3);
    assert_eq!(result["outputs"]["token"]["secret"], true);
    assert_eq!(result["outputs"]["token"]["value"], "[secret]");
    assert_eq!(result["outputs"]["count"]["value"], 2);
    assert!(events.iter().all(|e| e.get("sequence").is_some()));
    assert!(events.iter().any(|e| e.get("preludeEvent").is_some()));
    assert!(events.iter().any(|e| e.get("summaryEvent").is_some()));
    assert!(events.last().unwrap().get("cancelEvent").is_some());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"], i as u64, "events out of order");
    }
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);

    // The secret was stored as a secret, with the value given on stdin.
    let stack = env.ws.select_stack("dev").await.unwrap();
    let token = stack.get_config("token").await.unwrap();
    assert!(token.secret);
    assert_eq!(token.as_str(), Some(secret.as_str()));
    let (code, out, _) = run(tool(
        &env,
        &["--stack", "dev", "config", "get", "token", "--show-secrets"],
    ));
    assert_eq!((code, out.trim_end()), (0, secret.as_str()));
}

#[tokio::test]
async fn up_outputs_config_and_stacks_in_plain_text() {
    let env = TestEnv::new("files").await;
    let secret = "plain-mode-secret-value";
    let (code, out, err) = up_files(&env, secret);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("update of stack dev succeeded"), "{out}");
    assert!(out.contains("create 3"), "{out}");
    assert!(out.contains("  token: [secret]"), "{out}");
    // Progress as plain lines on stderr (no terminal): each resource created, counted.
    assert!(err.contains("created greeting"), "{err}");
    assert!(err.contains("created note"), "{err}");
    assert!(err.contains("[2/2]"), "{err}");
    assert!(!out.contains(secret) && !err.contains(secret));
    assert_eq!(
        env.read_file("greeting.txt").as_deref(),
        Some("hello from the tool")
    );

    // A second up changes nothing.
    let (code, out, err) = up_files(&env, secret);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("same 3"), "{out}");

    let (code, out, _) = run(tool(&env, &["--stack", "dev", "outputs"]));
    assert_eq!(code, 0);
    assert!(out.contains("  token: [secret]"), "{out}");
    assert!(out.contains("  count: 2"), "{out}");
    let greeting_path = env.files.join("greeting.txt");
    assert!(
        out.contains(&format!("  greetingPath: {}", greeting_path.display())),
        "{out}"
    );
    let (code, out, _) = run(tool(&env, &["--stack", "dev", "--json", "outputs"]));
    assert_eq!(code, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outputs"]["count"]["value"], 2);
    assert_eq!(lines[0]["outputs"]["token"]["value"], "[secret]");
    let (code, out, _) = run(tool(&env, &["--stack", "dev", "outputs", "--show-secrets"]));
    assert_eq!(code, 0);
    assert!(out.contains(&format!("  token: {secret}")), "{out}");

    let (code, out, _) = run(tool(&env, &["--stack", "dev", "config", "get", "greeting"]));
    assert_eq!((code, out.as_str()), (0, "hello from the tool\n"));
    let (code, out, _) = run(tool(&env, &["--stack", "dev", "config", "get", "token"]));
    assert_eq!((code, out.as_str()), (0, "[secret]\n"));

    // config set: plain from argv, secret from stdin only.
    let (code, _, err) = run(tool(
        &env,
        &["--stack", "dev", "config", "set", "greeting", "changed"],
    ));
    assert_eq!(code, 0, "{err}");
    let mut c = tool(
        &env,
        &["--stack", "dev", "config", "set", "--secret", "token"],
    );
    c.write_stdin("second-secret-value\n");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("second-secret-value") && !err.contains("second-secret-value"));
    let stack = env.ws.select_stack("dev").await.unwrap();
    assert_eq!(
        stack.get_config("greeting").await.unwrap().as_str(),
        Some("changed")
    );
    let token = stack.get_config("token").await.unwrap();
    assert!(token.secret);
    assert_eq!(token.as_str(), Some("second-secret-value"));

    let (code, out, _) = run(tool(&env, &["stacks"]));
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("dev ")), "{out}");
    let (code, out, _) = run(tool(&env, &["stacks", "--json"]));
    assert_eq!(code, 0);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["stacks"][0]["name"], "dev");
    assert_eq!(lines[0]["stacks"][0]["resourceCount"], 4);
}

#[tokio::test]
async fn destroy_is_refused_without_approval_and_done_with_the_stack_name() {
    let env = TestEnv::new("files").await;
    let (code, _, err) = up_files(&env, "destroy-test-secret");
    assert_eq!(code, 0, "{err}");
    let files = ["greeting.txt", "note.txt"];
    let before = state_urns(&env, "dev").await;
    assert_eq!(before.len(), 4);

    // No terminal and no --yes-destroy: refused after showing the preview.
    let (code, out, err) = run(tool(&env, &["--stack", "dev", "destroy"]));
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("would delete 3 resource(s)"), "{err}");
    assert!(err.contains("greeting"), "{err}");
    assert!(err.contains("--yes-destroy=dev"), "{err}");
    assert_eq!(env.file_names(), files);
    assert_eq!(state_urns(&env, "dev").await, before);

    // The wrong name: refused by the library's approval check.
    for wrong in ["prod", "DEV", "organization/files/prod"] {
        let flag = format!("--yes-destroy={wrong}");
        let (code, _, err) = run(tool(&env, &["--stack", "dev", "destroy", &flag]));
        assert_eq!(code, 3, "{wrong}: {err}");
        assert!(err.contains("refused"), "{err}");
        assert_eq!(env.file_names(), files);
        assert_eq!(state_urns(&env, "dev").await, before);
    }

    // JSON: the preview, then a refused result.
    let (code, out, _) = run(tool(&env, &["--stack", "dev", "--json", "destroy"]));
    assert_eq!(code, 3);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["type"], "destroyPreview");
    assert_eq!(lines[0]["deletions"].as_array().unwrap().len(), 3);
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "refused");
    assert_eq!(result["exitCode"], 3);

    // The right name: destroyed, and the stack removed.
    let (code, out, err) = run(tool(
        &env,
        &["--stack", "dev", "destroy", "--yes-destroy=dev", "--remove"],
    ));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("destroy of stack dev succeeded"), "{out}");
    assert!(out.contains("stack dev removed"), "{out}");
    assert!(env.file_names().is_empty(), "{:?}", env.file_names());
    let (code, out, _) = run(tool(&env, &["stacks"]));
    assert_eq!((code, out.as_str()), (0, "no stacks\n"));
}

#[tokio::test]
async fn the_passphrase_and_a_secret_can_both_come_from_stdin() {
    let env = TestEnv::new("files").await;
    let mut c = tool(
        &env,
        &[
            "--stack",
            "dev",
            "--passphrase-stdin",
            "config",
            "set",
            "--secret",
            "token",
        ],
    );
    c.env_remove("PULUMI_CONFIG_PASSPHRASE");
    c.write_stdin(format!("{PASSPHRASE}\nstdin-secret-value\n"));
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    for secret in [PASSPHRASE, "stdin-secret-value"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    // Stored under that passphrase: the library reads it with the same one.
    let token = env
        .ws
        .select_stack("dev")
        .await
        .unwrap()
        .get_config("token")
        .await
        .unwrap();
    assert_eq!(token.as_str(), Some("stdin-secret-value"));

    // Another passphrase cannot decrypt it: a failure (1), and no value shown.
    let mut c = tool(
        &env,
        &[
            "--stack",
            "dev",
            "--passphrase-stdin",
            "config",
            "get",
            "token",
            "--show-secrets",
        ],
    );
    c.env_remove("PULUMI_CONFIG_PASSPHRASE");
    c.write_stdin("not-the-passphrase\n");
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("stdin-secret-value") && !err.contains("stdin-secret-value"));
    assert!(!err.contains("not-the-passphrase"), "{err}");
}

#[tokio::test]
async fn a_protected_stack_is_refused_unless_overridden() {
    let env = TestEnv::new("files").await;
    let (code, _, err) = up_files(&env, "protected-test-secret");
    assert_eq!(code, 0, "{err}");
    env.ws
        .select_stack("dev")
        .await
        .unwrap()
        .set_protected(true)
        .await
        .unwrap();
    let (code, _, err) = run(tool(
        &env,
        &["--stack", "dev", "destroy", "--yes-destroy=dev"],
    ));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("protected"), "{err}");
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    let (code, _, err) = run(tool(
        &env,
        &[
            "--stack",
            "dev",
            "destroy",
            "--yes-destroy=dev",
            "--override-protection",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(env.file_names().is_empty());
}

#[tokio::test]
async fn bad_input_is_a_usage_error_before_anything_runs() {
    let env = TestEnv::new("files").await;
    let no_stack_yet = || std::fs::read_dir(&env.state).map_or(0, |d| d.count()) == 0;

    // No stack.
    let (code, _, err) = run(tool(&env, &["up"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--stack"), "{err}");
    // A secret value on the command line is refused.
    let (code, _, err) = run(tool(
        &env,
        &[
            "--stack", "dev", "config", "set", "token", "visible", "--secret",
        ],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("never taken from the command line"), "{err}");
    // `--secret KEY=VALUE` is refused too, without echoing the value.
    let (code, _, err) = run(tool(
        &env,
        &["--stack", "dev", "up", "--secret", "token=visible"],
    ));
    assert_eq!(code, 2, "{err}");
    // A --secret with nothing on stdin.
    let (code, _, err) = run(tool(&env, &["--stack", "dev", "up", "--secret", "token"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no value on standard input"), "{err}");
    // A config pair without '='.
    let (code, _, err) = run(tool(&env, &["--stack", "dev", "up", "--config", "dir"]));
    assert_eq!(code, 2, "{err}");
    // clap's own errors: exit 2 as well.
    let (code, _, _) = run(tool(&env, &["--stack", "dev", "launch"]));
    assert_eq!(code, 2);
    assert!(no_stack_yet(), "a stack was created");

    // A stack that does not exist, for a command that only selects: a failure (1).
    let (code, _, err) = run(tool(&env, &["--stack", "nope", "outputs"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not found"), "{err}");

    // --help documents the exit codes.
    let (code, out, _) = run(tool(&env, &["--help"]));
    assert_eq!(code, 0);
    for line in [
        "0  success",
        "1  the operation failed",
        "2  usage",
        "3  refused",
        "4  cancelled",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}:\n{out}");
    }
}

#[tokio::test]
async fn a_failing_program_exits_with_1_and_says_why() {
    let env = TestEnv::new("failing").await;
    let dir = format!("dir={}", env.files.display());
    let (code, out, err) = run(tool(
        &env,
        &[
            "--stack",
            "dev",
            "--json",
            "up",
            "--config",
            &dir,
            "--config",
            "mode=create",
        ],
    ));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("configured to fail"), "{err}");
    let lines = json_lines(&out);
    let result = lines.last().unwrap();
    assert_eq!(result["status"], "failed");
    assert_eq!(result["exitCode"], 1);
    assert!(
        result["error"].as_str().unwrap().contains("failed"),
        "{result}"
    );
}

/// A secret with a `"` or a `\` is escaped in JSON: `--json` output masks it there too.
/// Here the secret is also given as a plain value (`greeting`), which the engine's events
/// carry in clear, so only the tool's own masking can hide it.
#[tokio::test]
async fn json_output_masks_a_secret_that_json_escapes() {
    let env = TestEnv::new("files").await;
    let secret = format!(r#"say "hi" \ {}"#, common::unique_marker());
    let escaped = serde_json::to_string(&secret).unwrap();
    let escaped = &escaped[1..escaped.len() - 1];
    assert_ne!(escaped, secret);
    let dir = format!("dir={}", env.files.display());
    let greeting = format!("greeting={secret}");
    let mut c = tool(
        &env,
        &[
            "--stack", "dev", "--json", "up", "--config", &dir, "--config", &greeting, "--secret",
            "token",
        ],
    );
    c.write_stdin(format!("{secret}\n"));
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        env.read_file("greeting.txt").as_deref(),
        Some(secret.as_str())
    );
    assert!(
        !out.contains(escaped),
        "the escaped secret on stdout:\n{out}"
    );
    assert!(!out.contains(&secret) && !err.contains(&secret));
    // Still one JSON object per line, the masked places reading [secret].
    let lines = json_lines(&out);
    assert!(
        lines.iter().any(|l| l.to_string().contains("[secret]")),
        "{out}"
    );
    assert_eq!(lines.last().unwrap()["status"], "succeeded");
}

/// Secrets too short to mask are refused before anything runs, and a backend URL with a
/// password is refused on the tool's command line (it belongs in PULUMI_BACKEND_URL).
#[tokio::test]
async fn short_secrets_and_command_line_backend_passwords_are_refused() {
    let env = TestEnv::new("files").await;
    // Secret values of 1 and 2 bytes, from stdin; and a 2-byte passphrase.
    for short in ["x", "ab"] {
        let mut c = tool(
            &env,
            &["--stack", "dev", "config", "set", "--secret", "token"],
        );
        c.write_stdin(format!("{short}\n"));
        let (code, out, err) = run(c);
        assert_eq!(code, 2, "{short}: stdout:\n{out}\nstderr:\n{err}");
        assert!(err.contains("at least 3 bytes"), "{err}");
    }
    let mut c = tool(&env, &["--stack", "dev", "config", "set", "greeting", "hi"]);
    c.env("PULUMI_CONFIG_PASSPHRASE", "pw");
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the passphrase is 2 byte(s) long"), "{err}");
    // Nothing ran: no stack was created.
    assert!(env.ws.list_stacks().await.unwrap().is_empty());

    for url in [
        "postgres://me:hunter2-pw@127.0.0.1:1/db",
        "postgres://me@127.0.0.1:1/db?sslmode=disable&password=hunter2-pw",
    ] {
        let (code, out, err) = run(tool(&env, &["--backend", url, "stacks"]));
        assert_eq!(code, 2, "{url}: stdout:\n{out}\nstderr:\n{err}");
        assert!(err.contains("PULUMI_BACKEND_URL"), "{err}");
        assert!(
            !err.contains("hunter2") && !out.contains("hunter2"),
            "{err}"
        );
    }
    // The same URL from the environment is taken (and the CLI's complaint about the
    // unreachable server shows it masked).
    let mut c = tool(&env, &["stacks"]);
    c.env(
        "PULUMI_BACKEND_URL",
        "postgres://me:hunter2-pw@127.0.0.1:1/db?sslmode=disable",
    );
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("unable to open state database"), "{err}");
    assert!(
        !err.contains("hunter2") && !out.contains("hunter2"),
        "{err}"
    );

    let (code, out, _) = run(tool(&env, &["--help"]));
    assert_eq!(code, 0);
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("A URL with a password (user:password@, ?password=…) is refused here: give it in PULUMI_BACKEND_URL"),
        "{out}"
    );
    assert!(flat.contains("at least 3 bytes"), "{out}");
}
