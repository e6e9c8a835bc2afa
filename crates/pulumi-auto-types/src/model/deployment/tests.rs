//! Deployments' tests: exact round trips of recorded exports, helpers, redaction.

use super::*;
use crate::model::outputs::OutputValue;
use crate::model::secrets::{SECRET_SIG, SIG_KEY};
use serde_json::json;

/// Parses, serialises and compares as JSON values.
fn assert_round_trip(input: &str) -> Deployment {
    let parsed = parse_deployment(input).unwrap();
    let original: Value = serde_json::from_str(input).unwrap();
    let written = parsed.to_value().unwrap();
    assert_eq!(written, original, "round trip changed the document");
    let reparsed = parse_deployment(&parsed.to_json().unwrap()).unwrap();
    assert_eq!(reparsed, parsed);
    let pretty = parse_deployment(&parsed.to_json_pretty().unwrap()).unwrap();
    assert_eq!(pretty, parsed);
    parsed
}

// `pulumi stack export` of the `files` fixture after an update that was killed
// mid-way: passphrase secrets (ciphertext), a pending create, a provider, a
// dynamic-provider resource, and fields this crate does not model.
const EXPORT_ENCRYPTED: &str = r#"{
    "version": 3,
    "deployment": {
        "manifest": {
            "time": "2026-08-20T08:44:12.123456789Z",
            "magic": "4f2b0a4e3f3c0f8d8d5c4f1d5e1b1a7c2c0f9e3d3b1a0f9e8d7c6b5a49382716",
            "version": "v3.259.0",
            "plugins": [
                {
                    "name": "python",
                    "path": "/opt/pulumi/bin/pulumi-language-python",
                    "type": "language",
                    "version": "3.259.0"
                }
            ]
        },
        "secrets_providers": {
            "type": "passphrase",
            "state": {
                "salt": "v1:QmFzZTY0U2FsdA==:v1:c29tZW5vbmNl:Y2lwaGVydGV4dA=="
            }
        },
        "resources": [
            {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack",
                "outputs": {
                    "count": 2,
                    "dir": "/tmp/files-test",
                    "files": {
                        "greeting": {"path": "/tmp/files-test/greeting.txt", "size": 5}
                    },
                    "token": {
                        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "ciphertext": "v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB"
                    }
                },
                "created": "2026-08-20T08:44:10.5Z",
                "modified": "2026-08-20T08:44:12.1Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default",
                "custom": true,
                "id": "8b5c3a2e-0000-4000-8000-000000000001",
                "type": "pulumi:providers:pulumi-python",
                "created": "2026-08-20T08:44:10.6Z",
                "modified": "2026-08-20T08:44:10.6Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/files-test/greeting.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {
                    "__provider": "gASVNgAAAAAAAACMCF9fbWFpbl9flIwMRmlsZVByb3ZpZGVylJOUKYGULg==",
                    "content": "hello",
                    "path": "/tmp/files-test/greeting.txt",
                    "size": null
                },
                "outputs": {
                    "__provider": "gASVNgAAAAAAAACMCF9fbWFpbl9flIwMRmlsZVByb3ZpZGVylJOUKYGULg==",
                    "content": "hello",
                    "path": "/tmp/files-test/greeting.txt",
                    "size": 5
                },
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "protect": true,
                "dependencies": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::other"],
                "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                "propertyDependencies": {
                    "content": [],
                    "path": null,
                    "size": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::other"]
                },
                "additionalSecretOutputs": ["content"],
                "customTimeouts": {"create": 60},
                "sourcePosition": "project:///__main__.py#62,13",
                "stackTrace": [{"sourcePosition": "project:///__main__.py#62,13"}],
                "ignoreChanges": ["size"],
                "hideDiff": ["content"],
                "resourceHooks": {"beforeCreate": ["audit"]},
                "created": "2026-08-20T08:44:11.0Z",
                "modified": "2026-08-20T08:44:11.0Z"
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
                "custom": true,
                "delete": true,
                "id": "/tmp/files-test/old-note.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {"path": "/tmp/files-test/old-note.txt"},
                "outputs": {"path": "/tmp/files-test/old-note.txt", "size": 7},
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                "retainOnDelete": true,
                "importID": "/tmp/files-test/old-note.txt",
                "futureResourceField": {"nested": [1, 2, 3]}
            }
        ],
        "pending_operations": [
            {
                "resource": {
                    "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
                    "custom": true,
                    "type": "pulumi-python:dynamic:Resource",
                    "inputs": {
                        "content": "a note\n",
                        "path": "/tmp/files-test/note.txt",
                        "size": null
                    },
                    "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                    "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
                    "created": "2026-08-20T08:44:11.2Z",
                    "modified": "2026-08-20T08:44:11.2Z"
                },
                "type": "creating"
            },
            {
                "resource": {
                    "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::extra",
                    "custom": true,
                    "type": "pulumi-python:dynamic:Resource"
                },
                "type": "transmogrifying",
                "futureOperationField": true
            }
        ],
        "metadata": {},
        "snippets": [
            {"uuid": "0b1e", "name": "s", "type": "t:m:R", "code": "x", "descriptor": {"name": "t"}}
        ]
    },
    "futureTopLevel": "kept"
}
"#;

#[test]
fn encrypted_export_round_trips_and_exposes_helpers() {
    let dep = assert_round_trip(EXPORT_ENCRYPTED);
    assert_eq!(dep.version, 3);
    assert!(dep.features.is_empty());
    assert_eq!(dep.extra["futureTopLevel"], json!("kept"));
    assert_eq!(dep.secrets_provider_type(), Some("passphrase"));

    let d = dep.deployment.as_ref().unwrap();
    assert_eq!(d.manifest.version, "v3.259.0");
    assert_eq!(d.manifest.plugins[0].type_, PluginKind::Language);
    assert_eq!(d.metadata, Some(SnapshotMetadata::default()));
    assert!(d.extra.contains_key("snippets"));

    assert_eq!(dep.resources().len(), 4);
    // root stack and provider excluded, and the delete-marked note too
    assert_eq!(dep.resource_count(), 1);
    assert!(dep.has_pending_operations());
    let ops = dep.pending_operations();
    assert_eq!(ops[0].type_, OperationType::Creating);
    assert_eq!(ops[0].resource.name(), "note");
    assert_eq!(ops[1].type_, OperationType::Other("transmogrifying".into()));

    let root = dep.root_stack().unwrap();
    assert!(root.is_root_stack() && !root.custom);
    assert_eq!(root.name(), "files-dev");

    let greeting = dep
        .find_resource("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting")
        .unwrap();
    assert!(greeting.protect && !greeting.delete);
    assert_eq!(greeting.id.as_deref(), Some("/tmp/files-test/greeting.txt"));
    assert_eq!(greeting.inputs["size"], Value::Null);
    assert_eq!(greeting.outputs["size"], json!(5));
    assert_eq!(greeting.custom_timeouts, Some(json!({"create": 60})));
    assert_eq!(greeting.property_dependencies_of("path"), &[] as &[String]);
    assert_eq!(
        greeting.property_dependencies_of("content"),
        &[] as &[String]
    );
    assert_eq!(greeting.property_dependencies_of("size").len(), 1);
    assert_eq!(
        greeting.property_dependencies_of("missing"),
        &[] as &[String]
    );
    assert!(greeting.extra.contains_key("stackTrace"));
    assert!(greeting.extra.contains_key("resourceHooks"));

    let note = dep
        .find_resource("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note")
        .unwrap();
    assert!(note.delete && note.retain_on_delete);
    assert_eq!(
        note.import_id.as_deref(),
        Some("/tmp/files-test/old-note.txt")
    );

    let provider = &dep.resources()[1];
    assert!(provider.is_provider());

    let outs = dep.stack_outputs();
    assert_eq!(outs["count"], OutputValue::plain(json!(2)));
    assert_eq!(outs["token"], OutputValue::secret(json!("[secret]")));
    assert!(outs["token"].is_redacted());
}

// `pulumi stack export --show-secrets`, version 4 with features.
const EXPORT_SHOW_SECRETS_V4: &str = r#"{
    "version": 4,
    "features": ["refreshBeforeUpdate"],
    "deployment": {
        "manifest": {"time": "2026-08-20T08:44:12Z", "magic": "abc", "version": "v3.259.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:bm9uY2U=:Y3Q="}},
        "resources": [
            {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack",
                "outputs": {
                    "token": {
                        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                        "plaintext": "\"token-default\""
                    },
                    "db": {
                        "host": "db.local",
                        "password": {
                            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                            "plaintext": "\"pw\""
                        }
                    },
                    "asset": {
                        "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17",
                        "hash": "abc",
                        "text": "hi"
                    }
                }
            },
            {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/g",
                "type": "pulumi-python:dynamic:Resource",
                "refreshBeforeUpdate": true,
                "taint": true,
                "external": true,
                "pendingReplacement": true,
                "initErrors": ["boom"],
                "aliases": ["urn:pulumi:dev::files::pulumi-python:dynamic:Resource::old"],
                "deletedWith": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "replaceOnChanges": ["path"],
                "viewOf": "urn:pulumi:dev::files::x:y:Z::v"
            }
        ],
        "metadata": {
            "integrity_error": {"version": "v3.259.0", "command": "pulumi up", "error": "bad"}
        }
    }
}
"#;

#[test]
fn show_secrets_v4_export_round_trips_and_decodes_secrets() {
    let dep = assert_round_trip(EXPORT_SHOW_SECRETS_V4);
    assert_eq!(dep.version, 4);
    assert_eq!(dep.features, vec!["refreshBeforeUpdate"]);
    let outs = dep.stack_outputs();
    assert_eq!(outs["token"], OutputValue::secret(json!("token-default")));
    assert_eq!(
        outs["db"],
        OutputValue::secret(json!({"host": "db.local", "password": "pw"}))
    );
    assert!(!outs["asset"].secret);
    let g = &dep.resources()[1];
    assert!(g.refresh_before_update && g.taint && g.external && g.pending_replacement);
    assert_eq!(g.init_errors, vec!["boom"]);
    assert_eq!(g.replace_on_changes, vec!["path"]);
    assert!(
        dep.deployment
            .as_ref()
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .integrity_error
            .is_some()
    );
    assert_eq!(dep.resource_count(), 1);
    assert!(!dep.has_pending_operations());
}

#[test]
fn never_updated_stack_has_null_deployment() {
    let dep = assert_round_trip("{\n    \"version\": 3,\n    \"deployment\": null\n}\n");
    assert!(dep.deployment.is_none());
    assert!(dep.resources().is_empty());
    assert!(dep.pending_operations().is_empty());
    assert_eq!(dep.resource_count(), 0);
    assert!(dep.stack_outputs().is_empty());
    assert_eq!(dep.secrets_provider_type(), None);
    assert_eq!(dep.root_stack(), None);
}

#[test]
fn empty_stack_after_destroy() {
    let dep = assert_round_trip(
        r#"{"version":3,"deployment":{"manifest":{"time":"2026-08-20T08:44:12Z","magic":"m","version":"v3.259.0"},"secrets_providers":{"type":"passphrase","state":{"salt":"v1:x"}},"metadata":{}}}"#,
    );
    assert!(dep.resources().is_empty());
}

#[test]
fn edits_survive_serialisation() {
    let mut dep = parse_deployment(EXPORT_ENCRYPTED).unwrap();
    let d = dep.deployment.as_mut().unwrap();
    d.pending_operations
        .retain(|op| op.type_ != OperationType::Creating);
    d.resources[2].protect = false;
    let v = dep.to_value().unwrap();
    assert_eq!(
        v["deployment"]["pending_operations"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(v["deployment"]["resources"][2].get("protect").is_none());
    assert_eq!(
        v["deployment"]["resources"][2]["resourceHooks"],
        json!({"beforeCreate": ["audit"]})
    );
    if let Some(d) = dep.deployment.as_mut() {
        d.pending_operations.clear();
    }
    let v = dep.to_value().unwrap();
    assert!(v["deployment"].get("pending_operations").is_none());
    assert!(!dep.has_pending_operations());
}

#[test]
fn debug_redacts_plaintext_secrets() {
    let dep = parse_deployment(EXPORT_SHOW_SECRETS_V4).unwrap();
    let dbg = format!("{dep:?}");
    assert!(!dbg.contains("token-default"), "{dbg}");
    assert!(!dbg.contains("pw\\\""), "{dbg}");
    assert!(dbg.contains("db.local"));
    assert!(dbg.contains("[secret]"));
}

#[test]
fn explicit_empty_omitempty_fields_are_normalised_like_go() {
    // The CLI never writes these (Go `omitempty`); if present they are dropped,
    // which `pulumi stack import` treats the same as absent.
    let dep = parse_deployment(
            r#"{"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},
                "resources":[{"urn":"u","custom":true,"type":"t","delete":false,"dependencies":[],"inputs":{}}],
                "pending_operations":[]}}"#,
        )
        .unwrap();
    assert_eq!(
        dep.to_value().unwrap(),
        json!({"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},
                   "resources":[{"urn":"u","custom":true,"type":"t"}]}})
    );
}

#[test]
fn find_resource_prefers_live_copy() {
    let mk = |delete: bool, id: &str| ResourceState {
        urn: "urn:pulumi:s::p::t:m:R::r".into(),
        type_: "t:m:R".into(),
        delete,
        id: Some(id.into()),
        custom: true,
        ..Default::default()
    };
    let dep = Deployment {
        version: 3,
        features: vec![],
        deployment: Some(DeploymentV3 {
            manifest: Manifest::default(),
            secrets_providers: None,
            resources: vec![mk(true, "old"), mk(false, "new")],
            pending_operations: vec![],
            metadata: None,
            extra: Map::new(),
        }),
        extra: Map::new(),
    };
    assert_eq!(
        dep.find_resource("urn:pulumi:s::p::t:m:R::r")
            .and_then(|r| r.id.as_deref()),
        Some("new")
    );
    assert_eq!(dep.find_resource("nope"), None);
    assert_eq!(dep.resource_count(), 1);
}

#[test]
fn names_from_urns() {
    let r = |urn: &str| ResourceState {
        urn: urn.into(),
        ..Default::default()
    };
    assert_eq!(
        r("urn:pulumi:dev::proj::aws:s3/bucket:Bucket::logs").name(),
        "logs"
    );
    assert_eq!(
        r("urn:pulumi:dev::proj::my:comp:C$aws:s3/bucket:Bucket::a::b").name(),
        "a::b"
    );
    assert_eq!(r("garbage").name(), "");
}

#[test]
fn errors_are_bounded_and_masked() {
    assert!(matches!(
        parse_deployment(""),
        Err(ModelError::Empty { .. })
    ));
    let bad = EXPORT_SHOW_SECRETS_V4.replace("\"custom\": true", "\"custom\": \"yes\"");
    let err = parse_deployment(&bad).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("token-default"), "{text}");
    assert!(text.len() < 800, "{text}");
    assert!(parse_deployment(r#"{"version":3,"deployment":{"resources":[]}}"#).is_err());
    assert!(parse_deployment("[]").is_err());
}

#[test]
fn secret_object_constants_match_the_fixture() {
    let dep = parse_deployment(EXPORT_ENCRYPTED).unwrap();
    let token = &dep.root_stack().unwrap().outputs["token"];
    assert_eq!(token[SIG_KEY], json!(SECRET_SIG));
}
