//! The queue of the custom API's operations: an update, preview or refresh is recorded
//! `queued` and run by whichever replica claims it.
//! - On one real PostgreSQL, a replica started with `--max-jobs 0` takes requests but runs
//!   none: its updates run on the other replica, their events and end are read through the
//!   first, and a cancel sent to the first stops the update running on the second; a burn
//!   asked of the first is run by the second and answered by the first, its secret config
//!   and secret output sealed in the database.
//! - On one server (both databases), a queued operation nobody claims holds its stack (a
//!   second one is the 409 naming it), and its cancel ends it at once, freeing the stack.
//! - On one real PostgreSQL, a destroy previewed through one replica is confirmed through
//!   another that runs nothing (`--max-jobs 0`): the confirmed destroy is queued and run by
//!   the first; its plan is taken once, and an expired plan destroys nothing.

mod common;
mod custom_support;
mod scale_support;

use std::path::Path;
use std::time::Duration;

use custom_support::{Served, names_in};
use scale_support::{
    Replica, Value, fresh_database, json, program_args, put_slow, query, wait_status,
};

#[test]
fn a_replica_without_room_leaves_its_requests_to_another_and_cancels_through_the_database() {
    let db = fresh_database("queue");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let args = program_args(root.path(), &["slow", "burner"], 3);
    let mut front_args = args.clone();
    front_args.extend(["--max-jobs".to_owned(), "0".to_owned()]);
    let front = Replica::start(root.path(), "front", &db, &front_args);
    let worker = Replica::start(root.path(), "worker", &db, &args);
    front.wait_ready();
    worker.wait_ready();

    // An update asked of the front runs on the worker; the front reports it.
    let dir = put_slow(&front, &out, "q1", 2, 1);
    let v = front.expect(
        202,
        "POST",
        "/api/programs/slow/stacks/q1/update",
        Some(json!({})),
    );
    assert_eq!(v["status"], "queued", "{v}");
    let id = v["updateId"].as_str().unwrap().to_owned();
    let end = wait_status(&front, "q1", &id, 180, |s| s != "queued" && s != "running");
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(names_in(Path::new(&dir)).len(), 2, "{dir}");
    let claimer = query(
        &db,
        &format!("SELECT claimed_by FROM program_jobs WHERE id = '{id}'"),
    );
    assert_eq!(claimer, vec![vec![Some(worker.id.clone())]], "{claimer:?}");
    assert!(
        worker.log().contains("claimed a queued operation"),
        "{}",
        worker.log()
    );
    assert!(
        !front.log().contains("claimed a queued operation"),
        "{}",
        front.log()
    );
    // Its events, read through the front, are all there, in order.
    let (st, text) = front.call(
        "GET",
        &format!("/api/programs/slow/stacks/q1/updates/{id}/events/stream"),
        None,
    );
    assert_eq!(st, 200, "{text}");
    let ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|s| s.trim().parse().unwrap())
        .collect();
    assert!(ids.len() > 4, "{text}");
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "{text}");
    assert!(text.contains("event: resOutputsEvent"), "{text}");

    // A burn asked of the front runs on the worker; the front answers with its outputs.
    let secret = "burn-secret-5f1c93a0";
    let bdir = out.join("burns");
    let v = front.expect(
        200,
        "POST",
        "/api/programs/burner/burn?showSecrets=true",
        Some(json!({"config": {
            "dir": bdir.display().to_string(),
            "message": "queued burn",
            "token": {"value": secret, "secret": true},
        }})),
    );
    assert_eq!(v["outputs"]["message"]["value"], "queued burn", "{v}");
    assert_eq!(v["outputs"]["token"]["value"], secret, "{v}");
    assert_eq!(v["destroyed"], true, "{v}");
    assert!(names_in(&bdir).is_empty(), "{bdir:?}");
    let rows = query(
        &db,
        "SELECT claimed_by, status, request, answer, outputs FROM program_jobs WHERE kind = 'burn'",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], Some(worker.id.clone()), "{rows:?}");
    assert_eq!(rows[0][1].as_deref(), Some("succeeded"), "{rows:?}");
    assert!(rows[0][2].is_some() && rows[0][3].is_some(), "{rows:?}");
    for cell in rows[0].iter().flatten() {
        assert!(!cell.contains(secret), "a secret in the database: {cell}");
    }
    for r in [&front, &worker] {
        assert!(!r.log().contains(secret), "a secret in a log");
    }

    // A cancel sent to the front stops the update the worker runs.
    put_slow(&front, &out, "q2", 3, 30);
    let v = front.expect(
        202,
        "POST",
        "/api/programs/slow/stacks/q2/update",
        Some(json!({})),
    );
    let id = v["updateId"].as_str().unwrap().to_owned();
    wait_status(&front, "q2", &id, 120, |s| s == "running");
    std::thread::sleep(Duration::from_secs(2));
    let c = front.expect(
        202,
        "POST",
        &format!("/api/programs/slow/stacks/q2/updates/{id}/cancel"),
        None,
    );
    assert_eq!(c["status"], "cancelling", "{c}");
    let end = wait_status(&front, "q2", &id, 120, |s| s != "queued" && s != "running");
    assert_eq!(end["status"], "cancelled", "{end}");
    assert!(
        worker.log().contains("as asked through another replica"),
        "{}",
        worker.log()
    );
    // The stack is free again, for the next operation.
    let (st, body) = front.call(
        "POST",
        "/api/programs/slow/stacks/q2/refresh",
        Some(json!({})),
    );
    assert_eq!(st, 202, "{body}");
}

#[test]
fn a_destroy_previewed_on_one_replica_is_confirmed_on_another() {
    let db = fresh_database("plans");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let args = program_args(root.path(), &["slow"], 3);
    let mut front_args = args.clone();
    front_args.extend(["--max-jobs".to_owned(), "0".to_owned()]);
    let a = Replica::start(root.path(), "a", &db, &args);
    let b = Replica::start(root.path(), "b", &db, &front_args);
    a.wait_ready();
    b.wait_ready();
    let dir = put_slow(&a, &out, "d1", 2, 0);
    let v = a.expect(
        202,
        "POST",
        "/api/programs/slow/stacks/d1/update",
        Some(json!({})),
    );
    let id = v["updateId"].as_str().unwrap().to_owned();
    let end = wait_status(&a, "d1", &id, 180, |s| s != "queued" && s != "running");
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(names_in(Path::new(&dir)).len(), 2, "{dir}");

    let preview = |r: &Replica| {
        let v = r.expect(
            200,
            "POST",
            "/api/programs/slow/stacks/d1/destroy-preview",
            None,
        );
        assert!(
            v["deletions"].as_array().is_some_and(|d| d.len() >= 2),
            "{v}"
        );
        v["planId"].as_str().unwrap().to_owned()
    };
    let confirm = |r: &Replica, plan: &str| {
        r.call(
            "POST",
            "/api/programs/slow/stacks/d1/destroy",
            Some(json!({"planId": plan, "confirm": "d1"})),
        )
    };
    let plan = preview(&a);
    // An expired plan (made over 15 minutes ago) is refused; nothing is destroyed.
    let old = preview(&a);
    let aged = query(
        &db,
        &format!("UPDATE destroy_plans SET made = made - 901 WHERE id = '{old}' RETURNING id"),
    );
    assert_eq!(aged.len(), 1, "{aged:?}");
    let (st, body) = confirm(&b, &old);
    assert_eq!(st, 409, "{body}");
    assert!(body.contains("unknown or expired planId"), "{body}");
    assert_eq!(names_in(Path::new(&dir)).len(), 2, "{dir}");

    // The plan made through A, confirmed through B: queued there, run by A (B runs
    // nothing), its end read through B.
    let (st, body) = confirm(&b, &plan);
    assert_eq!(st, 202, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "queued", "{v}");
    let id = v["updateId"].as_str().unwrap().to_owned();
    let end = wait_status(&b, "d1", &id, 180, |s| s != "queued" && s != "running");
    assert_eq!(end["status"], "succeeded", "{end}");
    assert!(names_in(Path::new(&dir)).is_empty(), "{dir}");
    let claimer = query(
        &db,
        &format!("SELECT claimed_by FROM program_jobs WHERE id = '{id}'"),
    );
    assert_eq!(claimer, vec![vec![Some(a.id.clone())]], "{claimer:?}");
    // Taken once: the same plan id through either replica is refused.
    for r in [&a, &b] {
        let (st, body) = confirm(r, &plan);
        assert_eq!(st, 409, "{body}");
    }
}

on_both_databases! {
    #[test]
    fn a_queued_operation_holds_its_stack_until_it_is_cancelled() {
        let s = Served::start_with(&["slow"], &["--max-jobs", "0"]);
        let dir = s.out.join("q");
        s.put_stack(
            "slow",
            "q",
            json!({"dir": dir.display().to_string(), "count": 1, "delay": 0}),
        );
        let v = s.expect(202, "POST", "/api/programs/slow/stacks/q/update", Some(json!({})));
        assert_eq!(v["status"], "queued", "{v}");
        let id = v["updateId"].as_str().unwrap().to_owned();
        // Nobody runs it: it stays queued and holds the stack.
        std::thread::sleep(Duration::from_secs(2));
        let path = format!("/api/programs/slow/stacks/q/updates/{id}");
        assert_eq!(s.expect(200, "GET", &path, None)["status"], "queued");
        let (st, body) = s.call("POST", "/api/programs/slow/stacks/q/preview", Some(json!({})));
        assert_eq!(st, 409, "{body}");
        let busy: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(busy["updateId"], id.as_str(), "{body}");
        // Its cancel ends it at once; the stack is free; nothing ran.
        let c = s.expect(202, "POST", &format!("{path}/cancel"), None);
        assert_eq!(c["status"], "cancelled", "{c}");
        let v = s.expect(200, "GET", &path, None);
        assert_eq!(v["status"], "cancelled", "{v}");
        let (st, body) = s.call("POST", &format!("{path}/cancel"), None);
        assert_eq!(st, 409, "{body}");
        let (st, body) = s.call("POST", "/api/programs/slow/stacks/q/preview", Some(json!({})));
        assert_eq!(st, 202, "{body}");
        assert!(!dir.exists() || names_in(&dir).is_empty(), "{dir:?}");
    }
}
