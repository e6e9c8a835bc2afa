//! Three replicas of the server on one real PostgreSQL database, each on its own port with
//! its own data directory, serving the same program:
//! - 24 custom API updates sent at once, round-robin over the replicas, on 8 stacks: per
//!   stack exactly one runs (the others are 409s naming it), every one is recorded, and its
//!   events, read live over SSE from another replica than the one running it and resumed
//!   with `Last-Event-ID` on a third, are complete and in order; each webhook event is
//!   delivered once.
//! - A replica SIGKILLed at a random moment of an update, 10 times: a survivor fails its
//!   job with the reason within the heartbeat timeout and repairs the stack; every stack
//!   takes a new update afterwards; no acknowledged job is lost.
//! - A replica SIGKILLed during a burn: a survivor fails the burn and tears down its
//!   ephemeral stack (resources and stack gone) without waiting for a restart.
//! - The replica holding a burn's client SIGKILLed while another runs the burn: the runner
//!   cancels it (nobody is left to answer) and tears its stack down.

mod common;
mod custom_support;
mod scale_support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use scale_support::{
    Replica, Sse, SseEvent, Value, eventually, fresh_database, job, json, program_args, put_slow,
    query, wait_status,
};

/// The two tests each run three replicas and many CLIs: one at a time on two cores.
static HEAVY: Mutex<()> = Mutex::new(());

/// The heartbeat timeout of these tests' replicas, in seconds.
const HEARTBEAT: u32 = 3;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Starts `n` replicas at once and waits until each has prepared its programs (if any).
fn replicas(root: &Path, db: &str, args: &[String], n: usize) -> Vec<Replica> {
    let rs: Vec<Replica> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|i| s.spawn(move || Replica::start(root, &format!("r{i}"), db, args)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    if args.iter().any(|a| a == "--program") {
        for r in &rs {
            r.wait_ready();
        }
    }
    rs
}

fn wait_end(r: &Replica, stack: &str, id: &str, secs: u64) -> Value {
    wait_status(r, stack, id, secs, |s| s != "queued" && s != "running")
}

fn start_update(r: &Replica, stack: &str) -> (u16, Value) {
    let (st, body) = r.call(
        "POST",
        &format!("/api/programs/slow/stacks/{stack}/update"),
        Some(json!({})),
    );
    (st, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The deliveries a receiver got: each one's kind and body.
type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// A loopback webhook receiver that records each delivery's kind and body.
fn receiver() -> (String, Got) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            let kind = headers
                .get("pulumi-webhook-kind")
                .cloned()
                .unwrap_or_default();
            g.lock()
                .unwrap()
                .push((kind, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
    });
    (url, got)
}

#[test]
fn concurrent_updates_across_replicas_run_one_per_stack_with_live_events_and_webhooks_once() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("updates");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let args = program_args(root.path(), &["slow"], HEARTBEAT);
    let rs = replicas(root.path(), &db, &args, 3);
    let (hook_url, got) = receiver();
    rs[0].expect(
        201,
        "POST",
        "/api/orgs/organization/hooks",
        Some(
            json!({"organizationName": "organization", "displayName": "scale",
                    "payloadUrl": hook_url, "active": true}),
        ),
    );
    let stacks: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    // Each stack configured through one replica, updated through others: its settings
    // travel in the database.
    std::thread::scope(|s| {
        for (i, st) in stacks.iter().enumerate() {
            let (r, out) = (&rs[i % 3], &out);
            s.spawn(move || put_slow(r, out, st, 1, 2));
        }
    });

    // 24 requests at once: request k on stack k % 8 through replica k % 3.
    let barrier = Barrier::new(24);
    let answers: Vec<(usize, usize, u16, Value)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..24)
            .map(|k| {
                let (rs, stacks, barrier) = (&rs, &stacks, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let (st, v) = start_update(&rs[k % 3], &stacks[k % 8]);
                    (k % 8, k % 3, st, v)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut accepted: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    for (stack, replica, st, v) in &answers {
        if *st == 202 {
            let id = v["updateId"].as_str().unwrap().to_owned();
            assert!(
                accepted.insert(*stack, (*replica, id)).is_none(),
                "two updates accepted on stack s{stack}: {answers:?}"
            );
        }
    }
    assert_eq!(accepted.len(), 8, "one update per stack: {answers:?}");
    for (stack, _, st, v) in &answers {
        if *st != 202 {
            assert_eq!(*st, 409, "{v}");
            assert_eq!(
                v["updateId"].as_str(),
                Some(accepted[stack].1.as_str()),
                "a 409 names the running update: {v}"
            );
        }
    }

    // A fourth replica starting now (its start's sweep and its own internal token) leaves
    // the running jobs of the live replicas alone.
    let late = Replica::start(root.path(), "r3", &db, &args);
    late.wait_ready();
    assert!(!late.log().contains("failed the job"), "{}", late.log());

    // Each job's events from the replica after the one running it, live; after three
    // events the stream is dropped and resumed on the third replica.
    let streams: Vec<(usize, String, i64, Vec<SseEvent>)> = std::thread::scope(|s| {
        let hs: Vec<_> = accepted
            .iter()
            .map(|(stack, (runner, id))| {
                let rs = &rs;
                s.spawn(move || {
                    let path =
                        format!("/api/programs/slow/stacks/s{stack}/updates/{id}/events/stream");
                    let mut first = Sse::open_at(&rs[(runner + 1) % 3].url, &path, None);
                    let mut seen = Vec::new();
                    let mut first_at = 0;
                    while seen.len() < 3 {
                        let e = first.next_event().expect("the stream ended early");
                        if seen.is_empty() {
                            first_at = now_ms();
                        }
                        let status = e.event == "status";
                        seen.push(e);
                        if status {
                            break;
                        }
                    }
                    drop(first);
                    let last = seen.iter().rev().find_map(|e| e.id);
                    let mut resumed = Sse::open_at(&rs[(runner + 2) % 3].url, &path, last);
                    seen.extend(resumed.rest());
                    (*stack, id.clone(), first_at, seen)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for (stack, id, first_at, events) in &streams {
        let j = wait_end(&rs[0], &format!("s{stack}"), id, 240);
        assert_eq!(j["status"], "succeeded", "{j}");
        // Live: the first event reached another replica's client before the job ended.
        let ended = j["ended"].as_i64().unwrap();
        assert!(
            *first_at <= ended,
            "the first event came {} ms after the end",
            first_at - ended
        );
        // Complete and in order: ids 1..=N, as recorded, then the final status.
        let (status, engine) = events.split_last().unwrap();
        assert_eq!(status.event, "status", "{status:?}");
        let v: Value = serde_json::from_str(&status.data).unwrap();
        assert_eq!(v["status"], "succeeded");
        let ids: Vec<i64> = engine.iter().map(|e| e.id.unwrap()).collect();
        assert_eq!(
            ids,
            (1..=engine.len() as i64).collect::<Vec<_>>(),
            "{events:?}"
        );
        let stored = query(
            &db,
            &format!("SELECT kind FROM program_job_events WHERE job_id = '{id}' ORDER BY seq"),
        );
        let kinds: Vec<String> = engine.iter().map(|e| e.event.clone()).collect();
        let stored: Vec<String> = stored.into_iter().map(|r| r[0].clone().unwrap()).collect();
        assert_eq!(kinds, stored);
        assert!(kinds.iter().any(|k| k == "summaryEvent"), "{kinds:?}");
    }

    // Every update recorded, on every replica alike, and in the service's history.
    for r in &rs {
        for (stack, (_, id)) in &accepted {
            let v = r.expect(
                200,
                "GET",
                &format!("/api/programs/slow/stacks/s{stack}/updates"),
                None,
            );
            assert!(v.to_string().contains(id.as_str()), "{v}");
        }
    }
    let service = query(
        &db,
        "SELECT s.name, u.status FROM updates u JOIN stacks s ON s.id = u.stack_id \
         WHERE u.kind = 'update' ORDER BY s.name",
    );
    assert_eq!(service.len(), 8, "{service:?}");
    assert!(
        service.iter().all(|r| r[1].as_deref() == Some("succeeded")),
        "{service:?}"
    );

    // Webhooks: each event delivered once, by whichever replica claimed it.
    eventually(30, "every webhook delivered", || {
        let g = got.lock().unwrap();
        g.iter().filter(|(k, _)| k == "stack_update").count() >= 8
            && query(&db, "SELECT id FROM webhook_outbox").is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    let g = got.lock().unwrap().clone();
    let mut per_update: BTreeMap<String, usize> = BTreeMap::new();
    for (k, v) in &g {
        if k == "stack_update" {
            *per_update
                .entry(v["updateId"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(per_update.len(), 8, "{g:?}");
    assert!(per_update.values().all(|n| *n == 1), "{per_update:?}");
    let created = g
        .iter()
        .filter(|(k, v)| k == "stack" && v["action"] == "created")
        .count();
    assert_eq!(created, 8, "{g:?}");
    // The claims were spread: deliveries were logged by more than one replica? Not
    // required; what is required is that none was sent twice (above).
}

#[test]
fn a_killed_replicas_jobs_are_failed_and_repaired_by_the_survivors() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("kill");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let args = program_args(root.path(), &["slow"], HEARTBEAT);
    let mut rs: Vec<Option<Replica>> = replicas(root.path(), &db, &args, 3)
        .into_iter()
        .map(Some)
        .collect();
    let stacks: Vec<String> = (0..4).map(|i| format!("k{i}")).collect();
    let mut rng = rand::thread_rng();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut killed_mid_run = 0;
    let mut replacements: Vec<Option<std::thread::JoinHandle<Replica>>> = vec![None, None, None];
    for round in 0..10 {
        let victim = round % 3;
        if let Some(h) = replacements[victim].take() {
            rs[victim] = Some(h.join().unwrap());
        }
        let stack = &stacks[round % 4];
        // Another live replica (waiting for a replacement when none is up yet).
        let other = loop {
            if let Some(i) = (0..3).find(|i| *i != victim && rs[*i].is_some()) {
                break i;
            }
            let i = (0..3)
                .find(|i| *i != victim && replacements[*i].is_some())
                .unwrap();
            rs[i] = Some(replacements[i].take().unwrap().join().unwrap());
        };
        // A new resource for this round (configured through another replica).
        let count = 1 + (round / 4 + 1) as u32;
        let dir = out.join(stack).display().to_string();
        let (o, v) = (rs[other].as_ref().unwrap(), rs[victim].as_ref().unwrap());
        let mut id = String::new();
        eventually(120, "the stack taking an update", || {
            let (st, body) = o.call(
                "PUT",
                &format!("/api/programs/slow/stacks/{stack}"),
                Some(json!({"config": {"dir": dir, "count": count, "delay": 2}})),
            );
            if st == 409 {
                return false; // its repair still runs
            }
            assert_eq!(st, 200, "{body}");
            let (st, body) = start_update(v, stack);
            if st == 202 {
                id = body["updateId"].as_str().unwrap().to_owned();
                return true;
            }
            assert_eq!(st, 409, "{body}");
            false
        });
        acknowledged.push((stack.clone(), id.clone()));
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..4000)));
        let mut dead = rs[victim].take().unwrap();
        dead.kill();
        let killed_at = Instant::now();
        let survivor = rs[other].as_ref().unwrap();
        let end = wait_end(survivor, stack, &id, 60);
        match end["status"].as_str() {
            Some("failed") => {
                killed_mid_run += 1;
                let waited = killed_at.elapsed();
                assert!(
                    waited <= Duration::from_secs(u64::from(HEARTBEAT) * 2 + 1),
                    "failed {waited:?} after the kill"
                );
                let why = end["error"].as_str().unwrap_or("");
                assert!(why.contains("stopped heart-beating"), "{end}");
            }
            Some("succeeded") => {}
            other => panic!("job {id} ended {other:?}: {end}\n{}", dead.log()),
        }
        // A replacement (a new process, a new replica id) joins in the background.
        let (root, db, args) = (root.path().to_path_buf(), db.clone(), args.clone());
        let name = format!("r{}", round + 3);
        replacements[victim] = Some(std::thread::spawn(move || {
            let r = Replica::start(&root, &name, &db, &args);
            r.wait_ready();
            r
        }));
    }
    for (i, h) in replacements.iter_mut().enumerate() {
        if let Some(h) = h.take() {
            rs[i] = Some(h.join().unwrap());
        }
    }
    let rs: Vec<Replica> = rs.into_iter().map(Option::unwrap).collect();
    assert!(
        killed_mid_run >= 5,
        "only {killed_mid_run} of 10 kills hit a running update"
    );

    // Every repair ends, and succeeds.
    eventually(180, "every repair ended", || {
        query(
            &db,
            "SELECT id FROM program_jobs WHERE status IN ('queued', 'running')",
        )
        .is_empty()
    });
    // Each failed job's stack was repaired after it; a repair fails only when its own
    // replica was killed (and is then repaired again).
    let failed = query(
        &db,
        "SELECT program || '/' || stack, ended::text FROM program_jobs \
         WHERE status = 'failed' AND kind <> 'repair'",
    );
    assert_eq!(failed.len(), killed_mid_run, "{failed:?}");
    let repairs = query(
        &db,
        "SELECT program || '/' || stack, started::text, status, error FROM program_jobs \
         WHERE kind = 'repair'",
    );
    for f in &failed {
        let ended: i64 = f[1].as_deref().unwrap().parse().unwrap();
        assert!(
            repairs.iter().any(|r| r[0] == f[0]
                && r[1].as_deref().unwrap().parse::<i64>().unwrap() >= ended
                && r[2].as_deref() == Some("succeeded")),
            "no repair of {f:?}: {repairs:?}"
        );
    }
    for r in &repairs {
        assert!(
            r[2].as_deref() == Some("succeeded")
                || r[3]
                    .as_deref()
                    .unwrap_or("")
                    .contains("stopped heart-beating"),
            "{r:?}"
        );
    }
    // Nothing acknowledged is lost: each job is recorded with a final status.
    for (stack, id) in &acknowledged {
        let v = job(&rs[0], stack, id);
        assert!(
            matches!(v["status"].as_str(), Some("failed" | "succeeded")),
            "{v}"
        );
    }
    // No stack is left locked: each takes an update at once, through any replica.
    let finals: Vec<(String, String)> = stacks
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let (code, v) = start_update(&rs[i % 3], st);
            assert_eq!(code, 202, "{st}: {v}\n{}", rs[i % 3].log());
            (st.clone(), v["updateId"].as_str().unwrap().to_owned())
        })
        .collect();
    for (i, (st, id)) in finals.iter().enumerate() {
        let v = wait_end(&rs[(i + 1) % 3], st, id, 240);
        assert_eq!(v["status"], "succeeded", "{v}\n{}", rs[i % 3].log());
    }
    // The stacks' resources are those of their last configuration.
    for (i, st) in stacks.iter().enumerate() {
        let rounds = (0..10).filter(|r| r % 4 == i).count() as u32;
        let files = std::fs::read_dir(out.join(st))
            .map(|d| d.count())
            .unwrap_or(0) as u32;
        assert_eq!(files, 1 + rounds, "stack {st}");
    }
}

/// A burn of `slow` asked of the replica at `url`, on a thread of its own: its status, or
/// the error of a request its replica never answered.
fn burn_in_background(url: String, body: Value) -> std::thread::JoinHandle<reqwest::Result<u16>> {
    std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(format!("{url}/api/programs/slow/burn"))
            .header("Authorization", format!("token {}", common::ADMIN_TOKEN))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .map(|r| r.status().as_u16())
    })
}

#[test]
fn a_killed_replicas_burn_is_torn_down_by_a_survivor() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("burnkill");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out").join("burn");
    let args = program_args(root.path(), &["slow"], HEARTBEAT);
    // B runs no operations of its own (`--max-jobs 0`): the burn is A's.
    let mut b_args = args.clone();
    b_args.extend(["--max-jobs".to_owned(), "0".to_owned()]);
    let mut a = Replica::start(root.path(), "a", &db, &args);
    let b = Replica::start(root.path(), "b", &db, &b_args);
    a.wait_ready();
    b.wait_ready();
    // A burn on A: its first file at once, the second four seconds later.
    let (url, body) = (
        a.url.clone(),
        json!({"config": {"dir": dir.display().to_string(), "count": 2, "delay": 0, "stagger": 4}}),
    );
    let burn = burn_in_background(url, body);
    let burn_stacks = || {
        query(
            &db,
            "SELECT s.name FROM stacks s WHERE s.name LIKE 'burn-slow-%'",
        )
    };
    let mut name = String::new();
    eventually(180, "the burn's stack", || {
        name = burn_stacks()
            .first()
            .and_then(|r| r[0].clone())
            .unwrap_or_default();
        !name.is_empty()
    });
    // A is killed once the first file is in the stack's state (read through B): that
    // resource is known, the second is in flight.
    let export = format!("/api/stacks/organization/slow/{name}/export");
    eventually(120, "the first file in the burn's state", || {
        let (st, text) = b.call("GET", &export, None);
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        st == 200
            && v["deployment"]["resources"].as_array().is_some_and(|rs| {
                rs.iter().any(|r| {
                    r["outputs"]["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("slow-0.txt"))
                })
            })
    });
    a.kill();
    let killed_at = Instant::now();
    assert!(
        burn.join().unwrap().is_err(),
        "the burn answered despite the kill"
    );
    let first = dir.join("slow-0.txt");
    assert!(first.exists());

    // B fails the burn within the heartbeat timeout, then tears its stack down.
    eventually(60, "the burn failed by the survivor", || {
        let rows = query(
            &db,
            "SELECT status, error FROM program_jobs WHERE kind = 'burn'",
        );
        rows.len() == 1 && rows[0][0].as_deref() == Some("failed")
    });
    assert!(killed_at.elapsed() <= Duration::from_secs(u64::from(HEARTBEAT) * 2 + 2));
    let why = query(&db, "SELECT error FROM program_jobs WHERE kind = 'burn'");
    assert!(
        why[0][0]
            .as_deref()
            .unwrap_or("")
            .contains("stopped heart-beating"),
        "{why:?}"
    );
    eventually(120, "the burn's stack removed", || burn_stacks().is_empty());
    // What the state knew is destroyed. (The second file, if A's CLI, told of its
    // driver's death, finished creating it, was never recorded: its backend was gone.)
    eventually(30, "the burn's first file deleted", || !first.exists());
    // (Logged once the janitor's run returns, just after the removal.)
    eventually(30, "the teardown in B's log", || {
        b.log()
            .contains("tore down the burns of a replica that stopped heart-beating")
    });
}

#[test]
fn a_burn_whose_clients_replica_died_is_cancelled_and_torn_down() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("burnorphan");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out").join("burn");
    let args = program_args(root.path(), &["slow"], HEARTBEAT);
    // A takes the request and runs nothing (`--max-jobs 0`): B runs the burn.
    let mut a_args = args.clone();
    a_args.extend(["--max-jobs".to_owned(), "0".to_owned()]);
    let mut a = Replica::start(root.path(), "a", &db, &a_args);
    let b = Replica::start(root.path(), "b", &db, &args);
    a.wait_ready();
    b.wait_ready();
    // Its first file at once, the second 30 seconds later: it would run well past the kill.
    let (url, body) = (
        a.url.clone(),
        json!({"config": {"dir": dir.display().to_string(), "count": 2, "delay": 0, "stagger": 30}}),
    );
    let burn = burn_in_background(url, body);
    let first = dir.join("slow-0.txt");
    eventually(180, "the burn's first file", || first.exists());
    let claimed = query(
        &db,
        "SELECT claimed_by, waiter, status FROM program_jobs WHERE kind = 'burn'",
    );
    assert_eq!(
        claimed,
        vec![vec![
            Some(b.id.clone()),
            Some(a.id.clone()),
            Some("running".to_owned())
        ]],
        "{claimed:?}"
    );
    // The replica holding the client's request dies: nobody is left to answer.
    let killed_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    a.kill();
    assert!(
        burn.join().unwrap().is_err(),
        "the burn answered despite the kill"
    );
    eventually(60, "the burn to end", || {
        let rows = query(&db, "SELECT status FROM program_jobs WHERE kind = 'burn'");
        rows.len() == 1 && !matches!(rows[0][0].as_deref(), Some("running" | "queued"))
    });
    let end = query(&db, "SELECT status FROM program_jobs WHERE kind = 'burn'");
    assert_eq!(
        end[0][0].as_deref(),
        Some("cancelled"),
        "{end:?}\n{}",
        b.log()
    );
    // Asked for within the heartbeat timeout and a few intervals (the graceful cancel then
    // lets the create in flight finish before the teardown).
    let asked = query(
        &db,
        "SELECT CAST(cancel_requested AS TEXT) FROM program_jobs WHERE kind = 'burn'",
    );
    let asked: i64 = asked[0][0].as_deref().unwrap_or("0").parse().unwrap();
    assert!(
        (0..15_000).contains(&(asked - killed_ms)),
        "cancel asked {} ms after the kill",
        asked - killed_ms
    );
    assert!(
        b.log()
            .contains("cancelled a job whose client's replica stopped heart-beating")
    );
    // B's cancelled run tore its ephemeral stack down: no stack, no file left.
    eventually(120, "the burn's stack removed", || {
        query(&db, "SELECT name FROM stacks WHERE name LIKE 'burn-slow-%'").is_empty()
    });
    assert!(!first.exists());
    assert!(!dir.join("slow-1.txt").exists());
}

#[test]
fn a_paused_replica_loses_its_job_to_the_survivors_and_cancels_it_when_it_resumes() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("pause");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let args = program_args(root.path(), &["slow"], HEARTBEAT);
    let rs = replicas(root.path(), &db, &args, 2);
    put_slow(&rs[1], &out, "p0", 3, 3);
    let (st, v) = start_update(&rs[0], "p0");
    assert_eq!(st, 202, "{v}");
    let id = v["updateId"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(1500));
    // Paused, not killed: its process (and its CLI) live on, its heartbeat stops.
    let pid = Pid::from_raw(rs[0].child.as_ref().unwrap().id() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    let resumed = std::cell::Cell::new(false);
    let resume = || {
        if !resumed.replace(true) {
            let _ = kill(pid, Signal::SIGCONT);
        }
    };
    let end = wait_end(&rs[1], "p0", &id, u64::from(HEARTBEAT) * 3);
    if end["status"] != "failed" {
        resume();
        panic!("{end}");
    }
    assert!(
        end["error"]
            .as_str()
            .unwrap()
            .contains("stopped heart-beating"),
        "{end}"
    );
    // Repaired by the survivor, which then runs the stack's next update.
    eventually(120, "the repair", || {
        let r = query(
            &db,
            "SELECT status FROM program_jobs WHERE kind = 'repair' AND stack = 'p0'",
        );
        r.len() == 1 && r[0][0].as_deref() != Some("running")
    });
    let (st, v) = start_update(&rs[1], "p0");
    assert_eq!(st, 202, "{v}");
    let next = v["updateId"].as_str().unwrap().to_owned();
    resume();
    // Back, it finds it was taken for dead and cancels what it still ran.
    eventually(30, "the resumed replica fencing itself", || {
        rs[0].log().contains("no heartbeat for the whole timeout")
    });
    eventually(120, "the resumed replica's operation ending", || {
        rs[0].log().contains(&format!("operation ended job={id}"))
    });
    let v = wait_end(&rs[1], "p0", &next, 240);
    assert_eq!(v["status"], "succeeded", "{v}\n{}", rs[1].log());
    // The record of the lost job stays the survivors'.
    let old = job(&rs[0], "p0", &id);
    assert_eq!(old["status"], "failed", "{old}");
    assert!(
        old["error"]
            .as_str()
            .unwrap()
            .contains("stopped heart-beating"),
        "{old}"
    );
    // And the resumed replica serves the stack again.
    let (st, v) = start_update(&rs[0], "p0");
    assert_eq!(st, 202, "{v}");
    let v = wait_end(&rs[0], "p0", v["updateId"].as_str().unwrap(), 240);
    assert_eq!(v["status"], "succeeded", "{v}\n{}", rs[0].log());
    let files = std::fs::read_dir(out.join("p0"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 3);
}

#[test]
fn two_pulumi_ups_through_different_replicas_get_one_lease() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let db = fresh_database("lease");
    let root = tempfile::tempdir().unwrap();
    let rs = replicas(root.path(), &db, &[], 3);
    // One CLI per replica, each with the stack's config in its own program copy.
    let clis: Vec<common::Cli> = rs
        .iter()
        .map(|r| scale_support::cli_at(&r.url, "slow"))
        .collect();
    let out = root.path().join("files");
    clis[0].ok(&["stack", "init", "organization/slow/c"]);
    for c in &clis {
        for (k, v) in [
            ("dir", out.display().to_string()),
            ("count", "1".into()),
            ("delay", "5".into()),
        ] {
            c.ok(&["config", "set", "-s", "organization/slow/c", k, &v]);
        }
    }
    for round in 0..2 {
        let barrier = Barrier::new(clis.len());
        let outs: Vec<std::process::Output> = std::thread::scope(|s| {
            let hs: Vec<_> = clis
                .iter()
                .map(|c| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        let msg = format!("round {round}");
                        c.run(&[
                            "up",
                            "--yes",
                            "--skip-preview",
                            "-s",
                            "organization/slow/c",
                            "-m",
                            &msg,
                        ])
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = outs.iter().filter(|o| o.status.success()).count();
        let text: Vec<String> = outs
            .iter()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .collect();
        assert_eq!(won, 1, "round {round}: {text:#?}");
        for (o, t) in outs.iter().zip(&text) {
            if !o.status.success() {
                assert!(
                    t.contains("[409] Conflict: Another update is currently in progress."),
                    "{t}"
                );
            }
        }
        // Each change to the resource's delay makes the next round an update again.
        for c in &clis {
            c.ok(&[
                "config",
                "set",
                "-s",
                "organization/slow/c",
                "delay",
                &format!("{}", 6 + round),
            ]);
        }
    }
    // The history, read through any replica: one update per round succeeded, none runs.
    for r in &rs {
        let v = r.expect(200, "GET", "/api/stacks/organization/slow/c/updates", None);
        let ups: Vec<&Value> = v["updates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["info"]["kind"] == "update")
            .collect();
        let ok = ups
            .iter()
            .filter(|u| u["info"]["result"] == "succeeded")
            .count();
        assert_eq!(ok, 2, "{v}");
        assert!(
            !ups.iter().any(|u| u["info"]["result"] == "in-progress"),
            "{v}"
        );
    }
}
