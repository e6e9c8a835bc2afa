//! The library's and the tool's modules form layers with every import pointing down: a
//! test of the source itself, so a new import that points up (or closes a cycle) fails.
//!
//! Each file's production code (everything before its `#[cfg(test)]` module) is scanned for
//! `crate::…`, `super::…` and `use` paths; the top-level module each names is an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, lowest layer first. A module may use its own layer's
/// modules only where the listed pair allows it, and any lower layer.
const LIBRARY_LAYERS: &[&[&str]] = &[
    &["model", "secret"],
    &["error"],
    &["approval"],
    &["cli", "events"],
    &["workspace"],
    &["stack"],
    &["ops"],
    &["recovery", "ephemeral"],
    &["inline"],
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The production part of a file: up to its test module, without comments.
fn production(text: &str) -> String {
    let cut = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file under `src` (`src/ops/up.rs` → `["ops", "up"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// The modules (as paths from the crate root) that a file's production code names.
fn imports(module: &[String], code: &str, file_is_mod: bool) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| p.trim().to_owned())
            .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect()
    };
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if boundary && rest.starts_with("crate::") {
            found.insert(ident(&rest["crate::".len()..]));
            i += 7;
            continue;
        }
        if boundary && rest.starts_with("super::") {
            // `super` of a mod.rs is its parent; of a leaf file, the module it sits in.
            let mut base: Vec<String> = module.to_vec();
            let mut r = rest;
            while let Some(after) = r.strip_prefix("super::") {
                if !file_is_mod || base.len() == module.len() {
                    base.pop();
                }
                r = after;
            }
            let mut path = base;
            path.extend(ident(r));
            found.insert(path);
            i += 7;
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

struct Graph {
    /// file module → the modules it imports (both as module paths).
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = BTreeMap::new();
    for f in &files {
        let m = module_of(src, f);
        let is_mod = f
            .file_stem()
            .is_some_and(|s| s == "mod" || s == "lib" || s == "main");
        let text = std::fs::read_to_string(f).unwrap();
        let mut targets = BTreeSet::new();
        for path in imports(&m, &production(&text), is_mod) {
            // The longest prefix that is a file of its own.
            let mut p = path.clone();
            while !p.is_empty() && !modules.contains(&p) {
                p.pop();
            }
            if !p.is_empty() && p != m {
                targets.insert(p);
            }
        }
        edges.insert(m, targets);
    }
    Graph { edges }
}

/// Every cycle among files, as a list of modules (empty when there is none).
fn cycles(g: &Graph) -> Vec<Vec<Vec<String>>> {
    fn visit(
        g: &Graph,
        n: &Vec<String>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        out: &mut Vec<Vec<Vec<String>>>,
    ) {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            out.push(stack[pos..].to_vec());
            return;
        }
        if done.contains(n) {
            return;
        }
        stack.push(n.clone());
        for t in g.edges.get(n).into_iter().flatten() {
            // Parent modules re-export their children: an edge to a child from its own
            // parent is declaration, not use.
            if t.starts_with(n) {
                continue;
            }
            visit(g, t, stack, done, out);
        }
        stack.pop();
        done.insert(n.clone());
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for n in g.edges.keys() {
        visit(g, n, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

fn show(c: &[Vec<String>]) -> String {
    c.iter()
        .map(|m| m.join("::"))
        .collect::<Vec<_>>()
        .join(" → ")
}

fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("PULUMI_VERSION").is_file())
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_library_has_no_import_cycle() {
    let g = graph(&repo().join("src"));
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import cycles:\n{}",
        found.iter().map(|c| show(c)).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_tool_has_no_import_cycle() {
    let g = graph(&repo().join("crates/pulumi-auto-cli/src"));
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import cycles:\n{}",
        found.iter().map(|c| show(c)).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn library_imports_point_down_the_layers() {
    let layer_of = |m: &str| LIBRARY_LAYERS.iter().position(|l| l.contains(&m));
    let g = graph(&repo().join("src"));
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        let Some(f) = from.first().and_then(|m| layer_of(m)) else {
            continue;
        };
        for t in targets {
            let Some(tl) = t.first().and_then(|m| layer_of(m)) else {
                continue;
            };
            if tl > f {
                wrong.push(format!("{} uses {}", from.join("::"), t.join("::")));
            }
        }
    }
    let top: BTreeSet<&str> = g
        .edges
        .keys()
        .filter_map(|m| m.first())
        .map(String::as_str)
        .collect();
    for m in top {
        assert!(
            layer_of(m).is_some(),
            "module {m} is in no layer: add it to LIBRARY_LAYERS"
        );
    }
    assert!(
        wrong.is_empty(),
        "imports pointing up:\n{}",
        wrong.join("\n")
    );
}
