//! The OpenAPI 3.1 document of everything the server mounts under `/api`: the Service
//! routes the `pulumi` CLI calls, the documented REST API, and the custom API
//! (`/api/programs/…`). It is served at `GET /api/openapi.json` (no token needed), printed
//! by `pulumi-auto-server openapi`, and committed as `docs/openapi.json`.
//!
//! The router and the document come from one source: every `/api` route is mounted through
//! [`ApiRoutes`], which takes only handlers collected by utoipa-axum's `routes!` macro, so the
//! method and path each handler is mounted at are those of its `#[utoipa::path]` attribute
//! (a route without one does not compile). [`document`] then fills in what every operation
//! shares: the path parameters of its template, the token security scheme, and the
//! `{code, message}` error answers.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::api::AppState;

/// Routes under `/api`, each with its OpenAPI operation. Only `routes!` collections go in.
pub struct ApiRoutes(OpenApiRouter<Arc<AppState>>);

impl Default for ApiRoutes {
    fn default() -> Self {
        ApiRoutes::new()
    }
}

impl ApiRoutes {
    /// No routes.
    pub fn new() -> ApiRoutes {
        ApiRoutes(OpenApiRouter::new())
    }

    /// Mounts handlers of one path (collected with `utoipa_axum::routes!`).
    pub fn routes(self, r: UtoipaMethodRouter<Arc<AppState>>) -> ApiRoutes {
        ApiRoutes(self.0.routes(r))
    }

    /// Adds the routes of `other`.
    pub fn merge(self, other: ApiRoutes) -> ApiRoutes {
        ApiRoutes(self.0.merge(other.0))
    }

    /// The axum router and the OpenAPI operations of these routes.
    pub fn split(self) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
        self.0.split_for_parts()
    }
}

/// The routes mounted before authentication: this document.
pub fn public_routes() -> ApiRoutes {
    ApiRoutes::new().routes(routes!(openapi_json))
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document_json(),
    )
        .into_response()
}

/// The document, as pretty-printed JSON with sorted keys and a final newline (the text of
/// `docs/openapi.json`); built once.
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
        text.push('\n');
        text
    })
}

/// The document as JSON: the operations of every `/api` route, completed (see the module).
pub fn document() -> Value {
    let (_, api) = crate::api::routes().merge(public_routes()).split();
    let mut doc = serde_json::to_value(&api).unwrap_or(Value::Null);
    doc["info"] = json!({
        "title": "pulumi-auto-server",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "A Pulumi service backend: the routes the pulumi CLI calls when logged \
            in to it (tag `service`), the documented Pulumi Service REST API for users, and \
            the custom API of the server's own programs (tag `programs`). Every route but this \
            document needs `Authorization: token <access token>`; errors answer \
            `{code, message}`.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    });
    doc["security"] = json!([{"token": []}]);
    let components = doc
        .as_object_mut()
        .map(|o| o.entry("components").or_insert_with(|| json!({})));
    if let Some(c) = components {
        c["securitySchemes"] = json!({"token": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`token <access token>`, as the pulumi CLI sends it",
        }});
        c["responses"] = json!({
            "Error": {
                "description": "An error: `{code, message}`",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
            },
        });
        c["schemas"]["ErrorResponse"] = json!({
            "type": "object",
            "description": "The body of every error answer.",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status code."},
                "message": {"type": "string", "description": "A message for a human."},
            },
        });
    }
    unique_operation_ids(&mut doc);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let names = template_names(path);
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                complete_operation(op, &names);
            }
        }
    }
    canonical(doc)
}

/// Operation ids are the handlers' names, which repeat across modules (`list`,
/// `get_stack`…); OpenAPI wants them unique, so a repeated one gets its tag in front.
fn unique_operation_ids(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    for item in paths.values() {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = op["operationId"].as_str() {
                *seen.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    for item in paths.values_mut() {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            let Some(id) = op["operationId"].as_str().map(str::to_owned) else {
                continue;
            };
            if seen.get(&id).is_some_and(|n| *n > 1) {
                let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
                op["operationId"] = Value::String(format!("{tag}_{id}"));
            }
        }
    }
}

/// The `{name}`s of a path template, in order.
fn template_names(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Adds an operation's path parameters (those its attribute does not declare) and its
/// error answers.
fn complete_operation(op: &mut Value, names: &[String]) {
    let Some(op) = op.as_object_mut() else {
        return;
    };
    let params = op
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = params.as_array_mut() {
        let declared: Vec<String> = list
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let mut path_params: Vec<Value> = names
            .iter()
            .filter(|n| !declared.contains(n))
            .map(|n| {
                json!({"name": n, "in": "path", "required": true,
                       "schema": {"type": "string"}})
            })
            .collect();
        path_params.append(list);
        *list = path_params;
        if list.is_empty() {
            op.remove("parameters");
        }
    }
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
    let has_input = op.contains_key("requestBody") || op.contains_key("parameters");
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let error = json!({"$ref": "#/components/responses/Error"});
    let mut codes: Vec<&str> = Vec::new();
    if has_input {
        codes.push("400");
    }
    if !public {
        codes.extend(["401", "403", "404"]);
    }
    codes.push("500");
    for code in codes {
        responses
            .entry(code.to_owned())
            .or_insert_with(|| error.clone());
    }
}

/// The value with every object's keys sorted, so the text does not depend on how serde_json
/// orders maps in this build.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_in_order() {
        assert_eq!(
            template_names("/api/stacks/{org}/{project}/{stack}/tags/{tag}"),
            ["org", "project", "stack", "tag"]
        );
        assert!(template_names("/api/user").is_empty());
    }

    #[test]
    fn an_operation_gets_its_path_parameters_and_errors() {
        let mut op = json!({"responses": {"200": {"description": "OK"}},
                            "requestBody": {"content": {}}});
        complete_operation(&mut op, &["org".into(), "name".into()]);
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["org", "name"]);
        for code in ["200", "400", "401", "403", "404", "500"] {
            assert!(op["responses"].get(code).is_some(), "{code}");
        }
        let mut public = json!({"responses": {"200": {}}, "security": [{}]});
        complete_operation(&mut public, &[]);
        assert!(public["responses"].get("401").is_none());
        assert!(public.get("parameters").is_none());
    }

    /// Every route is mounted through [`ApiRoutes`] (which has no `route`), so none can be
    /// missing from the document; this finds one mounted past it, as plain axum would.
    #[test]
    fn no_route_is_mounted_past_the_document() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let lines: Vec<&str> = text.lines().collect();
                    for (i, line) in lines.iter().enumerate() {
                        // Spelled in pieces, so that these lines are no hit themselves.
                        let mounts = [
                            concat!(".rou", "te("),
                            concat!(".rou", "te_service("),
                            concat!(".ne", "st("),
                            concat!(".ne", "st_service("),
                        ];
                        // A literal path outside /api (a page, /healthz) is not the API's.
                        // rustfmt puts a long call's path on the next line.
                        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
                        let hit = mounts.iter().any(|m| {
                            line.split(m).skip(1).any(|rest| {
                                let rest = if rest.trim().is_empty() { next } else { rest };
                                !rest.starts_with("\"/") || rest.starts_with("\"/api")
                            })
                        });
                        if hit {
                            found.push(format!("{}:{}: {line}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "routes mounted without an OpenAPI operation (use ApiRoutes and #[utoipa::path]):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_and_stable() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/api/openapi.json"]["get"].is_object());
        assert_eq!(document(), doc);
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ids.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids are unique");
    }
}
