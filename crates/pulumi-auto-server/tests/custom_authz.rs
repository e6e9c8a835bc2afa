//! The custom API under the REST API's permission model: a matrix of callers (the
//! organization's admin; members whose team has read 101, edit 102 or admin 103 on stack
//! `s`; a member with no team; a user of another organization) × the custom API's routes,
//! each answer checked: allowed (the handler's own answer: a malformed body's 400, a
//! finished update's 409 on cancel, 200), 403 `{code, message}` for too little permission,
//! 404 with the text of a missing stack for a stack the caller may not read. Listings show
//! each caller the stacks they may read; then an editor runs an update, and a stack admin
//! (103, not an organization admin) previews and confirms a destroy.

mod common;
mod custom_support;
mod rest_common;

use common::{ADMIN_TOKEN, Api};
use custom_support::{Served, Value, json};
use pulumi_auto_types::rest::{CreateTeamRequest, TeamStackPermission};
use rest_common::{admin, block, offline, token_for};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    /// Membership of the organization.
    Member,
    /// A permission on the route's stack.
    Stack(i64),
    /// Creating a stack: the organization's admin role.
    CreateStack,
    /// A burn: edit (102) on one of the program's stacks.
    Burn,
}

/// What an allowed call answers (malformed bodies make allowed writes end in the handler's
/// 400, so that nothing runs).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Allowed {
    Status(u16),
}

const P: &str = "/api/programs/files";

/// `U` is replaced by a real update id of stack `s`.
const ROUTES: &[(&str, &str, Option<&str>, Need, Allowed)] = &[
    (
        "GET",
        "/api/programs",
        None,
        Need::Member,
        Allowed::Status(200),
    ),
    ("GET", "", None, Need::Member, Allowed::Status(200)),
    ("GET", "/stacks", None, Need::Member, Allowed::Status(200)),
    (
        "GET",
        "/stacks/s",
        None,
        Need::Stack(101),
        Allowed::Status(200),
    ),
    (
        "GET",
        "/stacks/s/updates",
        None,
        Need::Stack(101),
        Allowed::Status(200),
    ),
    (
        "GET",
        "/stacks/s/updates/U",
        None,
        Need::Stack(101),
        Allowed::Status(200),
    ),
    (
        "GET",
        "/stacks/s/updates/U/events/stream",
        None,
        Need::Stack(101),
        Allowed::Status(200),
    ),
    (
        "GET",
        "/stacks/s?showSecrets=true",
        None,
        Need::Stack(103),
        Allowed::Status(200),
    ),
    (
        "PUT",
        "/stacks/s",
        Some("{"),
        Need::Stack(102),
        Allowed::Status(400),
    ),
    (
        "POST",
        "/stacks/s/update",
        Some("{"),
        Need::Stack(102),
        Allowed::Status(400),
    ),
    (
        "POST",
        "/stacks/s/preview",
        Some("{"),
        Need::Stack(102),
        Allowed::Status(400),
    ),
    (
        "POST",
        "/stacks/s/refresh",
        Some("{"),
        Need::Stack(102),
        Allowed::Status(400),
    ),
    (
        "POST",
        "/stacks/s/updates/U/cancel",
        None,
        Need::Stack(102),
        Allowed::Status(409),
    ),
    (
        "POST",
        "/stacks/s/destroy",
        Some("{"),
        Need::Stack(103),
        Allowed::Status(400),
    ),
    (
        "POST",
        "/stacks/s/destroy-preview",
        None,
        Need::Stack(103),
        Allowed::Status(200),
    ),
    // A stack no team reaches: only the organization's admin sees it.
    (
        "GET",
        "/stacks/hidden",
        None,
        Need::Stack(104),
        Allowed::Status(200),
    ),
    (
        "POST",
        "/stacks/hidden/update",
        Some("{"),
        Need::Stack(104),
        Allowed::Status(400),
    ),
    // A stack that does not exist yet.
    (
        "PUT",
        "/stacks/new",
        Some("{"),
        Need::CreateStack,
        Allowed::Status(400),
    ),
    ("POST", "/burn", Some("{"), Need::Burn, Allowed::Status(400)),
];

struct Caller {
    login: &'static str,
    token: String,
    /// None: not a member of the organization.
    role: Option<&'static str>,
    /// The permission on stack `s`.
    permission: i64,
}

fn missing(stack: &str) -> String {
    format!("Not Found: program \"files\" has no stack \"{stack}\" (create it with PUT)")
}

fn message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn roles_by_custom_routes_under_the_rest_permissions() {
    let s = Served::start(&["files"]);
    let dir = |st: &str| s.out.join(st).display().to_string();
    s.put_stack("files", "s", json!({"dir": dir("s")}));
    let up = s.start_op("files", "s", "update");
    assert_eq!(s.wait_update("files", "s", &up)["status"], "succeeded");
    s.put_stack("files", "hidden", json!({"dir": dir("hidden")}));

    let c = admin(&s.server);
    block(async {
        for login in ["reader", "editor", "stackadmin", "outsider"] {
            c.add_member("organization", login, "member").await.unwrap();
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
    });
    offline(&s.server, &["org-create", "second", "--admin", "stranger"]);
    let caller = |login, role, permission| Caller {
        login,
        token: token_for(&s.server, login),
        role,
        permission,
    };
    let callers = [
        Caller {
            login: "admin",
            token: ADMIN_TOKEN.into(),
            role: Some("admin"),
            permission: 103,
        },
        caller("reader", Some("member"), 101),
        caller("editor", Some("member"), 102),
        caller("stackadmin", Some("member"), 103),
        caller("outsider", Some("member"), 0),
        caller("stranger", None, 0),
    ];

    let api = Api::new(&s.server);
    let mut checked = 0;
    for (method, route, body, need, allowed) in ROUTES {
        let path = match route.strip_prefix("/api/programs") {
            Some(_) => route.to_string(),
            None => format!("{P}{route}"),
        }
        .replace("/U", &format!("/{up}"));
        let stack = path
            .split("/stacks/")
            .nth(1)
            .map(|r| r.split(['/', '?']).next().unwrap_or_default().to_owned());
        for c in &callers {
            let (status, text) = api.call(method, &path, &format!("token {}", c.token), *body);
            let msg = message(&text);
            let what = format!("{} {method} {path}: {status} {text}", c.login);
            assert!(status < 500, "{what}");
            let admin = c.role == Some("admin");
            let member = c.role.is_some();
            // The permission on this route's stack: `s` as set, none on the others.
            let perm = match stack.as_deref() {
                Some("s") => c.permission,
                _ if admin => 103,
                _ => 0,
            };
            let deny_404 = |st: &str| {
                assert_eq!(
                    (status, msg.as_str()),
                    (404, missing(st).as_str()),
                    "{what}"
                );
            };
            let deny_403 = || {
                assert_eq!(status, 403, "{what}");
                assert!(msg.starts_with("Forbidden: "), "{what}");
            };
            match need {
                _ if admin => {
                    let Allowed::Status(want) = allowed;
                    assert_eq!(status, *want, "{what}");
                }
                Need::Member if !member => deny_403(),
                Need::Member => {
                    let Allowed::Status(want) = allowed;
                    assert_eq!(status, *want, "{what}");
                }
                Need::CreateStack if member => {
                    deny_403();
                    assert!(msg.contains("admin role"), "{what}");
                }
                Need::CreateStack => deny_404("new"),
                Need::Burn if c.permission >= 102 => {
                    let Allowed::Status(want) = allowed;
                    assert_eq!(status, *want, "{what}");
                }
                Need::Burn => {
                    deny_403();
                    assert!(member || msg.contains("membership"), "{what}");
                }
                Need::Stack(_) if perm < 101 => deny_404(stack.as_deref().unwrap_or_default()),
                Need::Stack(level) if perm < *level => {
                    deny_403();
                    let name = match level {
                        102 => "edit (102)",
                        _ => "admin (103)",
                    };
                    assert!(msg.contains(name), "{what}");
                }
                Need::Stack(_) => {
                    let Allowed::Status(want) = allowed;
                    assert_eq!(status, *want, "{what}");
                }
            }
            checked += 1;
        }
        assert_eq!(api.call(method, &path, "", *body).0, 401, "{method} {path}");
    }
    assert_eq!(checked, ROUTES.len() * callers.len());

    // Listings: each caller sees the stacks they may read.
    for c in &callers {
        let auth = format!("token {}", c.token);
        let (st, text) = api.call("GET", &format!("{P}/stacks"), &auth, None);
        let (st2, text2) = api.call("GET", P, &auth, None);
        if c.role.is_none() {
            assert_eq!((st, st2), (403, 403), "{text} {text2}");
            continue;
        }
        let names = |text: &str, key: &str| -> Vec<String> {
            let v: Value = serde_json::from_str(text).unwrap();
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().or(s["name"].as_str()).unwrap().to_owned())
                .collect()
        };
        let want: &[&str] = match c.login {
            "admin" => &["hidden", "s"],
            "outsider" => &[],
            _ => &["s"],
        };
        assert_eq!(names(&text, "stacks"), want, "{}", c.login);
        assert_eq!(names(&text2, "stacks"), want, "{}", c.login);
    }

    // Nothing ran for the refused calls: `s` still has its one update (plus the two
    // destroy previews of the allowed callers), `new` was not made.
    assert_eq!(s.stack_names("files"), ["hidden", "s"]);

    // For real: an editor updates, cannot destroy; a stack admin destroys.
    let as_ = |c: &Caller, method: &str, path: &str, body: Option<Value>| {
        s.call_as(&format!("token {}", c.token), method, path, body)
    };
    let (st, text) = as_(
        &callers[2],
        "POST",
        &format!("{P}/stacks/s/update"),
        Some(json!({})),
    );
    assert_eq!(st, 202, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["updateId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.wait_update("files", "s", &id)["requestedBy"], "editor");
    let (st, text) = as_(
        &callers[2],
        "POST",
        &format!("{P}/stacks/s/destroy-preview"),
        None,
    );
    assert_eq!(st, 403, "{text}");
    let (st, text) = as_(
        &callers[3],
        "POST",
        &format!("{P}/stacks/s/destroy-preview"),
        None,
    );
    assert_eq!(st, 200, "{text}");
    let plan = serde_json::from_str::<Value>(&text).unwrap()["planId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, text) = as_(
        &callers[3],
        "POST",
        &format!("{P}/stacks/s/destroy"),
        Some(json!({"planId": plan, "confirm": "s", "remove": true})),
    );
    assert_eq!(st, 202, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["updateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = s.wait_update("files", "s", &id);
    assert_eq!(
        (end["status"].as_str(), end["requestedBy"].as_str()),
        (Some("succeeded"), Some("stackadmin")),
        "{end}"
    );
    assert_eq!(s.stack_names("files"), ["hidden"]);
    assert!(custom_support::names_in(&s.out.join("s")).is_empty());
}
