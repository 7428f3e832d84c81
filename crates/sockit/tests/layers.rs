//! The house's rules, checked on the source itself: no module of a crate reaches back to a
//! module that reaches it (no circles), every source file opens with a sentence saying what it
//! holds, and none grows past a size a reader can hold in their head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file grown past this many lines is split by the ideas in it.
const MOST_LINES: usize = 650;

/// Every module of the crate whose `src` is `root`, by path (`chat::server`), with its text.
fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("under src").with_extension("");
                let mut name = rel.to_string_lossy().replace('/', "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_string();
                }
                out.insert(name, std::fs::read_to_string(&path).expect("read a source file"));
            }
        }
    }
    out
}

/// The text without its `#[cfg(test)] mod ... { ... }` blocks (tests may reach anywhere).
fn without_tests(src: &str) -> String {
    let mut out = src.to_string();
    while let Some(at) = out.find("#[cfg(test)]\nmod ") {
        let Some(open) = out[at..].find('{').map(|i| at + i) else { break };
        let mut depth = 0usize;
        let mut end = out.len();
        for (i, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

/// The longest module of `known` that `path` (`a::b::c`) starts with.
fn module_of(path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| known.contains_key(m))
}

/// Which modules each module reaches through `crate::` and `super::` paths.
fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (name, src) in mods {
        let src = without_tests(src);
        let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
        let mut to = BTreeSet::new();
        for (prefix, base) in [("crate::", String::new()), ("super::", parent.to_string())] {
            for (at, _) in src.match_indices(prefix) {
                // `super::super::` and the like are not used here; a word before the prefix
                // (`sockit_core::`) makes it another crate's path.
                if src[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest: String = src[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':')
                    .collect();
                let full = if base.is_empty() { rest } else { format!("{base}::{rest}") };
                if let Some(m) = module_of(full.trim_end_matches(':'), mods)
                    && m != *name
                    && !name.starts_with(&format!("{m}::"))
                    && m != "lib"
                {
                    to.insert(m);
                }
            }
        }
        out.insert(name.clone(), to);
    }
    out
}

/// The circles of the graph: each strongly connected set of more than one module.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iteratively small enough to be recursive here.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                set.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.found.push(set);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn crate_sources() -> Vec<(String, PathBuf)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["sockit-core", "sockit", "sockit-cli"].iter().map(|c| (c.to_string(), crates.join(c).join("src"))).collect()
}

#[test]
fn no_module_reaches_back_to_one_that_reaches_it() {
    for (name, src) in crate_sources() {
        let found = circles(&edges(&modules(&src)));
        assert!(found.is_empty(), "{name} has circles between its modules: {found:?}");
    }
}

#[test]
fn every_file_says_what_it_holds_and_stays_small() {
    for (name, src) in crate_sources() {
        for (module, text) in modules(&src) {
            assert!(text.starts_with("//!"), "{name}: {module} does not open with a //! line saying what it holds");
            let lines = text.lines().count();
            assert!(lines <= MOST_LINES, "{name}: {module} has {lines} lines: split it by the ideas in it");
        }
    }
}

/// The string literals of `src` that name a command-line flag (`--word`): the library says
/// what is wrong in its own words, and only the binary knows its flags (it adds them, through
/// `Hint`, or around the error). Comments and test blocks are left out.
fn flags_named(src: &str) -> Vec<String> {
    let code = without_tests(src);
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        // Inside a string literal: after an odd number of quotes on the line.
        let mut in_string = false;
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c == '"' && (i == 0 || chars[i - 1] != '\\') {
                in_string = !in_string;
            } else if in_string
                && c == '-'
                && chars.get(i + 1) == Some(&'-')
                && chars.get(i + 2).is_some_and(char::is_ascii_lowercase)
                && (i == 0 || !chars[i - 1].is_ascii_alphanumeric())
            {
                found.push(line.to_string());
                break;
            }
        }
    }
    found
}

#[test]
fn the_library_names_no_flag() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["sockit-core", "sockit"] {
        for (module, text) in modules(&crates.join(name).join("src")) {
            let found = flags_named(&text);
            assert!(found.is_empty(), "{name}: {module} names a flag in its words: {found:?}");
        }
    }
    assert_eq!(flags_named("let e = \"pass --proxy URL\";\n// --comment\n"), ["let e = \"pass --proxy URL\";"]);
    assert!(flags_named("let x = a -- b; let s = \"a - b\";").is_empty());
}

/// The checker itself finds a circle, and the test blocks it is told to leave out.
#[test]
fn the_checker_finds_circles() {
    let mods: BTreeMap<String, String> = [
        ("a", "use crate::b::X;"),
        ("b", "fn f() { crate::c::g() }"),
        ("c", "use super::a;\n#[cfg(test)]\nmod tests { use crate::d; }"),
        ("d", "use crate::a::Y;"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let graph = edges(&mods);
    assert_eq!(circles(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    assert!(graph["c"].contains("a") && !graph["c"].contains("d"), "{graph:?}");
}
