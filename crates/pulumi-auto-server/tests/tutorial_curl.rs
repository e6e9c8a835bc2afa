//! The README's custom-API walk-through, as written: its `sh` block is read from README.md
//! (so the two cannot drift), its first line, `scripts/serve`, is run as it is (with the
//! programs it serves by default), and every other line is pasted into bash in a
//! directory whose `.pulumi-auto-server` is that server's data directory, as the README's
//! reader would from the repository's root. Only the server's address (a free port instead
//! of 8000, which another server may hold) and the `files` program's directory are
//! changed. Each command's output is checked: the burns' JSON, the stack's config, the
//! update's live events and result, the destroy to its end, and no stack left.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::repo;
use serde_json::Value;

/// The README's walk-through: the commands of the first `sh` block of the custom API's
/// section, continuation lines joined, comments and blank lines left out.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split_once("### The custom API: programs over HTTP")
        .expect("the README's custom API section")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("an sh block in the custom API section")
        .0;
    let mut cmds: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        if pending.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                cmds.push(std::mem::take(&mut pending));
            }
        }
    }
    cmds
}

/// `scripts/serve` in a process group of its own, stopped (SIGTERM to the group: the
/// script's trap stops the server) when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn start_serve(data: &Path, log: &Path) -> (Serve, String, String) {
    let mut child = Command::new(repo().join("scripts/serve"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env(
            "PULUMI_AUTO_SERVER_BIN",
            env!("CARGO_BIN_EXE_pulumi-auto-server"),
        )
        .env_remove("PULUMI_AUTO_SERVER_ADMIN_TOKEN")
        .env_remove("PULUMI_AUTO_SERVER_MASTER_KEY")
        .env_remove("PULUMI_AUTO_SERVER_DATABASE")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut said = String::new();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if let Some(rest) = line.strip_prefix("pulumi-auto-server is listening on ") {
            url = rest.split(' ').next().unwrap_or_default().to_owned();
        }
        if line.starts_with("Stop it with Ctrl-C") {
            break;
        }
    }
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "scripts/serve said: {said}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (serve, url, said)
}

fn json(text: &str, what: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{what}: {e}: {text:?}"))
}

#[test]
fn the_readmes_curl_lines_work_as_written_against_scripts_serve() {
    let cmds = walkthrough();
    assert_eq!(
        cmds[0], "scripts/serve",
        "the walk-through starts the server: {cmds:?}"
    );
    let root = tempfile::Builder::new()
        .prefix("pulumi-auto-tutorial-")
        .tempdir()
        .unwrap();
    let data = root.path().join(".pulumi-auto-server");
    let log = root.path().join("serve.log");
    let (_serve, url, said) = start_serve(&data, &log);
    // What scripts/serve tells about: the token the README reads, and the custom API.
    assert!(
        said.contains(&format!(
            "export TOKEN=$(cat '{}/admin-token')",
            data.display()
        )),
        "{said}"
    );
    assert!(said.contains("/api/programs/burner/burn"), "{said}");
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let files_dir = root.path().join("files-dev");

    // One bash, as the reader's terminal: each command's output after a marker.
    let mut script = String::from("set -euo pipefail\n");
    for (i, c) in cmds.iter().enumerate().skip(1) {
        let c = c
            .replace("localhost:8000", addr)
            .replace("/tmp/files-dev", &files_dir.display().to_string());
        script.push_str(&format!("{c}\nprintf '\\n@@@ {i}\\n'\n"));
    }
    let out = Command::new("timeout")
        .args(["600", "bash", "-c", &script])
        .current_dir(root.path())
        .env_remove("TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "the walk-through failed: {}\n{stdout}\n{server_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each command's output.
    let mut outputs = vec![String::new(); cmds.len()];
    let mut rest = stdout.as_str();
    for (i, slot) in outputs.iter_mut().enumerate().skip(1) {
        let marker = format!("\n@@@ {i}\n");
        let (before, after) = rest
            .split_once(&marker)
            .unwrap_or_else(|| panic!("no output marker {i}: {stdout}"));
        *slot = before.to_owned();
        rest = after;
    }

    let mut seen = Vec::new();
    for (cmd, text) in cmds.iter().zip(&outputs).skip(1) {
        let what = format!("{cmd}\n→ {text}");
        let kind = if cmd.contains("/burn") && cmd.contains("\"message\"") {
            let v = json(text, &what);
            assert_eq!(v["outputs"]["message"]["value"], "hi", "{what}");
            assert_eq!(v["destroyed"], true, "{what}");
            "burn with config"
        } else if cmd.contains("/burn") {
            let v = json(text, &what);
            assert_eq!(v["destroyed"], true, "{what}");
            assert_eq!(v["summary"]["result"], "succeeded", "{what}");
            assert_eq!(
                v["outputs"]["message"]["value"], "hello from a burner stack",
                "{what}"
            );
            assert_eq!(v["outputs"]["token"]["value"], "[secret]", "{what}");
            let location = v["outputs"]["location"]["value"].as_str().unwrap();
            assert!(!Path::new(location).exists(), "the burn left {location}");
            "burn"
        } else if cmd.contains("-X PUT") {
            let v = json(text, &what);
            assert_eq!(
                v["configSet"],
                serde_json::json!(["dir", "token"]),
                "{what}"
            );
            "put"
        } else if cmd.contains("$UPDATE/events/stream") {
            assert!(text.contains("event: status"), "{what}");
            assert!(text.contains("\"status\":\"succeeded\""), "{what}");
            assert!(text.contains("event: resourcePreEvent"), "{what}");
            "update events"
        } else if cmd.contains("/updates/$UPDATE") {
            let v = json(text, &what);
            assert_eq!(v["status"], "succeeded", "{what}");
            assert_eq!(v["kind"], "update", "{what}");
            assert_eq!(v["outputs"]["token"]["value"], "[secret]", "{what}");
            "update"
        } else if cmd.contains("$DESTROY/events/stream") {
            assert!(text.contains("event: status"), "{what}");
            assert!(text.contains("\"status\":\"succeeded\""), "{what}");
            "destroy events"
        } else if cmd.ends_with("/api/programs/files/stacks") {
            let v = json(text, &what);
            assert_eq!(v["stacks"], serde_json::json!([]), "{what}");
            "stacks"
        } else {
            assert!(text.trim().is_empty(), "{what}");
            continue;
        };
        seen.push(kind);
    }
    assert_eq!(
        seen,
        [
            "burn",
            "burn with config",
            "put",
            "update events",
            "update",
            "destroy events",
            "stacks"
        ]
    );
    // The update made the files; the destroy removed them.
    assert!(
        std::fs::read_dir(&files_dir)
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "files left in {}",
        files_dir.display()
    );
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(!server_log.contains("s3cr3t"), "{server_log}");
    for want in [
        "info: Successfully initialized stack",
        "burn ended",
        "destroy confirmed",
    ] {
        assert!(
            server_log.contains(want),
            "no {want:?} in the log: {server_log}"
        );
    }
}
