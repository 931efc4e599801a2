//! The one-click terms: `INV-TERMS-ORDER`, `INV-CONSENT`.

use super::Check;
use crate::oracle::reader::{Judged, KeyAsked, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::{ApiCall, StartParams, TermsStatus, TERMS_EVENT};

/// The terms status a non-refused call signals, if it is `presence_signal_agent("terms", …)`
/// with a known status.
fn terms_signal(seen: Seen<'_>) -> Option<TermsStatus> {
    match seen {
        Seen::Accepted(ApiCall::PresenceSignalAgent { event, map }) if event == TERMS_EVENT => {
            map.get("status").and_then(|s| TermsStatus::parse(s))
        }
        _ => None,
    }
}

/// A new terms request (`EventPresenceShowTerms`).
fn shows_terms(seen: Seen<'_>) -> bool {
    matches!(
        seen,
        Seen::Event {
            code: "EventPresenceShowTerms",
            ..
        }
    )
}

/// The one-click terms request, as the transcript shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TermsPhase {
    /// No `EventPresenceShowTerms` yet.
    #[default]
    NoRequest,
    /// `EventPresenceShowTerms` seen, `displayed` not yet signalled.
    Shown,
    /// `displayed` signalled.
    Displayed,
    /// Answered.
    Answered,
}

/// `INV-TERMS-ORDER`: after `EventPresenceShowTerms`, `displayed` before `accepted` /
/// `declined`, and at most one answer per request.
#[derive(Clone, Debug, Default)]
pub(super) struct TermsOrder {
    phase: TermsPhase,
}

impl Check for TermsOrder {
    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if shows_terms(rec.seen) {
            self.phase = TermsPhase::Shown;
            return;
        }
        let Some(status) = terms_signal(rec.seen) else {
            return;
        };
        match (status, self.phase) {
            (TermsStatus::Displayed, TermsPhase::Shown) => self.phase = TermsPhase::Displayed,
            (TermsStatus::Displayed, _) => {}
            (answer, phase) => {
                let problem = match phase {
                    TermsPhase::Displayed => None,
                    TermsPhase::Shown => Some("before terms `displayed` was signalled"),
                    TermsPhase::Answered => Some("but the request was already answered"),
                    TermsPhase::NoRequest => Some("with no terms request displayed"),
                };
                if let Some(problem) = problem {
                    out.push(violation(
                        Invariant::TermsOrder,
                        rec.line,
                        format!("terms `{}` was signalled {problem}", answer.as_str()),
                    ));
                }
                if phase != TermsPhase::NoRequest {
                    self.phase = TermsPhase::Answered;
                }
            }
        }
    }
}

/// `INV-CONSENT`: a one-click `start_session` only while an `accepted` answer for a pending
/// request is unconsumed; none after `declined`. Consent is for one session of that visitor
/// id on that presence connection: an accepted `presence_disconnect`, an
/// `EventPresenceDisconnected`, an accepted `init_visitor` with another visitor id, or the
/// accepted start of any session voids it. The first three end the presence connection or
/// the visitor, and with them the pending request; a start leaves an unanswered request
/// pending. The consent policy's grant (§3.3a): an `EventPresenceStartSession` that
/// INV-CONSENT-POLICY allows grants one start the same way (a later `EventPresenceShowTerms`
/// replaces it, as any new request does).
#[derive(Clone, Debug, Default)]
pub(super) struct Consent {
    /// An `EventPresenceShowTerms` came, not yet answered or voided.
    pending: bool,
    /// An `accepted` answer for the latest request, not yet consumed or voided.
    consent: bool,
    /// The latest request was declined.
    declined: bool,
}

impl Consent {
    /// The consent and the request are void.
    fn void(&mut self) {
        self.pending = false;
        self.consent = false;
        self.declined = false;
    }
}

impl Check for Consent {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if shows_terms(rec.seen) {
            self.pending = true;
            self.consent = false;
            self.declined = false;
            return;
        }
        match rec.seen {
            Seen::Event {
                code: "EventPresenceStartSession",
                ..
            } => {
                // the policy's grant, when both sides opted in; else no grant at all (and
                // INV-CONSENT-POLICY names the event)
                self.pending = false;
                self.declined = false;
                self.consent = ctx.agent_start_allowed();
                return;
            }
            Seen::Accepted(ApiCall::StartSession(StartParams { key, .. })) => {
                if !matches!(ctx.key_asked(key), KeyAsked::VisitorId(_)) {
                    // any session's start voids the consent (not a request still unanswered)
                    self.consent = false;
                    return;
                }
                if self.consent {
                    self.consent = false;
                    return;
                }
                let why = if self.declined {
                    "the customer declined the latest request"
                } else {
                    "no accepted terms answer for a pending request is unconsumed on this presence connection"
                };
                out.push(violation(
                    Invariant::Consent,
                    rec.line,
                    format!("a one-click start_session was accepted but {why}"),
                ));
                return;
            }
            Seen::Accepted(ApiCall::PresenceDisconnect)
            | Seen::Event {
                code: "EventPresenceDisconnected",
                ..
            } => {
                self.void();
                return;
            }
            Seen::Accepted(ApiCall::InitVisitor(p)) => {
                if p.visitor_id.as_deref() != ctx.visitor_id() {
                    self.void();
                }
                return;
            }
            _ => {}
        }
        match terms_signal(rec.seen) {
            Some(TermsStatus::Accepted) if self.pending && !self.declined => {
                self.consent = true;
                self.pending = false;
            }
            Some(TermsStatus::Declined) if self.pending => {
                self.declined = true;
                self.consent = false;
                self.pending = false;
            }
            _ => {}
        }
    }
}
