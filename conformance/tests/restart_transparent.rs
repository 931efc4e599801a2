//! LIVE-RESTART-TRANSPARENT (spec.md §10.4): a scenario and the same scenario with a
//! `relaunch` inserted after a settled step (away below the grace), both healed, leave the
//! service seeing the same visitor: a property over generated scenarios, and the judge's own
//! edges (it can fail; it skips the restart's documented effects).

use cobrowse_visitor_conformance::liveness::{
    relaunch_judged, restart_transparent, Property, ServiceView,
};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, AgentAction, ScenarioConfig, Step};
use cobrowse_visitor_core::{Lifecycle, NetworkChange, UserIntent};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn step() -> impl Strategy<Value = Step> {
    let map = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
    prop_oneof![
        Just(Step::User(UserIntent::Launch)),
        Just(Step::User(UserIntent::Login {
            visitor_id: "cust-42".into()
        })),
        Just(Step::User(UserIntent::TapCobrowse)),
        Just(Step::User(UserIntent::AcceptTerms)),
        Just(Step::User(UserIntent::DeclineTerms)),
        Just(Step::User(UserIntent::EndSession)),
        Just(Step::User(UserIntent::Logout)),
        Just(Step::User(UserIntent::TogglePause)),
        prop_oneof![Just("cart"), Just("payment")].prop_map(|v| Step::User(
            UserIntent::SetUserState {
                name: "step".into(),
                value: v.into()
            }
        )),
        Just(Step::User(UserIntent::SendMessage {
            name: "hello".into(),
            map: map("a", "b")
        })),
        Just(Step::User(UserIntent::PresenceData {
            map: map("page", "cart")
        })),
        Just(Step::Agent(AgentAction::Join)),
        Just(Step::Agent(AgentAction::Leave)),
        Just(Step::Agent(AgentAction::StartPresenceSession)),
        Just(Step::Agent(AgentAction::EndSession)),
        Just(Step::AgentMessage {
            name: "note".into(),
            map: BTreeMap::new()
        }),
        Just(Step::Network(NetworkChange::Lost)),
        Just(Step::Network(NetworkChange::Restored)),
        Just(Step::Lifecycle(Lifecycle::Background)),
        Just(Step::Lifecycle(Lifecycle::Foreground)),
        prop_oneof![Just(1_000u64), Just(20_000), Just(70_000)].prop_map(Step::AdvanceMs),
        // relaunches of the scenario itself, in whatever state its session is (running,
        // starting or ending: §5.6, S-R04; only the service's after an exit offline, §13),
        // and an exit with a later launch
        prop_oneof![Just(0u64), Just(30_000), Just(61_000)]
            .prop_map(|away_ms| Step::Relaunch { away_ms }),
        Just(Step::User(UserIntent::Exit)),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<Step>, usize, u64)> {
    proptest::collection::vec(step(), 1..14).prop_flat_map(|rest| {
        let mut steps = vec![
            Step::Config(ScenarioConfig::default()),
            Step::User(UserIntent::Launch),
        ];
        steps.extend(rest);
        let len = steps.len();
        (Just(steps), 1..len, 0u64..59_999)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn a_relaunch_after_a_settled_step_is_transparent((steps, k, away) in scenario()) {
        let found = restart_transparent(&steps, k, away).expect("the worlds settle");
        prop_assert!(found.is_none(), "{}", found.map(|f| f.to_string()).unwrap_or_default());
    }
}

fn steps(text: &str) -> Vec<Step> {
    parse_scenario(text).expect("a scenario")
}

const PAUSED_ONE_CLICK: &str = r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"user": "login", "visitor_id": "cust-42"}
{"agent": "start_presence_session"}
{"user": "accept_terms"}
{"agent": "join"}
{"user": "toggle_pause"}
{"user": "set_user_state", "name": "step", "value": "cart"}
{"user": "presence_data", "map": {"page": "cart"}}
{"agent": "join"}
"#;

/// The seed-style journey, relaunched after every step it can be: the same service view.
#[test]
fn a_paused_one_click_session_continues_unseen() {
    let s = steps(PAUSED_ONE_CLICK);
    let mut judged = 0;
    for k in 1..s.len() {
        for away in [0, 30_000, 59_999] {
            assert_eq!(restart_transparent(&s, k, away).unwrap(), None, "k={k}");
        }
        let mut w = World::new(&ScenarioConfig::default());
        for (i, step) in s.iter().take(k + 1).enumerate() {
            w.apply(i, step).unwrap();
        }
        judged += usize::from(relaunch_judged(&w));
    }
    // launched, logged in, running: most steps are judged (not the open terms dialog)
    assert!(judged >= 6, "{judged}");
}

/// An ending session at a settled point with the link up (a start and its end both made
/// offline: the new link's `end_session` finds no session and waits for its timeout) is
/// judged: S-R04 keeps it, and the healed service sees what it sees without the relaunch. A
/// starting one with the link down is the documented effect (the start is forgotten, §5.6).
#[test]
fn an_ending_session_is_judged_and_a_start_in_flight_is_not() {
    let s = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"network": "lost"}
{"user": "tap_cobrowse"}
{"user": "end_session"}
{"network": "restored"}
"#,
    );
    let mut w = World::new(&ScenarioConfig::default());
    for (i, step) in s.iter().enumerate() {
        w.apply(i, step).unwrap();
        let phase = match &w.sdk().state().phase {
            cobrowse_visitor_core::Phase::Ready(r) => Some(r.session.kind()),
            _ => None,
        };
        let judged = relaunch_judged(&w);
        match i {
            // starting offline
            3 => assert!(!judged, "a start in flight is a documented effect"),
            5 => {
                assert_eq!(phase, Some(cobrowse_visitor_core::SessionKind::Ending));
                assert!(judged, "an ending session with the link up is judged");
            }
            _ => {}
        }
    }
    for away in [0, 4_000, 59_999] {
        assert_eq!(restart_transparent(&s, 5, away).unwrap(), None);
        assert_eq!(restart_transparent(&s, 3, away).unwrap(), None);
    }
}

/// The restart's documented effects are not judged: an open terms dialog, a relaunch at or
/// past the grace, a relaunch before launch.
#[test]
fn the_documented_effects_are_not_judged() {
    let s = steps(PAUSED_ONE_CLICK);
    let mut w = World::new(&ScenarioConfig::default());
    for (i, step) in s.iter().take(4).enumerate() {
        w.apply(i, step).unwrap();
    }
    assert!(!relaunch_judged(&w), "the terms dialog is open");
    assert!(!relaunch_judged(&World::new(&ScenarioConfig::default())));
    // away past the grace ends the session (S-R02): not this property's
    assert_eq!(restart_transparent(&s, 6, 60_000).unwrap(), None);
}

/// The view compares what it says: a world relaunched past the grace differs from one that
/// was not (the session is gone), so the comparison can fail.
#[test]
fn the_view_tells_a_lost_session() {
    let s = steps(PAUSED_ONE_CLICK);
    let play = |relaunch: Option<u64>| {
        let mut w = World::new(&ScenarioConfig::default());
        for (i, step) in s.iter().enumerate() {
            w.apply(i, step).unwrap();
        }
        if let Some(away_ms) = relaunch {
            w.apply(s.len(), &Step::Relaunch { away_ms }).unwrap();
        }
        ServiceView::of(&w)
    };
    let kept = play(None);
    assert!(kept.paused && kept.session.as_deref() == Some("cust-42"));
    assert_eq!(play(Some(30_000)), kept);
    let lost = play(Some(61_000));
    assert_ne!(lost, kept);
    assert_eq!(
        (lost.session, lost.paused, lost.guests_told),
        (None, false, None)
    );
    assert_eq!(
        Property::RestartTransparent.id(),
        "LIVE-RESTART-TRANSPARENT"
    );
}

/// A relaunch while the app is in the background is not judged (spec.md §10.4): the app comes
/// back in the foreground, so its presence is up again where the plain world's stayed
/// suspended, and the agent's later `start_without_terms` finds the visitor present in one
/// world only (fuzz drive_scenario, the CI run on c9363e9: the scenario as it was found, the
/// relaunch 55 s after its line 7, a minute into the background).
#[test]
fn a_relaunch_in_the_background_is_a_documented_effect() {
    transparent_as_found(
        include_str!("fixtures/restart_in_background.jsonl"),
        7,
        55_433,
    );
}

/// A customer logged in with a 63-character visitor id, which `glance_core` limits allow
/// (up to 100): the controller's restore checked the id under the default `glance5` limits
/// (62), refused its own snapshot as corrupt, and the app came back unlaunched next to a
/// restored core, so its next `launch` initialised an anonymous visitor and the service lost
/// the customer (fuzz drive_scenario, the CI run on a09a7d5: the scenario as it was found,
/// the relaunch 7,347 ms after its line 33). C-R01 now checks the id under the config's limits.
#[test]
fn a_visitor_id_the_limits_allow_survives_a_relaunch() {
    transparent_as_found(
        include_str!("fixtures/restart_long_visitor_id.jsonl"),
        33,
        7_347,
    );
}

/// A scenario a fuzz run found, relaunched `away` ms after its line `k` as the run did: the
/// two worlds settle and agree.
fn transparent_as_found(text: &str, k: usize, away: u64) {
    let steps = cobrowse_visitor_conformance::transcript::parse_scenario(text).expect("parses");
    let judged = cobrowse_visitor_conformance::liveness::restart_transparent(&steps, k, away);
    assert!(matches!(judged, Ok(None)), "{judged:?}");
}
