//! Bounded exhaustive exploration of the simulated world: a breadth-first search over a
//! finite, abstract scenario alphabet, every sequence up to a depth, states deduplicated.
//!
//! The alphabet is every scenario step but direct `api` calls — the user intents, agent
//! actions, lifecycle and network changes — plus two time steps: "advance to the next
//! deadline" and "advance 60 s". Two worlds are the same state when everything that decides
//! their future is the same up to renaming: the SDK core's and the controller's states, the
//! simulated server's, the network — with time taken relative to `now`, the server's random
//! keys and one-click request ids renamed, and counters whose effect saturates (reconnect and
//! presence attempts past the backoff cap, guests past 2) capped.

use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{AgentAction, Record, ScenarioConfig, Step};
use cobrowse_visitor_core::Timers;
use cobrowse_visitor_core::UserIntent;
use cobrowse_visitor_core::{Instant, Lifecycle, NetworkChange};
use cobrowse_visitor_core::{Link, Phase, Presence, Session, State, Terms};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// The visitor id the alphabet logs in with.
pub const VID: &str = "cust-42";

/// The abstract alphabet: every letter a scenario step (time letters resolved per state).
#[derive(Clone, Copy, Debug)]
pub enum Letter {
    Step(fn() -> Step),
    /// `advance_ms` to the next armed deadline (disabled when none is armed).
    NextDeadline,
}

fn login() -> Step {
    Step::User(UserIntent::Login {
        visitor_id: VID.into(),
    })
}

pub const ALPHABET: [Letter; 18] = [
    Letter::Step(|| Step::User(UserIntent::Launch)),
    Letter::Step(|| Step::User(UserIntent::TapCobrowse)),
    Letter::Step(login),
    Letter::Step(|| Step::User(UserIntent::AcceptTerms)),
    Letter::Step(|| Step::User(UserIntent::DeclineTerms)),
    Letter::Step(|| Step::User(UserIntent::EndSession)),
    Letter::Step(|| Step::User(UserIntent::Logout)),
    Letter::Step(|| Step::User(UserIntent::Exit)),
    Letter::Step(|| Step::Lifecycle(Lifecycle::Background)),
    Letter::Step(|| Step::Lifecycle(Lifecycle::Foreground)),
    Letter::Step(|| Step::Network(NetworkChange::Lost)),
    Letter::Step(|| Step::Network(NetworkChange::Restored)),
    Letter::Step(|| Step::Agent(AgentAction::Join)),
    Letter::Step(|| Step::Agent(AgentAction::Leave)),
    Letter::Step(|| Step::Agent(AgentAction::StartPresenceSession)),
    Letter::Step(|| Step::Agent(AgentAction::EndSession)),
    Letter::NextDeadline,
    Letter::Step(|| Step::AdvanceMs(60_000)),
];

impl Letter {
    /// The concrete step in `world`, if the letter is enabled there.
    pub fn step(self, world: &World) -> Option<Step> {
        match self {
            Letter::Step(f) => Some(f()),
            Letter::NextDeadline => world
                .sdk()
                .poll_timeout()
                .map(|t| Step::AdvanceMs(t.as_millis().saturating_sub(world.now().as_millis()))),
        }
    }
}

/// Reconnect attempts past this all wait the longest backoff (1 s · 2^4 = 16 s).
const LINK_ATTEMPT_CAP: u32 = 4;
/// Presence attempts past this all wait the longest backoff (1 s · 2^5 ≥ 30 s).
const PRESENCE_ATTEMPT_CAP: u32 = 5;
const GUEST_CAP: u32 = 2;

fn norm_key(k: &mut String) {
    if super::sut::is_random_key(k) {
        *k = "####".into();
    }
}

/// The SDK state with time relative to `now` and the renamings above.
fn abstract_sdk(s: &State, last_request: u64) -> State {
    let mut a = s.clone();

    a.now = Instant::ZERO;
    // deadlines relative to now (the table itself is read-only outside the core)
    a.timers = Timers::default();
    if let Link::Down { attempt } = &mut a.link {
        *attempt = (*attempt).min(LINK_ATTEMPT_CAP);
    }
    if let Phase::Ready(r) = &mut a.phase {
        match &mut r.session {
            Session::Running { key, guests, .. } => {
                norm_key(key);
                *guests = (*guests).min(GUEST_CAP);
            }
            Session::Idle | Session::Starting { .. } | Session::Ending { .. } => {}
        }
        match &mut r.presence {
            Presence::Connecting { attempt } | Presence::RetryWait { attempt } => {
                *attempt = (*attempt).min(PRESENCE_ATTEMPT_CAP);
            }
            Presence::Connected { terms } => {
                // the request is the server's latest, or a stale one
                let rename = |r: &mut u64| *r = u64::from(*r != last_request);
                match terms {
                    Terms::Shown { request_id }
                    | Terms::Displayed { request_id }
                    | Terms::Accepted { request_id }
                    | Terms::AgentStart { request_id } => rename(request_id),
                    Terms::None => {}
                }
            }
            _ => {}
        }
    }
    a
}

/// The abstract state of a settled world, as a hash.
pub fn state_key(w: &World) -> u64 {
    let now = w.now().as_millis();
    let server = w.server();
    let mut h = DefaultHasher::new();
    abstract_sdk(w.sdk().state(), server.last_request()).hash(&mut h);
    for (t, at) in w.sdk().state().timers.armed() {
        (t, at.as_millis().saturating_sub(now)).hash(&mut h);
    }
    w.controller().state().hash(&mut h);
    server.visitor_id().hash(&mut h);
    server
        .session()
        .map(|(k, g)| {
            let mut k = k.to_owned();
            norm_key(&mut k);
            (k, g.min(GUEST_CAP))
        })
        .hash(&mut h);
    server.presence().hash(&mut h);
    server
        .offline_since()
        .map(|t| now.saturating_sub(t.as_millis()).min(60_000))
        .hash(&mut h);
    w.network_up().hash(&mut h);
    h.finish()
}

/// A scenario as a linked list from the last step back (shared by the nodes below it).
pub struct Path {
    pub step: Step,
    pub parent: Option<Rc<Path>>,
}

/// The scenario lines from the root to `path`.
pub fn steps(path: &Option<Rc<Path>>) -> Vec<Step> {
    let mut out = vec![];
    let mut p = path.clone();
    while let Some(node) = p {
        out.push(node.step.clone());
        p = node.parent.clone();
    }
    out.reverse();
    out
}

/// What the exploration saw.
#[derive(Debug, Default)]
pub struct Explored {
    pub depth: usize,
    /// Distinct abstract states reached (the root included).
    pub states: usize,
    /// Steps applied (edges explored, duplicates included).
    pub edges: usize,
    /// New states per depth.
    pub per_depth: Vec<usize>,
}

/// One node of the search: a world (transcript taken), the caller's data, and the path.
pub struct Node<D> {
    pub world: World,
    pub data: D,
    pub path: Option<Rc<Path>>,
}

/// Explores every sequence of up to `depth` letters from a world with `config` (the
/// scenario's line 0; the letters are lines 1, 2, …).
///
/// `edge` is called for every step applied, with the parent node (its data cloned for the
/// child: update it), the step, the child world and the records the step produced; an `Err`
/// stops the search with the scenario that led there. `visit` is called once for every new
/// abstract state.
pub fn explore<D: Clone>(
    config: &ScenarioConfig,
    depth: usize,
    root: D,
    mut edge: impl FnMut(&mut D, &World, &Step, &World, &[Record]) -> Result<(), String>,
    mut visit: impl FnMut(&World, &D),
) -> Explored {
    // the scenario's first line is its config (step 0)
    let mut world = World::new(config);
    if let Err(e) = world.apply(0, &Step::Config(config.clone())) {
        panic!("the config line: {e}");
    }
    world.take_transcript();
    let mut seen = HashSet::new();
    seen.insert(state_key(&world));
    visit(&world, &root);
    let mut frontier = vec![Node {
        world,
        data: root,
        path: None,
    }];
    let mut stats = Explored {
        states: 1,
        per_depth: vec![1],
        ..Explored::default()
    };
    for d in 0..depth {
        let mut next = vec![];
        for node in &frontier {
            for letter in ALPHABET {
                let Some(step) = letter.step(&node.world) else {
                    continue;
                };
                let mut child = node.world.clone();
                let mut data = node.data.clone();
                let settled = child.apply(d + 1, &step).map_err(|e| e.to_string());
                let records = child.take_transcript();
                stats.edges += 1;
                let path = Some(Rc::new(Path {
                    step: step.clone(),
                    parent: node.path.clone(),
                }));
                if let Err(why) =
                    settled.and_then(|()| edge(&mut data, &node.world, &step, &child, &records))
                {
                    let scenario: String = std::iter::once(Step::Config(config.clone()))
                        .chain(steps(&path))
                        .map(|s| s.to_json().to_string() + "\n")
                        .collect();
                    panic!("{why}\n-- scenario (contract JSON Lines):\n{scenario}");
                }
                if seen.insert(state_key(&child)) {
                    visit(&child, &data);
                    next.push(Node {
                        world: child,
                        data,
                        path,
                    });
                }
            }
        }
        stats.depth = d + 1;
        stats.per_depth.push(next.len());
        stats.states += next.len();
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    stats
}
