//! The visitor's init: `INV-GROUP-STABLE`, `INV-INIT-FIRST`, `INV-PRESENCE-NEEDS-ID`.

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::{ApiCall, UiDirective, UiElement};

/// `INV-GROUP-STABLE`: every non-refused `init_visitor` carries the reference group id: the
/// config line's when the trace has one (it says which group the app is for), else the first
/// non-refused `init_visitor`'s. With a config line it must carry the first one's too (the
/// contract's wording), so that after a first init with another group a later one with the
/// config's is flagged as well: the visitor was split across two groups. Refused calls are
/// not judged.
#[derive(Clone, Debug, Default)]
pub(super) struct GroupStable {
    /// The group id of the first non-refused `init_visitor`.
    first: Option<i32>,
}

impl Check for GroupStable {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let Seen::Accepted(ApiCall::InitVisitor(p)) = rec.seen else {
            return;
        };
        let first = *self.first.get_or_insert(p.group_id);
        let message = match ctx.config_group() {
            Some(g) if g != p.group_id => format!(
                "init_visitor with group id {} was accepted, but the config's group id is {g}",
                p.group_id
            ),
            _ if first != p.group_id => format!(
                "init_visitor with group id {} was accepted after the first one's {first}",
                p.group_id
            ),
            _ => return,
        };
        out.push(violation(Invariant::GroupStable, rec.line, message));
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
            Seen::Accepted(ApiCall::PresenceConnect { .. }) => {
                "presence_connect was accepted before the first EventVisitorInitialized"
            }
            Seen::Accepted(ApiCall::StartSession(_)) => {
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
        if matches!(rec.seen, Seen::Accepted(ApiCall::PresenceConnect { .. }))
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
