//! Access control on every route, the CLI's own included: a matrix of roles (organization
//! admin; members whose team has read 101, edit 102 or admin 103 on the stack; a member
//! with no team; a user of another organization) × routes, each answer checked: allowed,
//! 403 `{code, message}` for too little permission, 404 with the text of a missing stack
//! for a stack the caller may not read. Then the real CLI under the same rules.

mod common;
mod rest_common;

use common::{ADMIN_TOKEN, Api, Cli, Server};
use pulumi_auto_types::rest::{CreateTeamRequest, TeamStackPermission};
use rest_common::{admin, block, offline, token_for};
use serde_json::Value;

/// What a route needs: a stack permission, or organization membership / admin role.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Stack(i64),
    Member,
    Admin,
}

/// Every route of the server and the REST API that names an organization or a stack.
/// Write routes get a malformed body, so that an allowed call ends in a 4xx of the handler
/// and changes nothing. `U` is replaced by a real update id.
const ROUTES: &[(&str, &str, Need)] = &[
    ("GET", "/api/stacks/organization/files/s", Need::Stack(101)),
    (
        "GET",
        "/api/stacks/organization/files/s/export",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/export/1",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/updates",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/updates/latest",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/updates/1",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/updates/latest/previews",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/update/U",
        Need::Stack(101),
    ),
    (
        "GET",
        "/api/stacks/organization/files/s/update/U/events",
        Need::Stack(101),
    ),
    (
        "PATCH",
        "/api/stacks/organization/files/s/tags",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/tags",
        Need::Stack(102),
    ),
    (
        "DELETE",
        "/api/stacks/organization/files/s/tags/no-such-tag",
        Need::Stack(102),
    ),
    (
        "PUT",
        "/api/stacks/organization/files/s/config",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/encrypt",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/decrypt",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/batch-encrypt",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/batch-decrypt",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/decrypt/log-decryption",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/import",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/update",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/preview",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/refresh",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/update/U",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/update/U/cancel",
        Need::Stack(102),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/destroy",
        Need::Stack(103),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/rename",
        Need::Stack(103),
    ),
    (
        "POST",
        "/api/stacks/organization/files/s/transfer",
        Need::Stack(103),
    ),
    // Without force: refused by the handler (the stack has resources) when allowed.
    (
        "DELETE",
        "/api/stacks/organization/files/s",
        Need::Stack(103),
    ),
    ("HEAD", "/api/stacks/organization/files", Need::Member),
    ("POST", "/api/stacks/organization/files", Need::Admin),
    ("GET", "/api/orgs/organization/members", Need::Member),
    ("GET", "/api/orgs/organization/teams", Need::Member),
    ("GET", "/api/orgs/organization/teams/readers", Need::Member),
    ("POST", "/api/orgs/organization/members/newbie", Need::Admin),
    (
        "PATCH",
        "/api/orgs/organization/members/reader",
        Need::Admin,
    ),
    (
        "DELETE",
        "/api/orgs/organization/members/nobody",
        Need::Admin,
    ),
    ("POST", "/api/orgs/organization/teams/pulumi", Need::Admin),
    ("PATCH", "/api/orgs/organization/teams/readers", Need::Admin),
    (
        "DELETE",
        "/api/orgs/organization/teams/no-such-team",
        Need::Admin,
    ),
];

const STACK_404: &str = "Not Found: stack 'organization/files/s' not found";
const ORG_404: &str = "Not Found: organization 'organization' not found";

/// A caller: login, organization role (None: not a member), permission on the stack.
struct Caller {
    login: &'static str,
    token: String,
    role: Option<&'static str>,
    permission: i64,
}

on_both_databases! {
#[test]
fn roles_by_routes_and_the_cli_under_the_same_rules() {
    let server = Server::start();
    let admin_cli = Cli::new(&server, "files");
    admin_cli.init_stack("s");
    admin_cli.ok(&["up", "--yes"]);
    admin_cli.init_stack("hidden");
    let c = admin(&server);

    // Members, teams and permissions, through the REST API.
    block(async {
        for login in ["reader", "editor", "stackadmin", "outsider"] {
            let m = c.add_member("organization", login, "member").await.unwrap();
            assert_eq!(
                (m.role.as_str(), m.user.github_login.as_str()),
                ("member", login)
            );
        }
        for (team, login, p) in [
            ("readers", "reader", 101),
            ("editors", "editor", 102),
            ("admins", "stackadmin", 103),
        ] {
            c.create_team(
                "organization",
                &CreateTeamRequest {
                    name: team.into(),
                    display_name: team.into(),
                    description: String::new(),
                },
            )
            .await
            .unwrap();
            c.add_team_member("organization", team, login)
                .await
                .unwrap();
            c.set_team_stack_permission(
                "organization",
                team,
                &TeamStackPermission {
                    project_name: "files".into(),
                    stack_name: "s".into(),
                    permission: p,
                },
            )
            .await
            .unwrap();
        }
        let t = c.get_team("organization", "editors").await.unwrap();
        assert_eq!(
            t.members
                .iter()
                .map(|m| m.github_login.as_str())
                .collect::<Vec<_>>(),
            ["editor"]
        );
        assert_eq!(
            t.stacks,
            [TeamStackPermission {
                project_name: "files".into(),
                stack_name: "s".into(),
                permission: 102
            }]
        );
        let members = c.list_members("organization").await.unwrap();
        assert_eq!(members.members.len(), 5);
        assert_eq!(c.list_teams("organization").await.unwrap().teams.len(), 3);
    });
    offline(&server, &["org-create", "second", "--admin", "stranger"]);

    let callers = [
        Caller {
            login: "admin",
            token: ADMIN_TOKEN.into(),
            role: Some("admin"),
            permission: 103,
        },
        Caller {
            login: "reader",
            token: token_for(&server, "reader"),
            role: Some("member"),
            permission: 101,
        },
        Caller {
            login: "editor",
            token: token_for(&server, "editor"),
            role: Some("member"),
            permission: 102,
        },
        Caller {
            login: "stackadmin",
            token: token_for(&server, "stackadmin"),
            role: Some("member"),
            permission: 103,
        },
        Caller {
            login: "outsider",
            token: token_for(&server, "outsider"),
            role: Some("member"),
            permission: 0,
        },
        Caller {
            login: "stranger",
            token: token_for(&server, "stranger"),
            role: None,
            permission: 0,
        },
    ];
    let update = block(c.list_updates("organization", "files", "s", &Default::default()))
        .unwrap()
        .updates[0]
        .update_id
        .clone();

    let api = Api::new(&server);
    let mut checked = 0;
    for (method, path, need) in ROUTES {
        let path = path.replace("/U", &format!("/{update}"));
        for caller in &callers {
            let body =
                (*method != "GET" && *method != "HEAD" && *method != "DELETE").then_some("{");
            let (status, text) = api.call(method, &path, &format!("token {}", caller.token), body);
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let what = format!("{} {method} {path}: {status} {text}", caller.login);
            assert!(status < 500, "{what}");
            let admin = caller.role == Some("admin");
            match (caller.role, need) {
                (None, _) => {
                    if *method != "HEAD" {
                        assert_eq!(message, ORG_404, "{what}");
                    }
                    assert_eq!(status, 404, "{what}");
                }
                (Some(_), Need::Stack(level)) if !admin && caller.permission < 101 => {
                    assert_eq!((status, message.as_str()), (404, STACK_404), "{what}");
                    let _ = level;
                }
                (Some(_), Need::Stack(level)) if caller.permission < *level => {
                    assert_eq!(status, 403, "{what}");
                    assert!(message.starts_with("Forbidden: "), "{what}");
                }
                (Some(_), Need::Admin) if !admin => {
                    assert_eq!(status, 403, "{what}");
                }
                _ => {
                    assert_ne!(status, 403, "{what}");
                    assert!(
                        !(status == 404 && (message == STACK_404 || message == ORG_404)),
                        "{what}"
                    );
                    if body.is_some()
                        && !path.ends_with("/cancel")
                        && !path.ends_with("/log-decryption")
                    {
                        assert_eq!(status, 400, "allowed, then the malformed body: {what}");
                    }
                }
            }
            checked += 1;
        }
        // Without a token: 401.
        assert_eq!(api.call(method, &path, "", None).0, 401, "{method} {path}");
    }
    assert_eq!(checked, ROUTES.len() * callers.len());

    // Nothing changed: the stack is there with its resources.
    let s = server.get_json("/api/stacks/organization/files/s");
    assert_eq!(s["version"], 1);

    // Listing: each caller sees what they may read.
    for caller in &callers {
        let (_, text) = api.call(
            "GET",
            "/api/user/stacks",
            &format!("token {}", caller.token),
            None,
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut names: Vec<&str> = v["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stackName"].as_str().unwrap())
            .collect();
        names.sort();
        let want: &[&str] = match caller.login {
            "admin" => &["hidden", "s"],
            "outsider" | "stranger" => &[],
            _ => &["s"],
        };
        assert_eq!(names, want, "{}", caller.login);
    }

    // The CLI is bound by the same rules.
    let stack_file = admin_cli.program.join("Pulumi.s.yaml");
    let cli_of = |caller: &Caller| {
        let cli = Cli::with_token(&server, "files", &caller.token);
        std::fs::copy(&stack_file, cli.program.join("Pulumi.s.yaml")).unwrap();
        cli
    };
    let reader = cli_of(&callers[1]);
    let ls = reader.ok(&["stack", "ls", "--json"]);
    assert!(
        ls.contains("\"s\"") || ls.contains("organization/s"),
        "{ls}"
    );
    assert!(!ls.contains("hidden"), "{ls}");
    reader.ok(&["stack", "export", "--stack", "organization/s"]);
    let up = reader.fails(&["up", "--yes", "--stack", "organization/s"]);
    assert!(up.contains("[403] Forbidden"), "{up}");
    let tag = reader.fails(&["stack", "tag", "set", "k", "v", "--stack", "organization/s"]);
    assert!(tag.contains("403"), "{tag}");

    let outsider = cli_of(&callers[4]);
    let sel = outsider.fails(&["stack", "select", "organization/s"]);
    assert!(
        !sel.contains("403"),
        "a stack the caller may not read does not exist for them: {sel}"
    );

    let editor = cli_of(&callers[2]);
    editor.ok(&["stack", "tag", "set", "k", "v", "--stack", "organization/s"]);
    editor.ok(&[
        "config",
        "set",
        "greeting",
        "edited",
        "--stack",
        "organization/s",
    ]);
    let up = editor.ok(&["up", "--yes", "--stack", "organization/s"]);
    assert!(up.contains("updated") || up.contains("~ 1"), "{up}");
    let destroy = editor.fails(&["destroy", "--yes", "--stack", "organization/s"]);
    assert!(destroy.contains("[403] Forbidden"), "{destroy}");
    let rm = editor.fails(&[
        "stack",
        "rm",
        "--yes",
        "--force",
        "--stack",
        "organization/s",
    ]);
    assert!(rm.contains("403"), "{rm}");

    let stackadmin = cli_of(&callers[3]);
    std::fs::copy(
        editor.program.join("Pulumi.s.yaml"),
        stackadmin.program.join("Pulumi.s.yaml"),
    )
    .unwrap();
    stackadmin.ok(&["destroy", "--yes", "--stack", "organization/s"]);
    stackadmin.ok(&["stack", "rm", "--yes", "--stack", "organization/s"]);

    // A permission taken away takes effect on the next call.
    block(async {
        c.remove_team_member("organization", "readers", "reader")
            .await
            .unwrap();
    });
    let (status, text) = api.call(
        "GET",
        "/api/stacks/organization/files/hidden",
        &format!("token {}", callers[1].token),
        None,
    );
    assert_eq!((status, text.contains("not found")), (404, true));
}
}
