//! The wider presence surface of spec.md §10.2 (issue 14): `INV-CONSENT-POLICY`,
//! `INV-CONNECT-ATTEMPTS`, `INV-NOT-CONFIGURED`, `INV-PRESENCE-DATA`,
//! `INV-SEND-FAIL-REFUSES`. Written from spec.md's rules, not from the core.

use super::{Check, Due};
use crate::oracle::reader::{sends_presence_message, Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::{SentFrame, Step};
use cobrowse_visitor_core::{ApiCall, ClientFrame};
use serde_json::Value;
use std::collections::BTreeMap;

/// `INV-CONSENT-POLICY`: `EventPresenceStartSession` only when the config says
/// `consent_policy` `agent_may_start` and the latest `settings` received says `agent_start`
/// `true` (judged by the config alone in a trace without `recv` records).
#[derive(Clone, Debug, Default)]
pub(super) struct ConsentPolicy;

impl Check for ConsentPolicy {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if let Seen::Event {
            code: "EventPresenceStartSession",
            ..
        } = rec.seen
        {
            if let Some(why) = ctx.agent_start_refusal() {
                out.push(violation(
                    Invariant::ConsentPolicy,
                    rec.line,
                    format!("EventPresenceStartSession (an agent start without the terms dialog) came, but {why}: unless both the app and the group opted in, an agent's start is the terms flow (EventPresenceShowTerms)"),
                ));
            }
        }
    }
}

/// `INV-CONNECT-ATTEMPTS`: after an accepted `presence_connect` with `max_attempts` n ≥ 1,
/// at most n `send presence_connect` in one connect round (ended by `EventPresenceConnected`,
/// `EventClearWarning`, `EventPresenceBlur` or a `send presence_disconnect`); after an
/// `EventPresenceConnectFail` without `retry_ms`, no `send presence_connect` until the next
/// accepted `presence_connect`.
#[derive(Clone, Debug, Default)]
pub(super) struct ConnectAttempts {
    /// The bound of the latest accepted `presence_connect` (`None`: forever).
    bound: Option<u32>,
    /// `send presence_connect` records in this round.
    sent: u32,
    /// An `EventPresenceConnectFail` without `retry_ms` came: presence gave up.
    gave_up: bool,
}

impl Check for ConnectAttempts {
    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Accepted(ApiCall::PresenceConnect { max_attempts }) => {
                self.bound = u32::try_from(*max_attempts).ok().filter(|n| *n >= 1);
                self.sent = 0;
                self.gave_up = false;
            }
            Seen::Event {
                code: "EventPresenceConnected" | "EventClearWarning" | "EventPresenceBlur",
                ..
            } => self.sent = 0,
            Seen::Event {
                code: "EventPresenceConnectFail",
                event,
                ..
            } if event.prop("retry_ms").is_none() => self.gave_up = true,
            _ => match rec.seen.sent_type() {
                Some("presence_disconnect") => self.sent = 0,
                Some("presence_connect") => {
                    if self.gave_up {
                        out.push(violation(
                            Invariant::ConnectAttempts,
                            rec.line,
                            "presence_connect was sent after EventPresenceConnectFail without retry_ms (presence gave up) and before another accepted presence_connect".to_owned(),
                        ));
                        return;
                    }
                    self.sent = self.sent.saturating_add(1);
                    if let Some(n) = self.bound.filter(|n| self.sent > *n) {
                        out.push(violation(
                            Invariant::ConnectAttempts,
                            rec.line,
                            format!(
                                "presence_connect was sent {} times in one connect round, but the accepted presence_connect allows at most {n} attempts",
                                self.sent
                            ),
                        ));
                    }
                }
                _ => {}
            },
        }
    }
}

/// `INV-NOT-CONFIGURED`: after `EventPresenceNotConfigured`, no accepted `presence_connect`
/// and no `send presence_connect` until an accepted `init_visitor`.
#[derive(Clone, Debug, Default)]
pub(super) struct NotConfigured {
    /// The line of the `EventPresenceNotConfigured` in force.
    since: Option<usize>,
}

impl Check for NotConfigured {
    /// A `relaunch` (§13.2) is a new process: presence is not kept (§5.6), and it looks again
    /// as a re-init does.
    fn on_step(&mut self, _: &Reading, _: usize, _: usize, step: &Step, _: &mut Vec<Violation>) {
        if let Step::Relaunch { .. } = step {
            self.since = None;
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Event {
                code: "EventPresenceNotConfigured",
                ..
            } => self.since = Some(rec.line),
            Seen::Accepted(ApiCall::InitVisitor(_)) => self.since = None,
            Seen::Accepted(ApiCall::PresenceConnect { .. }) => {
                if let Some(at) = self.since {
                    out.push(violation(
                        Invariant::NotConfigured,
                        rec.line,
                        format!("presence_connect was accepted after EventPresenceNotConfigured (line {at}) with no accepted init_visitor since"),
                    ));
                }
            }
            _ if rec.seen.sent_type() == Some("presence_connect") => {
                if let Some(at) = self.since {
                    out.push(violation(
                        Invariant::NotConfigured,
                        rec.line,
                        format!("presence_connect was sent after EventPresenceNotConfigured (line {at}) with no accepted init_visitor since"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// A `send presence_data` record's map, if it is a map of strings.
fn sent_data(frame: &SentFrame) -> Option<BTreeMap<String, String>> {
    if let Some(ClientFrame::PresenceData { map }) = frame.typed() {
        return Some(map.clone());
    }
    match frame.to_json().get("map")? {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect(),
        _ => None,
    }
}

/// `INV-PRESENCE-DATA`: by the end of the step of every `EventPresenceConnected`, and of
/// every accepted `presence_data` while presence is up, the latest `send presence_data` since
/// presence came up carries the merge of every accepted `presence_data` since the latest
/// accepted `init_visitor` that changed the visitor id (none is owed while it is empty).
///
/// Presence is *up* from `EventPresenceConnected` until `EventPresenceDisconnected`,
/// `EventConnectionWarning`, `EventPresenceBlur` or a `send presence_disconnect` (S-A80 sends
/// only while connected). The latest send is forgotten when presence goes down and at every
/// `send presence_connect` (S-F20 sends the data just before its `EventPresenceConnected`).
#[derive(Clone, Debug, Default)]
pub(super) struct PresenceData {
    /// Every accepted `presence_data`, merged.
    merged: BTreeMap<String, String>,
    up: bool,
    /// The latest `send presence_data` since presence came up: `Some(None)` when its map is
    /// not one of strings.
    latest: Option<Option<BTreeMap<String, String>>>,
    due: Option<Due>,
}

impl PresenceData {
    fn down(&mut self) {
        self.up = false;
        self.latest = None;
        self.due = None;
    }
}

impl Check for PresenceData {
    /// A `relaunch` (§13.2): presence is not kept (§5.6); the restored core sends its data
    /// again when presence comes up.
    fn on_step(&mut self, _: &Reading, _: usize, _: usize, step: &Step, _: &mut Vec<Violation>) {
        if let Step::Relaunch { .. } = step {
            self.down();
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        let due = Due {
            step: rec.step,
            line: rec.line,
        };
        match rec.seen {
            Seen::Accepted(ApiCall::InitVisitor(p))
                if p.visitor_id.as_deref() != ctx.visitor_id() =>
            {
                self.merged.clear();
            }
            Seen::Accepted(ApiCall::PresenceData { map }) => {
                self.merged
                    .extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                if self.up {
                    self.due = Some(due);
                }
            }
            Seen::Event {
                code: "EventPresenceConnected",
                ..
            } => {
                self.up = true;
                self.due = Some(due);
            }
            Seen::Event {
                code: "EventPresenceDisconnected" | "EventConnectionWarning" | "EventPresenceBlur",
                ..
            } => self.down(),
            Seen::Send(frame) => match frame.frame_type() {
                Some("presence_disconnect") => self.down(),
                Some("presence_connect") => self.latest = None,
                Some("presence_data") => self.latest = Some(sent_data(frame)),
                _ => {}
            },
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        let Some(due) = self.due.filter(|d| d.ended(current)) else {
            return;
        };
        self.due = None;
        if self.merged.is_empty() || self.latest.as_ref() == Some(&Some(self.merged.clone())) {
            return;
        }
        let what = match &self.latest {
            None => "no presence_data was sent since presence came up".to_owned(),
            Some(None) => "the latest presence_data sent has no map of strings".to_owned(),
            Some(Some(m)) => format!("the latest presence_data sent carries {m:?}"),
        };
        out.push(violation(
            Invariant::PresenceData,
            due.line,
            format!(
                "by the end of this step the service must have the visitor's presence data {:?} (every accepted presence_data merged), but {what}",
                self.merged
            ),
        ));
    }
}

/// `INV-SEND-FAIL-REFUSES`: `EventPresenceSendFail` comes only right after an `api` record of
/// `presence_signal_agent` or `presence_signal_visibility` of its step, naming that call;
/// the call then counts as refused: no `send presence_signal` / `presence_visibility` for it
/// (before the next `api` or `recv` record or step).
#[derive(Clone, Debug, Default)]
pub(super) struct SendFailRefuses {
    /// The record just before: an `api` record (its step and call), else `None`.
    last_api: Option<(usize, &'static str, bool)>,
    /// A call refused by `EventPresenceSendFail`: its line, until the next `api` / `recv`
    /// record or step.
    refused: Option<usize>,
}

impl Check for SendFailRefuses {
    fn on_step(&mut self, _: &Reading, _: usize, _: usize, _: &Step, _: &mut Vec<Violation>) {
        self.last_api = None;
        self.refused = None;
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            // the lookahead of an earlier record: not a record of its own
            Seen::Accepted(_) | Seen::RefusedCall(_) | Seen::RefusedFrame => return,
            Seen::Event {
                code: "EventPresenceSendFail",
                event,
                ..
            } => {
                let named = event.prop("call");
                let ok = matches!(self.last_api, Some((step, call, true))
                    if step == rec.step && named.as_deref() == Some(call));
                if ok {
                    self.refused = Some(rec.line);
                } else {
                    let what = match self.last_api {
                        Some((_, call, true)) => format!(
                            "it names {:?}, not the call just before it, {call}",
                            named.as_deref().unwrap_or("no call")
                        ),
                        _ => "the record just before it is not an api record of presence_signal_agent or presence_signal_visibility of its step".to_owned(),
                    };
                    out.push(violation(
                        Invariant::SendFailRefuses,
                        rec.line,
                        format!("EventPresenceSendFail came, but {what}"),
                    ));
                }
            }
            Seen::Asked(_) | Seen::Received(_) => self.refused = None,
            Seen::Send(_) => {
                if let (Some(at), Some(ty @ ("presence_signal" | "presence_visibility"))) =
                    (self.refused, rec.seen.sent_type())
                {
                    out.push(violation(
                        Invariant::SendFailRefuses,
                        rec.line,
                        format!(
                            "{ty} was sent for a call EventPresenceSendFail refused (line {at})"
                        ),
                    ));
                }
            }
            _ => {}
        }
        self.last_api = match rec.seen {
            Seen::Asked(call) => {
                Some((rec.step, call.name().as_str(), sends_presence_message(call)))
            }
            _ => None,
        };
    }
}
