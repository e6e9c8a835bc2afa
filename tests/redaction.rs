//! No secret in `Debug` output or errors, against the real CLI: a backend URL's password
//! in every place a URL can hold one, and the messages the library takes from engine
//! events (a program's exception, a policy violation).

mod common;

use std::path::PathBuf;

use common::TestEnv;
use pulumi_auto::ops::PreviewOptions;
use pulumi_auto::{Error, LocalWorkspace, Secret};

/// The CLI quotes the whole backend URL when it cannot open the state database: its
/// userinfo password (escaped and decoded) and a libpq `?password=` are redacted there and
/// in the workspace's and builder's `Debug`.
#[tokio::test]
async fn backend_url_passwords_never_show() {
    let env = TestEnv::new("files").await;
    let url = "postgres://u:p%2Fhunter2-user@127.0.0.1:1/db?password=hunter2-query&sslmode=disable";
    let builder = LocalWorkspace::builder(&env.program)
        .backend_url(url)
        .pulumi_home(&env.home)
        .env("SOME_TOKEN", "hunter2-env-value")
        .pulumi_command(common::pulumi().await);
    let debug = format!("{builder:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let ws = builder.build().await.unwrap();
    let debug = format!("{ws:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("postgres://u:[secret]@127.0.0.1:1/db?password=[secret]&sslmode=disable"),
        "{debug}"
    );

    let err = ws.list_stacks().await.unwrap_err();
    let text = format!("{err} / {err:?}");
    // The CLI's own message, quoting the URL, with the secrets masked.
    assert!(text.contains("unable to open state database"), "{text}");
    assert!(text.contains("password=[secret]"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    // A password with an unescaped `/`, `?` or `#`: the CLI does not take it for a
    // postgres URL, and `Debug` still hides it.
    for url in [
        "postgres://u:a/hunter2-b@127.0.0.1:1/db",
        "postgres://u:a?hunter2-b@127.0.0.1:1/db",
        "postgres://u:a#hunter2-b@127.0.0.1:1/db",
    ] {
        let ws = LocalWorkspace::builder(&env.program)
            .backend_url(url)
            .pulumi_home(&env.home)
            .pulumi_command(common::pulumi().await)
            .build()
            .await
            .unwrap();
        let debug = format!("{ws:?}");
        assert!(!debug.contains("hunter2"), "{url}: {debug}");
        let err = ws.list_stacks().await.unwrap_err();
        let text = format!("{err} / {err:?}");
        assert!(!text.contains("hunter2"), "{url}: {text}");
    }
}

/// A program's exception, as the engine reports it in its events, goes through the
/// workspace's redaction list like the CLI's output does: here the passphrase happens to
/// be words of the exception's message.
#[tokio::test]
async fn a_program_failure_message_from_the_events_is_redacted() {
    let env = TestEnv::new("failing").await;
    let ws = env
        .workspace_with(|b| b.passphrase(Secret::new("fixture raised")))
        .await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    let err = stack.preview(PreviewOptions::default()).await.unwrap_err();
    let Error::ProgramFailed { message, failure } = &err else {
        panic!("expected ProgramFailed, got {err:?}");
    };
    assert_eq!(
        message, "ValueError: the failing [secret] on purpose",
        "{err:?}"
    );
    let text = format!("{err} / {err:?} / {failure}");
    assert!(!text.contains("fixture raised"), "{text}");
}

/// The same for a mandatory policy violation read from the events (`preview --json`
/// prints no policy listing): the passphrase is words of the violation's message.
#[tokio::test]
async fn a_policy_violation_message_from_the_events_is_redacted() {
    let env = TestEnv::new("files").await;
    let pack = policy_pack(&env);
    let ws = env
        .workspace_with(|b| b.passphrase(Secret::new("contains the word")))
        .await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("greeting", "forbidden words\n".to_owned()),
        ])
        .await
        .unwrap();
    let err = stack
        .preview(PreviewOptions::default().policy_pack(&pack, None))
        .await
        .unwrap_err();
    let Error::PolicyViolations { violations, .. } = &err else {
        panic!("expected PolicyViolations, got {err:?}");
    };
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        violations[0].message,
        "A file's content must not contain the word 'forbidden'.\n\
         file greeting [secret] 'forbidden'"
    );
    let text = format!("{err} / {err:?}");
    assert!(!text.contains("contains the word"), "{text}");
}

/// A copy of the test policy pack using the prepared virtualenv (scripts/prepare-policy).
fn policy_pack(env: &TestEnv) -> PathBuf {
    let venv = std::env::var_os("PULUMI_AUTO_TEST_POLICY_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            pulumi_auto::cli::cache_dir().map(|c| {
                c.join(format!(
                    "policy-venv-{}",
                    pulumi_auto::cli::pinned_version()
                ))
            })
        })
        .expect("no cache directory");
    assert!(
        venv.join("bin/python").exists(),
        "the policy pack's virtualenv {} is missing: run the tests with scripts/test",
        venv.display()
    );
    let src = common::repo().join("fixtures/policy/files-policy");
    let dest = env.root.path().join("files-policy");
    std::fs::create_dir_all(&dest).unwrap();
    for name in ["PulumiPolicy.yaml", "__main__.py", "requirements.txt"] {
        std::fs::copy(src.join(name), dest.join(name)).unwrap();
    }
    let yaml = dest.join("PulumiPolicy.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let text = text.replace(
        "virtualenv: venv",
        &format!("virtualenv: {}", venv.display()),
    );
    std::fs::write(&yaml, text).unwrap();
    dest
}
