//! Every parser must return (Ok or Err) on any prefix or corruption of realistic
//! input, and errors must stay short.

use super::*;

const SAMPLES: &[&str] = &[
    r#"{"a": 1, "token": "[secret]", "nested": {"x": ["[secret]", 2.5, null, true]}}"#,
    r#"[{"version":0,"kind":"update","startTime":"2026-08-20T08:44:10.000Z","message":"m","environment":{"k":"v"},"config":{"p:k":{"value":"é✓","secret":true}},"result":"succeeded","endTime":"2026-08-20T08:44:12.000Z","resourceChanges":{"create":1}}]"#,
    r#"{"p:a":{"value":"[1]","objectValue":[1],"secret":false},"p:b":{"secret":true}}"#,
    r#"[{"name":"dev","current":true,"lastUpdate":"2026-08-20T08:44:10.000Z","resourceCount":4}]"#,
    r#"{"user":"u","organizations":["o"],"url":"file:///x","tokenInformation":{"name":"t"}}"#,
    r#"[{"name":"aws","kind":"resource","version":"6.0.0","size":1,"installTime":"t"}]"#,
    r#"{"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},"resources":[{"urn":"urn:pulumi:s::p::t:m:R::n","custom":true,"type":"t:m:R","outputs":{"s":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"x\""}}}],"pending_operations":[{"resource":{"urn":"u","custom":true,"type":"t"},"type":"creating"}],"metadata":{}}}"#,
    "{\n    \"steps\": [{\"op\": \"create\", \"urn\": \"u\", \"detailedDiff\": {\"a\": {\"kind\": \"add\", \"inputDiff\": false}}}],\n    \"duration\": 5\n}\n{\"sequence\":0,\"timestamp\":1,\"cancelEvent\":{}}\n",
];

fn run_all(input: &str) {
    let errors = [
        parse_outputs(input, None).err(),
        parse_outputs("{}", Some(input)).err(),
        parse_history(input).err(),
        parse_config(input).err(),
        parse_config_value(input).err(),
        parse_stack_list(input).err(),
        parse_whoami(input).err(),
        parse_tags(input).err(),
        parse_plugins(input).err(),
        parse_deployment(input).err(),
        parse_preview(input).err(),
        parse_preview_output(input).err(),
    ];
    for err in errors.into_iter().flatten() {
        let text = err.to_string();
        assert!(text.chars().count() < 1200, "error too long: {text}");
        if let ModelError::Json { snippet, .. } | ModelError::Unexpected { snippet, .. } = &err {
            assert!(snippet.chars().count() <= MAX_SNIPPET_CHARS);
        }
    }
}

#[test]
fn every_prefix_of_every_sample() {
    for sample in SAMPLES {
        run_all(sample);
        for (i, _) in sample.char_indices() {
            run_all(&sample[..i]);
        }
    }
}

#[test]
fn corrupted_samples() {
    let replacements = ['"', '}', ']', ':', '\\', 'é'];
    for sample in SAMPLES {
        let chars: Vec<char> = sample.chars().collect();
        for i in 0..chars.len() {
            for r in replacements {
                let mut c = chars.clone();
                c[i] = r;
                run_all(&c.into_iter().collect::<String>());
            }
        }
    }
}

#[test]
fn huge_document_error_is_bounded() {
    let mut doc = String::from(
        r#"{"version":3,"deployment":{"manifest":{"time":"t","magic":"m","version":"v"},"resources":["#,
    );
    for i in 0..5000 {
        doc.push_str(&format!(r#"{{"urn":"urn:pulumi:s::p::t:m:R::r{i}","custom":true,"type":"t:m:R","outputs":{{"secret":"value-{i}"}}}},"#));
    }
    doc.push_str(r#"{"urn": 5}]}}"#);
    let err = parse_deployment(&doc).unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 1000, "{}", text.len());
    assert!(!text.contains("value-4999"), "{text}");
}
