//! The visitor's init: `INV-GROUP-STABLE`, `INV-INIT-FIRST`, `INV-PRESENCE-NEEDS-ID`.

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::{ApiCall, UiDirective, UiElement};

/// `INV-GROUP-STABLE`: every non-refused `init_visitor` carries the first one's group id.
#[derive(Clone, Debug, Default)]
pub(super) struct GroupStable {
    /// The group id of the first non-refused `init_visitor`.
    group: Option<u32>,
}

impl Check for GroupStable {
    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let Seen::Accepted(ApiCall::InitVisitor(p)) = rec.seen else {
            return;
        };
        match self.group {
            None => self.group = Some(p.group_id),
            Some(g) if g != p.group_id => out.push(violation(
                Invariant::GroupStable,
                rec.line,
                format!(
                    "init_visitor with group id {} was accepted after the first one's {g}",
                    p.group_id
                ),
            )),
            Some(_) => {}
        }
    }
}

/// `INV-INIT-FIRST`: no non-refused `start_session` or `presence_connect`, no shown cobrowse
/// button, before the first `EventVisitorInitialized`.
#[derive(Clone, Debug, Default)]
pub(super) struct InitFirst;

impl Check for InitFirst {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if ctx.initialized() {
            return;
        }
        let message = match rec.seen {
            Seen::Accepted(ApiCall::PresenceConnect) => {
                "presence_connect was accepted before the first EventVisitorInitialized"
            }
            Seen::Accepted(ApiCall::StartSession { .. }) => {
                "start_session was accepted before the first EventVisitorInitialized"
            }
            Seen::Ui(UiDirective::Show {
                element: UiElement::CobrowseButton,
                ..
            }) => "the cobrowse button was shown before the first EventVisitorInitialized",
            _ => return,
        };
        out.push(violation(
            Invariant::InitFirst,
            rec.line,
            message.to_owned(),
        ));
    }
}

/// `INV-PRESENCE-NEEDS-ID`: a non-refused `presence_connect` only when the latest non-refused
/// `init_visitor` had a visitor id.
#[derive(Clone, Debug, Default)]
pub(super) struct PresenceNeedsId;

impl Check for PresenceNeedsId {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if matches!(rec.seen, Seen::Accepted(ApiCall::PresenceConnect))
            && ctx.visitor_id().is_none()
        {
            out.push(violation(
                Invariant::PresenceNeedsId,
                rec.line,
                "presence_connect was accepted though the latest init_visitor had no visitor id"
                    .to_owned(),
            ));
        }
    }
}
