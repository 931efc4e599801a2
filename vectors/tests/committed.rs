//! The committed vectors are what the generator makes, byte for byte; each replays through
//! the Rust core; and a vector edited by one byte does not.

use cobrowse_visitor_vectors::{generate, replay, Vector};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed() -> Vec<(String, String)> {
    let dir = root().join("vectors").join("journeys");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("vectors/journeys")
        .map(|e| {
            let e = e.expect("an entry");
            let name = e.file_name().into_string().expect("a UTF-8 name");
            let text = std::fs::read_to_string(e.path()).expect("a vector");
            (name, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn regenerating_gives_the_committed_files_byte_for_byte() {
    let generated = generate::all(&root()).expect("every scenario gives a vector");
    let committed = committed();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&generated),
        names(&committed),
        "one vector per scenario"
    );
    for ((name, want), (_, have)) in generated.iter().zip(&committed) {
        assert!(
            want == have,
            "vectors/journeys/{name} is stale: cargo run -p cobrowse-visitor-vectors --bin gen-vectors"
        );
    }
    assert!(generated.len() >= 11);
}

#[test]
fn every_committed_vector_replays_through_the_core() {
    for (name, text) in committed() {
        let v: Vector = serde_json::from_str(&text).expect(&name);
        replay(&v).unwrap_or_else(|m| panic!("{name}: {m}"));
        assert!(!v.sdk.is_empty() && !v.controller.is_empty(), "{name}");
    }
}

#[test]
fn a_vector_edited_by_one_byte_fails_the_replay() {
    let (name, text) = committed()
        .into_iter()
        .find(|(n, _)| n == "oneclick_accepted.json")
        .expect("the one-click journey");
    // the agent's guest count: 1 -> 2
    let at = text.find("\"guestcount\": 1").expect("a guest count") + "\"guestcount\": ".len();
    let mut bytes = text.into_bytes();
    bytes[at] = b'2';
    let edited: Vector = serde_json::from_slice(&bytes).expect("still a vector");
    let m = replay(&edited).expect_err("an edited vector must not replay");
    assert!(m.expected.contains("\"guestcount\":2"), "{name}: {m}");
}
