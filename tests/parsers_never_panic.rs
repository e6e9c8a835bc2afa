//! Every parser returns (Ok or Err) and never panics, on what the real CLI printed
//! (fixtures/cli/, fuzz/seeds/, the programs' Pulumi.yaml files) and on many deterministic
//! mutations of it: truncations, byte flips, invalid UTF-8, JSON and YAML type swaps, huge
//! numbers, deep nesting, alias bombs, empty and odd inputs. The recorded inputs themselves
//! must parse. The fuzz targets in fuzz/ drive the parsers through the same functions
//! (fuzz/src/lib.rs), with coverage-guided mutations instead; see docs/fuzzing.md.

#[path = "../fuzz/src/lib.rs"]
mod exercise;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Which parser an input is for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Parser {
    EventLine,
    EventLog,
    Json(&'static str),
    Yaml(&'static str),
    Version,
}

impl Parser {
    fn all() -> Vec<Parser> {
        let mut all = vec![Parser::EventLine, Parser::EventLog, Parser::Version];
        all.extend(exercise::JSON_PARSERS.iter().map(|&n| Parser::Json(n)));
        all.extend(exercise::YAML_PARSERS.iter().map(|&n| Parser::Yaml(n)));
        all
    }

    /// Runs the parser (and the accessors on its result): its result, or the panic.
    fn run(self, input: &str) -> std::thread::Result<Result<String, String>> {
        catch_unwind(AssertUnwindSafe(|| match self {
            Parser::EventLine => exercise::event_line(input),
            Parser::EventLog => exercise::event_log(input),
            Parser::Json(name) => exercise::json_output(json_index(name), input),
            Parser::Yaml(name) => exercise::yaml_settings(yaml_index(name), input),
            Parser::Version => exercise::version(input),
        }))
    }

    fn is_yaml(self) -> bool {
        matches!(self, Parser::Yaml(_))
    }

    fn is_json(self) -> bool {
        matches!(self, Parser::EventLine | Parser::Json(_))
    }
}

fn json_index(name: &str) -> usize {
    exercise::JSON_PARSERS
        .iter()
        .position(|&n| n == name)
        .unwrap()
}

fn yaml_index(name: &str) -> usize {
    exercise::YAML_PARSERS
        .iter()
        .position(|&n| n == name)
        .unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A recorded input and the parser it is the output for.
struct Recorded {
    name: String,
    parser: Parser,
    text: String,
}

/// Every recorded input with its parser: the same mapping as fuzz/seed.sh.
fn recorded() -> Vec<Recorded> {
    let cli = repo().join("fixtures/cli");
    let mut out = Vec::new();
    let mut add = |name: String, parser: Parser, text: String| {
        out.push(Recorded { name, parser, text });
    };
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&cli)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".events.jsonl"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 8, "only {} recorded event logs", logs.len());
    for log in logs {
        let name = log.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(&log);
        for (i, line) in text.lines().enumerate() {
            add(
                format!("{name}:{}", i + 1),
                Parser::EventLine,
                line.to_owned(),
            );
        }
        add(name, Parser::EventLog, text);
    }
    for (file, parser) in [
        ("stack-output.stdout", "outputs"),
        ("stack-output-secrets.stdout", "outputs"),
        ("stack-history.stdout", "history"),
        ("config.stdout", "config"),
        ("config-secrets.stdout", "config"),
        ("config-get.stdout", "config-value"),
        ("stack-ls.stdout", "stack-list"),
        ("stack-tags.stdout", "tags"),
        ("preview.json", "preview"),
        ("preview-changes.json", "preview"),
        ("preview.json", "preview-output"),
        ("stack-export.stdout", "deployment"),
        ("stack-export-secrets.stdout", "deployment"),
        ("whoami.stdout", "whoami"),
    ] {
        add(file.to_owned(), Parser::Json(parser), read(&cli.join(file)));
    }
    let revealed = format!(
        "{}\0{}",
        read(&cli.join("stack-output.stdout")),
        read(&cli.join("stack-output-secrets.stdout"))
    );
    add(
        "stack-output + secrets".into(),
        Parser::Json("outputs+revealed"),
        revealed,
    );
    // What `pulumi up --json` prints without --skip-preview: the digest, then events.
    let up: Vec<String> = read(&cli.join("up.events.jsonl"))
        .lines()
        .take(3)
        .map(str::to_owned)
        .collect();
    add(
        "preview.json + events".into(),
        Parser::Json("preview-output"),
        format!("{}\n{}\n", read(&cli.join("preview.json")), up.join("\n")),
    );
    let seeds = repo().join("fuzz/seeds");
    add(
        "plugin-ls.json".into(),
        Parser::Json("plugins"),
        read(&seeds.join("plugin-ls.json")),
    );
    add(
        "Pulumi.dev.yaml".into(),
        Parser::Yaml("stack-settings"),
        read(&seeds.join("Pulumi.dev.yaml")),
    );
    add(
        "version.txt".into(),
        Parser::Version,
        read(&seeds.join("version.txt")),
    );
    add(
        "PULUMI_VERSION".into(),
        Parser::Version,
        read(&repo().join("PULUMI_VERSION")),
    );
    for program in ["files", "failing", "slow", "many"] {
        let path = repo()
            .join("fixtures/programs")
            .join(program)
            .join("Pulumi.yaml");
        add(
            format!("{program}/Pulumi.yaml"),
            Parser::Yaml("project"),
            read(&path),
        );
    }
    out
}

/// Recorded outputs that are not the parsers' input: they must only not panic.
fn unparseable_recordings() -> Vec<String> {
    let cli = repo().join("fixtures/cli");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(cli).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy();
        if name.ends_with(".stderr") || name.ends_with(".exit") || name.contains("-failure.") {
            out.push(read(&path));
        }
    }
    out
}

/// A small deterministic PRNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Runs inputs through parsers and collects panics.
#[derive(Default)]
struct Harness {
    runs: usize,
    oks: usize,
    errs: usize,
    panics: Vec<String>,
}

impl Harness {
    fn run(&mut self, parser: Parser, label: &str, input: &str) -> Option<Result<String, String>> {
        self.check(&format!("{parser:?}"), label, input, || parser.run(input))
    }

    /// Runs `f` (one parser on `input`): its result, or `None` with the panic recorded.
    fn check(
        &mut self,
        parser: &str,
        label: &str,
        input: &str,
        f: impl FnOnce() -> std::thread::Result<Result<String, String>>,
    ) -> Option<Result<String, String>> {
        self.runs += 1;
        match f() {
            Ok(result) => {
                match &result {
                    Ok(_) => self.oks += 1,
                    Err(_) => self.errs += 1,
                }
                Some(result)
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                let start: String = input.chars().take(300).collect();
                self.panics.push(format!(
                    "{parser} panicked on {label} ({} bytes): {what}\n  input starts: {start:?}",
                    input.len()
                ));
                None
            }
        }
    }

    fn run_bytes(&mut self, parser: Parser, label: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        self.run(parser, label, &text);
    }

    /// Fails on any panic; and, since a mutation that every parser accepts (or rejects)
    /// tests little, on a run without both outcomes.
    fn finish(self, what: &str) {
        eprintln!(
            "{what}: {} parser runs ({} Ok, {} Err), {} panics",
            self.runs,
            self.oks,
            self.errs,
            self.panics.len()
        );
        assert!(
            self.panics.is_empty(),
            "{} of {} runs panicked:\n{}",
            self.panics.len(),
            self.runs,
            self.panics
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            self.oks > 0 && self.errs > 0,
            "{what}: {} Ok and {} Err: the inputs do not reach both outcomes",
            self.oks,
            self.errs
        );
    }
}

#[test]
fn the_harness_reports_a_panic() {
    let mut h = Harness::default();
    let caught = h.check("a parser that panics", "any input", "x", || {
        std::panic::catch_unwind(|| -> Result<String, String> { panic!("boom") })
    });
    assert!(caught.is_none());
    assert_eq!(h.panics.len(), 1);
    assert!(h.panics[0].contains("boom"), "{:?}", h.panics);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| h.finish("self-test")));
    assert!(outcome.is_err(), "finish() accepted a panicking run");
}

/// Positions to cut or corrupt an input of `len` bytes at: every byte for short inputs,
/// about `max` evenly spread (plus a few random ones) for long ones.
fn positions(len: usize, max: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= max {
        return (0..=len).collect();
    }
    let step = len / max;
    let mut out: Vec<usize> = (0..=len).step_by(step).collect();
    out.extend((0..max / 4).map(|_| rng.below(len + 1)));
    out
}

/// `bytes / len` clamped to `min..=max`: fewer mutations of long inputs, to keep the
/// test's time (in debug builds) in bounds.
fn scaled(len: usize, bytes: usize, min: usize, max: usize) -> usize {
    (bytes / len.max(1)).clamp(min, max)
}

#[test]
fn recorded_inputs_parse() {
    let mut h = Harness::default();
    let mut failures = Vec::new();
    let recorded = recorded();
    for r in &recorded {
        match h.run(r.parser, &r.name, &r.text) {
            Some(Ok(_)) => {}
            Some(Err(e)) => failures.push(format!("{} ({:?}): {e}", r.name, r.parser)),
            None => {}
        }
    }
    assert!(
        failures.is_empty(),
        "recorded inputs rejected: {failures:#?}"
    );
    // Every recorded file through every other parser too: Ok or Err, never a panic.
    for r in &recorded {
        for parser in Parser::all() {
            h.run(parser, &r.name, &r.text);
        }
    }
    for text in unparseable_recordings() {
        for parser in Parser::all() {
            h.run(parser, "a recorded failure output", &text);
        }
    }
    let parsers: std::collections::HashSet<String> =
        recorded.iter().map(|r| format!("{:?}", r.parser)).collect();
    assert_eq!(
        parsers.len(),
        Parser::all().len(),
        "a parser has no recorded input"
    );
    h.finish("recorded inputs");
}

#[test]
fn truncations_and_byte_corruptions() {
    let mut h = Harness::default();
    let mut rng = Rng(0x5eed_0001);
    // Bytes that matter to JSON and YAML, and bytes that break UTF-8.
    let interesting: &[&[u8]] = &[
        b"\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\\",
        b"\n",
        b"\0",
        b"-",
        b"0",
        b"e",
        b" ",
        b"#",
        b"&",
        b"*",
        b"!",
        b"|",
        b"\t",
        b"\xff",
        b"\xc3",
        b"\xe2\x9c",
        b"\xf0\x9f\x98",
        b"\xed\xa0\x80",
        "é".as_bytes(),
        "\u{feff}".as_bytes(),
    ];
    for r in recorded() {
        let bytes = r.text.as_bytes();
        let max = if r.parser == Parser::EventLine {
            12
        } else {
            scaled(bytes.len(), 400_000, 16, 96)
        };
        // Truncation at many points, mid-character included (then decoded lossily).
        for cut in positions(bytes.len(), max, &mut rng) {
            h.run_bytes(r.parser, &format!("{} cut at {cut}", r.name), &bytes[..cut]);
        }
        // Single-byte flips, and insertions of interesting bytes.
        for pos in positions(bytes.len().saturating_sub(1), max, &mut rng) {
            if pos < bytes.len() {
                let mut flipped = bytes.to_vec();
                flipped[pos] ^= 1 << rng.below(8);
                h.run_bytes(r.parser, &format!("{} bit flip at {pos}", r.name), &flipped);
            }
            let mut inserted = bytes.to_vec();
            let insert = rng.pick(interesting);
            inserted.splice(pos..pos, insert.iter().copied());
            h.run_bytes(r.parser, &format!("{} insert at {pos}", r.name), &inserted);
        }
        // A few random multi-byte corruptions: runs of random bytes.
        for _ in 0..8 {
            let mut corrupted = bytes.to_vec();
            for _ in 0..(1 + rng.below(8)) {
                if corrupted.is_empty() {
                    break;
                }
                let pos = rng.below(corrupted.len());
                corrupted[pos] = rng.next() as u8;
            }
            h.run_bytes(r.parser, &format!("{} random bytes", r.name), &corrupted);
        }
    }
    h.finish("truncations and corruptions");
}

/// Raw JSON texts a value can be swapped for: other types, huge and odd numbers.
const JSON_SWAPS: &[&str] = &[
    "null",
    "true",
    "\"\"",
    "\"[secret]\"",
    "\"x\"",
    "{}",
    "[]",
    "[null]",
    "{\"\":null}",
    "0",
    "-1",
    "1.5",
    "-0",
    "1e999",
    "-1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890123456789012345678901234567890",
    "0.000000000000000000000000000000000000000000000000000000001e-400",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "{\"4dabf18193072939515e22adb298388d\":\"1b47061264138c4ac30d75fd1eb44270\",\"plaintext\":\"[[[[[[[[1]]]]]]]]\"}",
    "{\"4dabf18193072939515e22adb298388d\":\"1b47061264138c4ac30d75fd1eb44270\",\"plaintext\":7}",
    "{\"4dabf18193072939515e22adb298388d\":\"1b47061264138c4ac30d75fd1eb44270\",\"ciphertext\":\"x\"}",
    "{\"4dabf18193072939515e22adb298388d\":\"c44067f5952c0a294b673a41bacd8c17\"}",
];

const MARKER: &str = "\u{1}SWAP\u{1}";

/// Every value in the document (by path), depth-first.
fn json_paths(value: &serde_json::Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(path.clone());
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                path.push(PathStep::Key(k.clone()));
                json_paths(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                json_paths(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn json_at<'a>(value: &'a mut serde_json::Value, path: &[PathStep]) -> &'a mut serde_json::Value {
    path.iter().fold(value, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// `doc` with the value at `path` replaced by the raw JSON text `raw`.
fn swapped(doc: &serde_json::Value, path: &[PathStep], raw: &str, pretty: bool) -> String {
    let mut doc = doc.clone();
    *json_at(&mut doc, path) = serde_json::Value::String(MARKER.into());
    let text = if pretty {
        serde_json::to_string_pretty(&doc).unwrap()
    } else {
        serde_json::to_string(&doc).unwrap()
    };
    text.replacen(&serde_json::to_string(MARKER).unwrap(), raw, 1)
}

/// Each JSON document's values swapped for other types and odd numbers, and its objects
/// with a key dropped.
#[test]
fn json_type_swaps() {
    let mut h = Harness::default();
    let mut rng = Rng(0x5eed_0002);
    for r in recorded() {
        if !r.parser.is_json() {
            continue;
        }
        // The digest-then-events output and the plain\0revealed pair: swap in the first document.
        let (head, tail) = match r.parser {
            Parser::Json("preview-output") => match r.text.find("\n{\"sequence\"") {
                Some(i) => r.text.split_at(i),
                None => (r.text.as_str(), ""),
            },
            Parser::Json("outputs+revealed") => {
                let (a, _) = r.text.split_once('\0').unwrap();
                (a, &r.text[a.len()..])
            }
            _ => (r.text.as_str(), ""),
        };
        let doc: serde_json::Value =
            serde_json::from_str(head).unwrap_or_else(|e| panic!("{}: {e}", r.name));
        let mut paths = Vec::new();
        json_paths(&doc, &mut Vec::new(), &mut paths);
        // Small documents: every value; large ones: a sample.
        let budget = if r.parser == Parser::EventLine {
            8
        } else {
            scaled(head.len(), 150_000, 6, 60)
        };
        let chosen: Vec<&Vec<PathStep>> = if paths.len() <= budget {
            paths.iter().collect()
        } else {
            (0..budget).map(|_| rng.pick(&paths)).collect()
        };
        for path in chosen {
            let swaps: Vec<&str> = if r.parser == Parser::EventLine {
                (0..5).map(|_| *rng.pick(JSON_SWAPS)).collect()
            } else {
                JSON_SWAPS.to_vec()
            };
            for raw in swaps {
                let text = format!("{}{tail}", swapped(&doc, path, raw, rng.below(2) == 0));
                h.run(r.parser, &format!("{} swap {raw}", r.name), &text);
            }
            // The same place without the value: a missing required field.
            if let Some((PathStep::Key(k), parent)) = path.split_last() {
                let mut without = doc.clone();
                if let serde_json::Value::Object(map) = json_at(&mut without, parent) {
                    map.shift_remove(k.as_str());
                }
                let text = format!("{}{tail}", serde_json::to_string(&without).unwrap());
                h.run(r.parser, &format!("{} without {k}", r.name), &text);
            }
        }
    }
    h.finish("JSON type swaps");
}

/// Nesting far deeper than any recursive descent could take on a thread's stack:
/// the parsers must refuse it (serde_json and yaml_serde stop at 128 levels) or handle it.
#[test]
fn deep_nesting() {
    let mut h = Harness::default();
    let cli = repo().join("fixtures/cli");
    let deployment = read(&cli.join("stack-export-secrets.stdout"));
    let event = read(&cli.join("up.events.jsonl"))
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    for depth in [100, 126, 127, 128, 129, 1_000, 100_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}null{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let unclosed = "[".repeat(depth);
        for nested in [&arrays, &objects, &unclosed] {
            for parser in Parser::all().into_iter().filter(|p| !p.is_yaml()) {
                h.run(parser, &format!("depth {depth} alone"), nested);
            }
            // Inside otherwise valid documents, where a field's value is.
            let field = format!("\"x\":{nested},\"message\":");
            let in_event = event.replacen("\"message\":", &field, 1);
            h.run(
                Parser::EventLine,
                &format!("depth {depth} in an event"),
                &in_event,
            );
            h.run(
                Parser::EventLog,
                &format!("depth {depth} in a log"),
                &in_event,
            );
            let in_object = format!("{{\"a\":{nested}}}");
            for parser in [
                "outputs",
                "outputs+revealed",
                "config",
                "tags",
                "preview",
                "preview-output",
            ] {
                let label = format!("depth {depth} in {parser}");
                h.run(Parser::Json(parser), &label, &in_object);
            }
            let field = format!("\"outputs\": {{\"deep\": {nested},");
            let in_deployment = deployment.replacen("\"outputs\": {", &field, 1);
            let label = format!("depth {depth} in a deployment");
            h.run(Parser::Json("deployment"), &label, &in_deployment);
        }
    }
    // YAML: flow collections (the same texts) and block collections (indentation), alone
    // and as config values. Not 100,000 levels: the YAML scanner takes time that grows
    // with the square of the nesting depth (see docs/fuzzing.md), so 2,000 at most.
    for depth in [100, 127, 128, 129, 1_000, 2_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}null{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let unclosed = "[".repeat(depth);
        let mut block = String::from("config:\n");
        let mut seq = String::from("config:\n  p:a:\n");
        for level in 0..depth.min(300) {
            block.push_str(&" ".repeat(2 * level + 2));
            block.push_str("k:\n");
            seq.push_str(&" ".repeat(level + 2));
            seq.push_str("-\n");
        }
        for nested in [&arrays, &objects, &unclosed] {
            for parser in exercise::YAML_PARSERS {
                h.run(
                    Parser::Yaml(parser),
                    &format!("depth {depth} alone"),
                    nested,
                );
            }
            let yaml = format!("name: p\nruntime: python\nconfig:\n  a: {nested}\n");
            h.run(
                Parser::Yaml("project"),
                &format!("depth {depth} in YAML"),
                &yaml,
            );
            let yaml = format!("config:\n  p:a: {nested}\n");
            h.run(
                Parser::Yaml("stack-settings"),
                &format!("depth {depth} in YAML"),
                &yaml,
            );
        }
        let label = format!("block depth {depth}");
        h.run(Parser::Yaml("stack-settings"), &label, &block);
        h.run(Parser::Yaml("stack-settings"), &label, &seq);
        let project = format!("name: p\nruntime: python\n{block}");
        h.run(Parser::Yaml("project"), &label, &project);
    }
    // Secrets whose plaintext is a secret whose plaintext is …: each level is decoded.
    let mut nested = serde_json::json!("innermost");
    for _ in 0..12 {
        let plaintext = serde_json::to_string(&serde_json::json!([[[[nested]]]])).unwrap();
        nested = serde_json::json!({
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "plaintext": plaintext,
        });
    }
    let secret = serde_json::to_string(&nested).unwrap();
    let in_deployment = deployment.replacen(
        "\"outputs\": {",
        &format!("\"outputs\": {{\"deep\": {secret},"),
        1,
    );
    h.run(
        Parser::Json("deployment"),
        "nested plaintexts",
        &in_deployment,
    );
    let in_event = event.replacen("\"message\":", &format!("\"x\":{secret},\"message\":"), 1);
    h.run(Parser::EventLine, "nested plaintexts", &in_event);
    h.finish("deep nesting");
}

/// Inputs no recording holds: empty, blank, other JSON types, odd YAML, odd versions,
/// long lines, alias bombs.
#[test]
fn edge_inputs() {
    let mut h = Harness::default();
    let long_string = format!("\"{}\"", "é".repeat(200_000));
    let long_key = format!("{{\"{}\":1}}", "k".repeat(200_000));
    let wide_array = format!("[{}0]", "0,".repeat(100_000));
    let many_lines = "{\"sequence\":0,\"timestamp\":1,\"cancelEvent\":{}}\n".repeat(5_000);
    let alias_bomb = {
        let mut s = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(",");
            s.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        s
    };
    let project_bomb = format!("name: p\nruntime: python\nconfig:\n{}", indent(&alias_bomb));
    let stack_bomb = format!("config:\n{}", indent(&alias_bomb));
    let mut inputs: Vec<String> = [
        "", " ", "\n", "\r\n", "\t \n ", "\u{feff}", "\u{feff}{}", "\0", "\u{fffd}", "null", "true",
        "0", "-1", "1e999", "\"\"", "\"x\"", "[]", "{}", "[{}]", "[null]", "{\"\":{}}", "{}{}",
        "{} x", "{}\n{", "[]]", "{\"sequence\":0}", "{\"sequence\":-1,\"cancelEvent\":{}}",
        "{\"sequence\":1e3,\"cancelEvent\":{}}", "{\"sequence\":0,\"timestamp\":1e99,\"cancelEvent\":{}}",
        "{\"sequence\":18446744073709551615,\"timestamp\":-9223372036854775808,\"fooEvent\":1}",
        "{\"sequence\":0,\"cancelEvent\":null,\"summaryEvent\":null}", "{\"sequence\":0,\"Event\":[]}",
        "{\"sequence\":0,\"resOutputsEvent\":{\"metadata\":{\"urn\":\"::::\",\"type\":\"pulumi:pulumi:Stack\",\"new\":{\"outputs\":7}}}}",
        "{\"sequence\":0,\"diagnosticEvent\":{\"severity\":\"error\",\"message\":7}}",
        "{\"a\":1,\"a\":2}", "{\"steps\":null}", "{\"sequence\":0,\"timestamp\":0}",
        "{\"version\":3,\"deployment\":null}", "{\"version\":99,\"deployment\":{}}", "{\"version\":-1}",
        "[{\"name\":\"\",\"kind\":\"\",\"size\":-1}]", "[{\"name\":\"x\",\"kind\":7}]",
        "---", "--- !!binary", "...", "~", "!!", "!tag x", "&a *a", "*a", "<<: *a", "? [a]\n: b",
        "[a]: b", "{a: b}: c", "name: [a]\nruntime: x", "name: p\nruntime: {}", "name: p\nruntime: [x]",
        "name: p\nruntime: python\nconfig: 7", "name: p\nruntime: python\nconfig:\n  [1]: 2",
        "name: p\nruntime: python\nconfig:\n  a: {type: [x], default: {secure: 1}}",
        "name: p\nruntime: python\nname: q", "name: p\nruntime: python\nbackend: 1",
        "config: {a: {secure: {secure: v1:x}}}", "config: []", "config: {~: 1}", "encryptionsalt: [1]",
        "config:\n  a: !!binary aGVsbG8=", "config:\n  a: !custom {secure: x}", "a: 1\n---\nb: 2",
        "\"unterminated", "'unterminated", "a: |\n  x\n b", "\t- tab", "v", "v.", "v-", "v+", ".", "..", "-",
        "+", "3", "3.", "3..", ".3", "v3.259", "v3.259.0.0", "v3.259.0-", "v3.259.0+",
        "v3.259.0-dev.0+a.b", "v99999999999999999999.0.0", "v3.259.0\nv3.260.0", "V3.259.0",
        "vv3.259.0", "3.259.0-é", "３.２５９.０", "v3.259.0 (built)", "-3.1.2", "+3.1.2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.extend([
        long_string,
        long_key,
        wide_array,
        many_lines,
        alias_bomb,
        project_bomb,
        stack_bomb,
        "v".repeat(100_000),
        "1.".repeat(50_000),
    ]);
    for input in &inputs {
        for parser in Parser::all() {
            h.run(parser, "an edge input", input);
        }
    }
    h.finish("edge inputs");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// YAML documents with their values swapped for other YAML types.
#[test]
fn yaml_type_swaps() {
    let mut h = Harness::default();
    let swaps = [
        "~",
        "true",
        "0",
        "-1",
        "1e999",
        "18446744073709551616",
        ".nan",
        ".inf",
        "\"\"",
        "[]",
        "{}",
        "[1, [2]]",
        "{secure: 7}",
        "{secure: v1:x, other: 1}",
        "!!binary aGk=",
        "!tag {a: 1}",
        "{secure: [v1:x]}",
        "{? [a] : b}",
    ];
    for r in recorded() {
        let Parser::Yaml(_) = r.parser else {
            continue;
        };
        // Swap each line's value (after `key:`) for each other type.
        let lines: Vec<&str> = r.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(colon) = line.find(':').filter(|&c| !line[..c].trim().is_empty()) else {
                continue;
            };
            for swap in swaps {
                let mut edited = lines.clone();
                let replaced = format!("{}: {swap}", &line[..colon]);
                edited[i] = &replaced;
                let text = edited.join("\n");
                h.run(
                    r.parser,
                    &format!("{} line {} = {swap}", r.name, i + 1),
                    &text,
                );
            }
            // And the line dropped: a missing field.
            let mut without = lines.clone();
            without.remove(i);
            h.run(
                r.parser,
                &format!("{} without line {}", r.name, i + 1),
                &without.join("\n"),
            );
        }
        // Each document through the other YAML parser too.
        for parser in exercise::YAML_PARSERS {
            h.run(Parser::Yaml(parser), &r.name, &r.text);
        }
    }
    h.finish("YAML type swaps");
}
