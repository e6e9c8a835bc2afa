//! The protocol subset in `proto/` against pulumi's own descriptors at the pinned version:
//! every message, field, enum value and service method the project defines must match, by
//! name, number, type and label, the descriptors that protoc-gen-go compiled into the
//! `sdk/v3` Go module's `proto/go/*.pb.go` (their `file_…_rawDesc` constants). A wrong
//! field number fails here instead of silently dropping data on the wire.
#![cfg(feature = "inline")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// The `sdk/v3` module directory: `PULUMI_AUTO_SDK_DIR` (set by `scripts/test`), else
/// Go's module cache at the pinned version. Missing, the test fails: it is never skipped.
fn sdk_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PULUMI_AUTO_SDK_DIR") {
        return PathBuf::from(d);
    }
    let version = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/PULUMI_VERSION"))
        .expect("PULUMI_VERSION")
        .trim()
        .to_owned();
    let out = std::process::Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .expect("no PULUMI_AUTO_SDK_DIR and no `go` to find the module cache (run scripts/test)");
    let cache = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    PathBuf::from(cache).join(format!("github.com/pulumi/pulumi/sdk/v3@v{version}"))
}

/// Reads a Go interpreted string literal's body (between the quotes).
fn unquote_go(body: &str, out: &mut Vec<u8>) {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' | b'"' | b'\'' => out.push(c),
            b'x' => {
                let h = std::str::from_utf8(&b[i..i + 2]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            b'0'..=b'7' => {
                let o = std::str::from_utf8(&b[i - 1..i + 2]).unwrap();
                out.push(u8::from_str_radix(o, 8).unwrap());
                i += 2;
            }
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let h = std::str::from_utf8(&b[i..i + n]).unwrap();
                let ch = char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap();
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            other => panic!("unknown Go escape \\{}", other as char),
        }
    }
}

/// The raw descriptor a `.pb.go` file carries: `const file_…_rawDesc = "" + "…" + …`.
fn raw_descriptor(go: &str) -> Option<Vec<u8>> {
    let start = go.find("_rawDesc = \"\" +\n")?;
    let mut bytes = Vec::new();
    for line in go[start..].lines().skip(1) {
        let line = line.trim();
        let (lit, more) = match line.strip_suffix(" +") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let body = lit
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("not a string literal: {line}"));
        unquote_go(body, &mut bytes);
        if !more {
            break;
        }
    }
    Some(bytes)
}

/// Every pulumi descriptor of the Go module, by file name.
fn pulumi_files() -> Vec<FileDescriptorProto> {
    let dir = sdk_dir().join("proto/go");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the sdk/v3 module at the pinned version; run scripts/test)",
            dir.display()
        )
    });
    let mut files = Vec::new();
    for e in entries {
        let p = e.unwrap().path();
        if !p.to_string_lossy().ends_with(".pb.go") {
            continue;
        }
        let go = std::fs::read_to_string(&p).unwrap();
        if let Some(raw) = raw_descriptor(&go) {
            files.push(FileDescriptorProto::decode(raw.as_slice()).unwrap());
        }
    }
    assert!(files.len() >= 5, "too few descriptors in {}", dir.display());
    files
}

fn ours() -> Vec<FileDescriptorProto> {
    FileDescriptorSet::decode(pulumi_auto::inline::FILE_DESCRIPTOR_SET)
        .unwrap()
        .file
        .into_iter()
        .filter(|f| f.package() == "pulumirpc")
        .collect()
}

fn messages<'a>(
    prefix: &str,
    ms: &'a [DescriptorProto],
    out: &mut BTreeMap<String, &'a DescriptorProto>,
) {
    for m in ms {
        let name = format!("{prefix}.{}", m.name());
        messages(&name, &m.nested_type, out);
        out.insert(name, m);
    }
}

/// The differences between our definitions and theirs (empty when they agree).
fn differences(ours: &[FileDescriptorProto], theirs: &[FileDescriptorProto]) -> Vec<String> {
    let mut their_msgs = BTreeMap::new();
    let mut their_enums = BTreeMap::new();
    let mut their_services = BTreeMap::new();
    for f in theirs {
        let p = format!(".{}", f.package());
        messages(&p, &f.message_type, &mut their_msgs);
        for e in &f.enum_type {
            their_enums.insert(format!("{p}.{}", e.name()), e);
        }
        for s in &f.service {
            their_services.insert(format!("{p}.{}", s.name()), s);
        }
    }
    let mut diffs = Vec::new();
    let mut our_msgs = BTreeMap::new();
    for f in ours {
        let p = format!(".{}", f.package());
        messages(&p, &f.message_type, &mut our_msgs);
        for e in &f.enum_type {
            let name = format!("{p}.{}", e.name());
            let Some(t) = their_enums.get(&name) else {
                diffs.push(format!("enum {name}: not in pulumi's protocol"));
                continue;
            };
            for v in &e.value {
                match t.value.iter().find(|x| x.name() == v.name()) {
                    Some(x) if x.number() == v.number() => {}
                    Some(x) => diffs.push(format!(
                        "{name}.{}: {} here, {} in pulumi",
                        v.name(),
                        v.number(),
                        x.number()
                    )),
                    None => diffs.push(format!("{name}.{}: no such value", v.name())),
                }
            }
        }
        for s in &f.service {
            let name = format!("{p}.{}", s.name());
            let Some(t) = their_services.get(&name) else {
                diffs.push(format!("service {name}: not in pulumi's protocol"));
                continue;
            };
            for m in &s.method {
                let what = format!("{name}/{}", m.name());
                match t.method.iter().find(|x| x.name() == m.name()) {
                    None => diffs.push(format!("{what}: no such method")),
                    Some(x) => {
                        let sig = |m: &prost_types::MethodDescriptorProto| {
                            (
                                m.input_type().to_owned(),
                                m.output_type().to_owned(),
                                m.client_streaming(),
                                m.server_streaming(),
                            )
                        };
                        if sig(m) != sig(x) {
                            diffs.push(format!(
                                "{what}: {:?} here, {:?} in pulumi",
                                sig(m),
                                sig(x)
                            ));
                        }
                    }
                }
            }
        }
    }
    for (name, m) in &our_msgs {
        let Some(t) = their_msgs.get(name) else {
            diffs.push(format!("message {name}: not in pulumi's protocol"));
            continue;
        };
        let map_entry = |m: &DescriptorProto| m.options.as_ref().is_some_and(|o| o.map_entry());
        if map_entry(m) != map_entry(t) {
            diffs.push(format!("message {name}: map entry differs"));
        }
        for f in &m.field {
            let what = format!("{name}.{}", f.name());
            let Some(x) = t.field.iter().find(|x| x.name() == f.name()) else {
                diffs.push(format!("{what}: no such field"));
                continue;
            };
            let sig = |f: &prost_types::FieldDescriptorProto| {
                (
                    f.number(),
                    f.label(),
                    f.r#type(),
                    f.type_name().to_owned(),
                    f.proto3_optional(),
                )
            };
            if sig(f) != sig(x) {
                diffs.push(format!("{what}: {:?} here, {:?} in pulumi", sig(f), sig(x)));
            }
        }
    }
    diffs
}

#[test]
fn every_definition_matches_the_pinned_protocol() {
    let ours = ours();
    let names: Vec<_> = ours.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names.len(), 5, "the five files of proto/pulumi: {names:?}");
    let diffs = differences(&ours, &pulumi_files());
    assert!(
        diffs.is_empty(),
        "the protocol subset differs from pulumi's:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn a_wrong_field_number_type_or_name_is_found() {
    let theirs = pulumi_files();
    let run = |edit: &dyn Fn(&mut Vec<FileDescriptorProto>)| {
        let mut ours = ours();
        edit(&mut ours);
        differences(&ours, &theirs)
    };
    let field = |files: &mut Vec<FileDescriptorProto>,
                 msg: &str,
                 field: &str|
     -> *mut prost_types::FieldDescriptorProto {
        for f in files.iter_mut() {
            for m in &mut f.message_type {
                if m.name() == msg {
                    for x in &mut m.field {
                        if x.name() == field {
                            return x;
                        }
                    }
                }
            }
        }
        panic!("{msg}.{field} not defined");
    };
    // Safety of the raw pointers: each points into the vector the closure was given.
    let d = run(&|o| unsafe { (*field(o, "RunRequest", "monitor_address")).number = Some(10) });
    assert!(
        d.iter().any(|d| d.contains("RunRequest.monitor_address")),
        "{d:?}"
    );
    let d = run(&|o| unsafe {
        (*field(o, "RegisterResourceRequest", "custom")).r#type =
            Some(prost_types::field_descriptor_proto::Type::String as i32)
    });
    assert!(
        d.iter()
            .any(|d| d.contains("RegisterResourceRequest.custom")),
        "{d:?}"
    );
    let d = run(&|o| unsafe { (*field(o, "LogRequest", "urn")).name = Some("resource".into()) });
    assert!(d.iter().any(|d| d.contains("no such field")), "{d:?}");
    let d = run(&|o| {
        for f in o.iter_mut() {
            for e in &mut f.enum_type {
                e.value[1].number = Some(7);
            }
        }
    });
    assert!(d.iter().any(|d| d.contains("LogSeverity.INFO")), "{d:?}");
}
