//! The session key: `INV-KEY-MATCHES-REQUEST`, `INV-KEY-SHOWN-MANUAL`,
//! `INV-KEY-HIDDEN-PRESENCE`. The key each start asked for is the reader's
//! ([`Reading::starting_key`]); whether a one-click session is on is
//! [`KeyHiddenPresence`]'s own.

use super::Check;
use crate::oracle::reader::{Judged, KeyAsked, Reading, Seen, SessionPhase};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;
use cobrowse_visitor_core::{ApiCall, StartParams, UiDirective, UiElement};

/// `INV-KEY-MATCHES-REQUEST`: `EventConnectedToSession`'s `sessionkey` is the one the start
/// asked for.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyMatchesRequest;

impl Check for KeyMatchesRequest {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let Seen::Event {
            code: "EventConnectedToSession",
            sessionkey,
            ..
        } = rec.seen
        else {
            return;
        };
        let key = sessionkey.unwrap_or_default();
        let mismatch = match ctx.starting_key() {
            Some(KeyAsked::Random | KeyAsked::DefaultRandom) => (key.is_empty()
                || !key.bytes().all(|b| b.is_ascii_digit()))
            .then(|| "a random key must be ASCII digits".to_owned()),
            Some(KeyAsked::VisitorId(id)) => (key != id)
                .then(|| format!("a one-click session's key must be the visitor id {id}")),
            Some(KeyAsked::Custom(k)) => {
                (key != k).then(|| format!("the session was started with the custom key {k}"))
            }
            None => None,
        };
        if let Some(why) = mismatch {
            out.push(violation(
                Invariant::KeyMatchesRequest,
                rec.line,
                format!("EventConnectedToSession with sessionkey {key:?}, but {why}"),
            ));
        }
    }
}

/// A manual (random-key) session that connected, waiting for its key to be shown.
#[derive(Clone, Debug)]
struct ManualKey {
    key: String,
    /// The line of its `EventConnectedToSession`.
    line: usize,
    shown: bool,
}

/// `INV-KEY-SHOWN-MANUAL`: a random-key session that connects shows its key before it ends.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyShownManual {
    /// The connected session's key, when it was started with `GLANCE_KEYTYPE_RANDOM`.
    manual_key: Option<ManualKey>,
}

impl Check for KeyShownManual {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Event {
                code: "EventConnectedToSession",
                sessionkey,
                ..
            } => {
                self.manual_key = match ctx.starting_key() {
                    Some(KeyAsked::Random) => Some(ManualKey {
                        key: sessionkey.unwrap_or_default().to_owned(),
                        line: rec.line,
                        shown: false,
                    }),
                    _ => None,
                };
            }
            Seen::Event {
                code: "EventSessionEnded",
                ..
            } => {
                if let Some(m) = self.manual_key.take().filter(|m| !m.shown) {
                    out.push(violation(
                        Invariant::KeyShownManual,
                        rec.line,
                        format!(
                            "the random-key session {} ended without `ui show session_key` {}",
                            m.key, m.key
                        ),
                    ));
                }
            }
            Seen::Ui(UiDirective::Show {
                element: UiElement::SessionKey,
                key,
            }) => {
                if let Some(m) = &mut self.manual_key {
                    if key.as_deref() == Some(m.key.as_str()) {
                        m.shown = true;
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _ctx: &Reading, out: &mut Vec<Violation>) {
        if let Some(m) = self.manual_key.take().filter(|m| !m.shown) {
            out.push(violation(
                Invariant::KeyShownManual,
                m.line,
                format!(
                    "the random-key session connected with key {} here, but the trace ended without `ui show session_key` {}",
                    m.key, m.key
                ),
            ));
        }
    }
}

/// `INV-KEY-HIDDEN-PRESENCE`: a one-click session never shows a `session_key`, from its
/// accepted `start_session` until the `EventSessionEnded` that ends it, or the
/// `EventStartSessionFailed` that ends its start before any `EventConnectedToSession`. No
/// other record ends it: not a stray `EventStartSessionFailed` while it runs, not a second
/// accepted `start_session` (the contract's wording; the reader's session phase, which other
/// invariants read, is not used here).
#[derive(Clone, Debug, Default)]
pub(super) struct KeyHiddenPresence {
    /// A one-click session is on (started, not ended).
    oneclick: bool,
    /// It connected (`EventConnectedToSession` since its start).
    connected: bool,
}

impl Check for KeyHiddenPresence {
    /// A `relaunch` (§13.2) carries a running one-click session across (its key stays hidden,
    /// INV-RESTORE-KEY-HIDDEN too); one starting or ending there is gone (§5.6), as the
    /// reader's session phase says.
    fn on_step(&mut self, ctx: &Reading, _: usize, _: usize, step: &Step, _: &mut Vec<Violation>) {
        if matches!(step, Step::Relaunch { .. }) && ctx.session() == SessionPhase::Idle {
            self.oneclick = false;
            self.connected = false;
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Accepted(ApiCall::StartSession(StartParams { key, .. })) => {
                if matches!(ctx.key_asked(key), KeyAsked::VisitorId(_)) {
                    self.oneclick = true;
                    self.connected = false;
                }
            }
            Seen::Event {
                code: "EventConnectedToSession",
                ..
            } => self.connected = true,
            Seen::Event {
                code: "EventSessionEnded",
                ..
            } => {
                self.oneclick = false;
                self.connected = false;
            }
            Seen::Event {
                code: "EventStartSessionFailed",
                ..
            } if !self.connected => self.oneclick = false,
            Seen::Ui(UiDirective::Show {
                element: UiElement::SessionKey,
                ..
            }) if self.oneclick => {
                out.push(violation(
                    Invariant::KeyHiddenPresence,
                    rec.line,
                    "a session key was shown during a one-click session".to_owned(),
                ));
            }
            _ => {}
        }
    }
}
