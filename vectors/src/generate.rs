//! The generator: plays a scenario on the real simulator (`sim::World`) and writes down, with
//! [`Hooks`], every input the SDK core and the controller were given and what each produced.
//!
//! The hooks see each SDK input's time, kind, result and outputs; the input itself is the
//! record just before it (`api`, `recv`) or the scenario line (`lifecycle`, `network`), a
//! `Connect` answered is `Network(Restored)`, `exit`'s is `Lifecycle(Terminate)`. The
//! controller is shadowed: a second `Controller` is given the same inputs in the same order
//! (the user intent of the line, each event as the world hands it on, the line's lifecycle),
//! and its state is held against the world's at every user intent. Every vector is then
//! replayed through a fresh core and controller ([`crate::replay`]) before it is returned, so
//! a reconstruction that went wrong fails here, not in a binding's test.

use crate::{
    controller_step_in, replay, ControllerConfigJson, ControllerInputJson, SdkConfigJson, SdkInput,
    SdkOutput, SdkStep, Vector, FORMAT,
};
use cobrowse_visitor_conformance::sim::{FedKind, Hooks, SdkFed, World, WorldOptions};
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, EventRecord, Observed, Record, ScenarioConfig, Step,
};
use cobrowse_visitor_core::{
    Controller, ControllerConfig, ControllerError, Event, Lifecycle, NetworkChange, Output,
    ServerFrame,
};
use std::collections::VecDeque;

/// Why a scenario gave no vector.
#[derive(Debug)]
pub struct GenError(pub String);

impl std::fmt::Display for GenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GenError {}

struct Recorder {
    line: Option<Step>,
    /// The line's lifecycle or network change, until the SDK is fed it.
    line_change: Option<Step>,
    last_record: Option<Observed>,
    /// Events queued by the SDK and not yet handed to the controller.
    events: VecDeque<Event>,
    shadow: Controller,
    /// The configurations a relaunch needs.
    controller_config: ControllerConfig,
    sdk_config: cobrowse_visitor_core::SdkConfig,
    /// Whether the latest relaunch restored the core.
    restored: bool,
    /// The core fed the input being recorded has its link down after it.
    restored_link_down: bool,
    sdk: Vec<SdkStep>,
    controller: Vec<crate::ControllerStep>,
}

impl Recorder {
    fn give(&mut self, input: ControllerInputJson) -> Result<(), GenError> {
        let context = Some((&self.controller_config, &self.sdk_config));
        let step = controller_step_in(&mut self.shadow, context, input)
            .map_err(|e| GenError(format!("controller input: {e}")))?;
        self.controller.push(step);
        Ok(())
    }

    fn input_of(&self, kind: FedKind) -> Result<SdkInput, GenError> {
        let bad = |what: &str| GenError(format!("an SDK input of kind {kind:?} after {what}"));
        Ok(match kind {
            FedKind::Api => match &self.last_record {
                Some(Observed::Api(call)) => SdkInput::Api(call.clone()),
                _ => return Err(bad("no api record")),
            },
            FedKind::Frame => match &self.last_record {
                Some(Observed::Recv(v)) => SdkInput::Frame(
                    serde_json::from_value::<ServerFrame>(v.to_json())
                        .map_err(|e| GenError(format!("a recv record: {e}")))?,
                ),
                _ => return Err(bad("no recv record")),
            },
            FedKind::Lifecycle => match &self.line_change {
                Some(Step::Lifecycle(l)) => SdkInput::Lifecycle(*l),
                _ => SdkInput::Lifecycle(Lifecycle::Terminate),
            },
            FedKind::Network => match (&self.line_change, &self.line) {
                (Some(Step::Network(n)), _) => SdkInput::Network(*n),
                // a new process's platform says the network is down (§13.2); a restored
                // core's Connect is answered with Restored
                (_, Some(Step::Relaunch { .. })) if self.restored_link_down => {
                    SdkInput::Network(NetworkChange::Lost)
                }
                _ => SdkInput::Network(NetworkChange::Restored),
            },
            FedKind::Timeout => SdkInput::Timeout {},
            FedKind::Restore => match &self.line {
                Some(Step::Relaunch { away_ms }) => SdkInput::Relaunch {
                    away_ms: *away_ms,
                    restored: self.restored,
                },
                _ => return Err(bad("no relaunch line")),
            },
            FedKind::Bytes => return Err(bad("raw bytes (no scenario feeds them)")),
        })
    }
}

impl Hooks for Recorder {
    type Stop = GenError;

    fn line(&mut self, _index: usize, step: &Step) -> Result<(), GenError> {
        self.line = Some(step.clone());
        self.line_change = match step {
            Step::Lifecycle(_) | Step::Network(_) => Some(step.clone()),
            _ => None,
        };
        Ok(())
    }

    fn relaunched(&mut self, snapshot: Option<&cobrowse_visitor_core::Snapshot>, unix_ms: u64) {
        self.restored = snapshot.is_some();
        // the shadow controller is relaunched as the world's is (a failure shows as a shadow
        // that parted from the world's at the next user intent)
        let input = ControllerInputJson::Relaunch {
            sdk_snapshot: snapshot.map(cobrowse_visitor_core::Snapshot::to_json),
            unix_ms,
        };
        if self.give(input).is_err() {
            self.shadow = Controller::new(self.controller_config.clone());
        }
    }

    fn record(&mut self, record: &Record) -> Result<(), GenError> {
        if let Observed::Event(got) = &record.observed {
            // the world hands this event to its controller now
            let e = self
                .events
                .pop_front()
                .ok_or_else(|| GenError("an event record the SDK did not queue".into()))?;
            if &EventRecord::from(&e) != got {
                return Err(GenError(format!("event record {got:?} is not {e:?}")));
            }
            self.give(ControllerInputJson::Event((&e).into()))?;
        }
        self.last_record = Some(record.observed.clone());
        Ok(())
    }

    fn sdk_input(&mut self, fed: SdkFed<'_>) -> Result<(), GenError> {
        self.restored_link_down = matches!(
            fed.sdk.state().link,
            cobrowse_visitor_core::Link::Down { .. }
        );
        let input = self.input_of(fed.kind)?;
        let is_line_change =
            matches!(fed.kind, FedKind::Lifecycle | FedKind::Network) && self.line_change.is_some();
        if is_line_change {
            self.line_change = None;
        }
        let outputs = fed
            .outputs
            .iter()
            .filter_map(SdkOutput::from_output)
            .collect();
        self.events
            .extend(fed.outputs.iter().filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            }));
        self.sdk.push(SdkStep {
            now: fed.at.as_millis(),
            input: input.clone(),
            error: fed
                .result
                .as_ref()
                .err()
                .map(|e| e.code().as_str().to_owned()),
            outputs,
            timeout: fed.sdk.poll_timeout().map(|t| t.as_millis()),
            rows: fed.sdk.last_rows().iter().map(|r| r.to_string()).collect(),
        });
        // the world gives the controller a lifecycle line right after the SDK, before any
        // output is handed on
        if let (true, SdkInput::Lifecycle(l)) = (is_line_change, &input) {
            if *l != Lifecycle::Terminate {
                self.give(ControllerInputJson::Lifecycle(*l))?;
            }
        }
        Ok(())
    }

    fn user(
        &mut self,
        controller: &Controller,
        result: &Result<(), ControllerError>,
    ) -> Result<(), GenError> {
        let Some(Step::User(intent)) = self.line.clone() else {
            return Err(GenError("a user intent outside a user line".into()));
        };
        self.give(ControllerInputJson::User(intent.clone()))?;
        let mine = self.controller.last().and_then(|s| s.error.clone());
        let theirs = result.as_ref().err().map(|e| e.code().as_str().to_owned());
        if mine != theirs || self.shadow.state() != controller.state() {
            return Err(GenError(format!(
                "the shadow controller parted from the world's at {intent:?}"
            )));
        }
        Ok(())
    }
}

/// Plays one scenario (its text, named `journey`, at `scenario` in the repository) on the
/// simulator and returns its vector, replayed once.
pub fn vector(journey: &str, scenario: &str, text: &str) -> Result<Vector, GenError> {
    let steps = parse_scenario(text).map_err(|e| GenError(format!("{scenario}: {e}")))?;
    let config = match steps.first() {
        Some(Step::Config(c)) => c.clone(),
        _ => ScenarioConfig::default(),
    };
    let mut options = WorldOptions::default();
    // the world runs the SDK with the scenario's consent policy and limits (§13.1)
    options.sdk.consent_policy = config.consent_policy;
    options.sdk.limits = config.limits;
    let sdk_config = SdkConfigJson::from(&options.sdk);
    let controller_config = ControllerConfig {
        group_id: config.group_id,
        custom_ui: config.custom_ui,
        limits: config.limits,
        start: config.start_options,
    };
    let mut world = World::with_options(&config, options.clone());
    let mut rec = Recorder {
        line: None,
        line_change: None,
        last_record: None,
        events: VecDeque::new(),
        shadow: Controller::new(controller_config.clone()),
        controller_config: controller_config.clone(),
        sdk_config: cobrowse_visitor_core::SdkConfig {
            consent_policy: config.consent_policy,
            limits: config.limits,
            ..options.sdk.clone()
        },
        restored: false,
        restored_link_down: false,
        sdk: Vec::new(),
        controller: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        world
            .apply_with(i, step, &mut rec)
            .map_err(|e| GenError(format!("{scenario} line {}: {e:?}", i + 1)))?;
    }
    if !rec.events.is_empty() {
        return Err(GenError(format!("{scenario}: events never handed on")));
    }
    let v = Vector {
        format: FORMAT.to_owned(),
        journey: journey.to_owned(),
        scenario: scenario.to_owned(),
        sdk_config,
        controller_config: ControllerConfigJson::from(&controller_config),
        sdk: rec.sdk,
        controller: rec.controller,
    };
    replay(&v).map_err(|m| GenError(format!("{scenario}: the vector does not replay: {m}")))?;
    Ok(v)
}

/// Every scenario under `root/scenarios` (sorted by name) as `(file name, vector text)`, the
/// file name being `<journey>.json`.
pub fn all(root: &std::path::Path) -> Result<Vec<(String, String)>, GenError> {
    let dir = root.join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| GenError(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let journey = name.trim_end_matches(".jsonl");
        let text = std::fs::read_to_string(dir.join(&name))
            .map_err(|e| GenError(format!("{name}: {e}")))?;
        let v = vector(journey, &format!("scenarios/{name}"), &text)?;
        out.push((format!("{journey}.json"), crate::to_text(&v)));
    }
    Ok(out)
}
