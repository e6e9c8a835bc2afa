//! A script written against Pulumi Cloud's documented REST API (`tests/scripts/
//! rest_report.py`, Python's standard library only) runs unchanged against the server's
//! URL over what the real CLI wrote; the typed client reads the same.

mod common;
mod rest_common;

use std::process::Command;

use common::{ADMIN_TOKEN, Cli, Server, venv};
use futures_util::TryStreamExt;
use rest_common::{admin, block};
use serde_json::Value;

on_both_databases! {
#[test]
fn a_cloud_script_runs_unchanged_and_agrees_with_the_client() {
    let server = Server::start();
    let cli = Cli::new(&server, "files");
    cli.init_stack("dev");
    cli.ok(&["up", "--yes"]);
    let out = Command::new(venv().join("bin/python"))
        .arg(common::repo().join("crates/pulumi-auto-server/tests/scripts/rest_report.py"))
        .env("PULUMI_API", &server.url)
        .env("PULUMI_ACCESS_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["stacks"][0];
    assert_eq!(s["stack"], "organization/files/dev");
    assert_eq!(s["version"], 1);
    assert_eq!(s["updates"], 1);
    assert_eq!(s["latest"]["kind"], "update");
    assert_eq!(s["latest"]["result"], "succeeded");
    assert!(
        s["latest"]["summary"][0]["create"].as_i64().unwrap() >= 2,
        "{s}"
    );
    let days = report["resources"]["organization"].as_array().unwrap();
    assert_eq!(days.len(), 8, "7 days back and today");
    assert_eq!(
        days.last().unwrap()["resources"],
        s["resourceCount"],
        "{report}"
    );
    assert_eq!(days[0]["resources"], 0);

    // The typed client sees the same.
    let c = admin(&server);
    block(async {
        let stacks: Vec<_> = c.stacks(Default::default()).try_collect().await.unwrap();
        assert_eq!(stacks.len(), 1);
        let updates = c
            .list_updates("organization", "files", "dev", &Default::default())
            .await
            .unwrap();
        let events: Vec<Value> = c
            .update_events(
                "organization",
                "files",
                "dev",
                &updates.updates[0].update_id,
            )
            .try_collect()
            .await
            .unwrap();
        assert_eq!(events.len() as i64, s["latest"]["events"].as_i64().unwrap());
    });
    // Hourly looks back at most 2 days.
    let api = common::Api::new(&server);
    let (status, _) = api.call(
        "GET",
        "/api/orgs/organization/resources/summary?granularity=hourly&lookbackDays=3",
        &format!("token {ADMIN_TOKEN}"),
        None,
    );
    assert_eq!(status, 400);
    let hourly = server
        .get_json("/api/orgs/organization/resources/summary?granularity=hourly&lookbackDays=2");
    assert_eq!(hourly["summary"].as_array().unwrap().len(), 49);
}
}
