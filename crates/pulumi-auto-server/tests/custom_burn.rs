//! Burner endpoints against the real CLI: an ephemeral stack per request (up, outputs as
//! JSON, destroy and remove before the answer), 16 at once each with its own stack, and
//! nothing left behind when the client goes away or the server is killed.

mod common;
mod custom_support;

use std::time::Duration;

use custom_support::{Served, Value, eventually, json, names_in};

fn nothing_left(s: &Served, dir: &std::path::Path) {
    assert!(
        s.stack_names("burner").is_empty(),
        "{:?}",
        s.stack_names("burner")
    );
    assert!(names_in(dir).is_empty(), "{:?}", names_in(dir));
    assert!(names_in(&s.server.data.join("ephemeral-ledger")).is_empty());
    let settings: Vec<String> = names_in(&s.program_data("burner").join("burn"))
        .into_iter()
        .filter(|n| n.starts_with("Pulumi.") && n != "Pulumi.yaml")
        .collect();
    assert!(settings.is_empty(), "{settings:?}");
}

on_both_databases! {
#[test]
fn sixteen_concurrent_burns_each_their_own_stack() {
    // The server makes the program's virtualenv itself (`virtualenv: venv`), once.
    let s = Served::start(&["burner+install"]);
    assert!(s.program_data("burner").join("venv/bin/python").exists());
    assert!(s.log().contains("dependencies ready"));
    let dir = s.out.join("burns");
    let d = dir.display().to_string();
    let t = std::time::Instant::now();
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (s, d) = (&s, d.clone());
                scope.spawn(move || {
                    s.call(
                        "POST",
                        "/api/programs/burner/burn",
                        Some(json!({"config": {"dir": d, "message": format!("burn {i}")}})),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("16 concurrent burns: {:?}", t.elapsed());
    let mut stacks = Vec::new();
    for (i, (st, b)) in answers.iter().enumerate() {
        assert_eq!(*st, 200, "burn {i}: {b}");
        let v: Value = serde_json::from_str(b).unwrap();
        assert_eq!(v["outputs"]["message"]["value"], format!("burn {i}"), "{v}");
        assert_eq!(v["outputs"]["token"]["value"], "[secret]");
        let stack = v["stack"].as_str().unwrap().to_owned();
        assert!(stack.starts_with("burn-burner-"), "{stack}");
        assert_eq!(v["outputs"]["stack"]["value"], stack.as_str());
        assert!(
            v["outputs"]["location"]["value"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{stack}.txt"))
        );
        assert_eq!(v["destroyed"], true);
        stacks.push(stack);
    }
    stacks.sort();
    stacks.dedup();
    assert_eq!(stacks.len(), 16);
    nothing_left(&s, &dir);

    // The tutorial's GET, config in the query string.
    let v = s.expect(
        200,
        "GET",
        &format!("/api/programs/burner/burn?dir={d}&message=hi"),
        None,
    );
    assert_eq!(v["outputs"]["message"]["value"], "hi");
    let v = s.expect(
        200,
        "GET",
        &format!("/api/programs/burner/burn?dir={d}&showSecrets=true"),
        None,
    );
    assert_eq!(v["outputs"]["token"]["value"], "burner-token");
    nothing_left(&s, &dir);
    let log = s.log();
    assert!(
        log.contains("info: Successfully initialized stack"),
        "{log}"
    );
}
}

on_both_databases! {
#[test]
fn a_client_that_goes_away_or_a_killed_server_leaves_nothing() {
    let mut s = Served::start(&["burner"]);
    let dir = s.out.join("gone");
    let d = dir.display().to_string();
    // The client gives up after 2 s, while the create sleeps 6 s.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/api/programs/burner/burn", s.server.url))
        .header("Authorization", format!("token {}", common::ADMIN_TOKEN))
        .header("Content-Type", "application/json")
        .body(json!({"config": {"dir": d, "delay": "6"}}).to_string())
        .send();
    assert!(r.is_err(), "the burn answered within 2 s");
    eventually(120, "the abandoned burn's end", || {
        s.log().contains("burn ended")
    });
    let log = s.log();
    assert!(
        log.contains("status=cancelled"),
        "the burn was not cancelled: {log}"
    );
    nothing_left(&s, &dir);

    // The server killed (SIGKILL) mid-burn: the next start sweeps the stack.
    let url = s.server.url.clone();
    let burn = std::thread::spawn(move || {
        let _ = reqwest::blocking::Client::new()
            .post(format!("{url}/api/programs/burner/burn"))
            .header("Authorization", format!("token {}", common::ADMIN_TOKEN))
            .header("Content-Type", "application/json")
            .body(json!({"config": {"dir": d, "delay": "30"}}).to_string())
            .send();
    });
    eventually(120, "the burn's stack", || {
        !s.stack_names("burner").is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    s.server.kill_and_restart();
    let _ = burn.join();
    s.wait_ready();
    nothing_left(&s, &dir);
    let log = s.log();
    assert!(log.contains("swept the burns an earlier run left"), "{log}");
}
}
