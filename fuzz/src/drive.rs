//! `drive_core`: the SDK core and the integration controller driven directly, op by op.
//!
//! The harness drives `sim::World` through the one world driver (`World::apply_with` and,
//! for what no scenario can say, `World::begin_line` / `feed` / `feed_bytes` /
//! `settle_with`), with [`Hooks`] of its own: every record goes to the oracle, every SDK and
//! controller input is checked, and an `advance_ms` may wake late. The records are the
//! world's (api / send / recv / event / ui / error, each with the index of its scenario line
//! as `step`); the simulated server answers or not; and the harness adds what no scenario can
//! say: raw server frames and bytes from a hostile server, early and late timer wake-ups,
//! inputs stamped with an earlier time, `terminate`, and short timer durations. A world that
//! does not settle is a finding.
//!
//! A transcript shows no record for an input that is not an API call or a frame (a timer
//! wake-up, a lifecycle or network change), so the oracle can only tell such an input's
//! effects from those of an earlier refused input of the same scenario line by the line
//! (INV-REFUSED-NO-EFFECT judges "no send after a refusal until the next api/recv record or
//! step"). `sim::World` feeds several such inputs under one line (every wake-up of an
//! `advance_ms`, the `terminate` after `exit`); this harness gives each its own line (a
//! stand-in `advance_ms` for a further wake-up, `lifecycle: terminate` after `exit`), so every
//! refusal is judged soundly.
//!
//! After every op:
//! - a refused input (SDK or controller) left the state as it was
//!   (`oracle::machine::refused_unchanged`, `controller_refused_unchanged`);
//! - every `Input::Timeout` is judged by `oracle::machine::timer_not_early`;
//! - every record goes to the streaming oracle as the world made it (typed); once per input,
//!   after the first run, every record is written as its JSON line and the whole trace read
//!   back with `parse_trace` (what `cobrowse check` reads): it must read back as the records
//!   the oracle judged, or at least write the same lines again and then pass the oracle as
//!   read back;
//! - the streaming `Oracle` has seen the op's scenario line and records and reports nothing.
//!
//! At the end the oracle's `finish()` must report nothing, and a second run of the same ops
//! must give the same trace and states (`oracle::machine::deterministic`). The second run
//! drives the world exactly as the first and judges nothing else: a check that fails only
//! there fails because a line or a state differs, which the comparison reports.

use crate::input::{self, Writer};
use crate::report::{numbered_tail, scenario_jsonl, trace_line_json, Failure};
use arbitrary::Unstructured;
use cobrowse_visitor_conformance::liveness;
use cobrowse_visitor_conformance::oracle::{machine, GroupChoice, Oracle, Violation};
use cobrowse_visitor_conformance::sim::{
    DriveError, FedKind, Hooks, SdkFed, Split, Wake, World, WorldOptions,
};
use cobrowse_visitor_conformance::transcript::{
    parse_trace, AgentAction, Observed, Record, ScenarioConfig, Step, TraceLine, WireFrame,
    MAX_GROUP_ID,
};
use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::ServerFrame;
use cobrowse_visitor_core::StartOptions;
use cobrowse_visitor_core::{ConsentPolicy, Limits};
use cobrowse_visitor_core::{
    Controller, ControllerError, ControllerOutput, ControllerState, UserIntent,
};
use cobrowse_visitor_core::{Input, Lifecycle, NetworkChange, Sdk, SdkConfig, State};
use std::collections::BTreeMap;
use std::time::Duration;

const TARGET: &str = "drive_core";

/// Most ops read from one input.
pub const MAX_OPS: usize = 96;

/// Most wake-ups at deadlines in all the exact advances of one input; the rest of each span is
/// then taken in one
/// late wake-up (spec.md §2 allows any `t' ≥ t`). Fuzzed 1 ms timers over a long span would
/// otherwise wake millions of times.
const MAX_EXACT_WAKES: usize = 512;

/// One thing that happens to the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// The customer does something (to the controller).
    User(UserIntent),
    /// The app calls the SDK directly, bypassing the controller.
    Api(ApiCall),
    /// A frame from a (possibly hostile) server, delivered while the transport is up.
    Frame(ServerFrame),
    /// Raw bytes from the server, through `Sdk::handle_bytes`, while the transport is up.
    Bytes(Vec<u8>),
    /// The platform's lifecycle (`terminate` included).
    Lifecycle(Lifecycle),
    /// The transport goes down or comes back.
    Network(NetworkChange),
    /// The agent acts on the simulated server (nothing without one).
    Agent(AgentAction),
    /// The agent sends the visitor a custom signal (`{"agent": "signal", …}`, spec.md §13.1).
    AgentSignal {
        /// The signal's name.
        event: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// An agent in the running session sends the visitor a message (`{"agent": "message",
    /// …}`, spec.md §13.2).
    AgentMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// The app process is killed and relaunched (`{"relaunch": …}`, spec.md §13.2).
    Relaunch {
        /// How long the app is away.
        away_ms: u64,
    },
    /// Time passes. `exact`: wake at every deadline on the way, as `sim::World` does (up to
    /// [`MAX_EXACT_WAKES`]); else wake once, late, at the end (spec.md §2 allows any `t' ≥ t`).
    Advance {
        /// How long.
        ms: u64,
        /// Wake at each deadline.
        exact: bool,
    },
    /// A spurious wake-up: `Input::Timeout` now, due or not.
    Tick,
    /// An input stamped `back_ms` (at least 1) before the last accepted time: must be refused.
    Stale {
        /// How far back.
        back_ms: u16,
        /// The input.
        input: Input,
    },
}

impl Op {
    /// The scenario line this op is in the trace, and whether a scenario can say it (else
    /// the line is a stand-in so that the oracle counts steps, and the report prints the op
    /// as a comment).
    pub fn step(&self) -> (Step, bool) {
        let stand_in = Step::AdvanceMs(0);
        match self {
            Op::User(i) => (Step::User(i.clone()), true),
            Op::Api(c) => (Step::Api(c.clone()), true),
            Op::Stale {
                input: Input::Api(c),
                ..
            } => (Step::Api(c.clone()), false),
            Op::Lifecycle(l @ (Lifecycle::Background | Lifecycle::Foreground)) => {
                (Step::Lifecycle(*l), true)
            }
            Op::Lifecycle(l) => (Step::Lifecycle(*l), false),
            Op::Network(n) => (Step::Network(*n), true),
            Op::Agent(a) => (Step::Agent(*a), true),
            Op::AgentSignal { event, map } => (
                Step::AgentSignal {
                    event: event.clone(),
                    map: map.clone(),
                },
                true,
            ),
            Op::AgentMessage { name, map } => (
                Step::AgentMessage {
                    name: name.clone(),
                    map: map.clone(),
                },
                true,
            ),
            Op::Relaunch { away_ms } => (Step::Relaunch { away_ms: *away_ms }, true),
            Op::Advance { ms, exact } => (Step::AdvanceMs(*ms), *exact),
            Op::Frame(_) | Op::Bytes(_) | Op::Tick | Op::Stale { .. } => (stand_in, false),
        }
    }

    /// Whether the op goes around the integration controller: the app calls the SDK's API
    /// directly, or the host terminates the SDK while the app runs on (the contract's host
    /// terminates it only after `exit`).
    pub fn bypasses_controller(&self) -> bool {
        matches!(
            self,
            Op::Api(_)
                | Op::Lifecycle(Lifecycle::Terminate)
                | Op::Stale {
                    input: Input::Api(_),
                    ..
                }
        )
    }
}

/// A `drive_core` input: the app's config, whether the simulated server answers, timer
/// durations, and the ops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreInput {
    /// Group id and `custom_ui` for the controller; group and seed for the server.
    pub config: ScenarioConfig,
    /// Whether `sim::Server` answers the frames the SDK sends (raw frames come on top).
    pub auto_server: bool,
    /// Timer durations; `None` for the defaults.
    pub timings: Option<SdkConfig>,
    /// What happens.
    pub ops: Vec<Op>,
}

fn timings(u: &mut Unstructured<'_>) -> SdkConfig {
    let mut d = || Duration::from_millis(u64::from(input::byte(u)) * 100);
    let (
        init_timeout,
        start_timeout,
        end_timeout,
        session_grace,
        presence_connect_timeout,
        presence_backoff_base,
        presence_backoff_max,
        reconnect_backoff_base,
        reconnect_backoff_max,
        background_suspend,
    ) = (d(), d(), d(), d(), d(), d(), d(), d(), d(), d());
    SdkConfig {
        init_timeout,
        start_timeout,
        end_timeout,
        session_grace,
        presence_connect_timeout,
        presence_backoff_base,
        presence_backoff_max,
        reconnect_backoff_base,
        reconnect_backoff_max,
        background_suspend,
        default_key_length: input::byte(u),
        // the consent policy and limits are the config's (the world sets them)
        ..SdkConfig::default()
    }
}

fn op(u: &mut Unstructured<'_>) -> Op {
    match input::byte(u) % 14 {
        0 => Op::User(input::intent(u)),
        1 => Op::Api(input::call(u)),
        2 => Op::Frame(input::frame(u)),
        3 => {
            let len = usize::from(input::byte(u));
            Op::Bytes(input::take(u, len).to_vec())
        }
        4 => Op::Lifecycle(input::lifecycle(u, true)),
        5 => Op::Network(input::network(u)),
        6 => Op::Agent(input::agent(u)),
        7 => Op::Advance {
            ms: input::duration_ms(u, false),
            exact: true,
        },
        8 => Op::Advance {
            ms: input::duration_ms(u, false),
            exact: false,
        },
        9 => Op::Tick,
        11 => {
            let (event, map) = input::agent_signal(u);
            Op::AgentSignal { event, map }
        }
        12 => {
            let (name, map) = input::user_message(u);
            Op::AgentMessage { name, map }
        }
        13 => Op::Relaunch {
            away_ms: input::duration_ms(u, false),
        },
        _ => {
            let back_ms = input::u16_le(u);
            let input = match input::byte(u) % 5 {
                0 => Input::Timeout,
                1 => Input::Network(input::network(u)),
                2 => Input::Lifecycle(input::lifecycle(u, true)),
                3 => Input::Api(input::call(u)),
                _ => Input::Frame(input::frame(u)),
            };
            Op::Stale { back_ms, input }
        }
    }
}

impl CoreInput {
    /// Reads an input: a flags byte (bit 0 `custom_ui`, bit 1 server answers, bit 2 short
    /// timings, bit 3 `consent_policy: agent_may_start`, bit 4 the group's `agent_start`,
    /// bit 5 `presence: false`, bits 6–7 the limits profile: 0 `glance5`, 1 `glance_core`,
    /// 2 `web_compatible`, 3 `glance5` with the service's presence down,
    /// `presence_unavailable`),
    /// group id, seed, the timings if flagged, then ops until the input ends.
    pub fn read(data: &[u8]) -> CoreInput {
        let mut u = Unstructured::new(data);
        let flags = input::byte(&mut u);
        let config = ScenarioConfig {
            custom_ui: flags & 1 == 1,
            group_id: input::group_id(&mut u),
            seed: input::small_u64(&mut u),
            consent_policy: if flags & 8 == 8 {
                ConsentPolicy::AgentMayStart
            } else {
                ConsentPolicy::TermsRequired
            },
            agent_start: flags & 16 == 16,
            presence: flags & 32 == 0,
            limits: match flags >> 6 {
                1 => Limits::GlanceCore,
                2 => Limits::WebCompatible,
                _ => Limits::Glance5,
            },
            presence_unavailable: flags >> 6 == 3,
            // the controller's start options: the defaults (every flag bit is taken; the ops'
            // own `start_session` calls carry options, and drive_scenario's configs do)
            start_options: StartOptions::default(),
        };
        let timings = (flags & 4 == 4).then(|| timings(&mut u));
        let mut ops = Vec::with_capacity(MAX_OPS.min(u.len()));
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(op(&mut u));
        }
        CoreInput {
            config,
            auto_server: flags & 2 == 2,
            timings,
            ops,
        }
    }

    /// Writes the input so that [`CoreInput::read`] reads it back (default timings only).
    pub fn write(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let limits = match self.config.limits {
            Limits::Glance5 if self.config.presence_unavailable => 3,
            Limits::Glance5 => 0,
            Limits::GlanceCore => 1,
            Limits::WebCompatible => 2,
        };
        w.byte(
            u8::from(self.config.custom_ui)
                | (u8::from(self.auto_server) << 1)
                | (u8::from(self.config.consent_policy == ConsentPolicy::AgentMayStart) << 3)
                | (u8::from(self.config.agent_start) << 4)
                | (u8::from(!self.config.presence) << 5)
                | (limits << 6),
        );
        w.group_id(self.config.group_id);
        w.small_u64(self.config.seed);
        for op in &self.ops {
            match op {
                Op::User(i) => {
                    w.byte(0);
                    w.intent(i);
                }
                Op::Api(c) => {
                    w.byte(1);
                    w.call(c);
                }
                Op::Frame(f) => {
                    w.byte(2);
                    w.frame(f);
                }
                Op::Bytes(b) => {
                    w.byte(3);
                    let b = &b[..b.len().min(255)];
                    w.byte(u8::try_from(b.len()).unwrap_or(u8::MAX));
                    for x in b {
                        w.byte(*x);
                    }
                }
                Op::Lifecycle(l) => {
                    w.byte(4);
                    w.lifecycle(*l);
                }
                Op::Network(n) => {
                    w.byte(5);
                    w.network(*n);
                }
                Op::Agent(a) => {
                    w.byte(6);
                    w.agent(*a);
                }
                Op::AgentSignal { event, map } => {
                    w.byte(11);
                    w.agent_signal(event, map);
                }
                Op::AgentMessage { name, map } => {
                    w.byte(12);
                    w.user_message(name, map);
                }
                Op::Relaunch { away_ms } => {
                    w.byte(13);
                    w.duration_ms(*away_ms, false);
                }
                Op::Advance { ms, exact } => {
                    w.byte(if *exact { 7 } else { 8 });
                    w.duration_ms(*ms, false);
                }
                Op::Tick => w.byte(9),
                Op::Stale { back_ms, input } => {
                    w.byte(10);
                    w.u16_le(*back_ms);
                    match input {
                        Input::Timeout => w.byte(0),
                        Input::Network(n) => {
                            w.byte(1);
                            w.network(*n);
                        }
                        Input::Lifecycle(l) => {
                            w.byte(2);
                            w.lifecycle(*l);
                        }
                        Input::Api(c) => {
                            w.byte(3);
                            w.call(c);
                        }
                        Input::Frame(f) => {
                            w.byte(4);
                            w.frame(f);
                        }
                    }
                }
            }
        }
        w.into_bytes()
    }

    /// The ops as a contract scenario, for `cobrowse run`. Ops a scenario cannot say are
    /// `#` comments (delete them to replay the rest; the artifact itself replays exactly with
    /// `cargo fuzz run drive_core ARTIFACT`).
    pub fn scenario(&self) -> String {
        let mut out = scenario_jsonl(&[Step::Config(self.config.clone())]);
        if !self.auto_server {
            out.push_str("# the server does not answer: frames come only from the ops below\n");
        }
        if let Some(t) = &self.timings {
            out.push_str(&format!("# timer durations: {t:?}\n"));
        }
        for (i, op) in self.ops.iter().enumerate() {
            match op.step() {
                (step, true) => {
                    out.push_str(&trace_line_json(&TraceLine::Step(step)));
                    out.push('\n');
                }
                (_, false) => out.push_str(&format!("# op {i}: {}\n", describe(op))),
            }
        }
        out
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::Frame(f) => format!("server frame {}", String::from_utf8_lossy(&f.encode())),
        Op::Bytes(b) => format!("server bytes {:?}", String::from_utf8_lossy(b)),
        Op::Advance { ms, .. } => format!("advance {ms} ms, waking once at the end"),
        Op::Tick => "Input::Timeout now (a spurious wake-up)".to_owned(),
        Op::Stale { back_ms, input } => format!("{input:?} stamped {back_ms} ms in the past"),
        other => format!("{other:?}"),
    }
}

/// What went wrong during a run.
enum Finding {
    /// An invariant broke.
    Violation(Violation),
    /// Something the spec states without an invariant ID broke.
    Property(String),
}

impl From<Violation> for Finding {
    fn from(v: Violation) -> Self {
        Finding::Violation(v)
    }
}

impl From<DriveError<Finding>> for Finding {
    fn from(e: DriveError<Finding>) -> Self {
        match e {
            DriveError::Stopped(finding) => finding,
            DriveError::NotSettled(n) => Finding::Property(n.to_string()),
        }
    }
}

/// What one run observed, for the determinism check.
#[derive(Debug, Default)]
struct Observation {
    lines: Vec<TraceLine>,
    /// For each line, whether the run had gone around the controller when it came.
    bypassed: Vec<bool>,
    states: Vec<(State, ControllerState)>,
}

/// The run's hooks into `sim::World`'s driver: the checks of every input, the oracle on
/// every line, and how an `advance_ms` wakes.
#[derive(Default)]
struct Watch {
    bypassed: bool,
    oracle: Oracle,
    /// A group the app chose itself with a direct `init_visitor` (not the SDK's doing).
    group_choice: GroupChoice,
    /// Oracle violations already looked at (excused ones stay in the oracle's list).
    seen: usize,
    obs: Observation,
    /// Scenario lines begun (the next line's index).
    lines: usize,
    /// Whether the current advance wakes at every deadline (else once, late, at the end).
    exact: bool,
    /// Exact wake-ups in the whole run: the budget of [`MAX_EXACT_WAKES`] is per input, not
    /// per op (a timer that re-arms every millisecond, S-T07b with `background_suspend` at
    /// its 1 ms floor, would otherwise make every long advance cost that many lines).
    exact_wakes: usize,
    sdk_before: Option<State>,
    ctl_before: Option<ControllerState>,
    /// Where in `obs.lines` the records judged but not yet taken from the world go
    /// ([`Watch::take_records`]).
    pending: Vec<usize>,
    /// The determinism run's hooks: the world is driven exactly as in the judged run (the
    /// same wake-ups, the same split lines), and the lines and states are kept, but nothing is
    /// judged (no oracle, no state before each input): a finding there that the judged run
    /// did not make would be a difference in the lines or states, which the comparison
    /// reports.
    lean: bool,
}

impl Watch {
    /// The judged run's hooks: the oracle judges what `drive_core` judges
    /// ([`crate::drive_core_options`]).
    fn judging() -> Watch {
        Watch {
            oracle: Oracle::with_options(crate::drive_core_options()),
            ..Watch::default()
        }
    }

    /// One trace line: to the observation and the streaming oracle, which must have nothing
    /// to report.
    fn line(&mut self, line: TraceLine) -> Result<(), Finding> {
        self.obs.lines.push(line);
        self.obs.bypassed.push(self.bypassed);
        if self.lean {
            return Ok(());
        }
        let n = self.obs.lines.len();
        if let Some(l) = self.obs.lines.last() {
            self.oracle.observe(n, l);
            self.group_choice.observe(n, l);
        }
        self.judge()
    }

    /// A record as the world made it: judged at once, as [`Watch::line`] does, and kept
    /// in the observation when the world hands it over ([`Watch::take_records`]; a record
    /// is not copied).
    fn record(&mut self, record: &Record) -> Result<(), Finding> {
        self.pending.push(self.obs.lines.len());
        // a stand-in, until the record itself comes
        self.obs.lines.push(TraceLine::Step(Step::AdvanceMs(0)));
        self.obs.bypassed.push(self.bypassed);
        if self.lean {
            return Ok(());
        }
        let n = self.obs.lines.len();
        self.oracle.observe_record(n, record);
        self.group_choice.observe_record(n, record);
        self.judge()
    }

    /// Puts the world's records, the ones [`Watch::record`] judged (in the same order),
    /// in their places in the observation.
    fn take_records(&mut self, records: impl ExactSizeIterator<Item = Record>) {
        assert_eq!(
            records.len(),
            self.pending.len(),
            "the world's records are the ones its hooks were shown"
        );
        for (at, record) in self.pending.drain(..).zip(records) {
            if let Some(l) = self.obs.lines.get_mut(at) {
                *l = TraceLine::Record(record);
            }
        }
    }

    /// What the oracle found in the latest line, if `drive_core` judges it.
    fn judge(&mut self) -> Result<(), Finding> {
        let found = self.oracle.violations();
        let fresh = found.get(self.seen..).unwrap_or(&[]);
        self.seen = found.len();
        match fresh.iter().find(|v| self.judged(v)) {
            Some(v) => Err(v.clone().into()),
            None => Ok(()),
        }
    }
}

impl Watch {
    /// Whether `drive_core` judges `v`: see [`crate::judged_by_drive_core`]; and not a group
    /// the app chose itself, once it went around the controller.
    fn judged(&self, v: &Violation) -> bool {
        crate::judged_by_drive_core(v.invariant, self.bypassed)
            && !(self.bypassed && self.group_choice.excused(v))
    }
}

impl Hooks for Watch {
    type Stop = Finding;

    /// `app` is the default: the output as it is.
    fn app_into(&mut self, out: ControllerOutput, to: &mut Vec<ControllerOutput>) {
        to.push(out);
    }

    fn line(&mut self, index: usize, step: &Step) -> Result<(), Finding> {
        self.lines = index.saturating_add(1);
        Watch::line(self, TraceLine::Step(step.clone()))
    }

    /// A record, as the world made it: the oracle judges it at once (the JSON round trip is
    /// proven once per input, on the whole trace: [`round_trip`]).
    fn record(&mut self, record: &Record) -> Result<(), Finding> {
        Watch::record(self, record)
    }

    fn before_sdk_input(&mut self, sdk: &Sdk) {
        if !self.lean {
            self.sdk_before = Some(sdk.state().clone());
        }
    }

    fn sdk_input(&mut self, fed: SdkFed<'_>) -> Result<(), Finding> {
        let Some(before) = self.sdk_before.take() else {
            return Ok(());
        };
        let after = fed.sdk.state();
        if let Some(v) = machine::refused_unchanged(&before, after, fed.result) {
            return Err(v.into());
        }
        if fed.kind == FedKind::Timeout {
            if let Some(v) = machine::timer_not_early(&before, fed.at, after, fed.outputs) {
                return Err(v.into());
            }
        }
        Ok(())
    }

    fn before_user(&mut self, controller: &Controller) {
        if !self.lean {
            self.ctl_before = Some(controller.state().clone());
        }
    }

    fn user(
        &mut self,
        controller: &Controller,
        result: &Result<(), ControllerError>,
    ) -> Result<(), Finding> {
        let Some(before) = self.ctl_before.take() else {
            return Ok(());
        };
        match machine::controller_refused_unchanged(&before, controller.state(), result) {
            Some(v) => Err(v.into()),
            None => Ok(()),
        }
    }

    /// Exact: at every deadline on the way, up to [`MAX_EXACT_WAKES`], then at the target.
    /// Else once, late, at the target, due or not.
    fn wake(&mut self, wake: Wake) -> Option<Instant> {
        if self.exact {
            let t = wake.at_deadline()?;
            self.exact_wakes += 1;
            Some(if self.exact_wakes < MAX_EXACT_WAKES {
                wake.now.max(t)
            } else {
                wake.target
            })
        } else {
            (wake.wakes == 0).then_some(wake.target)
        }
    }

    /// `terminate` after `exit`, and each wake-up after the first, on a line of its own (see
    /// the module's doc).
    fn split(&mut self, split: Split) -> Option<Step> {
        match split {
            Split::Terminate => Some(Step::Lifecycle(Lifecycle::Terminate)),
            Split::Wake { n, from, at } if n > 1 => Some(Step::AdvanceMs(
                at.as_millis().saturating_sub(from.as_millis()),
            )),
            Split::Wake { .. } => None,
        }
    }
}

struct Run {
    world: World,
    watch: Watch,
}

impl Run {
    /// The judged run: every check of the module's doc.
    fn new(input: &CoreInput) -> Run {
        Run::with_watch(input, Watch::judging())
    }

    /// The determinism run: the same world, driven the same way, judged by nothing but the
    /// comparison of its lines and states with the judged run's ([`Watch::lean`]).
    fn lean(input: &CoreInput) -> Run {
        Run::with_watch(
            input,
            Watch {
                lean: true,
                ..Watch::default()
            },
        )
    }

    fn with_watch(input: &CoreInput, mut watch: Watch) -> Run {
        // room for the run's lines (a scenario line and a few records per op) and states,
        // so that the observation does not grow by copying
        let lines = input.ops.len() * 6 + 16;
        watch.obs.lines.reserve(lines);
        watch.obs.bypassed.reserve(lines);
        watch.obs.states.reserve(input.ops.len());
        let options = WorldOptions {
            sdk: input.timings.clone().unwrap_or_default(),
            server_answers: input.auto_server,
            ..WorldOptions::default()
        };
        Run {
            world: World::with_options(&input.config, options),
            watch,
        }
    }

    fn play(mut self, input: &CoreInput) -> (Observation, Result<(), Finding>) {
        let result = self.play_all(input);
        // the records of an op that stopped early
        self.watch.take_records(self.world.drain_transcript());
        (self.watch.obs, result)
    }

    fn play_all(&mut self, input: &CoreInput) -> Result<(), Finding> {
        self.world
            .apply_with(0, &Step::Config(input.config.clone()), &mut self.watch)?;
        for op in &input.ops {
            self.apply(op)?;
            // the op's records, judged as they came, to the observation
            self.watch.take_records(self.world.drain_transcript());
            self.watch.obs.states.push((
                self.world.sdk().state().clone(),
                self.world.controller().state().clone(),
            ));
        }
        if self.watch.lean {
            return Ok(());
        }
        let oracle = std::mem::take(&mut self.watch.oracle);
        if let Some(v) = oracle.finish().into_iter().find(|v| self.watch.judged(v)) {
            return Err(v.into());
        }
        // agreement and progress (spec.md §10.4), where the world is the simulator's: the
        // service answers, every op is one a scenario can say (no direct API call, no raw or
        // hostile frame, no terminate outside `exit`, no spurious or late wake-up)
        if progress_judged(input) {
            let line = input.ops.len() + 1;
            let found = liveness::agreement(&self.world)
                .into_iter()
                .chain(
                    liveness::heal_and_judge(&self.world, line)
                        .map_err(|e| Finding::Property(e.to_string()))?,
                )
                .next();
            if let Some(f) = found {
                return Err(Finding::Property(format!(
                    "{f} (after the heal suffix of spec.md §10.4)"
                )));
            }
        }
        Ok(())
    }

    fn recv(&mut self, frame: &ServerFrame) -> Result<(), Finding> {
        self.world.record_with(
            &mut self.watch,
            Observed::Recv(WireFrame::Typed(frame.clone())),
        )?;
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), Finding> {
        if op.bypasses_controller() {
            self.watch.bypassed = true;
        }
        let index = self.watch.lines;
        let (step, _) = op.step();
        let (world, watch) = (&mut self.world, &mut self.watch);
        match op {
            Op::User(_)
            | Op::Api(_)
            | Op::Lifecycle(_)
            | Op::Network(_)
            | Op::Agent(_)
            | Op::AgentSignal { .. }
            | Op::AgentMessage { .. }
            | Op::Relaunch { .. } => {
                return Ok(world.apply_with(index, &step, watch)?);
            }
            Op::Advance { exact, .. } => {
                watch.exact = *exact;
                return Ok(world.apply_with(index, &step, watch)?);
            }
            Op::Frame(_) | Op::Bytes(_) | Op::Tick | Op::Stale { .. } => {
                world.begin_line(index, &step, watch)?;
            }
        }
        let now = self.world.now();
        match op {
            Op::Frame(frame) if self.world.network_up() => {
                self.recv(frame)?;
                // a refusal is recorded by the driver
                let _ = self
                    .world
                    .feed(&mut self.watch, now, Input::Frame(frame.clone()))?;
            }
            Op::Bytes(bytes) if self.world.network_up() => {
                let decoded = ServerFrame::decode(bytes);
                if let Ok(frame) = &decoded {
                    self.recv(frame)?;
                }
                let result = self.world.feed_bytes(&mut self.watch, bytes)?;
                if decoded.is_err() && result.is_ok() {
                    return Err(Finding::Property(
                        "Sdk::handle_bytes accepted bytes that ServerFrame::decode refuses"
                            .to_owned(),
                    ));
                }
            }
            Op::Tick => {
                let _ = self.world.feed(&mut self.watch, now, Input::Timeout)?;
            }
            Op::Stale { back_ms, input } => {
                // before the SDK's last accepted time (the harness clock may be later)
                let last = self.world.sdk().state().now;
                let back = u64::from((*back_ms).max(1)).min(last.as_millis());
                if back > 0 {
                    let at = Instant::from_millis(last.as_millis() - back);
                    match input {
                        Input::Api(call) => self
                            .world
                            .record_with(&mut self.watch, Observed::Api(call.clone()))?,
                        Input::Frame(frame) if self.world.network_up() => self.recv(frame)?,
                        _ => {}
                    }
                    let result = self.world.feed(&mut self.watch, at, input.clone())?;
                    if result.is_ok() {
                        return Err(Finding::Property(format!(
                            "an input stamped {at}, before the last accepted time {last}, was accepted (spec.md §2: refused with time_went_backwards)"
                        )));
                    }
                }
            }
            // a frame or bytes while the transport is down; the rest were applied above
            _ => {}
        }
        Ok(self.world.settle_with(&mut self.watch)?)
    }
}

/// The JSON round trip of a run's records, once per input: every record is written as its
/// JSON line and the whole text read back with `parse_trace` (what `cobrowse check` reads);
/// it must read back as the very records the oracle judged. A record that reads back as
/// another one (a value the contract cannot tell from another) must at least write the same
/// line again, and then the oracle judges what was read back, as `cobrowse check` would.
///
/// A record proven to read back as itself earlier in the process is not written and read
/// again ([`crate::memo`]: the reader reads line by line, so the whole text reads back as the
/// records exactly when each line does).
fn round_trip(obs: &Observation) -> Result<(), Finding> {
    let lines = &obs.lines;
    let records: Vec<&Record> = lines
        .iter()
        .filter_map(|l| match l {
            TraceLine::Record(r) => Some(r),
            TraceLine::Step(_) => None,
        })
        .collect();
    if every_line_reads_back(lines) {
        return Ok(());
    }
    // each record written as its line, straight into one buffer
    let mut bytes = Vec::with_capacity(records.len() * 128);
    for r in &records {
        serde_json::to_writer(&mut bytes, r)
            .map_err(|e| Finding::Property(format!("a record does not serialize: {e}")))?;
        bytes.push(b'\n');
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| Finding::Property(format!("a record writes bytes that are not UTF-8: {e}")))?;
    let read = parse_trace(&text)
        .map_err(|e| Finding::Property(format!("the trace does not read back: {e}")))?;
    if read.len() != records.len() {
        return Err(Finding::Property(format!(
            "{} records read back as {} lines",
            records.len(),
            read.len()
        )));
    }
    let mut same = true;
    for ((_, back), original) in read.iter().zip(&records) {
        let TraceLine::Record(back) = back else {
            return Err(Finding::Property(format!(
                "the record {} reads back as {back:?}",
                serde_json::to_string(original).unwrap_or_default()
            )));
        };
        if back != *original {
            same = false;
            let json = serde_json::to_string(original).unwrap_or_default();
            let again = serde_json::to_string(back).unwrap_or_default();
            if again != json {
                return Err(Finding::Property(format!(
                    "the record {json} reads back as {back:?}, which writes {again}"
                )));
            }
        }
    }
    if same {
        return Ok(());
    }
    // the oracle on what was read back, the scenario lines where they were
    let mut back = read.into_iter().map(|(_, l)| l);
    let mut watch = Watch::judging();
    for (l, bypassed) in lines.iter().zip(&obs.bypassed) {
        watch.bypassed = *bypassed;
        let line = match l {
            TraceLine::Step(s) => TraceLine::Step(s.clone()),
            TraceLine::Record(_) => back.next().unwrap_or_else(|| l.clone()),
        };
        watch.line(line)?;
    }
    let bypassed = watch.bypassed;
    let choice = std::mem::take(&mut watch.group_choice);
    match watch.oracle.finish().into_iter().find(|v| {
        crate::judged_by_drive_core(v.invariant, bypassed) && !(bypassed && choice.excused(v))
    }) {
        Some(v) => Err(v.into()),
        None => Ok(()),
    }
}

/// Whether every record of `lines` writes a line that reads back as itself (through
/// [`crate::memo`]); `false` sends [`round_trip`] the long way, which says what differs.
fn every_line_reads_back(lines: &[TraceLine]) -> bool {
    lines
        .iter()
        .all(|l| matches!(l, TraceLine::Step(_)) || crate::memo::trace_line_reads_back(l))
}

/// Whether `drive_core` judges agreement and progress on `input` (see [`Run::play_all`]).
fn progress_judged(input: &CoreInput) -> bool {
    input.auto_server
        && input.ops.iter().all(|op| match op {
            Op::User(_)
            | Op::Network(_)
            | Op::Agent(_)
            | Op::AgentSignal { .. }
            | Op::AgentMessage { .. }
            | Op::Relaunch { .. } => true,
            Op::Lifecycle(l) => *l != Lifecycle::Terminate,
            Op::Advance { exact, .. } => *exact,
            Op::Api(_) | Op::Frame(_) | Op::Bytes(_) | Op::Tick | Op::Stale { .. } => false,
        })
}

/// Whether the scenario reader refuses `config` (then the input is not played): exactly when
/// its group id is not a positive `Int32` (`Step::from_json`; the test
/// `config_refused_is_the_readers_verdict` holds this to [`crate::scenario::reader_refuses`],
/// which writes the config line and reads it).
fn config_refused(config: &ScenarioConfig) -> bool {
    !(1..=MAX_GROUP_ID).contains(&config.group_id)
}

/// Plays the input twice and judges it; `Err` is the finding, ready to print. A config that
/// a scenario could not have (the scenario reader refuses it) is not played.
pub fn run(input: &CoreInput) -> Result<(), Failure> {
    if config_refused(&input.config) {
        return Ok(());
    }
    let (first, result) = Run::new(input).play(input);
    if let Err(finding) = result.and_then(|()| round_trip(&first)) {
        return Err(failure(input, &first, finding));
    }
    let (second, result) = Run::lean(input).play(input);
    let differs = match result {
        Err(finding) => Some(finding),
        Ok(()) => machine::deterministic(&first.lines, &second.lines)
            .or_else(|| machine::deterministic(&first.states, &second.states))
            .map(Finding::Violation),
    };
    match differs {
        Some(finding) => Err(failure(input, &first, finding)),
        None => Ok(()),
    }
}

fn failure(input: &CoreInput, obs: &Observation, finding: Finding) -> Failure {
    let headline = match &finding {
        Finding::Violation(v) => format!(
            "{} violated at trace line {}: {}",
            v.invariant.id(),
            v.line,
            v.message
        ),
        Finding::Property(p) => p.clone(),
    };
    let ops: String = input
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| format!("{i:>3}: {op:?}\n"))
        .collect();
    Failure::new(TARGET, headline)
        .section(
            format!(
                "input: config {:?}, server answers: {}, timings: {}",
                input.config,
                input.auto_server,
                if input.timings.is_some() {
                    "short"
                } else {
                    "default"
                }
            ),
            ops,
        )
        .section(
            "as a contract scenario (replay with `cobrowse run`, after deleting the # lines)",
            input.scenario(),
        )
        .section(
            "the trace the oracle read (scenario lines interleaved)",
            numbered_tail(&obs.lines),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_read_back_from_what_write_wrote() {
        let input = CoreInput {
            config: ScenarioConfig::default(),
            auto_server: true,
            timings: None,
            ops: vec![
                Op::User(UserIntent::Launch),
                Op::User(UserIntent::Login {
                    visitor_id: "cust-42".into(),
                }),
                Op::Api(ApiCall::presence_connect()),
                Op::Api(ApiCall::PresenceConnect { max_attempts: 2 }),
                Op::Api(ApiCall::PresenceData {
                    map: [("page".to_owned(), "cart".to_owned())].into(),
                }),
                Op::Api(ApiCall::PresenceSignalVisibility { visible: true }),
                Op::Frame(ServerFrame::PresenceStartSession { request_id: 4 }),
                Op::Frame(ServerFrame::PresenceNotConfigured {}),
                Op::Frame(ServerFrame::PresenceSignal {
                    event: "open_page".into(),
                    map: [("page".to_owned(), "checkout".to_owned())].into(),
                }),
                Op::AgentSignal {
                    event: "open_page".into(),
                    map: BTreeMap::new(),
                },
                Op::Agent(AgentAction::StartWithoutTerms),
                Op::Frame(ServerFrame::PresenceShowTerms { request_id: 300 }),
                Op::Bytes(br#"{"type":"presence_blur"}"#.to_vec()),
                Op::Lifecycle(Lifecycle::Terminate),
                Op::Network(NetworkChange::Lost),
                Op::Agent(AgentAction::Join),
                Op::Advance {
                    ms: 60_000,
                    exact: true,
                },
                Op::Advance {
                    ms: 12,
                    exact: false,
                },
                Op::Tick,
                Op::Stale {
                    back_ms: 5,
                    input: Input::Api(ApiCall::EndSession),
                },
            ],
        };
        assert_eq!(CoreInput::read(&input.write()), input);
    }

    #[test]
    fn config_refused_is_the_readers_verdict() {
        let mut groups: Vec<i32> = (-1..=0xEF).collect();
        groups.extend([
            i32::MIN,
            -2,
            cobrowse_visitor_core::SEED_GROUP_ID,
            MAX_GROUP_ID - 1,
            MAX_GROUP_ID,
        ]);
        for group_id in groups {
            for custom_ui in [false, true] {
                for seed in [0, 7, 0xEF, 0xF0, u64::MAX] {
                    let config = ScenarioConfig {
                        group_id,
                        custom_ui,
                        seed,
                        ..ScenarioConfig::default()
                    };
                    let reader = crate::scenario::reader_refuses(&crate::scenario::FuzzScenario {
                        relaunch_probe: 0,
                        config: Some(config.clone()),
                        steps: Vec::new(),
                    });
                    assert_eq!(config_refused(&config), reader, "{config:?}");
                }
            }
        }
    }
}
