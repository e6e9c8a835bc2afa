//! The custom API against the real CLI: programs served from `--program NAME=DIR`, stacks
//! created with config (a secret never logged, never returned unless an admin asks),
//! operations as jobs (202, Location, status, summary, outputs), one operation per stack
//! (409 with the running id), graceful cancel, and SIGTERM cancelling running operations.

mod common;
mod custom_support;

use std::time::{Duration, Instant};

use custom_support::{Served, Value, eventually, json, names_in};

const SECRET: &str = "custom-api-secret-value-42";

on_both_databases! {
#[test]
fn stacks_config_and_operations_as_jobs() {
    let s = Served::start(&["files"]);
    let progs = s.expect(200, "GET", "/api/programs", None);
    assert_eq!(progs["programs"][0]["name"], "files");
    assert_eq!(progs["programs"][0]["project"], "files");

    let dir = s.out.join("dev").display().to_string();
    let put = s.put_stack(
        "files",
        "dev",
        json!({"dir": dir, "token": {"value": SECRET, "secret": true}}),
    );
    assert_eq!(put["configSet"], json!(["dir", "token"]));
    // A second stack: its own directory, its own settings file.
    let qa_dir = s.out.join("qa").display().to_string();
    s.put_stack("files", "qa", json!({"dir": qa_dir}));
    let stacks = s.program_data("files").join("stacks");
    assert_eq!(names_in(&stacks), ["dev", "qa"]);
    let dev_yaml = std::fs::read_to_string(stacks.join("dev/Pulumi.dev.yaml")).unwrap();
    assert!(
        dev_yaml.contains("secure:") && !dev_yaml.contains(SECRET),
        "{dev_yaml}"
    );
    assert!(!stacks.join("dev/Pulumi.qa.yaml").exists());
    assert!(stacks.join("qa/Pulumi.qa.yaml").exists());
    assert_eq!(s.stack_names("files"), ["dev", "qa"]);

    // An update: 202, the id, a Location that answers its status.
    let r = s.send(
        &format!("token {}", common::ADMIN_TOKEN),
        "POST",
        "/api/programs/files/stacks/dev/update",
        Some(json!({"message": "from the custom API"})),
    );
    assert_eq!(r.status().as_u16(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = r.json().unwrap();
    let id = v["updateId"].as_str().unwrap().to_owned();
    assert_eq!(loc, format!("/api/programs/files/stacks/dev/updates/{id}"));
    let done = s.wait_update("files", "dev", &id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["kind"], "update");
    assert_eq!(done["summary"]["resourceChanges"]["create"], 3, "{done}");
    assert_eq!(done["outputs"]["token"]["value"], "[secret]", "{done}");
    assert_eq!(done["outputs"]["count"]["value"], 2);
    assert_eq!(names_in(&s.out.join("dev")), ["greeting.txt", "note.txt"]);
    assert!(names_in(&s.out.join("qa")).is_empty());

    // The stack: outputs masked, revealed for an admin who asks.
    let st = s.expect(200, "GET", "/api/programs/files/stacks/dev", None);
    assert_eq!(st["outputs"]["token"]["value"], "[secret]");
    assert_eq!(st["lastUpdate"]["id"], id.as_str());
    let shown = s.expect(
        200,
        "GET",
        "/api/programs/files/stacks/dev?showSecrets=true",
        None,
    );
    assert_eq!(shown["outputs"]["token"]["value"], SECRET);

    // Preview and refresh, each a job.
    let p = s.start_op("files", "dev", "preview");
    let pv = s.wait_update("files", "dev", &p);
    assert_eq!(pv["status"], "succeeded", "{pv}");
    assert_eq!(pv["summary"]["resourceChanges"]["same"], 3, "{pv}");
    let rf = s.start_op("files", "dev", "refresh");
    assert_eq!(s.wait_update("files", "dev", &rf)["status"], "succeeded");
    let hist = s.expect(200, "GET", "/api/programs/files/stacks/dev/updates", None);
    let kinds: Vec<&str> = hist["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refresh", "preview", "update", "config"]);

    // The stacks live on the server's own service backend: the service API sees them.
    let svc = s.server.get_json("/api/stacks/organization/files/dev");
    assert_eq!(svc["stackName"], "dev");

    // Bad input: 400 {code, message}, before anything runs.
    for (method, path, body) in [
        ("PUT", "/api/programs/files/stacks/-bad", json!({})),
        (
            "PUT",
            "/api/programs/files/stacks/dev",
            json!({"config": {"a:b:c": "x"}}),
        ),
        (
            "PUT",
            "/api/programs/files/stacks/dev",
            json!({"config": {"k": [1]}}),
        ),
        (
            "PUT",
            "/api/programs/files/stacks/dev",
            json!({"unknown": 1}),
        ),
        (
            "POST",
            "/api/programs/files/stacks/dev/update",
            json!({"message": 3}),
        ),
    ] {
        let (st, b) = s.call(method, path, Some(body));
        assert_eq!(st, 400, "{method} {path}: {b}");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["code"], 400);
        assert!(
            v["message"].as_str().unwrap().starts_with("Bad Request"),
            "{b}"
        );
    }
    let (st, _) = s.call(
        "POST",
        "/api/programs/nope/stacks/dev/update",
        Some(json!({})),
    );
    assert_eq!(st, 404);
    let (st, _) = s.call(
        "POST",
        "/api/programs/files/stacks/missing/update",
        Some(json!({})),
    );
    assert_eq!(st, 404);
    let (st, _) = s.call_as("token wrong-token-0123456789", "GET", "/api/programs", None);
    assert_eq!(st, 401);

    // The secret is in no log line and no answer.
    let log = s.log();
    assert!(log.contains("operation ended"), "{log}");
    assert!(!log.contains(SECRET), "the secret is in the server's log");
    let all = s.expect(
        200,
        "GET",
        &format!("/api/programs/files/stacks/dev/updates/{id}"),
        None,
    );
    assert!(!all.to_string().contains(SECRET));
}
}

fn slow_stack(s: &Served, stack: &str, count: u32, delay: u32) {
    let dir = s.out.join(stack).display().to_string();
    s.put_stack(
        "slow",
        stack,
        json!({"dir": dir, "count": count, "delay": delay}),
    );
}

/// Like `slow_stack`, with resource i's create taking `delay * (i + 1)` seconds: the
/// files appear one by one, so an action taken once the first exists lands while the
/// update still has steps in flight (with equal delays they all end at once, and the
/// update can end before the action).
fn staggered_stack(s: &Served, stack: &str, count: u32, delay: u32) {
    let dir = s.out.join(stack).display().to_string();
    s.put_stack(
        "slow",
        stack,
        json!({"dir": dir, "count": count, "delay": delay, "stagger": delay}),
    );
}

fn wait_file(dir: &std::path::Path, n: usize) {
    eventually(120, "the first resource's file", || {
        names_in(dir).len() >= n
    });
}

on_both_databases! {
#[test]
fn one_operation_per_stack_and_graceful_cancel() {
    let s = Served::start(&["slow"]);
    staggered_stack(&s, "busy", 2, 4);
    slow_stack(&s, "other", 1, 1);
    let first = s.start_op("slow", "busy", "update");
    // A second operation on the busy stack: 409, the documented message, the running id.
    let (st, b) = s.call(
        "POST",
        "/api/programs/slow/stacks/busy/refresh",
        Some(json!({})),
    );
    assert_eq!(st, 409, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["message"],
        "Conflict: Another update is currently in progress."
    );
    assert_eq!(v["updateId"], first.as_str());
    let (st, _) = s.call(
        "PUT",
        "/api/programs/slow/stacks/busy",
        Some(json!({"config": {"count": 3}})),
    );
    assert_eq!(st, 409);
    // Another stack is not held up.
    let other = s.start_op("slow", "other", "update");
    assert_eq!(
        s.wait_update("slow", "other", &other)["status"],
        "succeeded"
    );

    // Cancel once the first resource exists: SIGINT, the engine finishes the step in
    // flight and records it; the job is recorded as cancelled.
    wait_file(&s.out.join("busy"), 1);
    let c = s.expect(
        202,
        "POST",
        &format!("/api/programs/slow/stacks/busy/updates/{first}/cancel"),
        None,
    );
    assert_eq!(c["status"], "cancelling");
    let t = Instant::now();
    let done = s.wait_update("slow", "busy", &first);
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(t.elapsed() < Duration::from_secs(45), "{:?}", t.elapsed());
    let (st, _) = s.call(
        "POST",
        &format!("/api/programs/slow/stacks/busy/updates/{first}/cancel"),
        None,
    );
    assert_eq!(st, 409, "an ended update cannot be cancelled");
    // The stack is free again, and converges.
    let again = s.start_op("slow", "busy", "update");
    assert_eq!(s.wait_update("slow", "busy", &again)["status"], "succeeded");
    assert_eq!(names_in(&s.out.join("busy")), ["slow-0.txt", "slow-1.txt"]);
}
}

on_both_databases! {
#[test]
fn sigterm_cancels_running_operations_and_records_them() {
    let mut s = Served::start(&["slow"]);
    slow_stack(&s, "term", 3, 5);
    let id = s.start_op("slow", "term", "update");
    wait_file(&s.out.join("term"), 1);
    let child = s.server.child.as_mut().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    let log = s.log();
    assert!(log.contains("cancelling the running operations"), "{log}");
    // Restarted on the same data: the update is recorded as cancelled, the stack is free.
    s.server.kill_and_restart();
    s.wait_ready();
    let done = s.wait_update("slow", "term", &id);
    assert_eq!(done["status"], "cancelled", "{done}");
    let again = s.start_op("slow", "term", "update");
    assert_eq!(s.wait_update("slow", "term", &again)["status"], "succeeded");
    assert_eq!(names_in(&s.out.join("term")).len(), 3);
}
}

on_both_databases! {
#[test]
fn live_events_over_sse_resume_without_loss_or_duplicates() {
    use custom_support::SseStream;
    let s = Served::start(&["slow"]);
    slow_stack(&s, "live", 3, 3);
    let id = s.start_op("slow", "live", "update");
    let path = format!("/api/programs/slow/stacks/live/updates/{id}/events/stream");
    let mut first = SseStream::open(&s, &path, None);
    let mut seen: Vec<i64> = Vec::new();
    // The first resource event arrives while the update still runs.
    loop {
        let ev = first
            .next_event()
            .expect("the stream ended before a resource event");
        assert_ne!(
            ev.event, "status",
            "the update ended before any resource event"
        );
        seen.push(ev.id.unwrap());
        if ev.event == "resourcePreEvent" {
            let v: Value = serde_json::from_str(&ev.data).unwrap();
            assert!(v["resourcePreEvent"]["metadata"]["urn"].is_string(), "{v}");
            break;
        }
    }
    let now = s.expect(
        200,
        "GET",
        &format!("/api/programs/slow/stacks/live/updates/{id}"),
        None,
    );
    assert_eq!(
        now["status"], "running",
        "the first resource event came after the end"
    );
    // A few more, then the client goes away and comes back with Last-Event-ID.
    for _ in 0..2 {
        let ev = first.next_event().unwrap();
        if ev.event == "status" {
            break;
        }
        seen.push(ev.id.unwrap());
    }
    drop(first);
    std::thread::sleep(Duration::from_millis(1500));
    let mut resumed = SseStream::open(&s, &path, seen.last().copied());
    let status = loop {
        let ev = resumed
            .next_event()
            .expect("the stream ended without a status");
        if ev.event == "status" {
            break ev;
        }
        seen.push(ev.id.unwrap());
    };
    assert!(
        resumed.next_event().is_none(),
        "the stream goes on after its status"
    );
    let st: Value = serde_json::from_str(&status.data).unwrap();
    assert_eq!(st["status"], "succeeded", "{st}");
    // Each event exactly once, in order: 1..=n.
    let n = seen.len() as i64;
    assert_eq!(seen, (1..=n).collect::<Vec<_>>());
    assert!(n > 10, "{n}");
    // A late joiner gets the whole backlog, then the status.
    let mut late = SseStream::open(&s, &path, None);
    let mut all = Vec::new();
    let mut kinds = Vec::new();
    while let Some(ev) = late.next_event() {
        if ev.event == "status" {
            break;
        }
        all.push(ev.id.unwrap());
        kinds.push(ev.event);
    }
    assert_eq!(all, seen);
    assert_eq!(kinds.first().map(String::as_str), Some("preludeEvent"));
    // The engine's last event is its cancelEvent, after the summary.
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("cancelEvent"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "summaryEvent"), "{kinds:?}");
}
}

/// A member of the organization who is not an admin, with a token.
fn add_member(s: &Served, login: &str, token: &str) {
    let db = &s.server;
    let org = db.sql_text("SELECT id FROM organizations LIMIT 1");
    let uid = format!("user-{login}");
    db.sql(
        "INSERT INTO users (id, login, name, email, created) VALUES (?, ?, ?, '', 0)",
        &[&uid, login, login],
    );
    db.sql(
        "INSERT INTO org_members (org_id, user_id, role) VALUES (?, ?, 'member')",
        &[&org, &uid],
    );
    db.sql(
        "INSERT INTO tokens (id, user_id, hash, description, created, last_used) VALUES (?, ?, ?, 'test', 0, 0)",
        &[
            &format!("tok-{login}"),
            &uid,
            &pulumi_auto_server::crypto::token_hash(token),
        ],
    );
}

on_both_databases! {
#[test]
fn destroy_needs_a_fresh_plan_the_typed_name_and_an_admin() {
    let s = Served::start(&["files"]);
    let dir = s.out.join("prod").display().to_string();
    s.put_stack("files", "prod", json!({"dir": dir}));
    let up = s.start_op("files", "prod", "update");
    assert_eq!(s.wait_update("files", "prod", &up)["status"], "succeeded");
    let files = || names_in(&s.out.join("prod"));
    assert_eq!(files(), ["greeting.txt", "note.txt"]);
    let base = "/api/programs/files/stacks/prod";

    let plan = s.expect(200, "POST", &format!("{base}/destroy-preview"), None);
    let plan_id = plan["planId"].as_str().unwrap().to_owned();
    let deletions = plan["deletions"].as_array().unwrap();
    assert_eq!(deletions.len(), 3, "{plan}");

    // Refused, nothing touched: a wrong name, an unknown plan, a caller who is no admin.
    let (st, b) = s.call(
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prud"})),
    );
    assert_eq!(st, 400, "{b}");
    assert!(b.contains("confirm must be the stack's name"), "{b}");
    let (st, b) = s.call(
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": "no-such-plan", "confirm": "prod"})),
    );
    assert_eq!(st, 409, "{b}");
    add_member(&s, "member", "member-token-0123456789abcdef");
    let (st, b) = s.call_as(
        "token member-token-0123456789abcdef",
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prod"})),
    );
    // A member no team gives a permission on the stack: it does not exist for them
    // (tests/custom_authz.rs checks each permission).
    assert_eq!(st, 404, "{b}");
    let (st, _) = s.call_as(
        "token member-token-0123456789abcdef",
        "GET",
        &format!("{base}?showSecrets=true"),
        None,
    );
    assert_eq!(st, 404);
    assert_eq!(files(), ["greeting.txt", "note.txt"]);

    // A stale plan: the stack changed since the preview; the library refuses.
    s.put_stack("files", "prod", json!({"extra": "true"}));
    let up2 = s.start_op("files", "prod", "update");
    assert_eq!(s.wait_update("files", "prod", &up2)["status"], "succeeded");
    assert_eq!(files(), ["extra.txt", "greeting.txt", "note.txt"]);
    let v = s.expect(
        202,
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prod"})),
    );
    let d = s.wait_update("files", "prod", v["updateId"].as_str().unwrap());
    assert_eq!(d["status"], "refused", "{d}");
    assert!(d["error"].as_str().unwrap().contains("prod"), "{d}");
    assert_eq!(files(), ["extra.txt", "greeting.txt", "note.txt"]);
    // A plan is used once.
    let (st, _) = s.call(
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prod"})),
    );
    assert_eq!(st, 409);

    // Protected: refused without the override, then destroyed and removed with it.
    s.expect(200, "PUT", base, Some(json!({"protected": true})));
    let plan = s.expect(200, "POST", &format!("{base}/destroy-preview"), None);
    let plan_id = plan["planId"].as_str().unwrap().to_owned();
    let (st, b) = s.call(
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prod"})),
    );
    assert_eq!(st, 409, "{b}");
    assert!(b.contains("protected"), "{b}");
    assert_eq!(files().len(), 3);
    let plan = s.expect(200, "POST", &format!("{base}/destroy-preview"), None);
    let plan_id = plan["planId"].as_str().unwrap().to_owned();
    let v = s.expect(
        202,
        "POST",
        &format!("{base}/destroy"),
        Some(json!({"planId": plan_id, "confirm": "prod", "overrideProtection": true, "remove": true})),
    );
    let d = s.wait_update("files", "prod", v["updateId"].as_str().unwrap());
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["summary"]["resourceChanges"]["delete"], 4, "{d}");
    assert!(files().is_empty());
    assert!(s.stack_names("files").is_empty());
}
}

on_both_databases! {
#[test]
fn a_killed_server_marks_running_operations_failed_and_repairs_their_stacks() {
    let mut s = Served::start(&["slow"]);
    staggered_stack(&s, "crash", 3, 4);
    let id = s.start_op("slow", "crash", "update");
    wait_file(&s.out.join("crash"), 1);
    s.server.kill_and_restart();
    s.wait_ready();
    let done = s.wait_update("slow", "crash", &id);
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("the server stopped while the operation ran"),
        "{done}"
    );
    // The repair: at the restart on SQLite (one server per database); on PostgreSQL,
    // where the killed process's heartbeat must expire first, as a `repair` job after the
    // operation was failed, which holds the stack until it is done.
    eventually(180, "the stack repaired", || {
        s.log()
            .contains("repaired a stack an interrupted operation left")
    });
    // The stack is free (its lease released) and converges.
    let deadline = Instant::now() + Duration::from_secs(60);
    let again = loop {
        let (st, body) = s.call(
            "POST",
            "/api/programs/slow/stacks/crash/update",
            Some(json!({})),
        );
        if st == 202 {
            let v: Value = serde_json::from_str(&body).unwrap();
            break v["updateId"].as_str().unwrap().to_owned();
        }
        assert!(
            st == 409 && Instant::now() < deadline,
            "{st} {body}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let v = s.wait_update("slow", "crash", &again);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(names_in(&s.out.join("crash")).len(), 3);
}
}

on_both_databases! {
#[test]
fn thirty_two_operations_on_sixteen_stacks_one_at_a_time_each() {
    let s = Served::start(&["files"]);
    let names: Vec<String> = (0..16).map(|i| format!("s{i:02}")).collect();
    std::thread::scope(|scope| {
        for n in &names {
            let s = &s;
            scope.spawn(move || {
                let dir = s.out.join(n).display().to_string();
                s.put_stack(
                    "files",
                    n,
                    json!({"dir": dir, "greeting": format!("hi {n}")}),
                );
            });
        }
    });
    // Two updates of each stack at once: one runs, the other is a 409 naming it.
    let t = Instant::now();
    let answers: Vec<(String, u16, Value)> = std::thread::scope(|scope| {
        let hs: Vec<_> = names
            .iter()
            .flat_map(|n| [n, n])
            .map(|n| {
                let s = &s;
                scope.spawn(move || {
                    let (st, b) = s.call(
                        "POST",
                        &format!("/api/programs/files/stacks/{n}/update"),
                        Some(json!({})),
                    );
                    (
                        n.clone(),
                        st,
                        serde_json::from_str(&b).unwrap_or(Value::Null),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for n in &names {
        let mine: Vec<&(String, u16, Value)> = answers.iter().filter(|a| &a.0 == n).collect();
        let ok: Vec<_> = mine.iter().filter(|a| a.1 == 202).collect();
        let busy: Vec<_> = mine.iter().filter(|a| a.1 == 409).collect();
        assert_eq!((ok.len(), busy.len()), (1, 1), "{n}: {mine:?}");
        assert_eq!(busy[0].2["updateId"], ok[0].2["updateId"], "{n}");
    }
    for (n, st, v) in &answers {
        if *st == 202 {
            let d = s.wait_update("files", n, v["updateId"].as_str().unwrap());
            assert_eq!(d["status"], "succeeded", "{n}: {d}");
        }
    }
    eprintln!("16 concurrent updates: {:?}", t.elapsed());
    // Each stack's own files and settings, whole.
    for n in &names {
        assert_eq!(
            names_in(&s.out.join(n)),
            ["greeting.txt", "note.txt"],
            "{n}"
        );
        let g = std::fs::read_to_string(s.out.join(n).join("greeting.txt")).unwrap();
        assert_eq!(g, format!("hi {n}"));
        let yaml = std::fs::read_to_string(
            s.program_data("files")
                .join("stacks")
                .join(n)
                .join(format!("Pulumi.{n}.yaml")),
        )
        .unwrap();
        assert!(
            yaml.contains("files:dir") && yaml.contains("files:greeting"),
            "{n}: {yaml}"
        );
    }
}
}
