//! The one-direction rule of docs/architecture.md, checked on the manifests: the pure
//! crates depend only on pure crates and never on an I/O library; and the test kit
//! (anvil, child processes, free ports) is never a library's dependency.

use std::path::Path;

/// The crates that decide; they take plain data and return plain data.
const PURE: &[&str] = &["primitives", "accounting", "rewards", "merkle", "report", "quorum", "genesis"];

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
