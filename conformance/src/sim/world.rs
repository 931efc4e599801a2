//! The simulated world: the controller, the SDK core, the network, the server and the agent,
//! played step by step from a contract scenario (spec.md §13). The drive itself is
//! [`super::drive`].

use super::drive::{NoHooks, NotSettled, WorldOptions};
use super::server::Server;
use crate::transcript::{Record, ScenarioConfig, Step};
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::{Controller, ControllerConfig, ControllerOutput};
use cobrowse_visitor_core::{Output, Sdk, SdkConfig};
use std::collections::VecDeque;

/// The whole simulated world: app (controller), SDK core, network, server, agent, clock.
#[derive(Clone, Debug)]
pub struct World {
    pub(super) sdk: Sdk,
    pub(super) controller: Controller,
    pub(super) server: Server,
    pub(super) server_answers: bool,
    pub(super) now: Instant,
    pub(super) network_up: bool,
    pub(super) step: usize,
    pub(super) max_moves: usize,
    /// The SDK core's outputs, drained after each input and not yet handed on (empty once
    /// the world has settled).
    pub(super) pending: VecDeque<Output>,
    pub(super) transcript: Vec<Record>,
    /// What the app hands on for one controller output (kept for its allocation).
    pub(super) app_out: Vec<ControllerOutput>,
    /// The SDK core's configuration, for a relaunched process.
    pub(super) sdk_config: SdkConfig,
    /// The controller's configuration (its group id is the app's), for a relaunched process.
    pub(super) controller_config: ControllerConfig,
    /// Relaunches played so far (`relaunch` steps, §13.2).
    pub(super) relaunches: u32,
}

impl World {
    /// A world at time zero with the network up.
    pub fn new(config: &ScenarioConfig) -> Self {
        World::with_options(config, WorldOptions::default())
    }

    /// A world at time zero with the network up, built with `options` (timer durations,
    /// whether the server answers, the bound on a settle).
    pub fn with_options(config: &ScenarioConfig, options: WorldOptions) -> Self {
        let WorldOptions {
            sdk: sdk_config,
            server_answers,
            max_moves,
        } = options;
        // the app's consent policy and limits are the scenario's (§13.1)
        let sdk_config = SdkConfig {
            consent_policy: config.consent_policy,
            limits: config.limits,
            ..sdk_config
        };
        let controller_config = ControllerConfig {
            group_id: config.group_id,
            custom_ui: config.custom_ui,
            limits: config.limits,
            start: config.start_options,
        };
        World {
            server: Server::new(config.group_id, config.seed, sdk_config.session_grace)
                .with_group(config.agent_start, config.presence)
                .with_presence_unavailable(config.presence_unavailable),
            sdk: Sdk::new(sdk_config.clone()),
            controller: Controller::new(controller_config.clone()),
            sdk_config,
            controller_config,
            relaunches: 0,
            server_answers,
            now: Instant::ZERO,
            network_up: true,
            step: 0,
            max_moves,
            pending: VecDeque::new(),
            // room for a short scenario's records (a seed journey writes 10 to 60)
            transcript: Vec::with_capacity(64),
            app_out: Vec::new(),
        }
    }

    /// Plays a whole scenario (its first step may be a config) and returns the transcript;
    /// [`NotSettled`] if a step's world does not settle.
    pub fn run(steps: &[Step]) -> Result<Vec<Record>, NotSettled> {
        World::run_with(steps, WorldOptions::default())
    }

    /// [`World::run`] on a world built with `options` (the scenario's config still gives the
    /// group, the UI and the seed).
    pub fn run_with(steps: &[Step], options: WorldOptions) -> Result<Vec<Record>, NotSettled> {
        let config = match steps.first() {
            Some(Step::Config(c)) => c.clone(),
            _ => ScenarioConfig::default(),
        };
        let mut world = World::with_options(&config, options);
        for (i, step) in steps.iter().enumerate() {
            world.apply(i, step)?;
        }
        Ok(world.transcript)
    }

    /// Applies scenario line `index` and lets the world settle ([`World::apply_with`] with
    /// [`NoHooks`]).
    pub fn apply(&mut self, index: usize, step: &Step) -> Result<(), NotSettled> {
        self.apply_with(index, step, &mut NoHooks)
            .map_err(|e| e.not_settled())
    }

    /// The records so far.
    pub fn transcript(&self) -> &[Record] {
        &self.transcript
    }

    /// Takes the records so far, leaving none (an explorer that clones worlds by the
    /// thousand keeps them small).
    pub fn take_transcript(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.transcript)
    }

    /// Drops the records so far, keeping the room they took (a harness that reads each
    /// record as it comes, through its hooks).
    pub fn clear_transcript(&mut self) {
        self.transcript.clear();
    }

    /// Hands over the records so far, keeping the room they took (a harness that judges
    /// each record as it comes, through its hooks, and keeps them).
    pub fn drain_transcript(&mut self) -> std::vec::Drain<'_, Record> {
        self.transcript.drain(..)
    }

    /// The SDK core.
    pub fn sdk(&self) -> &Sdk {
        &self.sdk
    }

    /// The controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The simulated clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Whether the simulated network is up.
    pub fn network_up(&self) -> bool {
        self.network_up
    }

    /// How many `relaunch` steps this world has played.
    pub fn relaunches(&self) -> u32 {
        self.relaunches
    }

    /// The scenario line the records now carry as `step` (the last line begun).
    pub fn line(&self) -> usize {
        self.step
    }
}
