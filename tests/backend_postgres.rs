//! The PostgreSQL state backend (`postgres://…`) on a real server: the crate passes the
//! backend through to the real CLI, two workspaces in different directories share one
//! stack's state through it, and the password in the URL shows nowhere (argv, `Debug`,
//! error messages, command output).
//!
//! The server's URL comes from `PULUMI_AUTO_TEST_POSTGRES_URL`, which `scripts/test` sets
//! from `scripts/start-postgres` (it installs, initialises and starts a local server as
//! needed). Without it these tests fail: they never skip.

mod common;

use std::time::Instant;

use common::{CountingCli, TestEnv};
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{DestroyApproval, LocalWorkspace, Secret};

/// The test server's URL; a clear failure when there is none.
fn server_url() -> String {
    match std::env::var("PULUMI_AUTO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "PULUMI_AUTO_TEST_POSTGRES_URL is not set: these tests need a real PostgreSQL \
             server. Run them with scripts/test, which starts one with scripts/start-postgres \
             (and installs it when CI=true or PULUMI_AUTO_INSTALL_POSTGRES=1)"
        ),
    }
}

/// The password of `postgres://user:password@host…`; the test URL must carry one, or the
/// checks that it never leaks would check nothing.
fn password_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let password = authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_default();
    assert!(
        password.len() >= 8,
        "PULUMI_AUTO_TEST_POSTGRES_URL must carry a password of 8 or more characters \
         (postgres://user:password@host:port/db)"
    );
    password
}

/// The server's URL with a table of its own: the backend keeps its state in the table the
/// `table` parameter names, so tests (and runs) never see each other's stacks.
fn url_with_own_table(url: &str, test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("pulumi_auto_test_{test}_{}_{nanos}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}table={table}")
}

/// A workspace on `env`'s program copy, PULUMI_HOME and passphrase, with the postgres
/// backend and the recording CLI wrapper.
async fn postgres_workspace(env: &TestEnv, url: &str, cli: &CountingCli) -> LocalWorkspace {
    let cmd = cli.command().await;
    let url = url.to_owned();
    env.workspace_with(move |b| b.backend_url(url).pulumi_command(cmd))
        .await
}

fn assert_hidden(password: &str, what: &str, text: &str) {
    assert!(
        !text.contains(password),
        "the backend password shows in {what}: {text}"
    );
}

/// No recorded command line carries the password, or the URL at all: it travels in the
/// environment (PULUMI_BACKEND_URL).
fn assert_argv_clean(cli: &CountingCli, password: &str) {
    let lines = cli.lines();
    assert!(!lines.is_empty(), "the wrapper recorded no process");
    for line in &lines {
        assert_hidden(password, "a command line", line);
        assert!(
            !line.contains("postgres://"),
            "a URL on a command line: {line}"
        );
    }
}

#[tokio::test]
async fn two_workspaces_share_a_stack_through_postgres() {
    let server = server_url();
    let password = password_of(&server);
    let url = url_with_own_table(&server, "share");
    let t0 = Instant::now();

    // The first machine: its own program copy, PULUMI_HOME and recorded CLI.
    let env = TestEnv::new("files").await;
    let cli = CountingCli::new(env.root.path()).await;
    let ws = postgres_workspace(&env, &url, &cli).await;
    assert_eq!(ws.backend_url(), Some(url.as_str()));
    assert_hidden(&password, "the workspace's Debug", &format!("{ws:?}"));

    let stack = ws.create_stack("dev").await.unwrap();
    assert_hidden(&password, "the stack's Debug", &format!("{stack:?}"));
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("greeting", "from postgres".to_owned()),
        ])
        .await
        .unwrap();
    stack
        .set_config("token", Secret::new("tok-shared-through-postgres"))
        .await
        .unwrap();
    let t_setup = t0.elapsed();

    let t = Instant::now();
    let up = stack.up(UpOptions::default()).await.unwrap();
    let t_up = t.elapsed();
    assert_eq!(up.summary.result, "succeeded");
    assert_eq!(up.summary.resource_changes.get("create"), Some(&3));
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    assert_eq!(
        env.read_file("greeting.txt").as_deref(),
        Some("from postgres")
    );
    assert_eq!(up.outputs["count"].value, serde_json::json!(2));
    assert_eq!(
        up.outputs["token"].value,
        serde_json::json!("tok-shared-through-postgres")
    );
    assert!(up.outputs["token"].secret);
    assert_hidden(&password, "up's stdout", &up.stdout);
    assert_hidden(&password, "up's stderr", &up.stderr);

    // The state is in the database, not in a file backend.
    assert!(
        !env.state.join(".pulumi").exists(),
        "state was written to the file backend {}",
        env.state.display()
    );
    let stacks = ws.list_stacks().await.unwrap();
    let dev = stacks.iter().find(|s| s.name == "dev");
    assert!(dev.is_some(), "{stacks:?}");
    // The stack, two files and the dynamic provider.
    assert_eq!(dev.unwrap().resource_count, Some(4), "{stacks:?}");

    // A wrong stack name: the error names the stack, not the password.
    let err = ws.select_stack("nope").await.unwrap_err();
    assert!(
        matches!(err, pulumi_auto::Error::StackNotFound { .. }),
        "{err:?}"
    );
    assert_hidden(&password, "an error", &format!("{err} {err:?}"));

    // The second machine: another copy of the program (with the stack's config file, as
    // a teammate checks it out), its own PULUMI_HOME, the same database.
    let t = Instant::now();
    let env2 = TestEnv::new("files").await;
    assert_ne!(env2.program, env.program);
    std::fs::copy(
        env.program.join("Pulumi.dev.yaml"),
        env2.program.join("Pulumi.dev.yaml"),
    )
    .unwrap();
    let cli2 = CountingCli::new(env2.root.path()).await;
    let ws2 = postgres_workspace(&env2, &url, &cli2).await;
    let names: Vec<String> = ws2
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["dev"]);
    let stack2 = ws2.select_stack("dev").await.unwrap();
    let outs = stack2.outputs().await.unwrap();
    assert_eq!(outs, up.outputs, "the second workspace reads other outputs");
    assert_eq!(
        outs["dir"].value,
        serde_json::json!(env.files.display().to_string())
    );
    let info = stack2
        .info()
        .await
        .unwrap()
        .expect("an update in the history");
    assert!(info.succeeded(), "{info:?}");
    // Its update starts from the shared state: nothing to change.
    let again = stack2.up(UpOptions::default()).await.unwrap();
    assert_eq!(again.summary.resource_changes.get("same"), Some(&3));
    assert!(again.summary.is_no_op(), "{:?}", again.summary);
    let t_second = t.elapsed();

    // The second machine destroys; the first sees the stack empty, then removes it.
    let t = Instant::now();
    let destroyed = stack2
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("dev"),
        )
        .await
        .unwrap();
    assert_eq!(destroyed.summary.resource_changes.get("delete"), Some(&3));
    assert!(env.file_names().is_empty(), "{:?}", env.file_names());
    let stacks = ws.list_stacks().await.unwrap();
    assert_eq!(
        stacks
            .iter()
            .find(|s| s.name == "dev")
            .map(|s| s.resource_count),
        Some(Some(0)),
        "{stacks:?}"
    );
    ws.remove_stack("dev", RemoveOptions::default())
        .await
        .unwrap();
    assert!(ws2.list_stacks().await.unwrap().is_empty());
    let err = ws2.select_stack("dev").await.unwrap_err();
    assert!(
        matches!(err, pulumi_auto::Error::StackNotFound { .. }),
        "{err:?}"
    );
    let t_teardown = t.elapsed();

    assert_argv_clean(&cli, &password);
    assert_argv_clean(&cli2, &password);
    eprintln!(
        "postgres backend: setup {t_setup:.2?} (create + config), up {t_up:.2?}, second \
         workspace {t_second:.2?} (list, select, outputs, history, no-op up), teardown \
         {t_teardown:.2?}, total {:.2?}; {} + {} CLI processes",
        t0.elapsed(),
        cli.lines().len(),
        cli2.lines().len()
    );
}

#[tokio::test]
async fn a_refused_login_names_the_backend_without_its_password() {
    let server = server_url();
    let password = password_of(&server);
    // The same server with a wrong password (it contains the right one, so a leak of
    // either shows).
    let wrong = format!("wrong-{password}");
    let bad = url_with_own_table(
        &server.replacen(&format!(":{password}@"), &format!(":{wrong}@"), 1),
        "refused",
    );
    assert!(bad.contains(&wrong));

    let env = TestEnv::new("files").await;
    let cli = CountingCli::new(env.root.path()).await;
    let ws = postgres_workspace(&env, &bad, &cli).await;
    assert_hidden(&wrong, "the workspace's Debug", &format!("{ws:?}"));

    let t = Instant::now();
    let err = ws.list_stacks().await.unwrap_err();
    let text = format!("{err} {err:?}");
    // The CLI's own message quotes the URL; the crate redacts its password.
    assert!(
        text.contains("password authentication failed"),
        "not the server's refusal: {text}"
    );
    assert!(text.contains("[secret]@127.0.0.1"), "{text}");
    assert_hidden(&wrong, "an error", &text);
    assert_hidden(&password, "an error", &text);

    let err = ws.create_stack("dev").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert_hidden(&wrong, "an error", &text);

    assert_argv_clean(&cli, &wrong);
    eprintln!("refused login: two failed commands in {:.2?}", t.elapsed());
}
