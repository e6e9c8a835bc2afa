//! `pulumi-auto service stacks|updates|events` against a real pulumi-auto-server, over the
//! stacks, updates and engine events the real pinned CLI wrote to it: the REST shapes with
//! `--json`, the tables without, every page followed, filters, errors with the server's
//! message and the tool's exit codes, and the access token in no output and no argv.
//!
//! The server is the binary `scripts/test` builds and names in `PULUMI_AUTO_TEST_SERVER_BIN`
//! (a missing binary fails the tests).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{Backend, SERVER_TOKEN, TestEnv};
use pulumi_auto::ops::{RefreshOptions, UpOptions};
use serde_json::Value;

const TOOL: &str = env!("CARGO_BIN_EXE_pulumi-auto");

/// `pulumi-auto ARGS` with `token` in PULUMI_ACCESS_TOKEN and the server in
/// PULUMI_BACKEND_URL (the default the tool takes without `--url`).
fn tool(url: &str, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(TOOL);
    c.env("PULUMI_BACKEND_URL", url)
        .env("PULUMI_ACCESS_TOKEN", token)
        .env_remove("RUST_LOG")
        .args(args)
        .timeout(Duration::from_secs(60));
    c
}

/// Runs the tool; (exit code, stdout, stderr), checking that neither stream shows `token`.
fn run(mut c: Command, token: &str) -> (i32, String, String) {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(token) && !stderr.contains(token),
        "the token shows in the output:\n{stdout}\n{stderr}"
    );
    (
        out.status.code().expect("the tool was killed by a signal"),
        stdout,
        stderr,
    )
}

/// The one JSON result object of a `--json` run.
fn result(stdout: &str) -> Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected: {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

/// A server with stack organization/files/dev: an up (4 files) then a refresh, by the real
/// CLI; the events the CLI's own event log showed for the up.
async fn server_with_updates() -> (TestEnv, Vec<Value>) {
    common::use_backend(Backend::Server);
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_or_select_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    stack.set_tag("team", "blue").await.unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    stack
        .up(UpOptions::default()
            .message("first up")
            .on_event(move |ev| s2.lock().unwrap().push(ev.to_json())))
        .await
        .unwrap();
    stack.refresh(RefreshOptions::default()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (env, seen)
}

/// The resource steps of a list of engine events, as (event, URN, op), without the
/// default providers'.
fn steps(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| {
            let (kind, body) = e
                .as_object()?
                .iter()
                .find(|(k, _)| matches!(k.as_str(), "resourcePreEvent" | "resOutputsEvent"))?;
            let urn = body["metadata"]["urn"].as_str()?;
            (!urn.contains("::pulumi:providers:"))
                .then(|| serde_json::json!([kind, urn, body["metadata"]["op"]]))
        })
        .collect()
}

fn url(env: &TestEnv) -> String {
    env.backend_url()
}

#[tokio::test]
async fn stacks_updates_and_events_the_cli_wrote() {
    let (env, seen) = server_with_updates().await;
    let url = url(&env);

    // Stacks: the REST shape with --json, a table otherwise; filters reach the server.
    let (code, out, err) = run(
        tool(&url, SERVER_TOKEN, &["--json", "service", "stacks"]),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0, "{err}");
    let r = result(&out);
    assert_eq!(r["command"], "service stacks");
    assert_eq!(r["status"], "succeeded");
    let stacks = r["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), 1, "{r}");
    assert_eq!(stacks[0]["orgName"], "organization");
    assert_eq!(stacks[0]["projectName"], "files");
    assert_eq!(stacks[0]["stackName"], "dev");
    assert!(stacks[0]["resourceCount"].as_i64().unwrap() >= 4, "{r}");
    assert!(
        stacks[0]["lastUpdate"].as_i64().unwrap() > 1_700_000_000,
        "{r}"
    );

    let (code, out, _) = run(
        tool(
            "http://127.0.0.1:9",
            SERVER_TOKEN,
            &["service", "--url", &url, "stacks"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0, "--url wins over PULUMI_BACKEND_URL");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("STACK") && lines[0].contains("RESOURCES"),
        "{out}"
    );
    assert!(lines[1].starts_with("organization/files/dev "), "{out}");

    for (args, want) in [
        (&["--org", "organization", "--project", "files"][..], 1),
        (&["--project", "other"][..], 0),
        (&["--tag-name", "team"][..], 1),
        (&["--tag-name", "team", "--tag-value", "blue"][..], 1),
        (&["--tag-name", "team", "--tag-value", "red"][..], 0),
    ] {
        let mut a = vec!["--json", "service", "stacks"];
        a.extend_from_slice(args);
        let (code, out, err) = run(tool(&url, SERVER_TOKEN, &a), SERVER_TOKEN);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(
            result(&out)["stacks"].as_array().unwrap().len(),
            want,
            "{args:?}"
        );
    }
    let (code, out, _) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "stacks", "--project", "other"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!((code, out.trim()), (0, "no stacks"));

    // Updates: newest first; a page of one still gives both.
    let (code, out, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &[
                "--json",
                "service",
                "updates",
                "organization/files/dev",
                "--page-size",
                "1",
            ],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0, "{err}");
    let r = result(&out);
    let updates = r["updates"].as_array().unwrap();
    assert_eq!(r["total"], 2, "{r}");
    assert_eq!(updates.len(), 2, "every page followed: {r}");
    assert_eq!(updates[0]["info"]["kind"], "refresh");
    assert_eq!(updates[1]["info"]["kind"], "update");
    assert_eq!(updates[1]["info"]["message"], "first up");
    assert_eq!(updates[1]["info"]["result"], "succeeded");
    let created = updates[1]["info"]["resourceChanges"]["create"]
        .as_i64()
        .unwrap();
    assert!(created >= 3, "the 3 files at least: {r}");
    let up_id = updates[1]["updateID"].as_str().unwrap().to_owned();
    let (_, all_at_once, _) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["--json", "service", "updates", "organization/files/dev"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(result(&all_at_once)["updates"], r["updates"]);

    let (code, out, _) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "updates", "organization/files/dev"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("VERSION") && lines[0].contains("UPDATE ID"));
    assert!(
        lines[2].contains(&up_id) && lines[2].contains(&format!("create={created}")),
        "{out}"
    );
    assert!(
        lines[2].contains("first up") && lines[2].contains("succeeded"),
        "{out}"
    );

    // Events: every event the CLI uploaded, in order, as its own event log had them.
    let stack_ref = "organization/files/dev";
    let (code, out, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["--json", "service", "events", stack_ref, &up_id],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0, "{err}");
    let r = result(&out);
    let events = r["events"].as_array().unwrap();
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (0..events.len() as i64).collect::<Vec<_>>(),
        "none lost"
    );
    // The CLI uploads the steps of the program's resources (not the provider's, not the
    // diagnostics): those are the event log's, in order.
    assert!(!steps(events).is_empty());
    assert_eq!(steps(events), steps(&seen));
    assert!(events.iter().any(|e| e.get("summaryEvent").is_some()));
    assert!(events.iter().any(|e| e.get("resourcePreEvent").is_some()));

    let (code, out, _) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "events", stack_ref, &up_id],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), events.len() + 1, "{out}");
    assert!(lines[0].starts_with("SEQ"));
    assert!(
        out.lines()
            .any(|l| l.contains("resourcePreEvent") && l.contains("create")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("summaryEvent") && l.contains("create=")),
        "{out}"
    );
}

/// `POST /api/stacks/organization/{project}` (the CLI's stack creation), over a plain
/// connection.
fn create_stack(addr: &str, project: &str, name: &str) {
    let body = format!("{{\"stackName\":\"{name}\"}}");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/stacks/organization/{project} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: token {SERVER_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn every_page_of_stacks_is_read() {
    common::use_backend(Backend::Server);
    let env = TestEnv::new("files").await;
    let url = url(&env);
    let addr = url.trim_start_matches("http://").to_owned();
    // The server pages stacks by 500.
    let n = 520;
    let mut want: Vec<String> = (0..n).map(|i| format!("s{i:04}")).collect();
    for name in &want {
        create_stack(&addr, "many", name);
    }
    let (code, out, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["--json", "service", "stacks", "--project", "many"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0, "{err}");
    let got: Vec<String> = result(&out)["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stackName"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(got, want, "every stack once, in the server's order");
}

#[tokio::test]
async fn errors_carry_the_servers_message_and_exit_codes() {
    let (env, _) = server_with_updates().await;
    let url = url(&env);

    // 401: a token the server does not know.
    let wrong = "pul-wrong-token-00000000000000000000";
    let (code, out, err) = run(tool(&url, wrong, &["service", "stacks"]), wrong);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("[401]") && err.contains("invalid access token"),
        "{err}"
    );

    // 401 with --json: the result object says so.
    let (code, out, _) = run(tool(&url, wrong, &["--json", "service", "stacks"]), wrong);
    assert_eq!(code, 1);
    let r = result(&out);
    assert_eq!(r["status"], "failed");
    assert!(r["error"].as_str().unwrap().contains("[401]"), "{r}");

    // 404 with the server's message: no such stack, no such update.
    let (code, _, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "updates", "organization/files/nosuch"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 1);
    assert!(err.contains("[404]") && err.contains("Not Found"), "{err}");
    let (code, _, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &[
                "service",
                "events",
                "organization/files/dev",
                "0123456789abcdef",
            ],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("[404]") && err.contains("update not found"),
        "{err}"
    );

    // A user of another organization does not learn the stack exists: 404, as for a
    // stack that does not.
    let data = env.root.path().join("server/data");
    let offline = |args: &[&str]| {
        let out = std::process::Command::new(common::server_bin())
            .args(args)
            .arg("--data")
            .arg(&data)
            .env_remove("PULUMI_AUTO_SERVER_DATABASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    offline(&["org-create", "elsewhere", "--admin", "bob"]);
    let bob = offline(&["token", "create", "--user", "bob"]);
    let (code, _, err) = run(
        tool(
            &url,
            &bob,
            &["service", "updates", "organization/files/dev"],
        ),
        &bob,
    );
    assert_eq!(code, 1);
    assert!(err.contains("[404]"), "{err}");
    let (code, out, _) = run(tool(&url, &bob, &["--json", "service", "stacks"]), &bob);
    assert_eq!(code, 0);
    assert_eq!(result(&out)["stacks"], serde_json::json!([]));

    // Usage errors (exit 2), before anything is sent.
    let (code, _, err) = run(
        tool(&url, SERVER_TOKEN, &["service", "updates", "files/dev"]),
        SERVER_TOKEN,
    );
    assert_eq!(code, 2);
    assert!(err.contains("ORG/PROJECT/STACK"), "{err}");
    let (code, _, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "updates", "organization/files/bad name"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 2, "{err}");
    let mut c = tool(&url, SERVER_TOKEN, &["service", "stacks"]);
    c.env_remove("PULUMI_ACCESS_TOKEN");
    let (code, _, err) = run(c, SERVER_TOKEN);
    assert_eq!(code, 2);
    assert!(err.contains("PULUMI_ACCESS_TOKEN"), "{err}");
    let (code, _, err) = run(
        tool("file:///tmp/state", SERVER_TOKEN, &["service", "stacks"]),
        SERVER_TOKEN,
    );
    assert_eq!(code, 2);
    assert!(err.contains("PULUMI_BACKEND_URL"), "{err}");
    let (code, _, err) = run(
        tool(
            &url,
            SERVER_TOKEN,
            &["service", "--url", "http://u:pw@127.0.0.1:1", "stacks"],
        ),
        SERVER_TOKEN,
    );
    assert_eq!(code, 2);
    assert!(!err.contains("pw@"), "{err}");

    // There is no token flag: a token never goes on a command line. --help says where it
    // comes from.
    let (code, _, _) = run(
        tool(&url, SERVER_TOKEN, &["service", "stacks", "--token", "x"]),
        SERVER_TOKEN,
    );
    assert_eq!(code, 2);
    let (code, out, _) = run(
        tool(&url, SERVER_TOKEN, &["service", "stacks", "--help"]),
        SERVER_TOKEN,
    );
    assert_eq!(code, 0);
    let help = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("PULUMI_ACCESS_TOKEN and from nowhere else: there is no flag for it"),
        "{out}"
    );
}

/// The token goes in the Authorization header and nowhere else: not on the tool's command
/// line, not in the request line; a server that echoes it back (which the real one never
/// does) gets it masked in what the tool prints.
#[test]
fn the_token_is_in_no_argv_and_no_output() {
    let token = format!("pul-argv-check-{}", common::unique_marker());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let marker = common::unique_marker();
    let child = std::process::Command::new(TOOL)
        .env("PULUMI_ACCESS_TOKEN", &token)
        .env("PULUMI_AUTO_TEST_MARKER", &marker)
        .args([
            "service",
            "--url",
            &format!("http://{addr}"),
            "updates",
            "o/p/s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The tool waits for the answer: its command line can be read meanwhile.
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < deadline {
        let n = conn.read(&mut buf).unwrap();
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request).into_owned();
    let procs = common::processes_with_marker(&marker);
    assert!(!procs.is_empty(), "the tool's process was not found");
    for (_, cmd) in &procs {
        assert!(
            !cmd.contains(&token),
            "the token is on a command line: {cmd}"
        );
    }
    let request_line = request.lines().next().unwrap_or("");
    assert!(
        request_line.starts_with("GET /api/stacks/o/p/s/updates?"),
        "{request_line}"
    );
    assert!(!request_line.contains(&token));
    assert!(
        request
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("authorization: token {token}"))),
        "{request}"
    );
    let body = format!("{{\"code\":401,\"message\":\"Unauthorized: token {token} is not valid\"}}");
    write!(
        conn,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    drop(conn);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stdout.contains(&token) && !stderr.contains(&token),
        "{stderr}"
    );
    assert!(
        stderr.contains("[401]") && stderr.contains("[secret]"),
        "{stderr}"
    );
}
