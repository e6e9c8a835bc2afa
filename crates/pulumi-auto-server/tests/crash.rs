//! An acknowledged write is durable: the server SIGKILLed at 20 random moments of `up`s of
//! the `many` fixture, spread over a few trials (a new stack each, so every kill lands in an
//! up that is creating resources). After each kill the database opens again and still holds
//! everything it had acknowledged before it (the resources of the checkpoint, the engine
//! events of the running update); the interrupted `up` either rides the restarts out (the
//! CLI retries each call 4 times over about 7 s) or fails with a clear error naming the
//! server, which the last kill forces by keeping the server down until the CLI gives up; and
//! afterwards `pulumi cancel`
//! (when the update still holds the stack), a refresh that clears interrupted creates and a
//! new `up` converge with the files on disk.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Api, Cli, Server};
use rand::{Rng, SeedableRng};

/// Resources per trial: small, so a trial is quick and several trials share the kills.
const COUNT: usize = 12;
const KILLS: usize = 20;
/// The longest the CLI may keep running while the server is down after the last kill.
const OUTAGE: Duration = Duration::from_secs(120);

/// What the server has acknowledged for a stack: the resources of its state, and the engine
/// events stored for its latest update.
fn acknowledged(api: &Api, stack: &str) -> (usize, usize) {
    let base = format!("/api/stacks/organization/many/{stack}");
    let body = api.admin("GET", &format!("{base}/export"), None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let resources = v["deployment"]["resources"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    let s: serde_json::Value = serde_json::from_str(&api.admin("GET", &base, None)).unwrap();
    let Some(update) = s["activeUpdate"].as_str().filter(|u| !u.is_empty()) else {
        return (resources, 0);
    };
    let mut events = 0;
    let mut token = String::new();
    loop {
        let q = if token.is_empty() {
            String::new()
        } else {
            format!("?continuationToken={token}")
        };
        let page: serde_json::Value = serde_json::from_str(&api.admin(
            "GET",
            &format!("{base}/update/{update}/events{q}"),
            None,
        ))
        .unwrap();
        let n = page["events"].as_array().map(|a| a.len()).unwrap_or(0);
        events += n;
        match page["continuationToken"].as_str() {
            Some(t) if n > 0 => token = t.to_owned(),
            _ => break,
        }
    }
    (resources, events)
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// The CLI's messages when the server it talks to went away; an `up` that fails must say one.
const CLEAR_ERRORS: &[&str] = &[
    "connection refused",
    "connection reset",
    "EOF",
    "[409]",
    "[500]",
    "[503]",
    "update has been cancelled",
];

on_both_databases! {
#[test]
fn sigkill_during_up_loses_nothing_acknowledged() {
    let started = Instant::now();
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut server = Server::start();
    let cli = Cli::new(&server, "many");
    let mut kills = 0;
    let mut trial = 0;
    let (mut rode_out, mut failed) = (0, 0);
    let mut outage_trial = 0;
    while kills < KILLS {
        trial += 1;
        let stack = format!("t{trial}");
        let files = cli.files.join(&stack);
        cli.ok(&["stack", "init", &stack]);
        cli.ok(&["config", "set", "dir", &files.display().to_string()]);
        cli.ok(&["config", "set", "count", &COUNT.to_string()]);
        let mut up = cli
            .command(&["up", "--yes", "--skip-preview", "--stack", &stack])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The CLI prints an update's errors among its diagnostics on stdout, others on stderr.
        let readers = [
            read_all(up.stdout.take().unwrap()),
            read_all(up.stderr.take().unwrap()),
        ];
        let mut in_trial = 0;
        loop {
            std::thread::sleep(Duration::from_millis(rng.gen_range(150..900)));
            if up.try_wait().unwrap().is_some() || kills == KILLS {
                break;
            }
            let before = acknowledged(&Api::new(&server), &stack);
            kills += 1;
            in_trial += 1;
            if kills == KILLS {
                // The last outage lasts until the CLI gives up (it tries each call 4 times,
                // 1 + 2 + 4 s apart, and cannot complete the update without the server):
                // this up must fail, and say why.
                server.kill();
                let deadline = Instant::now() + OUTAGE;
                while up.try_wait().unwrap().is_none() {
                    assert!(
                        Instant::now() < deadline,
                        "the up still runs {OUTAGE:?} into the outage"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                outage_trial = trial;
            }
            server.kill_and_restart();
            // The database opened (the server is healthy again) with nothing lost.
            let after = acknowledged(&Api::new(&server), &stack);
            assert!(
                after.0 >= before.0 && after.1 >= before.1,
                "kill {kills}: (resources, events) {before:?} acknowledged, {after:?} after the restart"
            );
        }
        let status = up.wait().unwrap();
        let stderr = readers.map(|r| r.join().unwrap()).join("\n--- stderr:\n");
        assert!(
            !stderr.contains("panic") && !stderr.contains("goroutine"),
            "{stderr}"
        );
        assert!(
            trial != outage_trial || !status.success(),
            "trial {trial}: the up succeeded with the server down until it ended: {stderr}"
        );
        if status.success() {
            rode_out += 1;
        } else {
            failed += 1;
            assert!(
                CLEAR_ERRORS.iter().any(|e| stderr.contains(e)),
                "trial {trial}: the interrupted up failed without saying why: {stderr}"
            );
        }
        eprintln!(
            "trial {trial}: {in_trial} kills; the up {}",
            if status.success() {
                "rode them out".to_owned()
            } else {
                format!(
                    "failed: {}",
                    stderr
                        .lines()
                        .rev()
                        .find(|l| l.contains("error:"))
                        .unwrap_or("")
                )
            }
        );

        // Converge: cancel whatever still holds the stack, clear interrupted creates, up.
        let _ = cli.run(&["cancel", "--yes", "--stack", &stack]);
        cli.ok(&[
            "refresh",
            "--yes",
            "--clear-pending-creates",
            "--stack",
            &stack,
        ]);
        cli.ok(&["up", "--yes", "--skip-preview", "--stack", &stack]);
        let made = std::fs::read_dir(&files).unwrap().count();
        assert_eq!(made, COUNT, "trial {trial}: files on disk");
        // The stack, the dynamic provider, and the items.
        assert_eq!(
            acknowledged(&Api::new(&server), &stack).0,
            COUNT + 2,
            "trial {trial}"
        );
    }
    assert!(server.alive());
    eprintln!(
        "{kills} kills over {trial} trials ({rode_out} ups rode them out, {failed} failed) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
}
