//! The library itself against the server: `pulumi_auto::LocalWorkspace` with its backend URL
//! pointing at the server and PULUMI_ACCESS_TOKEN in its environment runs the whole
//! lifecycle (stack, config secrets on the service provider, up, preview, refresh, outputs,
//! tags, history, export/import, bound destroy approval, remove), and a second up of a busy
//! stack is classified as `Error::ConcurrentUpdate`.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, Cli, Server, pulumi_bin};
use pulumi_auto::ops::{DestroyOptions, PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;

use pulumi_auto::{ConfigSetValue, Error, LocalWorkspace, Secret};

/// Blocking test helpers (reqwest's blocking client) inside the async test.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

async fn workspace(server: &Server, cli: &Cli) -> LocalWorkspace {
    LocalWorkspace::builder(&cli.program)
        .backend_url(&server.url)
        .pulumi_home(&cli.home)
        .env("PULUMI_ACCESS_TOKEN", ADMIN_TOKEN)
        .env("PULUMI_SKIP_UPDATE_CHECK", "true")
        .env_remove("PULUMI_CONFIG_PASSPHRASE")
        .pulumi_command_path(pulumi_bin())
        .build()
        .await
        .unwrap()
}

on_both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn library_lifecycle_against_the_server() {
    let server = blocking(Server::start);
    let cli = blocking(|| Cli::new(&server, "files"));
    let ws = workspace(&server, &cli).await;

    let who = ws.whoami().await.unwrap();
    assert_eq!(who.user, "admin");

    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", ConfigSetValue::from(cli.files.display().to_string())),
            (
                "token",
                ConfigSetValue::from(Secret::new("library-secret-value")),
            ),
        ])
        .await
        .unwrap();
    let yaml = std::fs::read_to_string(cli.program.join("Pulumi.dev.yaml")).unwrap();
    assert!(
        yaml.contains("secure:") && !yaml.contains("library-secret-value"),
        "{yaml}"
    );

    let preview = stack.preview(PreviewOptions::default()).await.unwrap();
    assert_eq!(preview.summary.count("create"), 3);
    let up = stack
        .up(UpOptions::default().message("from the library"))
        .await
        .unwrap();
    assert_eq!(up.summary.count("create"), 3);
    assert_eq!(up.outputs["token"].value, "library-secret-value");
    assert!(up.outputs["token"].secret);
    assert_eq!(cli.file_names(), ["greeting.txt", "note.txt"]);
    let refresh = stack.refresh(RefreshOptions::default()).await.unwrap();
    assert_eq!(refresh.summary.count("same"), 3);

    stack.set_tag("owner", "library").await.unwrap();
    assert_eq!(stack.get_tag("owner").await.unwrap(), "library");
    stack.remove_tag("owner").await.unwrap();
    assert!(!stack.list_tags().await.unwrap().contains_key("owner"));

    let history = stack.history(10, 1).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history[0].version > history[1].version);
    assert_eq!(history[1].message, "from the library");

    let state = stack.export_stack().await.unwrap();
    stack.import_stack(&state).await.unwrap();
    let outputs = stack.outputs().await.unwrap();
    assert_eq!(outputs["token"].value, "library-secret-value");

    let plan = stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let destroyed = stack
        .destroy(DestroyOptions::default(), &plan.approve("dev"))
        .await
        .unwrap();
    assert_eq!(destroyed.summary.count("delete"), 3);
    assert!(cli.file_names().is_empty());
    ws.remove_stack("dev", RemoveOptions::default())
        .await
        .unwrap();
    assert!(ws.list_stacks().await.unwrap().is_empty());
}
}

on_both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_up_of_a_busy_stack_is_a_concurrent_update() {
    let server = blocking(Server::start);
    let cli = blocking(|| Cli::new(&server, "slow"));
    let ws = workspace(&server, &cli).await;
    let stack = ws.create_stack("busy").await.unwrap();
    stack
        .set_all_config([
            ("dir", ConfigSetValue::from(cli.files.display().to_string())),
            ("count", ConfigSetValue::from("1")),
            ("delay", ConfigSetValue::from("5")),
        ])
        .await
        .unwrap();
    let first = {
        let stack = stack.clone();
        tokio::spawn(async move { stack.up(UpOptions::default()).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = blocking(|| server.get_json("/api/stacks/organization/slow/busy"));
        if s.get("currentOperation").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the first up never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = stack.up(UpOptions::default()).await;
    assert!(
        matches!(second, Err(Error::ConcurrentUpdate { .. })),
        "{second:?}"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.summary.count("create"), 2);
}
}
