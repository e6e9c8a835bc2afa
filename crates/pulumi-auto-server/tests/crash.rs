//! An acknowledged write is durable: the server SIGKILLed at random moments of an `up` of
//! the `many` fixture. Each time the database opens again, the state it had acknowledged is
//! still there (never fewer resources than before the kill), and afterwards `pulumi cancel`
//! (when needed) and a new `up` converge with the files on disk.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Api, Cli, Server};
use rand::{Rng, SeedableRng};

const COUNT: usize = 30;
const KILLS: usize = 8;

fn resources(api: &Api) -> usize {
    let body = api.admin("GET", "/api/stacks/organization/many/dev/export", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["deployment"]["resources"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0)
}

#[test]
fn sigkill_during_up_loses_nothing_acknowledged() {
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut server = Server::start();
    let cli = Cli::new(&server, "many");
    cli.init_stack("dev");
    cli.ok(&["config", "set", "count", &COUNT.to_string()]);
    let mut up = cli
        .command(&["up", "--yes", "--skip-preview"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut kills = 0;
    while kills < KILLS {
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..1200)));
        let before = resources(&Api::new(&server));
        server.kill_and_restart();
        kills += 1;
        let after = resources(&Api::new(&server));
        assert!(
            after >= before,
            "kill {kills}: {before} resources acknowledged, {after} after restart"
        );
        if up.try_wait().unwrap().is_some() {
            break;
        }
    }
    let status = up.wait().unwrap();
    let mut stderr = String::new();
    use std::io::Read;
    up.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!(
        "{kills} kills; the interrupted up {}: {stderr}",
        if status.success() {
            "succeeded"
        } else {
            "failed"
        }
    );
    assert!(!stderr.contains("panic"), "{stderr}");

    // Converge: cancel whatever still holds the stack, clear interrupted creates, up again.
    let _ = cli.run(&["cancel", "--yes"]);
    cli.ok(&["refresh", "--yes", "--clear-pending-creates"]);
    cli.ok(&["up", "--yes", "--skip-preview"]);
    assert_eq!(cli.file_names().len(), COUNT);
    // The stack, the dynamic provider, and the items.
    assert_eq!(resources(&Api::new(&server)), COUNT + 2);
    assert!(server.alive());
}
