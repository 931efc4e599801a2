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
    /// A step enabled once the app is initialized (the first `EventVisitorInitialized`).
    /// The one use: `presence_data` (C-U70), which the controller passes through and the SDK
    /// refuses while its first `init_visitor` is pending (S-A92) — a refusal that
    /// INV-CONTROLLER-CALLS-ACCEPTED forbids (a disagreement of spec.md's C-U70 with that
    /// invariant, reported with issue 14's model work). The letter is the app that sets its
    /// presence data once the visitor is initialized.
    AfterInit(fn() -> Step),
}

fn login() -> Step {
    Step::User(UserIntent::Login {
        visitor_id: VID.into(),
    })
}

fn presence_data() -> Step {
    Step::User(UserIntent::PresenceData {
        map: [("page".to_owned(), "cart".to_owned())].into(),
    })
}

pub const ALPHABET: [Letter; 19] = [
    Letter::Step(|| Step::User(UserIntent::Launch)),
    Letter::Step(|| Step::User(UserIntent::TapCobrowse)),
    Letter::Step(login),
    Letter::Step(|| Step::User(UserIntent::AcceptTerms)),
    Letter::Step(|| Step::User(UserIntent::DeclineTerms)),
    Letter::Step(|| Step::User(UserIntent::EndSession)),
    Letter::Step(|| Step::User(UserIntent::Logout)),
    Letter::Step(|| Step::User(UserIntent::Exit)),
    Letter::AfterInit(presence_data),
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
            Letter::AfterInit(f) => match world.controller().state() {
                cobrowse_visitor_core::ControllerState::Running(app) if app.initialized => {
                    Some(f())
                }
                _ => None,
            },
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

// ---- the SDK core alone ------------------------------------------------------------------------

/// One letter of the SDK core's alphabet: an input at the core's `now`, or `Input::Timeout`
/// at the next deadline (disabled when none is armed).
#[derive(Clone, Debug)]
pub enum SdkLetter {
    /// This input, at the time of the last one.
    Now(cobrowse_visitor_core::Input),
    /// `Input::Timeout` at the next deadline.
    NextDeadline,
}

/// The SDK alphabet of issue 14's exploration: the calls, frames, lifecycle and network
/// changes that move presence, consent and presence data (the new ones with the old ones
/// they interact with), and the next deadline.
pub fn sdk_alphabet() -> Vec<SdkLetter> {
    use cobrowse_visitor_core::{
        ApiCall, InitParams, Input, Lifecycle, NetworkChange, ServerFrame, StartKey, TermsStatus,
    };
    let page = |v: &str| -> std::collections::BTreeMap<String, String> {
        [("page".to_owned(), v.to_owned())].into()
    };
    let api = [
        ApiCall::InitVisitor(InitParams::identified(
            cobrowse_visitor_core::SEED_GROUP_ID,
            VID,
        )),
        ApiCall::InitVisitor(InitParams::identified(
            cobrowse_visitor_core::SEED_GROUP_ID,
            "cust-7",
        )),
        ApiCall::presence_connect(),
        ApiCall::PresenceConnect { max_attempts: 1 },
        ApiCall::PresenceConnect { max_attempts: 0 },
        ApiCall::start_session(StartKey::VisitorId),
        ApiCall::EndSession,
        ApiCall::terms(TermsStatus::Displayed),
        ApiCall::terms(TermsStatus::Accepted),
        ApiCall::PresenceDisconnect,
        ApiCall::PresenceData { map: page("cart") },
        ApiCall::PresenceData {
            map: page(&"v".repeat(256)),
        },
        ApiCall::PresenceSignalVisibility { visible: false },
        // issue 15: S-A100/101, S-A110-112, S-A120-122 (S-N02 re-sends pause and state)
        ApiCall::Pause { paused: true },
        ApiCall::Pause { paused: false },
        ApiCall::SendUserMessage {
            name: "cart_opened".into(),
            map: page("cart"),
        },
        ApiCall::SendUserMessage {
            name: String::new(),
            map: Default::default(),
        },
        ApiCall::SetUserState {
            name: "step".into(),
            value: "cart".into(),
        },
        ApiCall::SetUserState {
            name: "step".into(),
            value: "v".repeat(256),
        },
    ];
    let frames = [
        ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: true,
        },
        ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        },
        ServerFrame::InitFailed {
            reason: "down".into(),
        },
        ServerFrame::PresenceConnected {},
        ServerFrame::PresenceConnectFailed {
            reason: "busy".into(),
        },
        ServerFrame::PresenceShowTerms { request_id: 1 },
        ServerFrame::PresenceStartSession { request_id: 2 },
        ServerFrame::PresenceSignal {
            event: "open_page".into(),
            map: page("checkout"),
        },
        ServerFrame::PresenceNotConfigured {},
        ServerFrame::PresenceBlur {},
        ServerFrame::SessionStarted {
            sessionkey: VID.into(),
        },
        // S-F30
        ServerFrame::UserMessage {
            name: "note".into(),
            map: Default::default(),
        },
    ];
    api.into_iter()
        .map(Input::Api)
        .chain(frames.into_iter().map(Input::Frame))
        .chain([
            Input::Lifecycle(Lifecycle::Background),
            Input::Lifecycle(Lifecycle::Foreground),
            Input::Network(NetworkChange::Lost),
            Input::Network(NetworkChange::Restored),
        ])
        .map(SdkLetter::Now)
        .chain([SdkLetter::NextDeadline])
        .collect()
}

/// The SDK core's state with time taken relative to `now` (deadlines hashed relative) and
/// the attempt counters capped as [`state_key`] caps them — except a presence attempt under a
/// `max_attempts` bound, which decides when the round gives up and is kept as it is.
pub fn sdk_state_key(s: &State) -> u64 {
    let mut a = s.clone();
    a.now = Instant::ZERO;
    a.timers = Timers::default();
    if let Link::Down { attempt } = &mut a.link {
        *attempt = (*attempt).min(LINK_ATTEMPT_CAP);
    }
    if let Phase::Ready(r) = &mut a.phase {
        let bounded = r.max_attempts.is_some();
        if let Presence::Connecting { attempt } | Presence::RetryWait { attempt } = &mut r.presence
        {
            if !bounded {
                *attempt = (*attempt).min(PRESENCE_ATTEMPT_CAP);
            }
        }
    }
    let mut h = DefaultHasher::new();
    a.hash(&mut h);
    for (t, at) in s.timers.armed() {
        (t, at.as_millis().saturating_sub(s.now.as_millis())).hash(&mut h);
    }
    h.finish()
}

/// A node of the SDK search: the core, the caller's data, the inputs from the root.
type SdkNode<D> = (
    cobrowse_visitor_core::Sdk,
    D,
    Vec<(u64, cobrowse_visitor_core::Input)>,
);

/// Explores every sequence of up to `depth` letters of `alphabet` from `root` (breadth
/// first). `edge` is called for every input fed, with the caller's data of the parent (cloned
/// for the child: update it), the core before, the time and input, the result, the outputs
/// and the core after; an `Err` stops the search with the inputs that led there. States are
/// deduplicated by [`sdk_state_key`] and `data_key` of the caller's data.
pub fn explore_sdk<D: Clone>(
    root: cobrowse_visitor_core::Sdk,
    data: D,
    alphabet: &[SdkLetter],
    depth: usize,
    data_key: impl Fn(&D) -> u64,
    mut edge: impl FnMut(
        &mut D,
        &cobrowse_visitor_core::Sdk,
        u64,
        &cobrowse_visitor_core::Input,
        Result<(), cobrowse_visitor_core::ErrorCode>,
        &[cobrowse_visitor_core::Output],
        &cobrowse_visitor_core::Sdk,
    ) -> Result<(), String>,
) -> Explored {
    use cobrowse_visitor_core::{Input, Output};
    let key = |s: &cobrowse_visitor_core::Sdk, d: &D| {
        let mut h = DefaultHasher::new();
        (sdk_state_key(s.state()), data_key(d)).hash(&mut h);
        h.finish()
    };
    let mut seen = HashSet::from([key(&root, &data)]);
    let mut frontier: Vec<SdkNode<D>> = vec![(root, data, vec![])];
    let mut stats = Explored {
        states: 1,
        per_depth: vec![1],
        ..Explored::default()
    };
    for d in 0..depth {
        let mut next = vec![];
        for (sdk, data, path) in &frontier {
            for letter in alphabet {
                let now = sdk.state().now.as_millis();
                let (at, input) = match letter {
                    SdkLetter::Now(i) => (now, i.clone()),
                    SdkLetter::NextDeadline => match sdk.poll_timeout() {
                        Some(t) => (t.as_millis(), Input::Timeout),
                        None => continue,
                    },
                };
                let mut child = sdk.clone();
                let mut data = data.clone();
                let result = child
                    .handle_input(Instant::from_millis(at), input.clone())
                    .map_err(|e| e.code());
                let mut out = vec![];
                loop {
                    match child.poll_output() {
                        Output::Timeout(_) => break,
                        o => out.push(o),
                    }
                }
                stats.edges += 1;
                let mut p = path.clone();
                p.push((at, input.clone()));
                if let Err(why) = edge(&mut data, sdk, at, &input, result, &out, &child) {
                    let list: String = p
                        .iter()
                        .map(|(t, i)| format!("  at {t} ms: {i:?}\n"))
                        .collect();
                    panic!("{why}\n-- inputs:\n{list}");
                }
                if seen.insert(key(&child, &data)) {
                    next.push((child, data, p));
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
