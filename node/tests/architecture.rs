//! The one-direction rule of docs/architecture.md, checked on the manifests: the pure
//! crates depend only on pure crates and never on an I/O library; and the test kit
//! (anvil, child processes, free ports) is never a library's dependency.

use std::path::Path;

/// The crates that decide; they take plain data and return plain data.
const PURE: &[&str] =
    &["primitives", "accounting", "rewards", "merkle", "report", "quorum", "genesis", "exits", "notify"];

/// Our helpers on the standard library that a pure crate may use at its edge (the genesis
/// file's load and save); they pull in no I/O library.
const STD_HELPERS: &[&str] = &["fs-util"];

/// Libraries that do I/O (sockets, files, databases, async runtimes, HTTP, chains).
const IO_LIBRARIES: &[&str] = &["tokio", "reqwest", "rocksdb", "libp2p", "alloy", "axum", "hyper"];

/// The names under `[dependencies]` of a manifest (dev-dependencies may use anything).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[dependencies]";
            continue;
        }
        if in_section && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once(['=', '.']) {
                out.push(name.trim().to_string());
            }
        }
    }
    out
}

#[test]
fn pure_crates_depend_only_on_pure_crates_and_no_io_library() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut problems = Vec::new();
    for name in PURE {
        let manifest = std::fs::read_to_string(crates.join(name).join("Cargo.toml")).unwrap();
        let deps = dependencies(&manifest);
        assert!(!deps.is_empty() || *name == "primitives", "{name}: no [dependencies] found; is the parser wrong?");
        for dep in deps {
            if let Some(ours) = dep.strip_prefix("claystack-") {
                if !PURE.contains(&ours) && !STD_HELPERS.contains(&ours) {
                    problems.push(format!("pure crate {name} depends on the I/O crate {dep}"));
                }
            } else if IO_LIBRARIES.contains(&dep.as_str()) {
                problems.push(format!("pure crate {name} depends on the I/O library {dep}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_binary_depends_on_the_testkit_outside_dev_dependencies() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        if dependencies(&text).iter().any(|d| d == "claystack-testkit") {
            problems.push(format!("{} lists claystack-testkit under [dependencies]", manifest.display()));
        }
    }
    for helper in STD_HELPERS {
        let text = std::fs::read_to_string(crates.join(helper).join("Cargo.toml")).unwrap();
        for dep in dependencies(&text) {
            if dep.starts_with("claystack-") || IO_LIBRARIES.contains(&dep.as_str()) {
                problems.push(format!("the std-only helper {helper} depends on {dep}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_dependency_parser_sees_what_a_manifest_declares() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nclaystack-store.workspace = true\ntokio = \"1\"\n\
                    # a comment\n\n[dev-dependencies]\nrocksdb = \"0.24\"\n";
    assert_eq!(dependencies(manifest), vec!["claystack-store", "tokio"]);
}

/// The top-level modules of one crate's `src/` that each module names through
/// `crate::<module>` (or, from a nested file, `super::<module>`) in code, leaving out
/// comments and test modules.
fn module_imports(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    let mut files = vec![src.to_path_buf()];
    let mut sources = Vec::new();
    while let Some(path) = files.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(path);
            }
        }
    }
    let top = |path: &Path| {
        let rel = path.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: std::collections::BTreeSet<String> = sources.iter().map(|p| top(p)).collect();
    for path in &sources {
        let module = top(path);
        if module == "lib" || module == "main" || module == "tests" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        // Unit tests may reach anywhere; only the code's own imports must go one way.
        let code = text.split("#[cfg(test)]").next().unwrap();
        // Comments may name any module; only code imports.
        let code: String = code.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
        let nested = path.strip_prefix(src).unwrap().components().count() > 1;
        let edges = graph.entry(module.clone()).or_default();
        for prefix in ["crate::", "super::"] {
            if prefix == "super::" && !nested {
                continue;
            }
            for (i, _) in code.match_indices(prefix) {
                let name: String =
                    code[i + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if name != module && modules.contains(&name) && name != "lib" && name != "main" {
                    edges.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = Default::default();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs: Vec<_> =
        std::fs::read_dir(root.join("crates")).unwrap().map(|e| e.unwrap().path().join("src")).collect();
    dirs.push(root.join("node/src"));
    let mut cycles = Vec::new();
    for src in dirs.iter().filter(|d| d.is_dir()) {
        if let Some(cycle) = find_cycle(&module_imports(src)) {
            cycles.push(format!("{}: {}", src.display(), cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "module import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_only_a_cycle() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    let cycle = find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    assert_eq!(cycle.first(), cycle.last());
}
