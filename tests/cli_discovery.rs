//! Finding the CLI (explicit path, `PULUMI_AUTO_CLI`, `PATH`, `~/.pulumi/bin`) and reading
//! its version once per binary file, across driver processes: the second process on the
//! same binary starts no `pulumi version`; a replaced binary is read afresh; a cache
//! directory that others can write is not trusted.
//!
//! Each "driver process" is this test binary run again (as the child, by an environment
//! variable), so the in-memory caches and the environment of the parent play no part.

mod common;

use std::path::Path;
use std::process::Command;

use common::CountingCli;
use pulumi_auto::cli::PulumiCommand;

const CHILD_ENV: &str = "PULUMI_AUTO_TEST_VERSION_CHILD";
const LOCATE_ENV: &str = "PULUMI_AUTO_TEST_LOCATE_CHILD";

/// Runs this test again in a new process that checks the binary at `cli` once.
fn driver_process(cli: &Path, cache: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "version_is_read_once_per_binary_file",
            "--nocapture",
        ])
        .env(CHILD_ENV, cli)
        .env("PULUMI_AUTO_CACHE_DIR", cache)
        .env_remove("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn version_runs(counting: &CountingCli) -> usize {
    counting
        .lines()
        .iter()
        .filter(|l| l.starts_with("version"))
        .count()
}

#[tokio::test]
async fn version_is_read_once_per_binary_file() {
    if let Some(cli) = std::env::var_os(CHILD_ENV) {
        let pulumi = PulumiCommand::at(cli).await.unwrap();
        println!("child saw {:?}", pulumi.version().map(ToString::to_string));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let counting = CountingCli::new(dir.path()).await;

    let first = driver_process(&counting.path, &cache);
    assert!(
        first.contains(&format!(
            "child saw Some(\"{}\")",
            pulumi_auto::cli::pinned_version()
        )),
        "{first}"
    );
    assert_eq!(version_runs(&counting), 1);
    let second = driver_process(&counting.path, &cache);
    assert!(second.contains("child saw Some("), "{second}");
    assert_eq!(
        version_runs(&counting),
        1,
        "the second process ran `pulumi version`"
    );

    // The same path, a new file: read afresh.
    let script = std::fs::read_to_string(&counting.path).unwrap();
    let replaced = dir.path().join("replacement");
    common::write_executable(&replaced, &format!("{script}# replaced\n"));
    std::fs::rename(&replaced, &counting.path).unwrap();
    driver_process(&counting.path, &cache);
    assert_eq!(
        version_runs(&counting),
        2,
        "a replaced binary was not read afresh"
    );
    driver_process(&counting.path, &cache);
    assert_eq!(version_runs(&counting), 2);

    // A cache directory others can write is not used: every process reads the version.
    use std::os::unix::fs::PermissionsExt;
    let open_cache = dir.path().join("open-cache");
    std::fs::create_dir_all(open_cache.join("cli-versions")).unwrap();
    std::fs::set_permissions(
        open_cache.join("cli-versions"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    driver_process(&counting.path, &open_cache);
    driver_process(&counting.path, &open_cache);
    assert_eq!(version_runs(&counting), 4);
    assert_eq!(
        std::fs::read_dir(open_cache.join("cli-versions"))
            .unwrap()
            .count(),
        0,
        "nothing is recorded in a directory others can write"
    );
}

/// Runs this test binary again as a process that prints where it finds the CLI, with only
/// the given environment.
fn locate_in(env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "the_cli_is_found_as_the_official_sdks_find_it",
        "--nocapture",
    ])
    .env_clear()
    .env(LOCATE_ENV, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("located: "))
        .unwrap_or_else(|| panic!("no location in {stdout}"))
        .to_owned()
}

#[test]
fn the_cli_is_found_as_the_official_sdks_find_it() {
    if std::env::var_os(LOCATE_ENV).is_some() {
        match pulumi_auto::cli::locate(None) {
            Ok(p) => println!("located: {}", p.display()),
            Err(e) => println!("located: none ({e})"),
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = |rel: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        common::write_executable(&p, "#!/bin/sh\necho v3.259.0\n");
        p
    };
    let on_path = fake("path-bin/pulumi");
    let in_home = fake("home/.pulumi/bin/pulumi");
    let explicit = fake("explicit/pulumi");
    // The project's install cache holds a CLI too; the library does not look there.
    let cache = dir.path().join("cache");
    let cached = fake(&format!(
        "cache/pulumi-v{}/bin/pulumi",
        pulumi_auto::cli::pinned_version()
    ));
    let path_dir = on_path.parent().unwrap();
    let home = dir.path().join("home");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();

    let base = [
        ("HOME", home.as_path()),
        ("PULUMI_AUTO_CACHE_DIR", cache.as_path()),
    ];
    assert_eq!(
        locate_in(&[
            base[0],
            base[1],
            ("PATH", path_dir),
            ("PULUMI_AUTO_CLI", &explicit)
        ]),
        explicit.display().to_string()
    );
    assert_eq!(
        locate_in(&[base[0], base[1], ("PATH", path_dir)]),
        on_path.display().to_string()
    );
    assert_eq!(
        locate_in(&[base[0], base[1], ("PATH", &empty)]),
        in_home.display().to_string()
    );
    let none = locate_in(&[("HOME", empty.as_path()), base[1], ("PATH", &empty)]);
    assert!(none.starts_with("none"), "{none}");
    assert!(!none.contains(&cached.display().to_string()), "{none}");
}
