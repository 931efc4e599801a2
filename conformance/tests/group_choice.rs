//! `GroupChoice`: which INV-GROUP-STABLE violations of a world with direct `api` steps are the
//! app's own choice of group (the first accepted `init_visitor` carries another group than the
//! config's), held on hand-written traces: a refused init (by an `error` record or a refusal
//! event of its step) is no choice, an accepted one is.

use cobrowse_visitor_conformance::oracle::{check_trace, GroupChoice, Invariant};
use cobrowse_visitor_conformance::transcript::parse_trace;

/// The INV-GROUP-STABLE lines of `text`, and whether each is excused.
fn judged(text: &str) -> Vec<(usize, bool)> {
    let lines = parse_trace(text).expect("readable");
    let choice = GroupChoice::of(&lines);
    check_trace(&lines)
        .into_iter()
        .filter(|v| v.invariant == Invariant::GroupStable)
        .map(|v| (v.line, choice.excused(&v)))
        .collect()
}

const CONFIG: &str = r#"{"config":{"group_id":19921,"custom_ui":true,"seed":7}}"#;

fn init(step: usize, group: i32) -> String {
    format!(
        r#"{{"step":{step},"api":{{"call":"init_visitor","group_id":{group},"visitor_id":null}}}}"#
    )
}

/// The app's first accepted init carries group 15: that init, and a later one with 15, are
/// its choice; a later one with the config's group is the split the invariant is about.
#[test]
fn the_first_accepted_group_is_the_apps_choice() {
    let text = [
        CONFIG.to_owned(),
        r#"{"api":{"call":"init_visitor","group_id":15,"visitor_id":null}}"#.to_owned(),
        init(1, 15),
        r#"{"step":1,"event":{"code":"EventVisitorInitialized","properties":{}}}"#.to_owned(),
        r#"{"api":{"call":"init_visitor","group_id":15,"visitor_id":null}}"#.to_owned(),
        init(2, 15),
        r#"{"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}"#.to_owned(),
        init(3, 19921),
    ]
    .join("\n");
    assert_eq!(judged(&text), [(3, true), (6, true), (8, false)]);
}

/// A refused init is no choice (its group, 77, is not the first): refused by an `error`
/// record, or by a refusal event of its step; an event of another step refuses nothing.
#[test]
fn a_refused_init_is_no_choice() {
    for refusal in [
        r#"{"step":1,"error":{"code":"invalid_state","message":"refused"}}"#,
        r#"{"step":1,"event":{"code":"EventInvalidState","properties":{}}}"#,
        r#"{"step":1,"event":{"code":"EventInvalidParameter","properties":{}}}"#,
    ] {
        let text = [
            CONFIG.to_owned(),
            r#"{"api":{"call":"init_visitor","group_id":77,"visitor_id":null}}"#.to_owned(),
            init(1, 77),
            refusal.to_owned(),
            r#"{"api":{"call":"init_visitor","group_id":15,"visitor_id":null}}"#.to_owned(),
            init(2, 15),
        ]
        .join("\n");
        // the refused one is not judged; the accepted one is the first, and the app's choice
        assert_eq!(judged(&text), [(6, true)], "{refusal}");
    }
    // a refusal event of the next step does not refuse this init
    let text = [
        CONFIG.to_owned(),
        r#"{"api":{"call":"init_visitor","group_id":15,"visitor_id":null}}"#.to_owned(),
        init(1, 15),
        r#"{"user":"launch"}"#.to_owned(),
        r#"{"step":2,"event":{"code":"EventInvalidState","properties":{}}}"#.to_owned(),
    ]
    .join("\n");
    assert_eq!(judged(&text), [(3, true)]);
}

/// Without a config line, or with the config's group first, nothing is excused.
#[test]
fn no_config_or_the_configs_group_first_excuses_nothing() {
    let text = [
        CONFIG.to_owned(),
        r#"{"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}"#.to_owned(),
        init(1, 19921),
        r#"{"api":{"call":"init_visitor","group_id":15,"visitor_id":null}}"#.to_owned(),
        init(2, 15),
    ]
    .join("\n");
    assert_eq!(judged(&text), [(5, false)]);
}

/// The INV-RESTORE-GROUP lines of `text`, and whether each is excused.
fn judged_restore(text: &str) -> Vec<(usize, bool)> {
    let lines = parse_trace(text).expect("readable");
    let choice = GroupChoice::of(&lines);
    check_trace(&lines)
        .into_iter()
        .filter(|v| v.invariant == Invariant::RestoreGroup)
        .map(|v| (v.line, choice.excused(&v)))
        .collect()
}

/// Without a config line the reference is the current app's first accepted group: a process
/// after a relaunch that came back new whose accepted init chose another one is a new app, and
/// so is what a process restored from it sends (fuzz crash-6c180fe3, crash-fee968d5: the
/// checker no longer flags it); a restored process that sends another group without any
/// accepted init choosing it is flagged and not excused.
#[test]
fn without_a_config_line_a_choice_after_a_relaunch_is_the_apps() {
    let send_init = |step: usize, group: i32| {
        format!(
            r#"{{"step":{step},"send":{{"type":"init","v":1,"group_id":{group},"token":"","name":"","email":"","phone":"","visitor_id":null}}}}"#
        )
    };
    let chosen = [
        r#"{"api":{"call":"init_visitor","group_id":169,"visitor_id":null}}"#.to_owned(),
        init(0, 169),
        r#"{"relaunch":{"away_ms":0}}"#.to_owned(),
        r#"{"step":1,"error":{"code":"restore_refused","message":""}}"#.to_owned(),
        r#"{"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}"#.to_owned(),
        init(2, 19921),
        r#"{"relaunch":{"away_ms":0}}"#.to_owned(),
        send_init(3, 19921),
    ]
    .join("\n");
    // the relaunch that came back new (`restore_refused`) began a new app, whose own first
    // group is the checker's reference (spec.md INV-RESTORE-GROUP): nothing to excuse
    let found = judged_restore(&chosen);
    assert!(found.iter().all(|(_, excused)| *excused), "{found:?}");
    assert!(
        found.is_empty(),
        "the new app's group is its own: {found:?}"
    );
    // no accepted init chose 19921: the restored process's own doing
    let unchosen = [
        r#"{"api":{"call":"init_visitor","group_id":169,"visitor_id":null}}"#.to_owned(),
        init(0, 169),
        r#"{"relaunch":{"away_ms":0}}"#.to_owned(),
        send_init(1, 19921),
    ]
    .join("\n");
    let found = judged_restore(&unchosen);
    assert!(
        !found.is_empty() && found.iter().all(|(_, excused)| !excused),
        "{found:?}"
    );
}
