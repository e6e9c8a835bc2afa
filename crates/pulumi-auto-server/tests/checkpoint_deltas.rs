//! Checkpoint deltas (the CLI's `checkpointdelta` uploads past its 64 KiB cutoff) are
//! stored as one small row per step: what the server writes for a step does not grow with
//! the size of the checkpoint (a whole-text rewrite per step made an `up` write bytes in
//! the square of its resource count), the state read back is the exact text the steps
//! built, a restart in the middle rebuilds the base from the database, and completing the
//! update folds the steps into its checkpoint.
//!
//! Most of the CLI's delta edits rewrite a long span with a few bytes changed; the server
//! stores each edit trimmed to what it changes, which the tests' "wide" edits check.
//!
//! These drive the protocol directly (the same calls the CLI makes, with its body shapes),
//! so the checkpoint sizes can be chosen; `crash.rs` and `cli_lifecycle.rs` run the real CLI
//! through deltas.

mod common;

use common::{Api, Server};
use sha2::{Digest, Sha256};

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn resource(i: usize, pad: usize) -> String {
    serde_json::json!({
        "urn": format!("urn:pulumi:s::proj::test:index:Thing::r{i}"),
        "custom": true, "type": "test:index:Thing", "id": format!("id{i}"),
        "outputs": {"pad": "x".repeat(pad)},
    })
    .to_string()
}

/// A checkpoint text as the CLI keeps it, with resources appended one step at a time.
struct State {
    resources: Vec<String>,
}

const HEAD: &str = r#"{"version":3,"deployment":{"manifest":{"time":"2024-01-01T00:00:00Z","magic":"","version":""},"resources":["#;
const TAIL: &str = "]}}";

impl State {
    fn text(&self) -> String {
        format!("{HEAD}{}{TAIL}", self.resources.join(","))
    }

    /// Adds a resource; the edit (span and new text) that turns the old text into the new:
    /// the insertion alone, or (`wide`) the whole resource list replaced by itself and the
    /// new one, the shape of many of the CLI's own edits (a long span rewritten with a few
    /// bytes changed).
    fn push(&mut self, r: String, wide: bool) -> (usize, usize, String) {
        let end = self.text().len() - TAIL.len();
        let start = if wide { HEAD.len() } else { end };
        let mut new = if wide {
            self.resources.join(",")
        } else {
            String::new()
        };
        if !self.resources.is_empty() {
            new.push(',');
        }
        new.push_str(&r);
        self.resources.push(r);
        (start, end, new)
    }
}

fn delta_body(seq: i64, (start, end, new): (usize, usize, &str), hash: &str) -> String {
    let start = serde_json::json!({"offset": start, "line": 0, "column": 0});
    let end = serde_json::json!({"offset": end, "line": 0, "column": 0});
    serde_json::json!({
        "version": 3,
        "checkpointHash": hash,
        "sequenceNumber": seq,
        "deploymentDelta": [{"Span": {"uri": "", "start": start, "end": end}, "NewText": new}],
    })
    .to_string()
}

fn verbatim_body(seq: i64, text: &str) -> String {
    format!(r#"{{"version":3,"untypedDeployment":{text},"sequenceNumber":{seq}}}"#)
}

/// Bytes the server process has passed to write() so far (`wchar` of /proc/PID/io).
fn written(server: &Server) -> u64 {
    let pid = server.child.as_ref().unwrap().id();
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

struct Update<'a> {
    api: &'a Api<'a>,
    path: String,
    lease: String,
    seq: i64,
    state: State,
    /// Whether steps send wide edits (see [`State::push`]).
    wide: bool,
}

impl Update<'_> {
    fn patch(&self, what: &str, body: &str) -> (u16, String) {
        self.api.call(
            "PATCH",
            &format!("{}/{what}", self.path),
            &format!("update-token {}", self.lease),
            Some(body),
        )
    }

    fn verbatim(&mut self) {
        self.seq += 1;
        let (s, b) = self.patch(
            "checkpointverbatim",
            &verbatim_body(self.seq, &self.state.text()),
        );
        assert_eq!(s, 200, "verbatim: {b}");
    }

    fn delta(&mut self, r: String) {
        self.seq += 1;
        let (start, end, new) = self.state.push(r, self.wide);
        let hash = hex_sha256(&self.state.text());
        let (s, b) = self.patch(
            "checkpointdelta",
            &delta_body(self.seq, (start, end, &new), &hash),
        );
        assert_eq!(s, 200, "delta {}: {b}", self.seq);
    }
}

fn start<'a>(api: &'a Api<'a>, stack: &str, wide: bool) -> Update<'a> {
    api.create_stack(stack);
    let (id, lease) = api.start_update(stack);
    Update {
        api,
        path: format!("/api/stacks/organization/proj/{stack}/update/{id}"),
        lease,
        seq: 0,
        state: State { resources: vec![] },
        wide,
    }
}

fn export(api: &Api, stack: &str) -> serde_json::Value {
    let b = api.admin(
        "GET",
        &format!("/api/stacks/organization/proj/{stack}/export"),
        None,
    );
    serde_json::from_str(&b).unwrap()
}

/// Bytes written for `steps` delta steps on a checkpoint of about `base_bytes`.
fn bytes_per_steps(server: &Server, stack: &str, base_bytes: usize, steps: usize) -> u64 {
    let api = Api::new(server);
    // Wide edits, as the CLI sends most of them: stored as sent they cost the whole list.
    let mut u = start(&api, stack, true);
    let per = 300;
    for i in 0..base_bytes / per {
        u.state.resources.push(resource(i, per - 120));
    }
    u.verbatim();
    // One step first, so the measured ones all run on the same footing.
    u.delta(resource(1_000_000, 100));
    let before = written(server);
    for i in 0..steps {
        u.delta(resource(2_000_000 + i, 100));
    }
    let spent = written(server) - before;
    let want: serde_json::Value = serde_json::from_str(&u.state.text()).unwrap();
    assert_eq!(export(&api, stack), want, "the state read back");
    spent
}

on_both_databases! {
#[test]
fn a_delta_step_writes_the_same_on_a_small_and_a_large_checkpoint() {
    let server = Server::start_with("warn", &[]);
    let steps = 40;
    let small = bytes_per_steps(&server, "small", 64 * 1024, steps);
    let large = bytes_per_steps(&server, "large", 1024 * 1024, steps);
    eprintln!(
        "{steps} delta steps wrote {small} bytes on a 64 KiB checkpoint, {large} on a 1 MiB one"
    );
    // A rewrite of the whole text per step writes 16 times as much on the larger one.
    assert!(
        large < 2 * small + 256 * 1024,
        "{steps} steps wrote {small} bytes on a 64 KiB checkpoint but {large} on a 1 MiB one"
    );
    // And far less than the text itself per step.
    assert!(
        (large / steps as u64) < 128 * 1024,
        "{} bytes per step",
        large / steps as u64
    );
}
}

on_both_databases! {
#[test]
fn deltas_survive_a_restart_and_fold_into_the_checkpoint_at_completion() {
    let mut server = Server::start_with("warn", &[]);
    let (path, lease, mut state, mut seq) = {
        let api = Api::new(&server);
        let mut u = start(&api, "dev", false);
        for i in 0..250 {
            u.state.resources.push(resource(i, 200));
        }
        u.verbatim();
        for i in 250..300 {
            u.delta(resource(i, 200));
        }
        let want: serde_json::Value = serde_json::from_str(&u.state.text()).unwrap();
        assert_eq!(export(&api, "dev"), want);
        (u.path, u.lease, u.state, u.seq)
    };
    // Killed: the in-memory base is gone; every acknowledged step is in the database.
    server.kill_and_restart();
    let api = Api::new(&server);
    let want: serde_json::Value = serde_json::from_str(&state.text()).unwrap();
    assert_eq!(export(&api, "dev"), want, "after the restart");
    // A retry of the last step (its answer lost in the crash) is accepted as done.
    let last = state.resources.len() - 1;
    let mut before = State {
        resources: state.resources[..last].to_vec(),
    };
    let (start, end, new) = before.push(state.resources[last].clone(), false);
    let (s, b) = api.call(
        "PATCH",
        &format!("{path}/checkpointdelta"),
        &format!("update-token {lease}"),
        Some(&delta_body(
            seq,
            (start, end, &new),
            &hex_sha256(&state.text()),
        )),
    );
    assert_eq!(s, 200, "retried step: {b}");
    let mut u = Update {
        api: &api,
        path,
        lease,
        seq,
        state: State { resources: vec![] },
        wide: true,
    };
    std::mem::swap(&mut u.state, &mut state);
    for i in 300..320 {
        u.delta(resource(i, 200));
    }
    // A step that does not rebuild the hash given is refused (the CLI then sends the whole
    // state), and leaves nothing behind.
    let (s, _) = u.patch(
        "checkpointdelta",
        &delta_body(u.seq + 1, (10, 10, "garbage"), &hex_sha256("nope")),
    );
    assert_eq!(s, 400);
    let (s, b) = api.call(
        "POST",
        &format!("{}/complete", u.path),
        &format!("update-token {}", u.lease),
        Some(r#"{"status":"succeeded"}"#),
    );
    assert_eq!(s, 200, "complete: {b}");
    seq = u.seq;
    let want: serde_json::Value = serde_json::from_str(&u.state.text()).unwrap();
    assert_eq!(export(&api, "dev"), want, "after completion ({seq} steps)");
    // The history counts the resources of the folded state.
    let latest = api.admin(
        "GET",
        "/api/stacks/organization/proj/dev/updates/latest",
        None,
    );
    let latest: serde_json::Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(latest["resourceCount"], 320, "{latest}");
    // Folded: the same state after another restart, with nothing left to replay.
    drop(api);
    server.kill_and_restart();
    assert_eq!(export(&Api::new(&server), "dev"), want);
}
}

on_both_databases! {
#[test]
fn steps_that_change_much_are_folded_into_the_checkpoint_as_they_come() {
    // Each step rewrites one resource's 5 KB value (as the CLI's re-encrypted secrets do):
    // the stored steps outgrow the 20 KB state every few steps and are folded into the
    // checkpoint row; the state read back stays exact, also after a restart.
    let mut server = Server::start_with("warn", &[]);
    let (path, lease, state, seq) = {
        let api = Api::new(&server);
        let mut u = start(&api, "dev", false);
        for i in 0..4 {
            u.state.resources.push(resource(i, 5000));
        }
        u.verbatim();
        for step in 0..30 {
            u.seq += 1;
            let old = u.state.text();
            let i = step % 4;
            let value = format!("{step:05}").repeat(1000);
            u.state.resources[i] = serde_json::json!({
                "urn": format!("urn:pulumi:s::proj::test:index:Thing::r{i}"),
                "custom": true, "type": "test:index:Thing", "id": format!("id{i}"),
                "outputs": {"pad": value},
            })
            .to_string();
            let new = u.state.text();
            let hash = hex_sha256(&new);
            let (s, b) = u.patch(
                "checkpointdelta",
                &delta_body(
                    u.seq,
                    (
                        HEAD.len(),
                        old.len() - TAIL.len(),
                        &new[HEAD.len()..new.len() - TAIL.len()],
                    ),
                    &hash,
                ),
            );
            assert_eq!(s, 200, "step {step}: {b}");
        }
        let want: serde_json::Value = serde_json::from_str(&u.state.text()).unwrap();
        assert_eq!(export(&api, "dev"), want);
        (u.path, u.lease, u.state, u.seq)
    };
    server.kill_and_restart();
    let api = Api::new(&server);
    let want: serde_json::Value = serde_json::from_str(&state.text()).unwrap();
    assert_eq!(export(&api, "dev"), want, "after the restart");
    let mut u = Update {
        api: &api,
        path,
        lease,
        seq,
        state,
        wide: false,
    };
    u.delta(resource(99, 100));
    let (s, b) = api.call(
        "POST",
        &format!("{}/complete", u.path),
        &format!("update-token {}", u.lease),
        Some(r#"{"status":"succeeded"}"#),
    );
    assert_eq!(s, 200, "complete: {b}");
    let want: serde_json::Value = serde_json::from_str(&u.state.text()).unwrap();
    assert_eq!(export(&api, "dev"), want, "after completion");
}
}
