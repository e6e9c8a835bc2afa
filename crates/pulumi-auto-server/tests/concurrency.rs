//! One update per stack: two `pulumi up`s of one stack at once, one gets the CLI's
//! concurrent-update error (the 409 with Pulumi's exact text); ups of different stacks run
//! in parallel; `pulumi cancel` frees a stack at once.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Cli, Server};

fn running(server: &Server, stack: &str) -> bool {
    let s = server.get_json(&format!("/api/stacks/organization/slow/{stack}"));
    s.get("currentOperation").is_some()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn slow_stack(cli: &Cli, name: &str, delay: &str) {
    cli.init_stack(name);
    cli.ok(&["config", "set", "-s", name, "count", "1"]);
    cli.ok(&["config", "set", "-s", name, "delay", delay]);
}

on_both_databases! {
#[test]
fn one_update_per_stack_parallel_across_stacks_and_cancel() {
    let server = Server::start();
    let cli = Cli::new(&server, "slow");
    slow_stack(&cli, "a", "6");
    slow_stack(&cli, "b", "4");

    // Two ups of one stack: the second gets the 409 with Pulumi's text, the first succeeds.
    let first = cli
        .command(&["up", "--yes", "--skip-preview", "-s", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first up to hold stack a", || running(&server, "a"));
    let second = cli.fails(&["up", "--yes", "--skip-preview", "-s", "a"]);
    assert!(
        second.contains("[409] Conflict: Another update is currently in progress."),
        "{second}"
    );

    // Meanwhile an up of another stack runs alongside.
    let other = cli
        .command(&["up", "--yes", "--skip-preview", "-s", "b"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("both stacks to run at once", || {
        running(&server, "a") && running(&server, "b")
    });
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let other = other.wait_with_output().unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );

    // `pulumi cancel`: the running update ends as cancelled and the stack is free at once.
    cli.ok(&["config", "set", "-s", "a", "count", "2"]);
    let doomed = cli
        .command(&["up", "--yes", "--skip-preview", "-s", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the doomed up to hold stack a", || running(&server, "a"));
    let cancelled = cli.ok(&["cancel", "--yes", "-s", "a"]);
    assert!(cancelled.contains("cancel"), "{cancelled}");
    assert!(!running(&server, "a"), "cancel frees the stack at once");
    let doomed = doomed.wait_with_output().unwrap();
    assert!(!doomed.status.success(), "the cancelled update fails");
    let doomed_err = String::from_utf8_lossy(&doomed.stderr);
    assert!(doomed_err.contains("cancelled"), "{doomed_err}");
    let history: serde_json::Value =
        serde_json::from_str(&cli.ok(&["stack", "history", "-s", "a", "--json"])).unwrap();
    assert_eq!(history[0]["result"], "failed", "{history}");

    // A new up converges: the stack is whole again.
    cli.ok(&["config", "set", "-s", "a", "delay", "0"]);
    let again = cli.run(&["up", "--yes", "--skip-preview", "-s", "a"]);
    let again_out = String::from_utf8_lossy(&again.stdout);
    // A create interrupted by the cancel may be left pending; refresh clears it.
    if !again.status.success() {
        cli.ok(&["refresh", "--yes", "--clear-pending-creates", "-s", "a"]);
        cli.ok(&["up", "--yes", "--skip-preview", "-s", "a"]);
    } else {
        assert!(
            again_out.contains("created") || again_out.contains("unchanged"),
            "{again_out}"
        );
    }
    let state: serde_json::Value =
        serde_json::from_str(&cli.ok(&["stack", "export", "-s", "a"])).unwrap();
    // Stack, provider, two items.
    assert_eq!(
        state["deployment"]["resources"].as_array().unwrap().len(),
        4,
        "{state}"
    );
}
}

on_both_databases! {
#[test]
fn a_killed_cli_holds_the_stack_until_its_lease_expires() {
    use std::os::unix::process::CommandExt;
    let server = Server::start_with("info", &["--lease-secs", "10"]);
    let cli = Cli::new(&server, "slow");
    slow_stack(&cli, "a", "30");
    let mut doomed = cli
        .command(&["up", "--yes", "--skip-preview", "-s", "a"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    wait_until("the up to hold stack a", || running(&server, "a"));
    // The CLI and everything it started die at once, with the lease held.
    let pgid = nix::unistd::Pid::from_raw(-(doomed.id() as i32));
    nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = doomed.wait();
    let killed_at = Instant::now();
    cli.ok(&["config", "set", "-s", "a", "delay", "0"]);
    let refused = cli.fails(&["up", "--yes", "--skip-preview", "-s", "a"]);
    assert!(
        refused.contains("[409] Conflict: Another update is currently in progress."),
        "{refused}"
    );
    // Once the lease has expired, the stack is free again; the dead update failed.
    wait_until("the lease to expire", || !running(&server, "a"));
    assert!(
        killed_at.elapsed() < Duration::from_secs(30),
        "the lease lasts 10 s"
    );
    cli.ok(&["refresh", "--yes", "--clear-pending-creates", "-s", "a"]);
    cli.ok(&["up", "--yes", "--skip-preview", "-s", "a"]);
    let history: serde_json::Value =
        serde_json::from_str(&cli.ok(&["stack", "history", "-s", "a", "--json"])).unwrap();
    let results: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["succeeded", "succeeded", "failed"], "{history}");
    assert_eq!(cli.file_names().len(), 1);
}
}

on_both_databases! {
#[test]
fn racing_starts_of_one_stack_leave_one_running_winner() {
    // Many updates of one stack started at the same instant: exactly one takes the stack,
    // the others get the CLI's 409, and the winner still holds the stack afterwards (it can
    // complete). On PostgreSQL a start that waited for the winner's row once re-checked
    // the holder on a stale snapshot, took the stack as well and failed the winner.
    let server = Server::start();
    let api = common::Api::new(&server);
    api.create_stack("race");
    let admin = format!("token {}", common::ADMIN_TOKEN);
    let stack = "/api/stacks/organization/proj/race";
    let program = r#"{"name":"proj","runtime":"python","main":"","description":"","options":{},"config":{},"metadata":{"message":"m","environment":{}}}"#;
    for round in 0..8 {
        let ids: Vec<String> = (0..8)
            .map(|_| {
                let b = api.admin("POST", &format!("{stack}/update"), Some(program));
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                v["updateID"].as_str().unwrap().to_owned()
            })
            .collect();
        let barrier = std::sync::Barrier::new(ids.len());
        let answers: Vec<(String, u16, String)> = std::thread::scope(|s| {
            let hs: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (barrier, api, admin) = (&barrier, &api, &admin);
                    s.spawn(move || {
                        barrier.wait();
                        let (st, b) = api.call(
                            "POST",
                            &format!("{stack}/update/{id}"),
                            admin,
                            Some(r#"{"tags":{"pulumi:project":"proj"}}"#),
                        );
                        (id.clone(), st, b)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&(String, u16, String)> =
            answers.iter().filter(|(_, st, _)| *st == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:#?}");
        for (_, st, b) in &answers {
            if *st != 200 {
                assert_eq!(*st, 409, "round {round}: {b}");
                assert!(b.contains("Another update is currently in progress."), "{b}");
            }
        }
        let (id, _, b) = winners[0];
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        let token = v["token"].as_str().unwrap();
        let (st, b) = api.call(
            "POST",
            &format!("{stack}/update/{id}/complete"),
            &format!("update-token {token}"),
            Some(r#"{"status":"succeeded"}"#),
        );
        assert_eq!(st, 200, "round {round}: the winner could not complete: {b}");
    }
    let v = server.get_json(&format!("{stack}/updates"));
    let results: Vec<&str> = v["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["info"]["result"].as_str())
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "succeeded").count(),
        8,
        "{v}"
    );
    assert!(!results.contains(&"failed"), "{v}");
}
}
