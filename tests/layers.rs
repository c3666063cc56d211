//! The dependency direction of docs/map.md, checked on the source text: ffi → dispatch →
//! client → transport/sign/request → error. Every `crate::` import must point to a module of a
//! lower layer, so a result type lives beside the code that produces it and the layer that
//! renders it imports it, never the reverse. docs/map.md's module table states each module's
//! layer and imports: both columns must be what `LAYERS` and the source say.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layer of every module; a module may import only modules of a strictly lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("ffi", 9),
    ("dispatch", 8),
    ("outbox", 8),
    ("envelope", 7),
    ("client", 6),
    ("answer", 5),
    ("transport", 4),
    ("clock", 4),
    ("request", 4),
    ("query", 3),
    ("sign", 3),
    ("config", 3),
    ("hint", 2),
    ("validate", 2),
    ("log", 2),
    ("error", 1),
    ("calendar", 1),
    ("random", 1),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level module a file under src/ belongs to (`src/transport/wire.rs` → transport).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every module's `crate::` imports outside its unit tests, with the import that points up or
/// sideways (or to an unlisted module) in the second list.
fn imports() -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let from = module_of(rel);
        if from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Only the code: unit tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let to: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if to == from || to.is_empty() {
                continue;
            }
            let (Some(a), Some(b)) = (layer(&from), layer(&to)) else {
                wrong.push(format!(
                    "{}: unlisted module in {from} → {to}",
                    rel.display()
                ));
                continue;
            };
            edges.entry(from.clone()).or_default().insert(to.clone());
            if b >= a {
                wrong.push(format!(
                    "{}: {from} (layer {a}) imports {to} (layer {b})",
                    rel.display()
                ));
            }
        }
    }
    (edges, wrong)
}

#[test]
fn modules_import_only_downward() {
    let (edges, wrong) = imports();
    assert!(
        wrong.is_empty(),
        "imports pointing up or sideways:\n{}",
        wrong.join("\n")
    );
    // The map is real: the chain of docs/map.md exists.
    for (from, to) in [
        ("ffi", "dispatch"),
        ("dispatch", "client"),
        ("client", "transport"),
        ("client", "sign"),
        ("dispatch", "request"),
        ("request", "error"),
    ] {
        assert!(
            edges.get(from).is_some_and(|t| t.iter().any(|x| x == to)),
            "{from} no longer imports {to}: update docs/map.md and this test"
        );
    }
}

/// docs/map.md's table rows: "| `module` | layer | `a`, `b` (or —) | owns |".
fn map_table() -> Vec<(String, u8, BTreeSet<String>)> {
    let map = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/map.md"))
        .expect("docs/map.md");
    map.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 5 {
                return None;
            }
            let module = cells[1].strip_prefix('`')?.strip_suffix('`')?;
            let layer: u8 = cells[2].parse().ok()?;
            let imports = cells[3]
                .split(',')
                .map(|m| m.trim().trim_matches('`').to_owned())
                .filter(|m| !m.is_empty() && m != "—")
                .collect();
            Some((module.to_owned(), layer, imports))
        })
        .collect()
}

#[test]
fn docs_map_table_is_the_code() {
    let table = map_table();
    assert!(
        table.len() >= 10,
        "parsing docs/map.md's module table found {table:?}: update this test"
    );
    let documented: BTreeSet<(String, u8)> =
        table.iter().map(|(m, l, _)| (m.clone(), *l)).collect();
    let listed: BTreeSet<(String, u8)> = LAYERS.iter().map(|(m, l)| (m.to_string(), *l)).collect();
    assert_eq!(
        documented, listed,
        "docs/map.md's modules and layers differ from LAYERS"
    );
    let (edges, _) = imports();
    for (module, _, documented) in &table {
        let actual = edges.get(module).cloned().unwrap_or_default();
        assert_eq!(
            documented, &actual,
            "docs/map.md says {module} imports {documented:?}; the source imports {actual:?}"
        );
    }
}
