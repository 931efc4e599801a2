//! The one world driver: plays a scenario line on a [`World`] and lets the world settle,
//! bounded (quinn-proto's `drive_bounded`: move until nothing moves, at most so many moves).
//!
//! The step semantics are the contract's (spec.md §13): after each step every frame and
//! output is delivered until nothing moves; only `advance_ms` moves the clock, firing each
//! due timer at its deadline; `exit` feeds `Lifecycle::Terminate` to the SDK core after the
//! controller's calls. A world that does not settle within [`WorldOptions::max_moves`] moves
//! is an error, [`NotSettled`], for every user.
//!
//! What the users differ in is a [`Hooks`] value the caller passes in: `cobrowse run` and the
//! tests pass [`NoHooks`] (through [`World::apply`] / [`World::run`]); the fuzzer watches
//! every record (the oracle) and every SDK and controller input (refused-unchanged,
//! timer-not-early), wakes late on purpose and gives some inputs a scenario line of their own.
//!
//! One *move* is one of: an SDK output handed on (an event to the controller, a frame to the
//! server, a `Connect` answered), a due timer fired, a controller output handed on (an API call
//! to the SDK, a UI directive recorded), a server frame delivered. Each settle (after a step,
//! after each wake-up of an `advance_ms`, after `exit`'s calls) has its own bound.

use super::world::World;
use crate::transcript::{ErrorRecord, EventRecord, Observed, Record, Step, WireFrame};
use cobrowse_visitor_core::{ApiCall, Controller, ControllerError, ControllerOutput, Error};
use cobrowse_visitor_core::{Input, Instant, Lifecycle, NetworkChange, Output, Sdk, UserIntent};
use std::convert::Infallible;
use std::time::Duration;

/// The default bound on the moves of one settle (a settle of a sane scenario makes a few
/// dozen).
pub const MAX_SETTLE_MOVES: usize = 10_000;

/// The world did not settle: one settle made more than `moves` moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the world did not settle within {moves} moves (scenario line {step})")]
pub struct NotSettled {
    /// The 0-based index of the scenario line whose settle did not end (as a record's
    /// `step`).
    pub step: usize,
    /// The bound on the moves of one settle.
    pub moves: usize,
}

/// The `error` code of a `relaunch` that brought the app back new although its core had a
/// snapshot or a session (§13.2: a restore refused the core's snapshot): a session that ran
/// is gone.
pub const RESTORE_REFUSED: &str = "restore_refused";

/// Why a drive with hooks stopped early.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriveError<S> {
    /// The world did not settle.
    #[error(transparent)]
    NotSettled(#[from] NotSettled),
    /// A hook stopped the drive with this (the fuzzer's finding).
    #[error("a hook stopped the drive")]
    Stopped(S),
}

impl DriveError<Infallible> {
    /// The only way a drive without a stopping hook fails.
    pub fn not_settled(self) -> NotSettled {
        match self {
            DriveError::NotSettled(n) => n,
            DriveError::Stopped(never) => match never {},
        }
    }
}

/// How a world is built: what [`World::new`] takes by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldOptions {
    /// The SDK core's timer durations (its consent policy and limits are the scenario's
    /// config's, §13.1).
    pub sdk: cobrowse_visitor_core::SdkConfig,
    /// Whether the simulated server hears the SDK and answers (else frames the SDK sends go
    /// nowhere, the server sends nothing and agent steps do nothing: a harness that plays the
    /// server itself).
    pub server_answers: bool,
    /// Most moves one settle makes before the drive fails with [`NotSettled`].
    pub max_moves: usize,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            sdk: cobrowse_visitor_core::SdkConfig::default(),
            server_answers: true,
            max_moves: MAX_SETTLE_MOVES,
        }
    }
}

/// What kind of input the SDK core was fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FedKind {
    /// An API call.
    Api,
    /// A server frame.
    Frame,
    /// Raw server bytes (`Sdk::handle_bytes`).
    Bytes,
    /// A lifecycle change.
    Lifecycle,
    /// A network change.
    Network,
    /// A timer wake-up (`Input::Timeout`).
    Timeout,
    /// No input: a relaunched process's core, made by `Sdk::restore` (its queued outputs),
    /// or a new one (none) (§13.2 `relaunch`).
    Restore,
}

impl FedKind {
    fn of(input: &Input) -> FedKind {
        match input {
            Input::Api(_) => FedKind::Api,
            Input::Frame(_) => FedKind::Frame,
            Input::Lifecycle(_) => FedKind::Lifecycle,
            Input::Network(_) => FedKind::Network,
            Input::Timeout => FedKind::Timeout,
        }
    }
}

/// One SDK input as it was fed, for [`Hooks::sdk_input`]. The state before is what
/// [`Hooks::before_sdk_input`] saw.
#[derive(Debug)]
pub struct SdkFed<'a> {
    /// The time it was stamped with.
    pub at: Instant,
    /// What kind of input it was.
    pub kind: FedKind,
    /// What `handle_input` / `handle_bytes` returned.
    pub result: &'a Result<(), Error>,
    /// The SDK core after it (drained).
    pub sdk: &'a Sdk,
    /// What it queued, drained up to `Output::Timeout` (not yet handed on).
    pub outputs: &'a [Output],
}

/// A wake-up inside `advance_ms`, for [`Hooks::wake`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wake {
    /// The clock now.
    pub now: Instant,
    /// The SDK's next deadline (`Sdk::poll_timeout`), due or not.
    pub deadline: Option<Instant>,
    /// Where the clock stands when the step ends.
    pub target: Instant,
    /// Wake-ups already made in this step.
    pub wakes: usize,
}

impl Wake {
    /// The contract's wake-up: at the next deadline if it is due by the target.
    pub fn at_deadline(&self) -> Option<Instant> {
        self.deadline.filter(|t| *t <= self.target)
    }
}

/// A point where an input could be given a scenario line of its own, for [`Hooks::split`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `Lifecycle::Terminate`, fed after `exit`'s calls.
    Terminate,
    /// Wake-up number `n` (1-based) of an `advance_ms`, from `from` to `at`.
    Wake {
        /// Which wake-up.
        n: usize,
        /// The clock before it.
        from: Instant,
        /// The time it wakes at.
        at: Instant,
    },
}

/// What a caller of the driver watches and decides. Every method has a default that does
/// what `cobrowse run` does: watch nothing, wake at each deadline, split nothing.
pub trait Hooks {
    /// What a hook stops the drive with ([`Infallible`] when it never does).
    type Stop;

    /// A scenario line begins (its records follow): `index` is its `step`.
    fn line(&mut self, index: usize, step: &Step) -> Result<(), Self::Stop> {
        let _ = (index, step);
        Ok(())
    }

    /// A record was made (it is already in the transcript).
    fn record(&mut self, record: &Record) -> Result<(), Self::Stop> {
        let _ = record;
        Ok(())
    }

    /// The SDK core is about to be fed an input (keep its state to compare).
    fn before_sdk_input(&mut self, sdk: &Sdk) {
        let _ = sdk;
    }

    /// The SDK core was fed an input and drained (before its refusal is recorded and its
    /// outputs are handed on).
    fn sdk_input(&mut self, fed: SdkFed<'_>) -> Result<(), Self::Stop> {
        let _ = fed;
        Ok(())
    }

    /// The controller is about to be given a user intent.
    fn before_user(&mut self, controller: &Controller) {
        let _ = controller;
    }

    /// The controller was given a user intent (before its refusal is recorded).
    fn user(
        &mut self,
        controller: &Controller,
        result: &Result<(), ControllerError>,
    ) -> Result<(), Self::Stop> {
        let _ = (controller, result);
        Ok(())
    }

    /// Inside `advance_ms`: when to wake next, or `None` to stop waking (the clock then
    /// moves to the target). A time before the clock wakes now; one after the target wakes
    /// at the target. The default, [`Wake::at_deadline`], fires each due timer at its
    /// deadline; a hook may wake late (spec.md §2 allows any `t' ≥ t`), but must stop: the
    /// wake-ups of one step are not counted as moves.
    fn wake(&mut self, wake: Wake) -> Option<Instant> {
        wake.at_deadline()
    }

    /// Whether an input gets a scenario line of its own: `Some(line)` begins `line` (the
    /// next index) before it. The default keeps it on the step's line.
    fn split(&mut self, split: Split) -> Option<Step> {
        let _ = split;
        None
    }

    /// The app between the controller and the world: what is handed on for one controller
    /// output (a test's buggy integration rewrites, drops or adds to it). The default hands
    /// it on as it is.
    fn app(&mut self, out: ControllerOutput) -> Vec<ControllerOutput> {
        vec![out]
    }

    /// What the world calls: [`Hooks::app`]'s outputs for `out`, appended to `to`. The
    /// default calls `app`; hooks that keep `app`'s default may push `out` as it is and spare
    /// the `Vec`.
    fn app_into(&mut self, out: ControllerOutput, to: &mut Vec<ControllerOutput>) {
        to.extend(self.app(out));
    }

    /// The app process is killed and relaunched (a `relaunch` step, §13.2): `snapshot` is
    /// the SDK core's snapshot the world restores from (`None`: the app comes back new),
    /// taken at wall-clock `unix_ms`; called before the new core's outputs are fed on
    /// ([`FedKind::Restore`]).
    fn relaunched(&mut self, snapshot: Option<&cobrowse_visitor_core::Snapshot>, unix_ms: u64) {
        let _ = (snapshot, unix_ms);
    }

    /// An output the app makes on its own when the controller has none (a test's buggy
    /// integration; polled until `None`, each one a move). The default makes none.
    fn app_extra(&mut self) -> Option<ControllerOutput> {
        None
    }
}

/// The hooks of `cobrowse run`: all defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    type Stop = Infallible;

    fn app_into(&mut self, out: ControllerOutput, to: &mut Vec<ControllerOutput>) {
        to.push(out);
    }
}

/// What a hook-driven call returns.
pub type Driven<T, S> = Result<T, DriveError<S>>;

impl World {
    /// Applies scenario line `index` and lets the world settle, calling `hooks` on the way.
    pub fn apply_with<H: Hooks>(
        &mut self,
        index: usize,
        step: &Step,
        hooks: &mut H,
    ) -> Driven<(), H::Stop> {
        self.begin_line(index, step, hooks)?;
        match step {
            Step::Config(_) => {
                if index != 0 {
                    self.refuse(
                        hooks,
                        "config_not_first",
                        "a config step may only be the first line".into(),
                    )?;
                }
            }
            Step::User(intent) => {
                hooks.before_user(&self.controller);
                let result = self.controller.handle_user(intent.clone());
                hooks
                    .user(&self.controller, &result)
                    .map_err(DriveError::Stopped)?;
                match result {
                    Err(e) => self.refuse(hooks, e.code().as_str(), e.to_string())?,
                    Ok(()) if matches!(intent, UserIntent::Exit) => {
                        self.settle_with(hooks)?;
                        if let Some(line) = hooks.split(Split::Terminate) {
                            self.begin_line(self.step.saturating_add(1), &line, hooks)?;
                        }
                        self.sdk_input(hooks, Input::Lifecycle(Lifecycle::Terminate))?;
                    }
                    Ok(()) => {}
                }
            }
            Step::Lifecycle(l) => {
                self.sdk_input(hooks, Input::Lifecycle(*l))?;
                self.controller.handle_lifecycle(*l);
            }
            Step::Network(NetworkChange::Lost) => {
                if self.network_up {
                    self.network_up = false;
                    if self.server_answers {
                        self.server.connection_lost(self.now);
                    }
                }
                self.sdk_input(hooks, Input::Network(NetworkChange::Lost))?;
            }
            Step::Network(NetworkChange::Restored) => {
                if !self.network_up {
                    self.network_up = true;
                    if self.server_answers {
                        self.server.connection_restored(self.now);
                    }
                }
                // The IO layer hears the network is back and reconnects at once.
                self.sdk_input(hooks, Input::Network(NetworkChange::Restored))?;
            }
            Step::Agent(action) => {
                if self.server_answers {
                    if let Err(refusal) = self.server.agent(*action) {
                        self.refuse(
                            hooks,
                            refusal.code(),
                            format!("the agent cannot {} now", action.name()),
                        )?;
                    }
                }
            }
            Step::AgentSignal { event, map } => {
                if self.server_answers {
                    if let Err(refusal) = self.server.agent_signal(event, map) {
                        self.refuse(
                            hooks,
                            refusal.code(),
                            "the agent cannot signal now".to_owned(),
                        )?;
                    }
                }
            }
            Step::AgentMessage { name, map } => {
                if self.server_answers {
                    if let Err(refusal) = self.server.agent_message(name, map) {
                        self.refuse(
                            hooks,
                            refusal.code(),
                            "the agent cannot send a message now".to_owned(),
                        )?;
                    }
                }
            }
            Step::Relaunch { away_ms } => self.relaunch(hooks, *away_ms)?,
            Step::AdvanceMs(ms) => self.advance(hooks, *ms)?,
            Step::Api(call) => self.call_sdk(hooks, call.clone())?,
        }
        self.settle_with(hooks)
    }

    /// `relaunch` (§13.2): the app process is killed (the world has settled after the
    /// previous step), the service sees its connection drop, `away_ms` pass for the service
    /// only (the dead process's timers do not fire), then the app comes back: with
    /// `Sdk::restore` of the core's snapshot taken at the kill (the wall clock is the
    /// simulated one) and `Controller::restore` of the controller's (a new, unlaunched
    /// controller without one), or new and unlaunched when the core has no snapshot (before
    /// the first `EventVisitorInitialized`, after `exit`) or its restore is refused.
    fn relaunch<H: Hooks>(&mut self, hooks: &mut H, away_ms: u64) -> Driven<(), H::Stop> {
        self.settle_with(hooks)?;
        self.relaunches = self.relaunches.saturating_add(1);
        let sdk_snapshot = self.sdk.snapshot(self.now.as_millis());
        let controller_snapshot = self.controller.snapshot();
        self.pending.clear();
        if self.network_up && self.server_answers {
            self.server.connection_lost(self.now);
        }
        self.now = self.now.saturating_add(Duration::from_millis(away_ms));
        if self.network_up && self.server_answers {
            // the new process's connection (answered below when the core asks for one)
            self.server.connection_restored(self.now);
        }
        hooks.relaunched(sdk_snapshot.as_ref(), self.now.as_millis());
        let had_snapshot = sdk_snapshot.is_some();
        // a session the old core had (the app coming back new loses it without an event)
        let had_session = self.sdk.is_session_active();
        // the app keeps its core's snapshot whenever there is one; its controller comes back
        // from its own, or new and unlaunched without one (the app had called the SDK itself)
        let restored = sdk_snapshot.and_then(|s| {
            Sdk::restore(
                self.sdk_config.clone(),
                s,
                self.controller_config.group_id,
                self.now,
                self.now.as_millis(),
            )
            .ok()
        });
        let new = restored.is_none();
        let (sdk, controller) = match restored {
            Some(sdk) => {
                let controller = controller_snapshot
                    .and_then(|c| Controller::restore(self.controller_config.clone(), c, &sdk).ok())
                    .unwrap_or_else(|| Controller::new(self.controller_config.clone()));
                (sdk, controller)
            }
            None => (
                Sdk::new(self.sdk_config.clone()),
                Controller::new(self.controller_config.clone()),
            ),
        };
        if new && (had_snapshot || had_session) {
            // the app's own misuse (a direct init with another group than the config's): the
            // snapshot is refused whole (§5.6) and the app comes back new
            self.refuse(
                hooks,
                RESTORE_REFUSED,
                "no snapshot restored; the app comes back new and its session is gone".to_owned(),
            )?;
        }
        self.sdk = sdk;
        self.controller = controller;
        let now = self.now;
        let _ = self.feed_by(hooks, now, FedKind::Restore, |_, _| Ok(()))?;
        // a new process's IO layer hears from the platform that the network is down (a
        // restored core starts with its link down and asks to connect)
        if new && !self.network_up {
            self.sdk_input(hooks, Input::Network(NetworkChange::Lost))?;
        }
        Ok(())
    }

    /// `advance_ms`: settle, then wake as [`Hooks::wake`] says, settling after each wake-up;
    /// the clock ends at the target.
    fn advance<H: Hooks>(&mut self, hooks: &mut H, ms: u64) -> Driven<(), H::Stop> {
        let target = self.now.saturating_add(Duration::from_millis(ms));
        self.settle_with(hooks)?;
        let mut wakes = 0usize;
        while let Some(at) = hooks.wake(Wake {
            now: self.now,
            deadline: self.sdk.poll_timeout(),
            target,
            wakes,
        }) {
            wakes = wakes.saturating_add(1);
            let at = self.now.max(at.min(target));
            if let Some(line) = hooks.split(Split::Wake {
                n: wakes,
                from: self.now,
                at,
            }) {
                self.begin_line(self.step.saturating_add(1), &line, hooks)?;
            }
            self.now = at;
            self.sdk_input(hooks, Input::Timeout)?;
            self.settle_with(hooks)?;
        }
        self.now = self.now.max(target);
        Ok(())
    }

    /// Begins scenario line `index`: the records that follow carry it as `step`. (What
    /// [`World::apply_with`] does first; for a harness that feeds inputs no scenario line
    /// says, with [`World::feed`].)
    pub fn begin_line<H: Hooks>(
        &mut self,
        index: usize,
        step: &Step,
        hooks: &mut H,
    ) -> Driven<(), H::Stop> {
        self.step = index;
        hooks.line(index, step).map_err(DriveError::Stopped)
    }

    /// Makes a record under the current line and shows it to `hooks`.
    pub fn record_with<H: Hooks>(
        &mut self,
        hooks: &mut H,
        observed: Observed,
    ) -> Driven<(), H::Stop> {
        self.transcript.push(Record {
            step: self.step,
            observed,
        });
        match self.transcript.last() {
            Some(r) => hooks.record(r).map_err(DriveError::Stopped),
            None => Ok(()),
        }
    }

    fn refuse<H: Hooks>(
        &mut self,
        hooks: &mut H,
        code: &str,
        message: String,
    ) -> Driven<(), H::Stop> {
        self.record_with(
            hooks,
            Observed::Error(ErrorRecord {
                code: code.to_owned(),
                message,
            }),
        )
    }

    /// Feeds the SDK core one input at `at` (no record but the refusal's; the caller records
    /// an `api` or `recv` first) and drains it; its outputs are handed on by the next settle.
    /// Returns what the core returned.
    pub fn feed<H: Hooks>(
        &mut self,
        hooks: &mut H,
        at: Instant,
        input: Input,
    ) -> Driven<Result<(), Error>, H::Stop> {
        let kind = FedKind::of(&input);
        self.feed_by(hooks, at, kind, |sdk, at| sdk.handle_input(at, input))
    }

    /// Feeds the SDK core raw server bytes at the current time (`Sdk::handle_bytes`), as
    /// [`World::feed`].
    pub fn feed_bytes<H: Hooks>(
        &mut self,
        hooks: &mut H,
        bytes: &[u8],
    ) -> Driven<Result<(), Error>, H::Stop> {
        let now = self.now;
        self.feed_by(hooks, now, FedKind::Bytes, |sdk, at| {
            sdk.handle_bytes(at, bytes)
        })
    }

    fn feed_by<H: Hooks>(
        &mut self,
        hooks: &mut H,
        at: Instant,
        kind: FedKind,
        feed: impl FnOnce(&mut Sdk, Instant) -> Result<(), Error>,
    ) -> Driven<Result<(), Error>, H::Stop> {
        hooks.before_sdk_input(&self.sdk);
        let result = feed(&mut self.sdk, at);
        // Drained at once (spec.md §2); the queue is handed on in order by the settle, so an
        // input fed while it is handed on (a `Connect` answered) queues behind it, as in the
        // core's own queue.
        let start = self.pending.len();
        loop {
            match self.sdk.poll_output() {
                Output::Timeout(_) => break,
                o => self.pending.push_back(o),
            }
        }
        let outputs = self.pending.make_contiguous();
        hooks
            .sdk_input(SdkFed {
                at,
                kind,
                result: &result,
                sdk: &self.sdk,
                outputs: outputs.get(start..).unwrap_or(&[]),
            })
            .map_err(DriveError::Stopped)?;
        if let Err(e) = &result {
            self.refuse(hooks, e.code().as_str(), e.to_string())?;
        }
        Ok(result)
    }

    fn sdk_input<H: Hooks>(&mut self, hooks: &mut H, input: Input) -> Driven<(), H::Stop> {
        let now = self.now;
        self.feed(hooks, now, input).map(|_| ())
    }

    fn call_sdk<H: Hooks>(&mut self, hooks: &mut H, call: ApiCall) -> Driven<(), H::Stop> {
        self.record_with(hooks, Observed::Api(call.clone()))?;
        self.sdk_input(hooks, Input::Api(call))
    }

    /// Lets the world settle: moves until nothing moves, at most
    /// [`WorldOptions::max_moves`] times, else [`NotSettled`].
    pub fn settle_with<H: Hooks>(&mut self, hooks: &mut H) -> Driven<(), H::Stop> {
        // `max_moves` moves, then one more look: settled if nothing moves.
        for _ in 0..=self.max_moves {
            if !self.move_once(hooks)? {
                return Ok(());
            }
        }
        Err(DriveError::NotSettled(NotSettled {
            step: self.step,
            moves: self.max_moves,
        }))
    }

    /// One move, in the contract's order: the SDK core's outputs, a due timer, the
    /// controller's outputs, the server's frames. Whether anything moved.
    fn move_once<H: Hooks>(&mut self, hooks: &mut H) -> Driven<bool, H::Stop> {
        if let Some(out) = self.pending.pop_front() {
            match out {
                // recorded first, then handed on from the record (no copy of the output)
                Output::Event(e) => {
                    self.record_with(hooks, Observed::Event(EventRecord::Typed(e)))?;
                    if let Some(Observed::Event(EventRecord::Typed(e))) =
                        self.transcript.last().map(|r| &r.observed)
                    {
                        self.controller.handle_event(e);
                    }
                }
                Output::Transmit(f) => {
                    self.record_with(hooks, Observed::Send(WireFrame::Typed(f)))?;
                    if let Some(Observed::Send(WireFrame::Typed(f))) =
                        self.transcript.last().map(|r| &r.observed)
                    {
                        if self.network_up && self.server_answers {
                            self.server.receive(f);
                        }
                    }
                }
                Output::Connect => {
                    if self.network_up {
                        self.sdk_input(hooks, Input::Network(NetworkChange::Restored))?;
                    }
                }
                Output::Timeout(_) => {}
            }
            return Ok(true);
        }
        if self.sdk.poll_timeout().is_some_and(|t| t <= self.now) {
            self.sdk_input(hooks, Input::Timeout)?;
            return Ok(true);
        }
        if let Some(out) = self.controller.poll_output().or_else(|| hooks.app_extra()) {
            // the app's outputs, in a buffer the world keeps
            let mut outs = std::mem::take(&mut self.app_out);
            outs.clear();
            hooks.app_into(out, &mut outs);
            for out in outs.drain(..) {
                match out {
                    ControllerOutput::Call(call) => self.call_sdk(hooks, call)?,
                    ControllerOutput::Ui(ui) => self.record_with(hooks, Observed::Ui(ui))?,
                    // the app's own business; the transcript has the event
                    ControllerOutput::AgentSignal { .. }
                    | ControllerOutput::AgentMessage { .. } => {}
                }
            }
            self.app_out = outs;
            return Ok(true);
        }
        if !self.server_answers {
            return Ok(false);
        }
        if let Some(frame) = self.server.poll() {
            if self.network_up {
                self.record_with(hooks, Observed::Recv(WireFrame::Typed(frame.clone())))?;
                self.sdk_input(hooks, Input::Frame(frame))?;
            } else {
                self.server.not_delivered(&frame);
            }
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{parse_scenario, ScenarioConfig};

    fn steps(text: &str) -> Vec<Step> {
        parse_scenario(text).expect("a scenario")
    }

    const JOURNEY: &str = "{\"config\":{\"group_id\":19921,\"seed\":7}}\n{\"user\":\"launch\"}\n{\"user\":\"tap_cobrowse\"}\n{\"agent\":\"join\"}\n{\"advance_ms\":60000}\n{\"network\":\"lost\"}\n{\"advance_ms\":40000}\n{\"network\":\"restored\"}\n{\"user\":\"exit\"}\n";

    fn bounded(max_moves: usize) -> WorldOptions {
        WorldOptions {
            max_moves,
            ..WorldOptions::default()
        }
    }

    #[test]
    fn a_settle_over_the_bound_is_not_settled_naming_the_line() {
        let steps = steps(JOURNEY);
        // the least bound under which the whole journey settles
        let least = (0..MAX_SETTLE_MOVES)
            .find(|m| World::run_with(&steps, bounded(*m)).is_ok())
            .expect("the journey settles");
        assert!(least > 0);
        assert_eq!(
            World::run_with(&steps, bounded(least)),
            World::run(&steps),
            "a bound the world stays within changes nothing"
        );
        let err = World::run_with(&steps, bounded(least - 1)).expect_err("one move short");
        assert_eq!(err.moves, least - 1);
        assert!(err.step >= 1 && err.step < steps.len(), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "the world did not settle within {} moves (scenario line {})",
                least - 1,
                err.step
            )
        );
        // the launch alone moves more than 2: line 1 does not settle
        let err = World::run_with(&steps, bounded(2)).expect_err("launch moves");
        assert_eq!(err, NotSettled { step: 1, moves: 2 });
        // apply says the same, step by step
        let mut world = World::with_options(&ScenarioConfig::default(), bounded(2));
        assert_eq!(world.apply(0, &steps[0]), Ok(()));
        assert_eq!(
            world.apply(1, &steps[1]),
            Err(NotSettled { step: 1, moves: 2 })
        );
    }

    /// Records every hook call.
    #[derive(Default)]
    struct Log {
        lines: Vec<(usize, Step)>,
        records: Vec<Record>,
        fed: Vec<(Instant, FedKind, bool, usize)>,
        before: usize,
        users: usize,
        stop_at_record: Option<usize>,
        late: bool,
        split: bool,
    }

    impl Hooks for Log {
        type Stop = usize;
        fn line(&mut self, index: usize, step: &Step) -> Result<(), usize> {
            self.lines.push((index, step.clone()));
            Ok(())
        }
        fn record(&mut self, record: &Record) -> Result<(), usize> {
            self.records.push(record.clone());
            match self.stop_at_record {
                Some(n) if self.records.len() == n => Err(n),
                _ => Ok(()),
            }
        }
        fn before_sdk_input(&mut self, _: &Sdk) {
            self.before += 1;
        }
        fn sdk_input(&mut self, fed: SdkFed<'_>) -> Result<(), usize> {
            self.fed
                .push((fed.at, fed.kind, fed.result.is_ok(), fed.outputs.len()));
            Ok(())
        }
        fn user(&mut self, _: &Controller, _: &Result<(), ControllerError>) -> Result<(), usize> {
            self.users += 1;
            Ok(())
        }
        fn wake(&mut self, wake: Wake) -> Option<Instant> {
            if self.late {
                (wake.wakes == 0).then_some(wake.target)
            } else {
                wake.at_deadline()
            }
        }
        fn split(&mut self, split: Split) -> Option<Step> {
            match split {
                Split::Terminate if self.split => Some(Step::Lifecycle(Lifecycle::Terminate)),
                _ => None,
            }
        }
    }

    fn drive(log: &mut Log) -> Result<World, DriveError<usize>> {
        let steps = steps(JOURNEY);
        let mut world = World::new(&ScenarioConfig::default());
        for (i, s) in steps.iter().enumerate() {
            world.apply_with(i, s, log)?;
        }
        Ok(world)
    }

    #[test]
    fn hooks_see_every_line_record_and_input_and_change_nothing() {
        let mut log = Log::default();
        let world = drive(&mut log).expect("settles");
        let plain = World::run(&steps(JOURNEY)).expect("settles");
        assert_eq!(world.transcript(), plain.as_slice());
        assert_eq!(log.records, plain);
        assert_eq!(log.lines.len(), steps(JOURNEY).len());
        assert!(log.lines.iter().enumerate().all(|(i, (n, _))| i == *n));
        assert_eq!(log.before, log.fed.len());
        assert_eq!(log.users, 3, "launch, tap_cobrowse, exit");
        let api = plain
            .iter()
            .filter(|r| matches!(r.observed, Observed::Api(_)))
            .count();
        let fed_api = log.fed.iter().filter(|f| f.1 == FedKind::Api).count();
        assert_eq!(api, fed_api, "every api record is an SDK input");
        assert!(log.fed.iter().any(|f| f.1 == FedKind::Timeout));
        let last = |kind| log.fed.iter().rposition(|f| f.1 == kind);
        assert!(
            last(FedKind::Lifecycle) > last(FedKind::Api),
            "terminate after exit's calls"
        );
    }

    #[test]
    fn a_hook_stops_the_drive_at_once() {
        let mut log = Log {
            stop_at_record: Some(3),
            ..Log::default()
        };
        match drive(&mut log) {
            Err(DriveError::Stopped(3)) => {}
            other => panic!("{:?}", other.map(|w| w.transcript().len())),
        }
        assert_eq!(log.records.len(), 3);
    }

    #[test]
    fn a_late_wake_and_a_split_line_are_the_callers_choice() {
        let mut log = Log {
            late: true,
            split: true,
            ..Log::default()
        };
        let world = drive(&mut log).expect("settles");
        assert_eq!(world.now(), Instant::from_millis(100_000));
        // each advance woke once, at its target
        let wakes: Vec<Instant> = log
            .fed
            .iter()
            .filter(|f| f.1 == FedKind::Timeout)
            .map(|f| f.0)
            .collect();
        assert_eq!(
            wakes,
            vec![Instant::from_millis(60_000), Instant::from_millis(100_000)]
        );
        // terminate got a line of its own, after exit's
        let n = steps(JOURNEY).len();
        assert_eq!(log.lines.len(), n + 1);
        assert_eq!(log.lines[n], (n, Step::Lifecycle(Lifecycle::Terminate)));
        assert_eq!(world.line(), n);
    }
}
