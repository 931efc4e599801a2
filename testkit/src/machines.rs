//! proptest-state-machine glue: the model as `ReferenceStateMachine`, the real machines as
//! `StateMachineTest`, at the three levels (world, SDK core, controller).

use super::reference::{MConfig, MCtl, MSdk, MWorld};
use super::strategies::{ctl_transition, sdk_transition, world_transition, GROUP};
use super::sut::{ctl_state, sdk_state_with, TraceCheck, WorldSut};
use super::transition::{
    CtlModel, CtlTransition, SdkModel, SdkTransition, WorldModel, WorldTransition,
};
use cobrowse_visitor_conformance::oracle::machine;
use cobrowse_visitor_conformance::transcript::{
    ErrorRecord, EventRecord, Observed, Record, ScenarioConfig, Step, WireFrame,
};
use cobrowse_visitor_core::{
    Controller, ControllerConfig, ControllerOutput, Input, Instant, Output, Sdk, StartOptions,
};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

// ---- world ------------------------------------------------------------------------------------

pub struct WorldRef;

/// A world model at the start of a case: a config line (custom UI in four cases of five, any
/// seed, the controller's start options) and whether direct `api` steps may appear (one case
/// in three).
pub fn world_start(custom_ui: bool, seed: u64, misuse: bool, start: StartOptions) -> WorldModel {
    let step = Step::Config(ScenarioConfig {
        group_id: GROUP,
        custom_ui,
        seed,
        start_options: start,
        ..ScenarioConfig::default()
    });
    let mut world = MWorld::new(GROUP, custom_ui);
    // §13.1 `start_options`: the controller's `ControllerConfig::start`
    world.ctl.start = start;
    world.apply(0, &step);
    WorldModel {
        world,
        steps: vec![step],
        misuse,
    }
}

impl ReferenceStateMachine for WorldRef {
    type State = WorldModel;
    type Transition = WorldTransition;

    fn init_state() -> BoxedStrategy<WorldModel> {
        (
            prop_oneof![4 => Just(true), 1 => Just(false)],
            0u64..1_000,
            prop_oneof![2 => Just(false), 1 => Just(true)],
            crate::strategies::valid_start_options(),
        )
            .prop_map(|(custom_ui, seed, misuse, start)| {
                world_start(custom_ui, seed, misuse, start)
            })
            .boxed()
    }

    fn transitions(state: &WorldModel) -> BoxedStrategy<WorldTransition> {
        world_transition(state)
    }

    fn apply(state: WorldModel, t: &WorldTransition) -> WorldModel {
        state.apply(t)
    }
}

pub struct WorldTest;

impl StateMachineTest for WorldTest {
    type SystemUnderTest = WorldSut;
    type Reference = WorldRef;

    fn init_test(r: &WorldModel) -> WorldSut {
        WorldSut::new(&r.steps)
    }

    fn apply(mut sut: WorldSut, r: &WorldModel, _t: WorldTransition) -> WorldSut {
        sut.step(&r.steps, &r.world);
        sut
    }
}

// ---- SDK core ---------------------------------------------------------------------------------

pub struct SdkRef;

impl ReferenceStateMachine for SdkRef {
    type State = SdkModel;
    type Transition = SdkTransition;

    /// A new core under any configuration of §3.3a (both consent policies, every limits
    /// profile); the default one in half the cases.
    fn init_state() -> BoxedStrategy<SdkModel> {
        prop_oneof![
            1 => Just(MConfig::default()),
            1 => proptest::sample::select(MConfig::all()),
        ]
        .prop_map(|cfg| SdkModel {
            sdk: MSdk::with_config(cfg),
            ..SdkModel::default()
        })
        .boxed()
    }

    fn transitions(state: &SdkModel) -> BoxedStrategy<SdkTransition> {
        sdk_transition(state)
    }

    fn apply(state: SdkModel, t: &SdkTransition) -> SdkModel {
        state.apply(t)
    }
}

/// The inputs that take a new core to presence connected for the visitor id `cust-42`, with
/// the group's settings saying `agent_start` as given (all at 0 ms).
pub fn connected_prefix(agent_start: bool) -> Vec<Input> {
    use cobrowse_visitor_core::{ApiCall, InitParams, ServerFrame};
    vec![
        Input::Api(ApiCall::InitVisitor(InitParams::identified(
            GROUP,
            super::strategies::VID,
        ))),
        Input::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start,
        }),
        Input::Api(ApiCall::presence_connect()),
        Input::Frame(ServerFrame::PresenceConnected {}),
    ]
}

/// The SDK generator started from a core that has just connected presence for a visitor id
/// ([`connected_prefix`]), under any configuration of §3.3a and with `agent_start` either
/// way: the one-click and agent-start rows are within a few inputs. The prefix is not in the
/// transitions; [`SdkConnectedRef::prefix_of`] recovers it.
pub struct SdkConnectedRef;

impl SdkConnectedRef {
    /// The prefix a generated case started with.
    pub fn prefix_of(init: &SdkModel) -> Vec<Input> {
        connected_prefix(init.sdk.ready().is_some_and(|r| r.agent_start))
    }
}

impl ReferenceStateMachine for SdkConnectedRef {
    type State = SdkModel;
    type Transition = SdkTransition;

    fn init_state() -> BoxedStrategy<SdkModel> {
        (proptest::sample::select(MConfig::all()), any::<bool>())
            .prop_map(|(cfg, agent_start)| {
                let mut m = SdkModel {
                    sdk: MSdk::with_config(cfg),
                    ..SdkModel::default()
                };
                for input in connected_prefix(agent_start) {
                    m = m.apply(&SdkTransition::Input(input));
                }
                m.last.clear();
                m
            })
            .boxed()
    }

    fn transitions(state: &SdkModel) -> BoxedStrategy<SdkTransition> {
        sdk_transition(state)
    }

    fn apply(state: SdkModel, t: &SdkTransition) -> SdkModel {
        state.apply(t)
    }
}

/// Drains the core until `Output::Timeout`, which must carry `poll_timeout()`; returns what
/// came before it.
pub fn drain(sdk: &mut Sdk) -> Vec<Output> {
    let mut out = vec![];
    loop {
        match sdk.poll_output() {
            Output::Timeout(t) => {
                assert_eq!(
                    t,
                    sdk.poll_timeout(),
                    "Output::Timeout carries poll_timeout"
                );
                return out;
            }
            o => out.push(o),
        }
        assert!(out.len() < 1_000, "the output queue never ends");
    }
}

/// The real core, its transcript checked by the oracle, and the inputs so far.
pub struct SdkSut {
    pub sdk: Sdk,
    /// The core's configuration, for the projection into the model's terms.
    pub cfg: MConfig,
    pub check: TraceCheck,
    pub step: usize,
    pub inputs: Vec<(u64, Input)>,
}

impl Default for SdkSut {
    fn default() -> Self {
        SdkSut::new(MConfig::default())
    }
}

impl SdkSut {
    /// A new core configured as `cfg`.
    pub fn new(cfg: MConfig) -> Self {
        // the trace starts with the config line that names the policy and the limits, which
        // INV-CONSENT-POLICY judges by (the contract's plain trace after a config line)
        let mut check = TraceCheck::raw();
        check.step(&Step::Config(ScenarioConfig {
            consent_policy: cfg.consent_policy,
            limits: cfg.limits,
            ..ScenarioConfig::default()
        }));
        SdkSut {
            sdk: Sdk::new(cfg.sdk_config()),
            cfg,
            check,
            step: 0,
            inputs: vec![],
        }
    }

    /// Feeds one input and checks it against `want` (if given) and the machine invariants.
    pub fn feed(&mut self, at: u64, input: &Input, want: Option<&super::reference::SdkStep>) {
        self.inputs.push((at, input.clone()));
        let fail = |inputs: &[(u64, Input)], what: String| -> ! {
            let list: String = inputs
                .iter()
                .map(|(t, i)| format!("  at {t} ms: {i:?}\n"))
                .collect();
            panic!("{what}\n-- inputs so far:\n{list}")
        };
        let before = self.sdk.state().clone();
        let result = self
            .sdk
            .handle_input(Instant::from_millis(at), input.clone());
        let out = drain(&mut self.sdk);
        let after = self.sdk.state().clone();
        if let Some(v) = machine::refused_unchanged(&before, &after, &result) {
            fail(&self.inputs, v.to_string());
        }
        if *input == Input::Timeout {
            if let Some(v) =
                machine::timer_not_early(&before, Instant::from_millis(at), &after, &out)
            {
                fail(&self.inputs, v.to_string());
            }
        }
        if result.is_ok() && self.sdk.poll_timeout().is_some_and(|t| t.as_millis() <= at) {
            fail(
                &self.inputs,
                format!(
                    "poll_timeout {:?} is not after now {at}",
                    self.sdk.poll_timeout()
                ),
            );
        }
        if let Some(want) = want {
            let got = result.as_ref().map_err(|e| e.code()).map(|_| ());
            if got != want.result {
                fail(
                    &self.inputs,
                    format!("result {got:?}, model {:?}", want.result),
                );
            }
            if out != want.out {
                fail(
                    &self.inputs,
                    format!(
                        "outputs differ\n-- real:  {out:?}\n-- model: {:?}",
                        want.out
                    ),
                );
            }
            let state = sdk_state_with(&after, self.cfg);
            if state != want.next {
                fail(
                    &self.inputs,
                    format!(
                        "state differs\n-- real:  {state:?}\n-- model: {:?}",
                        want.next
                    ),
                );
            }
            if self.sdk.last_rows() != want.rows {
                fail(
                    &self.inputs,
                    format!(
                        "rows differ: real {:?}, model {:?}",
                        self.sdk.last_rows(),
                        want.rows
                    ),
                );
            }
        }
        // the contract transcript of this input, for the oracle
        let step = self.step;
        self.step += 1;
        let mut records = vec![];
        match input {
            Input::Api(c) => records.push(Observed::Api(c.clone())),
            Input::Frame(f) => records.push(Observed::Recv(WireFrame::Typed(f.clone()))),
            _ => {}
        }
        if let Err(e) = &result {
            records.push(Observed::Error(ErrorRecord {
                code: e.code().as_str().to_owned(),
                message: e.to_string(),
            }));
        }
        for o in &out {
            match o {
                Output::Event(e) => records.push(Observed::Event(EventRecord::from(e))),
                Output::Transmit(f) => records.push(Observed::Send(WireFrame::Typed(f.clone()))),
                _ => {}
            }
        }
        for observed in records {
            self.check.record(&Record { step, observed });
        }
        let v = self.check.violations();
        if !v.is_empty() {
            let list: String = v.iter().map(|v| format!("  {v}\n")).collect();
            fail(
                &self.inputs,
                format!("the oracle found violations:\n{list}"),
            );
        }
    }
}

pub struct SdkTest;

impl StateMachineTest for SdkTest {
    type SystemUnderTest = SdkSut;
    type Reference = SdkRef;

    fn init_test(r: &SdkModel) -> SdkSut {
        SdkSut::new(r.sdk.cfg)
    }

    fn apply(mut sut: SdkSut, r: &SdkModel, _t: SdkTransition) -> SdkSut {
        for (at, input, want) in &r.last {
            sut.feed(*at, input, Some(want));
        }
        sut
    }
}

/// [`SdkTest`] from presence connected ([`SdkConnectedRef`]): the real core is fed the same
/// prefix (its own checks, not the model's: the model took it in `init_state`).
pub struct SdkConnectedTest;

impl StateMachineTest for SdkConnectedTest {
    type SystemUnderTest = SdkSut;
    type Reference = SdkConnectedRef;

    fn init_test(r: &SdkModel) -> SdkSut {
        let mut sut = SdkSut::new(r.sdk.cfg);
        for input in SdkConnectedRef::prefix_of(r) {
            sut.feed(0, &input, None);
        }
        let state = sdk_state_with(sut.sdk.state(), sut.cfg);
        assert_eq!(state, r.sdk, "the prefix leaves core and model alike");
        sut
    }

    fn apply(mut sut: SdkSut, r: &SdkModel, _t: SdkTransition) -> SdkSut {
        for (at, input, want) in &r.last {
            sut.feed(*at, input, Some(want));
        }
        sut
    }
}

// ---- controller -------------------------------------------------------------------------------

pub struct CtlRef;

impl ReferenceStateMachine for CtlRef {
    type State = CtlModel;
    type Transition = CtlTransition;

    fn init_state() -> BoxedStrategy<CtlModel> {
        prop_oneof![3 => Just(true), 1 => Just(false)]
            .prop_map(|custom_ui| CtlModel {
                ctl: MCtl::new(GROUP, custom_ui),
                last: None,
            })
            .boxed()
    }

    fn transitions(state: &CtlModel) -> BoxedStrategy<CtlTransition> {
        ctl_transition(state)
    }

    fn apply(state: CtlModel, t: &CtlTransition) -> CtlModel {
        state.apply(t)
    }
}

pub fn drain_ctl(c: &mut Controller) -> Vec<ControllerOutput> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

pub struct CtlTest;

impl StateMachineTest for CtlTest {
    type SystemUnderTest = (Controller, Vec<CtlTransition>);
    type Reference = CtlRef;

    fn init_test(r: &CtlModel) -> Self::SystemUnderTest {
        (
            Controller::new(ControllerConfig {
                group_id: GROUP,
                custom_ui: r.ctl.custom_ui,
                ..ControllerConfig::default()
            }),
            vec![],
        )
    }

    fn apply(
        (mut c, mut seen): Self::SystemUnderTest,
        r: &CtlModel,
        t: CtlTransition,
    ) -> Self::SystemUnderTest {
        seen.push(t.clone());
        let fail = |what: String| -> ! {
            let list: String = seen.iter().map(|t| format!("  {t:?}\n")).collect();
            panic!("{what}\n-- inputs so far:\n{list}")
        };
        let before = c.state().clone();
        let result = match &t {
            CtlTransition::User(i) => {
                let r = c.handle_user(i.clone());
                if let Some(v) = machine::controller_refused_unchanged(&before, c.state(), &r) {
                    fail(v.to_string());
                }
                r.map_err(|e| e.code())
            }
            CtlTransition::Event(e) => {
                c.handle_event(e);
                Ok(())
            }
            CtlTransition::Lifecycle(l) => {
                c.handle_lifecycle(*l);
                Ok(())
            }
        };
        let out = drain_ctl(&mut c);
        let want = r.last.as_ref().expect("the model took the step");
        if result != want.result {
            fail(format!("result {result:?}, model {:?}", want.result));
        }
        if out != want.out {
            fail(format!(
                "outputs differ\n-- real:  {out:?}\n-- model: {:?}",
                want.out
            ));
        }
        let state = ctl_state(&c);
        if state != want.next {
            fail(format!(
                "state differs\n-- real:  {state:?}\n-- model: {:?}",
                want.next
            ));
        }
        if c.last_rows() != want.rows {
            fail(format!(
                "rows differ: real {:?}, model {:?}",
                c.last_rows(),
                want.rows
            ));
        }
        (c, seen)
    }
}
