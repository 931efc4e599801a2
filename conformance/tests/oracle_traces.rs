//! The oracle against the repository's files: every hand-written violating trace in
//! `traces/` is flagged with exactly the invariant its file is named after (`<ID>.jsonl`, or
//! `<ID>.<what>.jsonl` for a second one), every clean counterpart in `traces/clean/` checks
//! clean, and every scenario in `scenarios/`, played through the simulator with its scenario
//! lines interleaved, checks clean.

use cobrowse_visitor_conformance::oracle::{
    check_records, check_trace, interleave, plain, read_trace_with, CheckOptions, Invariant,
};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::Step;
use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn jsonl_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The invariant ID a trace file is named after: its name up to the first `.`.
fn named_id(path: &Path) -> String {
    let stem = stem(path);
    stem.split('.').next().unwrap_or_default().to_owned()
}

#[test]
fn every_violating_trace_is_flagged_with_exactly_its_invariant() {
    let files = jsonl_files("traces");
    assert!(!files.is_empty(), "traces/ has no .jsonl files");
    for path in &files {
        let expected = Invariant::from_id(&named_id(path))
            .unwrap_or_else(|| panic!("{}: not named after an invariant ID", path.display()));
        let text = std::fs::read_to_string(path).unwrap();
        let lines = parse_trace(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // the controller's replay is judged only for a trace of this crate's controller
        let reference = matches!(
            expected,
            Invariant::ControllerReplay | Invariant::PauseShown
        );
        let options = CheckOptions::default().with_reference_controller(reference);
        let violations = read_trace_with(&lines, options).expect("usable");
        let mut ids: BTreeSet<&str> = violations.iter().map(|v| v.invariant.id()).collect();
        // a trace whose SDK breaks a rule writes records its rows would not: the replay
        // names that too
        if expected != Invariant::SdkReplay {
            ids.remove(Invariant::SdkReplay.id());
        }
        // the crate's controller's notice is its replay's too
        if expected == Invariant::PauseShown {
            ids.remove(Invariant::ControllerReplay.id());
        }
        // a restored one-click session is still the one INV-KEY-HIDDEN-PRESENCE watches: it
        // carries the session across the relaunch and flags the key as well
        if expected == Invariant::RestoreKeyHidden {
            assert!(
                ids.remove(Invariant::KeyHiddenPresence.id()),
                "{}: INV-KEY-HIDDEN-PRESENCE does not carry the session across the relaunch",
                path.display()
            );
        }
        assert_eq!(
            ids,
            BTreeSet::from([expected.id()]),
            "{}: {violations:#?}",
            path.display()
        );
        if reference {
            assert!(
                check_trace(&lines).is_empty(),
                "{}: judged without the option",
                path.display()
            );
        }
    }
}

#[test]
fn every_clean_counterpart_checks_clean() {
    let files = jsonl_files("traces/clean");
    assert!(!files.is_empty(), "traces/clean/ has no .jsonl files");
    for path in &files {
        let violating = path
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join(path.file_name().unwrap());
        assert!(
            violating.exists(),
            "{}: no violating trace of that name in traces/",
            path.display()
        );
        let text = std::fs::read_to_string(path).unwrap();
        let lines = parse_trace(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let violations = check_trace(&lines);
        assert!(violations.is_empty(), "{}: {violations:#?}", path.display());
        // the crate's controller's own traces: clean with its replay judged too
        if stem(path) == Invariant::PauseShown.id() {
            let options = CheckOptions::default().with_reference_controller(true);
            let v = read_trace_with(&lines, options).expect("usable");
            assert!(v.is_empty(), "{}: {v:#?}", path.display());
        }
    }
}

#[test]
fn every_contract_invariant_has_a_violating_trace() {
    let names: BTreeSet<String> = jsonl_files("traces").iter().map(|p| named_id(p)).collect();
    for inv in Invariant::ALL {
        if inv.kind() == cobrowse_visitor_conformance::oracle::InvariantKind::Contract {
            assert!(names.contains(inv.id()), "no traces/{}.jsonl", inv.id());
        }
    }
}

#[test]
fn every_scenario_checks_clean_with_and_without_its_scenario_lines() {
    let files = jsonl_files("scenarios");
    assert!(!files.is_empty());
    for path in &files {
        let steps = parse_scenario(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let records = World::run(&steps).expect("the world settles");
        let lines: Vec<_> = interleave(&steps, &records)
            .into_iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect();
        let violations = check_trace(&lines);
        assert!(
            violations.is_empty(),
            "{} (interleaved): {violations:#?}",
            path.display()
        );
        // records only: the plain trace `cobrowse run` prints (after the config line when it
        // sets a key of spec.md §13.1)
        let plain: Vec<_> = plain(&steps, &records)
            .into_iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect();
        let violations = check_trace(&plain);
        assert!(
            violations.is_empty(),
            "{} (records only): {violations:#?}",
            path.display()
        );
        if !matches!(steps.first(), Some(Step::Config(c)) if c.beyond_contract()) {
            assert!(check_records(&records).is_empty(), "{}", path.display());
        }
    }
}

/// `CheckOptions::skipping`: on every trace of `traces/` (each names at least one
/// violation), read as a plain app's and as the reference controller's, skipping one
/// invariant reports exactly what the full check reports without that invariant, in the same
/// order; skipping every invariant but one reports exactly that one's.
#[test]
fn skipping_an_invariant_drops_its_verdict_and_nothing_else() {
    let files = jsonl_files("traces");
    let mut dropped = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let lines = parse_trace(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for reference in [false, true] {
            let options = CheckOptions::default().with_reference_controller(reference);
            let full = read_trace_with(&lines, options).expect("usable");
            for skip in Invariant::ALL {
                assert!(options.judges(skip));
                let skipping = options.skipping(skip);
                assert!(!skipping.judges(skip));
                let got = read_trace_with(&lines, skipping).expect("usable");
                let want: Vec<_> = full
                    .iter()
                    .filter(|v| v.invariant != skip)
                    .cloned()
                    .collect();
                dropped += full.len() - want.len();
                assert_eq!(got, want, "{}, skipping {}", path.display(), skip.id());
                // every invariant but `skip`
                let only = Invariant::ALL
                    .iter()
                    .filter(|i| **i != skip)
                    .fold(options, |o, i| o.skipping(*i));
                let got = read_trace_with(&lines, only).expect("usable");
                let want: Vec<_> = full
                    .iter()
                    .filter(|v| v.invariant == skip)
                    .cloned()
                    .collect();
                assert_eq!(got, want, "{}, only {}", path.display(), skip.id());
            }
        }
    }
    // the traces do name violations, so something was dropped
    assert!(dropped > files.len(), "{dropped}");
}
