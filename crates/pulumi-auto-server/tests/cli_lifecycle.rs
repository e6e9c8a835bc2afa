//! The whole lifecycle of the `files` fixture through the real pinned CLI logged in to the
//! server, with the service secrets provider: login, whoami, org defaults, stack init, config
//! secrets, preview, up, refresh, outputs, tags, history, export (also by version), import,
//! stack rm refused while resources remain (and --force), rename, destroy, rm.

mod common;

use common::{Cli, Server};
use serde_json::Value;

on_both_databases! {
#[test]
fn whole_lifecycle_with_service_secrets() {
    let server = Server::start();
    let cli = Cli::new(&server, "files");

    // whoami and org defaults.
    let who: Value = serde_json::from_str(&cli.ok(&["whoami", "--json"])).unwrap();
    assert_eq!(who["user"], "admin");
    assert_eq!(who["organizations"], serde_json::json!(["organization"]));
    assert_eq!(cli.ok(&["whoami"]).trim(), "admin");
    assert_eq!(cli.ok(&["org", "get-default"]).trim(), "organization");

    // stack init with the default (service) secrets provider; a secret config value.
    cli.init_stack("dev");
    cli.ok(&["config", "set", "--secret", "token", "hunter2-lifecycle"]);
    let stack_yaml = std::fs::read_to_string(cli.program.join("Pulumi.dev.yaml")).unwrap();
    assert!(stack_yaml.contains("secure:"), "{stack_yaml}");
    assert!(!stack_yaml.contains("hunter2"), "{stack_yaml}");
    assert!(
        !stack_yaml.contains("encryptionsalt"),
        "service secrets need no salt: {stack_yaml}"
    );
    assert_eq!(
        cli.ok(&["config", "get", "token"]).trim(),
        "hunter2-lifecycle",
        "the server decrypts what it encrypted"
    );
    let ls = cli.ok(&["stack", "ls", "--json"]);
    let ls: Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(ls[0]["name"], "dev", "{ls}");

    // preview records a preview and writes nothing.
    let preview = cli.ok(&["preview"]);
    assert!(
        preview.contains("+ 3 to create") || preview.contains("3 to create"),
        "{preview}"
    );
    assert!(cli.file_names().is_empty());
    let previews = server.get_json("/api/stacks/organization/files/dev/updates/latest/previews");
    assert!(
        !previews["updates"].as_array().unwrap().is_empty(),
        "{previews}"
    );

    // up.
    let up = cli.ok(&["up", "--yes", "--message", "first"]);
    assert!(up.contains("created"), "{up}");
    assert_eq!(cli.file_names(), ["greeting.txt", "note.txt"]);
    let outputs: Value =
        serde_json::from_str(&cli.ok(&["stack", "output", "--json", "--show-secrets"])).unwrap();
    assert_eq!(outputs["token"], "hunter2-lifecycle");
    assert_eq!(outputs["count"], 2);

    // refresh: nothing changed.
    let refresh = cli.ok(&["refresh", "--yes"]);
    assert!(refresh.contains("unchanged"), "{refresh}");

    // tags.
    cli.ok(&["stack", "tag", "set", "team", "infra"]);
    let tags: Value = serde_json::from_str(&cli.ok(&["stack", "tag", "ls", "--json"])).unwrap();
    assert_eq!(tags["team"], "infra");
    assert_eq!(tags["pulumi:project"], "files");
    cli.ok(&["stack", "tag", "rm", "team"]);
    let tags: Value = serde_json::from_str(&cli.ok(&["stack", "tag", "ls", "--json"])).unwrap();
    assert!(tags.get("team").is_none(), "{tags}");

    // history: the up and the refresh, newest first, with their resource changes.
    let history: Value =
        serde_json::from_str(&cli.ok(&["stack", "history", "--json", "--show-secrets"])).unwrap();
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2, "{history}");
    assert_eq!(h[0]["kind"], "refresh");
    assert_eq!(h[1]["kind"], "update");
    assert_eq!(h[1]["message"], "first");
    assert_eq!(h[1]["result"], "succeeded");
    assert_eq!(h[1]["resourceChanges"]["create"], 3, "{history}");
    let up_version = h[1]["version"].as_i64().unwrap();

    // export, export --version N, import.
    let latest: Value = serde_json::from_str(&cli.ok(&["stack", "export"])).unwrap();
    assert_eq!(latest["version"], 3);
    assert_eq!(
        latest["deployment"]["resources"].as_array().unwrap().len(),
        4
    );
    let v = up_version.to_string();
    let at_up: Value =
        serde_json::from_str(&cli.ok(&["stack", "export", "--version", &v])).unwrap();
    assert_eq!(
        at_up["deployment"]["resources"].as_array().unwrap().len(),
        4
    );
    assert_eq!(
        at_up["deployment"]["secrets_providers"]["type"], "service",
        "the state names the service secrets provider"
    );
    let exported = cli.root.path().join("export.json");
    std::fs::write(&exported, serde_json::to_string(&latest).unwrap()).unwrap();
    let imported = cli.ok(&["stack", "import", "--file", exported.to_str().unwrap()]);
    assert!(imported.contains("Import complete"), "{imported}");
    let history: Value = serde_json::from_str(&cli.ok(&["stack", "history", "--json"])).unwrap();
    assert_eq!(history[0]["kind"], "import", "{history}");

    // stack rm is refused with Pulumi's own text while resources remain.
    let refused = cli.fails(&["stack", "rm", "dev", "--yes"]);
    assert!(
        refused.contains("'dev' still has resources; removal rejected"),
        "{refused}"
    );
    assert_eq!(cli.file_names(), ["greeting.txt", "note.txt"]);

    // rename keeps the state and the secrets (the data key belongs to the stack, not its name).
    cli.ok(&["stack", "rename", "prod"]);
    let ls: Value = serde_json::from_str(&cli.ok(&["stack", "ls", "--json"])).unwrap();
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!(ls[0]["name"], "prod", "{ls}");
    assert_eq!(
        cli.ok(&["config", "get", "token"]).trim(),
        "hunter2-lifecycle"
    );
    let outputs: Value =
        serde_json::from_str(&cli.ok(&["stack", "output", "--json", "--show-secrets"])).unwrap();
    assert_eq!(outputs["token"], "hunter2-lifecycle");

    // A second stack with the same state: `stack rm --force` removes it with its resources
    // left alone.
    cli.ok(&["stack", "init", "copy"]);
    cli.ok(&[
        "stack",
        "import",
        "--file",
        exported.to_str().unwrap(),
        "--force",
    ]);
    cli.fails(&["stack", "rm", "copy", "--yes"]);
    cli.ok(&["stack", "rm", "copy", "--yes", "--force"]);
    cli.ok(&["stack", "select", "prod"]);

    // destroy, then rm is allowed.
    let destroy = cli.ok(&["destroy", "--yes"]);
    assert!(destroy.contains("deleted"), "{destroy}");
    assert!(cli.file_names().is_empty());
    cli.ok(&["stack", "rm", "prod", "--yes"]);
    let ls: Value = serde_json::from_str(&cli.ok(&["stack", "ls", "--json"])).unwrap();
    assert_eq!(ls, serde_json::json!([]));
}
}
