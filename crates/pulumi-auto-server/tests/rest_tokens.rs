//! The caller's access tokens over the REST API: created with the value shown once (only
//! its hash stored), listed with when each was last used, deleted and revoked at once, for
//! the REST API and the real CLI alike.

mod common;
mod rest_common;

use common::{Cli, Server};
use pulumi_auto_client::Error;
use rest_common::{admin, block, client};

on_both_databases! {
#[test]
fn create_list_use_delete() {
    let server = Server::start();
    let c = admin(&server);
    let created = block(c.create_token("ci pipeline")).unwrap();
    let value = created.token_value.expose().to_owned();
    assert!(value.len() >= 32);
    assert!(
        !format!("{created:?}").contains(&value),
        "Debug hides the value"
    );

    // Listed without its value; never used yet.
    let tokens = block(c.list_tokens()).unwrap();
    let t = tokens.iter().find(|t| t.id == created.id).unwrap();
    assert_eq!(t.description, "ci pipeline");
    assert_eq!(t.last_used, 0);
    let (_, listing) = common::Api::new(&server).call(
        "GET",
        "/api/user/tokens",
        &format!("token {}", common::ADMIN_TOKEN),
        None,
    );
    assert!(!listing.contains(&value), "{listing}");

    // The CLI logs in with it; its use is recorded.
    let cli = Cli::with_token(&server, "files", &value);
    assert_eq!(cli.ok(&["whoami"]).trim(), "admin");
    let tokens = block(c.list_tokens()).unwrap();
    let t = tokens.iter().find(|t| t.id == created.id).unwrap();
    assert!(t.last_used > 0, "{t:?}");

    // Only the hash is stored.
    let db = server.db_contents();
    assert!(
        !db.windows(value.len()).any(|w| w == value.as_bytes()),
        "the value is stored"
    );

    // Another user cannot delete it.
    block(c.add_member("organization", "bob", "member")).unwrap();
    let bob = client(&server, &rest_common::token_for(&server, "bob"));
    assert!(matches!(
        block(bob.delete_token(&created.id)),
        Err(Error::NotFound(_))
    ));
    assert!(
        !block(bob.list_tokens())
            .unwrap()
            .iter()
            .any(|t| t.id == created.id)
    );

    // Deleted: revoked at once, for the REST API and the CLI.
    let own = client(&server, &value);
    block(own.get_stack_or_list()).unwrap();
    cli.ok(&["stack", "ls"]);
    block(c.delete_token(&created.id)).unwrap();
    assert!(matches!(
        block(own.list_tokens()),
        Err(Error::Unauthorized(_))
    ));
    // (`whoami` answers from the CLI's cached account details; `stack ls` asks the server.)
    let ls = cli.fails(&["stack", "ls"]);
    assert!(
        ls.contains("requires logging in") || ls.contains("401"),
        "{ls}"
    );
    assert!(matches!(
        block(c.delete_token(&created.id)),
        Err(Error::NotFound(_))
    ));
    let bad = block(c.create_token("line\nbreak"));
    assert!(matches!(bad, Err(Error::BadRequest(_))), "{bad:?}");
}
}

trait Probe {
    async fn get_stack_or_list(&self) -> pulumi_auto_client::Result<()>;
}

impl Probe for pulumi_auto_client::Client {
    async fn get_stack_or_list(&self) -> pulumi_auto_client::Result<()> {
        self.list_stacks(&Default::default()).await.map(|_| ())
    }
}
