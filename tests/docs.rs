//! The documents are part of the contract, so they are tested like code:
//! - every config key (the `KEYS` array of src/config.rs) and every error kind (the strings of
//!   `Error::kind` in src/error.rs) is documented in docs/abi.md;
//! - README.md and docs/ cite nothing outside the repository: a clone is all a reader has;
//! - the statuses docs/protocol.md marks `rejected` are exactly `REJECTING_STATUSES` of
//!   src/answer.rs;
//! - every relative link in them points to a file (and heading) that exists;
//! - the README's C example compiles against the committed header;
//! - the README's first screen fits a screen.
//!
//! The source files are read as text rather than through `wdt::…`, so the test keeps working
//! when the modules become private.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Design notes kept outside the repository, which a clone does not have: their file names
/// (upper case; the repository's own are docs/abi.md, docs/protocol.md, docs/outbox.md) and
/// the folders they live in. Spelled from parts, so this file does not name them itself.
fn outside_names() -> Vec<String> {
    ["ABI", "PROTOCOL", "OUTBOX", "STYLE"]
        .iter()
        .map(|n| format!("{n}.md"))
        .collect()
}

fn outside_paths() -> Vec<String> {
    let (up, shared, work) = ("..", "shared", "work");
    vec![
        format!("{up}/{shared}"),
        format!("{shared}/design"),
        format!("{shared}/api-docs"),
        format!("/{work}/"),
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// README.md, every Markdown file in docs/, and the C binding's README (same owner).
fn documents() -> Vec<String> {
    let mut docs = vec!["README.md".to_owned(), "bindings/c/README.md".to_owned()];
    let mut in_docs: Vec<String> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("readable docs/ entry").file_name())
        .filter_map(|n| n.to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    in_docs.sort();
    docs.extend(in_docs);
    docs
}

/// The string literals between `start` (the first occurrence of `anchor`, then the next
/// `open`) and the matching `close`.
fn literals_in_block(source: &str, anchor: &str, open: char, close: char) -> Vec<String> {
    let at = source
        .find(anchor)
        .unwrap_or_else(|| panic!("`{anchor}` not found: update tests/docs.rs"));
    let rest = &source[at + anchor.len()..];
    let start = rest
        .find(open)
        .unwrap_or_else(|| panic!("no `{open}` after `{anchor}`"));
    let mut depth = 0usize;
    let mut end = None;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in rest[start..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                end = Some(start + i);
                break;
            }
        }
    }
    let block = &rest[start..end.unwrap_or_else(|| panic!("unbalanced block after `{anchor}`"))];
    block
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn config_keys() -> Vec<String> {
    let source = read("src/config.rs");
    // `pub const KEYS: &[&str] = &[ "sid", … ];` — skip the type, start at the `=`.
    let at = source.find("KEYS").expect("config.rs defines KEYS");
    let after_eq = at + source[at..].find('=').expect("KEYS has an initialiser");
    let keys: Vec<String> = literals_in_block(&source[after_eq..], "=", '[', ']')
        .into_iter()
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect();
    assert!(
        keys.iter().any(|k| k == "sid") && keys.iter().any(|k| k == "timeout_ms"),
        "parsing KEYS found {keys:?}: update tests/docs.rs"
    );
    keys
}

fn error_kinds() -> Vec<String> {
    let source = read("src/error.rs");
    let kinds: Vec<String> = literals_in_block(&source, "fn kind(", '{', '}');
    assert!(
        kinds.iter().any(|k| k == "invalid_argument") && kinds.iter().any(|k| k == "internal"),
        "parsing Error::kind found {kinds:?}: update tests/docs.rs"
    );
    kinds
}

#[test]
fn every_config_key_is_documented() {
    let abi = read("docs/abi.md");
    let missing: Vec<String> = config_keys()
        .into_iter()
        // A row of the config table: "| `key` | default | meaning |".
        .filter(|k| !abi.lines().any(|l| l.starts_with(&format!("| `{k}` |"))))
        .collect();
    assert!(
        missing.is_empty(),
        "config keys without a row in docs/abi.md: {missing:?}"
    );
}

#[test]
fn every_error_kind_is_documented() {
    let abi = read("docs/abi.md");
    let missing: Vec<String> = error_kinds()
        .into_iter()
        .filter(|k| !abi.lines().any(|l| l.starts_with(&format!("| `{k}` |"))))
        .collect();
    assert!(
        missing.is_empty(),
        "error kinds without a row in docs/abi.md: {missing:?}"
    );
}

/// The string constants of a binding's kind list: the text from `start` to `end`, every quoted
/// value of a `const` line.
fn binding_constants(rel: &str, start: &str, end: &str, quote: char) -> Vec<(String, String)> {
    let source = read(rel);
    let at = source
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found in {rel}: update tests/docs.rs"));
    let block = &source[at..];
    let block = &block[..block.find(end).unwrap_or(block.len())];
    block
        .lines()
        .filter(|l| l.contains("const ") && l.contains('='))
        .filter_map(|l| {
            let (lhs, rhs) = l.split_once('=')?;
            let name = lhs.split_whitespace().last()?.to_owned();
            let value = rhs.split(quote).nth(1)?.to_owned();
            Some((name, value))
        })
        .collect()
}

fn csharp_kinds() -> Vec<(String, String)> {
    binding_constants(
        "bindings/csharp/src/WdtException.cs",
        "class WdtErrorKind",
        "\n    }",
        '"',
    )
}

fn php_kinds() -> Vec<(String, String)> {
    binding_constants(
        "bindings/php/src/WdtException.php",
        "const KIND_",
        "const DELIVERY_",
        '\'',
    )
}

fn cpp_kinds() -> Vec<(String, String)> {
    binding_constants(
        "bindings/cpp/wdt.hpp",
        "namespace kind {",
        "}  // namespace kind",
        '"',
    )
}

/// A binding that does not know a kind cannot name it to its callers (no constant to compare
/// against), so every kind the library returns has a constant in C#, PHP and C++. (The C
/// header has no kind list: C callers compare the envelope's strings with docs/abi.md's table,
/// which `every_error_kind_is_documented` checks.)
#[test]
fn the_bindings_know_every_error_kind() {
    let kinds = error_kinds();
    for (binding, known) in [
        ("C#", csharp_kinds()),
        ("PHP", php_kinds()),
        ("C++", cpp_kinds()),
    ] {
        assert!(
            known.len() >= 2,
            "parsing the {binding} kinds found {known:?}: update tests/docs.rs"
        );
        let missing: Vec<&String> = kinds
            .iter()
            .filter(|k| !known.iter().any(|(_, v)| v == *k))
            .collect();
        assert!(
            missing.is_empty(),
            "error kinds the library returns and the {binding} binding has no constant for: {missing:?}"
        );
    }
}

/// PHP builds a few envelopes itself (no handle, a NULL return, text json_encode refuses); their
/// hints are the library's general hint for the kind, as docs/hints.md (generated from
/// src/hint.rs) lists it.
#[test]
fn php_local_hints_are_the_library_s() {
    let source = read("bindings/php/src/Native.php");
    let at = source
        .find("function localHint(")
        .expect("Native.php defines localHint: update tests/docs.rs");
    let body = &source[at..];
    let body = &body[..body.find("\n    }\n").expect("localHint ends")];
    let php = php_kinds();
    let hints = read("docs/hints.md");
    let library_hint = |kind: &str| -> String {
        let row = format!("| `{kind}` | any | ");
        let line = hints
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("docs/hints.md has no general row for {kind}"));
        line[row.len()..].split(" | ").next().unwrap().to_owned()
    };
    let mut kind = None;
    let mut checked = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("case WdtException::")
            .and_then(|l| l.strip_suffix(':'))
        {
            let value = php.iter().find(|(n, _)| n == name);
            kind = Some(value.unwrap_or_else(|| panic!("unknown {name}")).1.clone());
        } else if line == "default:" {
            kind = Some("internal".to_owned());
        } else if let Some(text) = line.strip_prefix("return '") {
            let text = text.strip_suffix("';").expect("one-line return");
            let k = kind.take().expect("a return follows a case");
            assert_eq!(text, library_hint(&k), "PHP's local hint for {k}");
            checked.push(k);
        }
    }
    assert!(
        checked.len() >= 3,
        "parsing localHint found {checked:?}: update tests/docs.rs"
    );
}

#[test]
fn rejected_statuses_match_the_code() {
    let source = read("src/answer.rs");
    let at = source
        .find("REJECTING_STATUSES")
        .expect("src/answer.rs defines REJECTING_STATUSES: update tests/docs.rs if it moved");
    let rest = &source[at..];
    let rest = &rest[rest
        .find('=')
        .expect("REJECTING_STATUSES has an initialiser")..];
    let list = &rest[rest.find('[').expect("an array") + 1..];
    let code: BTreeSet<i64> = list[..list.find(']').expect("a closed array")]
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert!(
        code.contains(&100),
        "parsing REJECTING_STATUSES found {code:?}"
    );

    // Rows of the statuses table: "| status | meaning | delivery | what to do |".
    let protocol = read("docs/protocol.md");
    let mut documented = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for line in protocol.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let Ok(status) = cells[1].parse::<i64>() else {
            continue;
        };
        if cells[3].starts_with("`rejected`") {
            documented.insert(status);
        } else if cells[3].starts_with("`unknown`") {
            unknown.insert(status);
        }
    }
    assert_eq!(
        documented, code,
        "docs/protocol.md's rejected statuses differ from REJECTING_STATUSES"
    );
    assert!(
        unknown.is_disjoint(&code) && [4, 5, 99].iter().all(|s| unknown.contains(s)),
        "docs/protocol.md must mark 4, 5 and 99 unknown: {unknown:?}"
    );
}

#[test]
fn docs_cite_nothing_outside_the_repository() {
    let (names, paths) = (outside_names(), outside_paths());
    let mut found = Vec::new();
    for doc in documents() {
        for (n, line) in read(&doc).lines().enumerate() {
            for name in &names {
                // Case matters: docs/abi.md is ours, the upper-case name is the outside note.
                let cited = line.match_indices(name).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if cited {
                    found.push(format!("{doc}:{}: {name}", n + 1));
                }
            }
            for path in &paths {
                if line.contains(path.as_str()) {
                    found.push(format!("{doc}:{}: {path}", n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "paths outside the repository: {found:#?}");
}

/// Removes fenced code blocks and inline code spans, where brackets are not links.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Inline link targets, `[text](target)`, and reference definitions, `[label]: target`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    for (i, _) in prose.match_indices("](") {
        let rest = &prose[i + 2..];
        if let Some(end) = rest.find(')') {
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.trim_matches(|c| c == '<' || c == '>').to_owned());
        }
    }
    for line in prose.lines() {
        let line = line.trim_start();
        if line.starts_with('[') {
            if let Some((_, target)) = line.split_once("]: ") {
                targets.push(target.trim().to_owned());
            }
        }
    }
    targets
}

/// GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, and `-1`,
/// `-2`… for repeated headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while seen.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        seen.insert(unique);
    }
    seen
}

/// `a/b/../c` → `a/c`; None when the path climbs above the repository root.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::Normal(p) => parts.push(p),
            _ => return None,
        }
    }
    Some(parts.iter().collect())
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let dir = Path::new(&doc).parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.is_empty()
                || ["http://", "https://", "mailto:"]
                    .iter()
                    .any(|s| target.starts_with(s))
            {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if file.is_empty() {
                Some(PathBuf::from(&doc))
            } else {
                normalise(&dir.join(file))
            };
            let Some(resolved) = resolved else {
                broken.push(format!("{doc}: {target} leaves the repository"));
                continue;
            };
            let rel = resolved.to_string_lossy().replace('\\', "/");
            let full = root().join(&resolved);
            if !full.exists() {
                broken.push(format!("{doc}: {target} (no file {rel})"));
                continue;
            }
            if let Some(anchor) = anchor {
                if rel.ends_with(".md") && !anchors(&read(&rel)).contains(anchor) {
                    broken.push(format!("{doc}: {target} (no heading #{anchor} in {rel})"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn link_parsing_finds_what_it_should() {
    // The checks above pass vacuously if the parsers find nothing; pin them down.
    let text =
        "see [a](docs/abi.md#delivery), `[not](a link)`\n```\n[no](link)\n```\n[ref]: x.md\n";
    assert_eq!(link_targets(text), vec!["docs/abi.md#delivery", "x.md"]);
    let heads = anchors("# 函数 / Functions\n## `delivery`\n## delivery\n");
    assert!(heads.contains("函数--functions"), "{heads:?}");
    assert!(heads.contains("delivery") && heads.contains("delivery-1"));
    assert_eq!(
        normalise(Path::new("docs/../README.md")),
        Some("README.md".into())
    );
    assert_eq!(normalise(Path::new("docs/../../x")), None);
    assert!(link_targets(&read("README.md")).len() >= 10);
}

#[test]
fn readme_c_example_compiles_against_the_header() {
    let readme = read("README.md");
    let start = readme.find("```c\n").expect("README.md has a C example") + 5;
    let len = readme[start..]
        .find("```")
        .expect("the C example is closed");
    let example = &readme[start..start + len];
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("readme_example.c");
    fs::write(&file, example).expect("write the example");
    let out = Command::new("cc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(&file)
        .output()
        .expect("a C compiler (cc) is needed to check the README's example: apt-get install gcc");
    assert!(
        out.status.success(),
        "the README's C example does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn readme_first_screen_fits_a_screen() {
    let readme = read("README.md");
    let first_list = readme
        .lines()
        .position(|l| l.starts_with("| "))
        .expect("README.md has a table of links");
    assert!(
        first_list <= 40,
        "README.md has {first_list} lines before its first link list; keep it to 40"
    );
}

/// Code and scripts cite the repository's own contract too: a clone is all a reader has.
#[test]
fn no_source_file_cites_a_document_outside_the_repository() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if ![
                    "target",
                    ".git",
                    "corpus",
                    "artifacts",
                    "node_modules",
                    "vendor",
                ]
                .contains(&name.as_str())
                {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for dir in [
        "src",
        "mock",
        "cli",
        "bindings",
        "tests",
        "fuzz",
        "bench",
        "benches",
        "scripts",
        "packaging",
        "include",
    ] {
        walk(&root().join(dir), &mut files);
    }
    files.push(root().join("BENCHMARKS.md"));
    let this = root().join("tests/docs.rs");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| **f != this) {
        let Ok(text) = fs::read_to_string(f) else {
            continue;
        };
        for name in outside_names().iter().chain(&outside_paths()) {
            for (i, _) in text.match_indices(name) {
                // An absolute path starts a word ("fuzz/work/" is a folder of ours); the
                // upper-case file names never match our lower-case docs/abi.md.
                let before = text[..i].chars().next_back();
                if name.starts_with('/') && before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    continue;
                }
                found.push(format!(
                    "{}: {name}",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "files citing documents outside the repository:\n{}",
        found.join("\n")
    );
}

/// Every Markdown file a new user copies examples from: the repository's, the bindings', and
/// the release archive's own README and INSTALL.md.
fn example_documents() -> Vec<String> {
    let mut docs = documents();
    for d in [
        "bindings/php/README.md",
        "bindings/csharp/README.md",
        "bindings/cpp/README.md",
        "packaging/INSTALL.md",
        "packaging/README.archive.md",
        "packaging/README.md",
        "mock/README.md",
    ] {
        docs.push(d.to_owned());
    }
    docs
}

/// The fenced code blocks of a Markdown text, with the line each starts on.
fn code_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some((n + 1, String::new())),
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    blocks
}

/// A first try must reach the bundled double, never the vendor's test gateway or any other
/// machine: no example sets `env` to `test`, and every URL in a code block is on 127.0.0.1.
#[test]
fn example_configs_stay_on_the_machine() {
    let mut found = Vec::new();
    for doc in example_documents() {
        for (line, block) in code_blocks(&read(&doc)) {
            let squeezed: String = block.chars().filter(|c| !c.is_whitespace()).collect();
            for pattern in [
                r#""env":"test""#,
                r#"\"env\":\"test\""#,
                "'env'=>'test'",
                r#"env":"test"#,
            ] {
                if squeezed.contains(pattern) {
                    found.push(format!("{doc}:{line}: env test"));
                }
            }
            for scheme in ["http://", "https://"] {
                for (i, _) in block.match_indices(scheme) {
                    let host: String = block[i + scheme.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                        .collect();
                    // A scheme alone ("must start with http://") names no machine.
                    if !host.is_empty() && host != "127.0.0.1" {
                        found.push(format!("{doc}:{line}: {scheme}{host}"));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "examples that leave the machine:\n{}",
        found.join("\n")
    );
}

/// One recipe everywhere: `wdt mock` listens on 9876, `wdt doctor` prints the double's config,
/// and the docs a first-hour user reads name that same address and config.
#[test]
fn one_double_recipe_everywhere() {
    const URL: &str = "http://127.0.0.1:9876/openapi";
    let main = read("cli/src/main.rs");
    assert!(
        main.contains("pub const MOCK_PORT: u16 = 9876;"),
        "wdt mock's default port moved: update the docs and this test"
    );
    let config = read("cli/src/config.rs");
    let template = config
        .split("pub const TEMPLATE: &str = r#\"")
        .nth(1)
        .and_then(|rest| rest.split("\"#;").next())
        .expect("cli/src/config.rs defines TEMPLATE");
    assert!(template.contains(URL), "{template}");
    let v: serde_json::Value = serde_json::from_str(template).expect("TEMPLATE is JSON");
    assert_eq!(v["sid"], "wdtapi3");
    assert!(
        read("bindings/c/example.c").contains(&format!("#define DOUBLE_URL \"{URL}\"")),
        "example.c's default is the double's address"
    );
    for doc in ["docs/cli.md", "packaging/README.archive.md"] {
        assert!(
            read(doc).contains(template),
            "{doc} must show wdt doctor's template verbatim"
        );
    }
    for doc in [
        "README.md",
        "docs/cli.md",
        "docs/install.md",
        "bindings/c/README.md",
        "bindings/php/README.md",
        "bindings/csharp/README.md",
        "bindings/cpp/README.md",
        "packaging/INSTALL.md",
        "packaging/README.archive.md",
    ] {
        assert!(read(doc).contains(URL), "{doc} does not name {URL}");
    }
    // The archive's README is proven by scripts/test-dist.sh; the repository's README carries
    // the same C program, so that run proves both.
    let c_block = |doc: &str| {
        let text = read(doc);
        let start = text.find("```c\n").expect("a C example") + 5;
        let len = text[start..].find("```").expect("closed");
        text[start..start + len].to_owned()
    };
    assert_eq!(
        c_block("README.md"),
        c_block("packaging/README.archive.md"),
        "README.md and packaging/README.archive.md must carry the same C example"
    );
}

/// scripts/test-dist.sh runs the blocks marked `<!-- test-dist: … -->`; a marker must sit right
/// above a code fence, and each quick start must have its runs, or the test would run nothing.
#[test]
fn quick_starts_are_marked_for_the_archive_test() {
    for (doc, min_runs) in [
        ("packaging/README.archive.md", 3),
        ("bindings/c/README.md", 1),
        ("bindings/php/README.md", 3),
    ] {
        let text = read(doc);
        let lines: Vec<&str> = text.lines().collect();
        let mut runs = 0;
        for (n, line) in lines.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("<!-- test-dist: ") {
                assert!(
                    rest.starts_with("run") || rest.starts_with("file "),
                    "{doc}:{}: unknown marker {line}",
                    n + 1
                );
                assert!(
                    lines.get(n + 1).is_some_and(|l| l.starts_with("```")),
                    "{doc}:{}: a marker must be right above a code fence",
                    n + 1
                );
                runs += usize::from(rest.starts_with("run"));
            }
        }
        assert!(
            runs >= min_runs,
            "{doc}: {runs} run blocks, want {min_runs}"
        );
    }
}

/// At the workspace root a bare `cargo build --release` builds only the library: a document
/// that promises `wdt` or `wdt-mock` from it sends its reader to a missing program.
#[test]
fn cargo_build_lines_build_what_they_promise() {
    let mut found = Vec::new();
    for doc in example_documents() {
        for (n, line) in read(&doc).lines().enumerate() {
            if line.contains("cargo build")
                && (line.contains("wdt-mock")
                    || line.contains("target/release/wdt ")
                    || line.contains("、wdt"))
                && !line.contains("--workspace")
                && !line.contains("-p ")
            {
                found.push(format!("{doc}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cargo build lines that do not build the programs they name:\n{}",
        found.join("\n")
    );
}

/// Each export's contract is its comment in the header (docs/abi.md keeps only the shared
/// conventions): every function of include/wdt.h has a comment right above it that says what
/// it returns or does and how what it hands out is released, and docs/abi.md names it.
#[test]
fn every_export_is_documented_in_the_header_and_named_in_abi_md() {
    let header = read("include/wdt.h");
    let abi = read("docs/abi.md");
    let lines: Vec<&str> = header.lines().collect();
    let mut exports = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.starts_with(['#', ' ', '/', '*']) || line.starts_with("typedef") {
            continue;
        }
        let Some(at) = line.find("wdt_") else {
            continue;
        };
        let name: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !line[at + name.len()..].starts_with('(') {
            continue;
        }
        assert_eq!(
            lines.get(n.wrapping_sub(1)).map(|l| l.trim()),
            Some("*/"),
            "{name} has no comment in include/wdt.h: document it in src/ffi/"
        );
        let start = lines[..n]
            .iter()
            .rposition(|l| l.starts_with("/*"))
            .expect("the comment opens");
        let comment = lines[start..n].join("\n");
        assert!(
            comment.len() > 80,
            "{name}'s comment is too short to be its contract:\n{comment}"
        );
        let hands_out = line.starts_with("char *") || line.contains("**");
        assert!(
            !hands_out || comment.contains("wdt_free_string"),
            "{name} returns a string: its comment must say it is released with wdt_free_string"
        );
        let short = name.trim_start_matches("wdt_outbox");
        assert!(
            abi.contains(&format!("`{name}`")) || abi.contains(&format!("`{short}`")),
            "docs/abi.md does not name {name}"
        );
        exports.push(name);
    }
    assert!(
        exports.len() >= 13 && exports.iter().any(|e| e == "wdt_outbox_flush"),
        "parsing include/wdt.h found {exports:?}: update tests/docs.rs"
    );
}
