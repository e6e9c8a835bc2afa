//! The self-service web page in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver (its `chromedriver`, started here on a free port) with
//! fantoccini. One walk through the page against the real CLI: a refused sign-in, then
//! sign in → create a stack of `fixtures/programs/selfservice` from the form built from its
//! config schema (the secret input masked) → an update whose events show while it still
//! runs → outputs (a secret masked, markup shown as text) → destroy with its preview shown,
//! a wrong name first (refused, nothing destroyed), then the stack's name → the stack gone.
//!
//! `scripts/test` installs the browser (`scripts/install-chromium`); missing, the test
//! fails. With `PULUMI_AUTO_SCREENSHOTS=DIR` it saves a PNG of each page in DIR (those of
//! docs/screenshots/ were made so).

mod common;
mod custom_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custom_support::{Served, names_in};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const SECRET: &str = "web-ui-secret-token-7731";
/// Markup in a config value: the page must show it as text.
const GREETING: &str = "<b id=\"injected\">hi</b><img src=x>";

fn tool(env: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "this test needs Chromium and its WebDriver ({} is missing; set {env}); \
         scripts/test installs Debian's chromium and chromium-driver with \
         scripts/install-chromium (CI={})",
        p.display(),
        std::env::var("CI").unwrap_or_default()
    );
    p
}

/// A chromedriver of this test, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(chromedriver: &Path, log: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

/// Saves a screenshot as DIR/NAME.png when PULUMI_AUTO_SCREENSHOTS=DIR.
async fn shot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("PULUMI_AUTO_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Layout and fonts settle first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// Waits until the JavaScript expression is truthy.
async fn until(c: &Client, secs: u64, what: &str, expr: &str) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = c
            .execute(&format!("return !!({expr});"), vec![])
            .await
            .unwrap();
        if v == json!(true) {
            return;
        }
        if Instant::now() > deadline {
            let page = c
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what} ({expr}); the page shows:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[test]
fn sign_in_create_update_live_and_destroy_with_typed_confirmation() {
    let chromium = tool("PULUMI_AUTO_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = tool("PULUMI_AUTO_CHROMEDRIVER", "/usr/bin/chromedriver");
    let s = Served::start(&["selfservice"]);
    let files = s.out.join("dev");
    let profile = s.root.path().join("chromium-profile");
    let driver = start_driver(&chromedriver, &s.root.path().join("chromedriver.log"));
    let url = s.server.url.clone();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a WebDriver session with headless Chromium");

        // The page and its security headers' effect: it works without inline script.
        c.goto(&format!("{url}/")).await.unwrap();
        until(
            &c,
            20,
            "the sign-in form",
            "document.querySelector('#signin-form')",
        )
        .await;
        assert_eq!(
            c.find(Locator::Css("#token"))
                .await
                .unwrap()
                .attr("type")
                .await
                .unwrap()
                .as_deref(),
            Some("password")
        );
        shot(&c, "sign-in").await;

        // A wrong token: the API's message, still on the sign-in form.
        type_into(&c, "#token", "not-a-valid-token-0123456789").await;
        click(&c, "#signin").await;
        until(
            &c,
            20,
            "the refusal",
            "!document.querySelector('#error').hidden",
        )
        .await;
        let err = text_of(&c, "#error").await;
        assert!(err.starts_with("Sign-in failed: "), "{err}");
        assert!(c.find(Locator::Css("#signin-form")).await.is_ok());

        type_into(&c, "#token", common::ADMIN_TOKEN).await;
        click(&c, "#signin").await;
        until(
            &c,
            30,
            "the stacks page",
            "document.querySelector('#new-selfservice')",
        )
        .await;
        assert!(text_of(&c, "#who").await.contains("Signed in as"));
        assert!(text_of(&c, "#stacks-empty").await.contains("No stacks yet"));

        // The form of the program's config schema.
        click(&c, "#new-selfservice").await;
        until(
            &c,
            20,
            "the create form",
            "document.querySelector('#cfg-token')",
        )
        .await;
        let attr = |css: &'static str, name: &'static str| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(css))
                    .await
                    .unwrap()
                    .attr(name)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            attr("#cfg-token", "type").await.as_deref(),
            Some("password")
        );
        assert_eq!(attr("#cfg-count", "type").await.as_deref(), Some("number"));
        assert_eq!(
            attr("#cfg-greeting", "placeholder").await.as_deref(),
            Some("default: hello")
        );
        assert!(attr("#cfg-dir", "required").await.is_some());
        let form = text_of(&c, "#create-form").await;
        assert!(
            form.contains("Directory the files are written to"),
            "{form}"
        );
        type_into(&c, "#stack-name", "dev").await;
        type_into(&c, "#cfg-dir", &files.display().to_string()).await;
        type_into(&c, "#cfg-count", "2").await;
        type_into(&c, "#cfg-delay", "3").await;
        type_into(&c, "#cfg-greeting", GREETING).await;
        type_into(&c, "#cfg-token", SECRET).await;
        shot(&c, "create-form").await;
        click(&c, "#create").await;
        until(
            &c,
            120,
            "the stack page",
            "document.querySelector('#op-update')",
        )
        .await;
        assert!(text_of(&c, "#notice").await.contains("Stack dev created"));

        // An update: its events show while it still runs (file-1 takes 4 s after file-0).
        click(&c, "#op-update").await;
        until(
            &c,
            120,
            "file-0's create in the live events",
            "[...document.querySelectorAll('#events li[data-kind=resOutputsEvent]')]\
             .some(li => li.textContent.includes('file-0'))",
        )
        .await;
        let running = text_of(&c, "#op-status").await;
        assert!(
            !files.join("file-1.txt").exists(),
            "the update had ended before its first events showed"
        );
        assert!(running.contains("running"), "{running}");
        assert!(files.join("file-0.txt").exists());
        shot(&c, "update-live").await;
        until(
            &c,
            120,
            "the update's end",
            "document.querySelector('#op-status').dataset.status",
        )
        .await;
        assert_eq!(
            attr("#op-status", "data-status").await.as_deref(),
            Some("succeeded"),
            "{}",
            text_of(&c, "#op-status").await
        );
        assert_eq!(names_in(&files), ["file-0.txt", "file-1.txt"]);

        // Outputs: the secret masked, markup shown as text, never parsed as HTML.
        until(
            &c,
            20,
            "the outputs",
            "document.querySelector('#outputs tr[data-output=greeting]')",
        )
        .await;
        assert_eq!(
            text_of(&c, "#outputs tr[data-output=token] td:nth-child(2)").await,
            "[secret]"
        );
        assert_eq!(
            text_of(&c, "#outputs tr[data-output=greeting] td:nth-child(2)").await,
            GREETING
        );
        assert!(c.find(Locator::Css("#injected")).await.is_err());
        assert!(c.find(Locator::Css("#outputs img")).await.is_err());
        let history = text_of(&c, "#history").await;
        assert!(
            history.contains("update") && history.contains("succeeded"),
            "{history}"
        );
        let source = c.source().await.unwrap();
        assert!(!source.contains(SECRET), "the secret is on the page");
        assert!(
            !c.current_url()
                .await
                .unwrap()
                .as_str()
                .contains(common::ADMIN_TOKEN)
        );

        // The stacks list, with a filter.
        c.goto(&format!("{url}/#/")).await.unwrap();
        until(
            &c,
            20,
            "the stack's row",
            "document.querySelector('#stacks tr[data-stack=dev]')",
        )
        .await;
        let row = text_of(&c, "#stacks tr[data-stack=dev]").await;
        assert!(row.contains("update") && row.contains("succeeded"), "{row}");
        shot(&c, "stacks").await;
        type_into(&c, "#filter-name", "nomatch").await;
        until(
            &c,
            5,
            "the filter",
            "!document.querySelector('#stacks tr[data-stack=dev]')",
        )
        .await;
        assert!(
            text_of(&c, "#stacks-empty")
                .await
                .contains("No stack matches")
        );

        // Destroy: the preview's deletions, then a wrong name (refused, nothing destroyed).
        c.goto(&format!("{url}/#/stack/selfservice/dev"))
            .await
            .unwrap();
        until(
            &c,
            20,
            "the stack page",
            "document.querySelector('#op-destroy')",
        )
        .await;
        click(&c, "#op-destroy").await;
        until(
            &c,
            120,
            "the destroy preview",
            "document.querySelector('#destroy-confirm')",
        )
        .await;
        let dels = text_of(&c, "#destroy-deletions").await;
        assert!(dels.contains("file-0") && dels.contains("file-1"), "{dels}");
        type_into(&c, "#destroy-confirm", "dev-typo").await;
        click(&c, "#destroy-go").await;
        until(
            &c,
            20,
            "the refusal",
            "!document.querySelector('#error').hidden",
        )
        .await;
        let err = text_of(&c, "#error").await;
        assert!(
            err.contains("confirm must be the stack's name")
                && err.contains("nothing was destroyed"),
            "{err}"
        );
        assert_eq!(names_in(&files), ["file-0.txt", "file-1.txt"]);
        type_into(&c, "#destroy-confirm", "dev").await;
        shot(&c, "destroy-confirm").await;
        click(&c, "#destroy-go").await;
        until(
            &c,
            180,
            "the list after the destroy",
            "document.querySelector('#notice') && \
             document.querySelector('#notice').textContent.includes('destroyed and removed')",
        )
        .await;
        until(
            &c,
            20,
            "the list",
            "document.querySelector('#stacks-empty')",
        )
        .await;
        assert!(
            c.find(Locator::Css("#stacks tr[data-stack=dev]"))
                .await
                .is_err()
        );
        c.close().await.unwrap();
    });
    drop(driver);
    assert!(names_in(&files).is_empty(), "{:?}", names_in(&files));
    assert!(s.stack_names("selfservice").is_empty());
    let log = s.log();
    assert!(log.contains("destroy confirmed"), "{log}");
    assert!(!log.contains(SECRET), "the secret is in the server's log");
}
