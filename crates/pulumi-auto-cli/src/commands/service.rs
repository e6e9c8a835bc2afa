//! `service stacks|updates|events`: reads of a Pulumi service's REST API (Pulumi Cloud or
//! pulumi-auto-server) over the typed client, every page followed. The access token comes
//! from `PULUMI_ACCESS_TOKEN` only (never from the command line) and is masked in every
//! line the tool prints.

use futures_util::TryStreamExt;
use pulumi_auto::Secret;
use pulumi_auto_client::Client;
use pulumi_auto_types::rest::{ListStacksQuery, ListUpdatesQuery, StackSummary, UpdateSummary};
use serde_json::Value;

use super::{Ctx, Fields, check_maskable};
use crate::args::{
    ServiceArgs, ServiceCommand, ServiceEventsArgs, ServiceStacksArgs, ServiceUpdatesArgs,
};
use crate::exit::Failure;
use crate::report::Mode;

/// The service when neither `--url` nor `PULUMI_BACKEND_URL` names one.
pub const DEFAULT_URL: &str = "https://api.pulumi.com";

/// The variable the access token comes from.
pub const TOKEN_VAR: &str = "PULUMI_ACCESS_TOKEN";

/// The service's URL and where it came from: `--url`, else `PULUMI_BACKEND_URL`, else
/// [`DEFAULT_URL`].
pub fn service_url(flag: Option<&str>, env: Option<&str>) -> (String, &'static str) {
    match (flag, env.filter(|e| !e.trim().is_empty())) {
        (Some(f), _) => (f.to_owned(), "--url"),
        (None, Some(e)) => (e.to_owned(), "PULUMI_BACKEND_URL"),
        (None, None) => (DEFAULT_URL.to_owned(), "the default URL"),
    }
}

/// `ORG/PROJECT/STACK` as its three names (each non-empty; the client checks their
/// characters).
pub fn parse_stack_ref(s: &str) -> Result<(String, String, String), Failure> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [o, p, n] if !o.is_empty() && !p.is_empty() && !n.is_empty() => {
            Ok(((*o).to_owned(), (*p).to_owned(), (*n).to_owned()))
        }
        _ => Err(Failure::usage(format!(
            "{s:?}: expected the stack as ORG/PROJECT/STACK"
        ))),
    }
}

/// The failure of a client error: bad input is a usage error (exit 2, nothing was sent),
/// anything else (401, 403, 404, …, transport) a failure (exit 1) with the server's message.
pub fn client_failure(what: &str, e: pulumi_auto_client::Error) -> Failure {
    match e {
        pulumi_auto_client::Error::InvalidInput(m) => Failure::usage(format!("{what}: {m}")),
        e => Failure::failed(format!("{what}: {e}")),
    }
}

/// A Unix time as RFC 3339 (UTC), or `-` for none.
pub fn time_text(t: Option<i64>) -> String {
    t.filter(|t| *t > 0)
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

/// The table of stacks (a header, then one line a stack).
pub fn stacks_table(stacks: &[StackSummary]) -> Vec<String> {
    if stacks.is_empty() {
        return vec!["no stacks".into()];
    }
    let mut lines = vec![format!(
        "{:<48} {:<22} {}",
        "STACK", "LAST UPDATE", "RESOURCES"
    )];
    for s in stacks {
        lines.push(format!(
            "{:<48} {:<22} {}",
            format!("{}/{}/{}", s.org_name, s.project_name, s.stack_name),
            s.last_update
                .map(|t| time_text(Some(t)))
                .unwrap_or_else(|| "never".into()),
            s.resource_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into())
        ));
    }
    lines
}

/// `create=2 same=1`, in the map's (sorted) order; `-` for none.
fn changes_text(u: &UpdateSummary) -> String {
    match &u.info.resource_changes {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        _ => "-".into(),
    }
}

/// The table of updates (a header, then one line an update).
pub fn updates_table(updates: &[UpdateSummary]) -> Vec<String> {
    if updates.is_empty() {
        return vec!["no updates".into()];
    }
    let mut lines = vec![format!(
        "{:<7} {:<8} {:<11} {:<22} {:<36} {:<24} {}",
        "VERSION", "KIND", "RESULT", "STARTED", "UPDATE ID", "CHANGES", "MESSAGE"
    )];
    for u in updates {
        lines.push(format!(
            "{:<7} {:<8} {:<11} {:<22} {:<36} {:<24} {}",
            u.version,
            u.info.kind,
            u.info.result,
            time_text(Some(u.info.start_time)),
            u.update_id,
            changes_text(u),
            u.info.message.lines().next().unwrap_or("")
        ));
    }
    lines
}

/// The kind of an engine event (its one payload key, `resourcePreEvent`, …) and a short
/// description of it.
pub fn event_kind_and_detail(ev: &Value) -> (String, String) {
    let Some(obj) = ev.as_object() else {
        return ("?".into(), String::new());
    };
    let Some((kind, body)) = obj
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "sequence" | "timestamp"))
    else {
        return ("?".into(), String::new());
    };
    let s = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let detail = match kind.as_str() {
        "resourcePreEvent" | "resOutputsEvent" | "resOpFailedEvent" => {
            let urn = s(body, "/metadata/urn");
            format!(
                "{} {} ({})",
                s(body, "/metadata/op"),
                pulumi_auto::events::urn_name(&urn),
                s(body, "/metadata/type")
            )
        }
        "diagnosticEvent" => format!(
            "{}: {}",
            s(body, "/severity"),
            s(body, "/message").trim_end()
        ),
        "summaryEvent" => body
            .get("resourceChanges")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        "stdoutEvent" => s(body, "/message").trim_end().to_owned(),
        _ => String::new(),
    };
    (kind.clone(), detail)
}

/// The table of engine events (a header, then one line an event).
pub fn events_table(events: &[Value]) -> Vec<String> {
    if events.is_empty() {
        return vec!["no events".into()];
    }
    let mut lines = vec![format!(
        "{:<6} {:<22} {:<20} {}",
        "SEQ", "TIME", "EVENT", "DETAIL"
    )];
    for ev in events {
        let (kind, detail) = event_kind_and_detail(ev);
        lines.push(format!(
            "{:<6} {:<22} {:<20} {}",
            ev.get("sequence").and_then(Value::as_i64).unwrap_or(-1),
            time_text(ev.get("timestamp").and_then(Value::as_i64)),
            kind,
            detail
        ));
    }
    lines
}

/// A JSON value of a REST shape.
fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure::failed(format!("cannot encode the answer: {e}")))
}

impl Ctx {
    /// `service …`.
    pub(super) async fn service(&mut self, a: ServiceArgs) -> Result<Fields, Failure> {
        let client = self.service_client(a.url.as_deref())?;
        match a.command {
            ServiceCommand::Stacks(s) => self.service_stacks(&client, s).await,
            ServiceCommand::Updates(u) => self.service_updates(&client, u).await,
            ServiceCommand::Events(e) => self.service_events(&client, e).await,
        }
    }

    /// The client of the service, with the token of `PULUMI_ACCESS_TOKEN`.
    fn service_client(&self, url_flag: Option<&str>) -> Result<Client, Failure> {
        let env_url = std::env::var("PULUMI_BACKEND_URL").ok();
        let (url, from) = service_url(url_flag, env_url.as_deref());
        if pulumi_auto::workspace::url_has_credentials(&url) {
            return Err(Failure::usage(format!(
                "{from} {:?}: the service URL takes no credentials; the token goes in {TOKEN_VAR}",
                pulumi_auto::workspace::redact_url(&url)
            )));
        }
        let token = match std::env::var(TOKEN_VAR) {
            Ok(t) if !t.is_empty() => Secret::new(t),
            _ => {
                return Err(Failure::usage(format!(
                    "no access token: set {TOKEN_VAR} (the token is never taken from the \
                     command line)"
                )));
            }
        };
        check_maskable(TOKEN_VAR, &token)?;
        self.ui.add_secret(&token);
        Client::new(&url, token).map_err(|e| match e {
            pulumi_auto_client::Error::InvalidInput(m) if m.contains("URL") => Failure::usage(
                format!("{from} {:?}: {m}", pulumi_auto::workspace::redact_url(&url)),
            ),
            e => client_failure(TOKEN_VAR, e),
        })
    }

    /// `service stacks`: every stack the user can see, filtered.
    async fn service_stacks(
        &mut self,
        client: &Client,
        a: ServiceStacksArgs,
    ) -> Result<Fields, Failure> {
        let query = ListStacksQuery {
            organization: a.org,
            project: a.project,
            tag_name: a.tag_name,
            tag_value: a.tag_value,
            continuation_token: None,
        };
        let stacks: Vec<StackSummary> = self
            .ints
            .short("listing the stacks", async {
                client
                    .stacks(query)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| client_failure("listing the stacks", e))
            })
            .await?;
        if self.ui.mode != Mode::Json {
            for l in stacks_table(&stacks) {
                self.ui.out(&l);
            }
        }
        let mut f = Fields::new();
        f.insert("stacks".into(), to_json(&stacks)?);
        Ok(f)
    }

    /// `service updates`: every update of a stack, newest first, page by page.
    async fn service_updates(
        &mut self,
        client: &Client,
        a: ServiceUpdatesArgs,
    ) -> Result<Fields, Failure> {
        let (org, project, stack) = parse_stack_ref(&a.stack)?;
        let what = format!("listing the updates of {}", a.stack);
        let page_size = a.page_size;
        let (updates, total) = self
            .ints
            .short(&what, async {
                let mut all: Vec<UpdateSummary> = Vec::new();
                let mut total = 0;
                for page in 1.. {
                    let q = ListUpdatesQuery {
                        page: Some(page),
                        page_size: Some(page_size),
                        output_type: Some("service".into()),
                    };
                    let r = client
                        .list_updates(&org, &project, &stack, &q)
                        .await
                        .map_err(|e| client_failure(&what, e))?;
                    total = r.total;
                    let n = r.updates.len() as i64;
                    all.extend(r.updates);
                    if n < page_size || all.len() as i64 >= total {
                        break;
                    }
                }
                Ok::<_, Failure>((all, total))
            })
            .await?;
        if self.ui.mode != Mode::Json {
            for l in updates_table(&updates) {
                self.ui.out(&l);
            }
        }
        let mut f = Fields::new();
        f.insert("updates".into(), to_json(&updates)?);
        f.insert("total".into(), Value::from(total));
        Ok(f)
    }

    /// `service events`: every engine event of an update, in order.
    async fn service_events(
        &mut self,
        client: &Client,
        a: ServiceEventsArgs,
    ) -> Result<Fields, Failure> {
        let (org, project, stack) = parse_stack_ref(&a.stack)?;
        let what = format!(
            "reading the events of update {} of {}",
            a.update_id, a.stack
        );
        let events: Vec<Value> = self
            .ints
            .short(&what, async {
                client
                    .update_events(&org, &project, &stack, &a.update_id)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| client_failure(&what, e))
            })
            .await?;
        if self.ui.mode != Mode::Json {
            for l in events_table(&events) {
                self.ui.out(&l);
            }
        }
        let mut f = Fields::new();
        f.insert("events".into(), Value::Array(events));
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;
    use serde_json::json;

    #[test]
    fn the_url_comes_from_the_flag_then_the_environment_then_the_default() {
        assert_eq!(
            service_url(Some("http://a:1"), Some("http://b:2")),
            ("http://a:1".into(), "--url")
        );
        assert_eq!(
            service_url(None, Some("http://b:2")),
            ("http://b:2".into(), "PULUMI_BACKEND_URL")
        );
        assert_eq!(service_url(None, Some(" ")).0, DEFAULT_URL);
        assert_eq!(service_url(None, None).0, DEFAULT_URL);
    }

    #[test]
    fn stack_references_have_three_parts() {
        assert_eq!(
            parse_stack_ref("o/p/s").unwrap(),
            ("o".into(), "p".into(), "s".into())
        );
        for bad in ["", "s", "p/s", "o//s", "o/p/s/x", "/p/s", "o/p/"] {
            let f = parse_stack_ref(bad).unwrap_err();
            assert_eq!(f.exit, Exit::Usage, "{bad:?}");
            assert!(f.message.contains("ORG/PROJECT/STACK"), "{}", f.message);
        }
    }

    #[test]
    fn client_errors_keep_the_servers_message_and_map_to_exit_codes() {
        let f = client_failure(
            "listing",
            pulumi_auto_client::Error::from_answer(
                404,
                r#"{"code":404,"message":"Not Found: stack not found"}"#,
            ),
        );
        assert_eq!(f.exit, Exit::Failed);
        assert_eq!(f.message, "listing: [404] Not Found: stack not found");
        let f = client_failure(
            "x",
            pulumi_auto_client::Error::InvalidInput("invalid stack name".into()),
        );
        assert_eq!(f.exit, Exit::Usage);
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(time_text(Some(0)), "-");
        assert_eq!(time_text(None), "-");
        assert_eq!(time_text(Some(1_700_000_000)), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn events_are_described_by_their_payload() {
        let pre = json!({"sequence": 3, "timestamp": 1_700_000_000, "resourcePreEvent": {
            "metadata": {"op": "create", "urn": "urn:pulumi:dev::p::files:File::greeting",
                         "type": "files:File"}}});
        assert_eq!(
            event_kind_and_detail(&pre),
            (
                "resourcePreEvent".into(),
                "create greeting (files:File)".into()
            )
        );
        let diag = json!({"sequence": 4, "timestamp": 1, "diagnosticEvent": {
            "severity": "warning", "message": "careful\n"}});
        assert_eq!(event_kind_and_detail(&diag).1, "warning: careful");
        let sum = json!({"sequence": 5, "timestamp": 1, "summaryEvent": {
            "resourceChanges": {"create": 2}}});
        assert_eq!(event_kind_and_detail(&sum).1, "create=2");
        assert_eq!(event_kind_and_detail(&json!(1)).0, "?");
        let table = events_table(&[pre, diag]);
        assert_eq!(table.len(), 3);
        assert!(table[0].starts_with("SEQ"));
        assert!(table[1].starts_with("3 "), "{}", table[1]);
        assert_eq!(events_table(&[]), ["no events"]);
    }

    #[test]
    fn tables_show_one_line_a_row() {
        let s = StackSummary {
            org_name: "o".into(),
            project_name: "p".into(),
            stack_name: "s".into(),
            last_update: None,
            resource_count: Some(4),
        };
        let t = stacks_table(&[s]);
        assert_eq!(t.len(), 2);
        assert!(t[1].starts_with("o/p/s "));
        assert!(t[1].contains("never") && t[1].ends_with('4'), "{}", t[1]);
        assert_eq!(stacks_table(&[]), ["no stacks"]);
        assert_eq!(updates_table(&[]), ["no updates"]);
    }
}
