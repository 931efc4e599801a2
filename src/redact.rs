//! Keeping the visitor's secrets out of traces: one rule, [`Redaction`], used by the driver
//! for everything it hands out and public so that other tools (a CLI printing transcripts,
//! an app's logger) apply exactly the same one.
//!
//! What is secret is what the app passes to `init_visitor` and the core puts in the `init`
//! frame: the authentication `token` (always a secret), and the visitor's `name`, `email`
//! and `phone` (personal data). A redacted field is replaced by [`PLACEHOLDER`]
//! (`"<redacted>"`); an empty field stays empty (there is nothing to hide, and an empty
//! field keeps meaning "not given"). Nothing else is touched: group ids, visitor ids and
//! session keys are identifiers an operator needs to read a trace.
//!
//! | [`Redaction`] | `token` | `name`, `email`, `phone` |
//! | --- | --- | --- |
//! | [`Redaction::ALL`] (the driver's default) | `<redacted>` | `<redacted>` |
//! | [`Redaction::TOKEN`] | `<redacted>` | kept |
//! | [`Redaction::OFF`] | kept | kept |
//!
//! The tokio driver applies it to every frame it hands out in its trace notifications, and
//! `cobrowse run --redact` to the transcript's `api` and `send` records; the core's errors
//! name fields, never their values.

use crate::api::{ApiCall, InitParams};
use crate::frames::ClientFrame;

/// What a redacted field becomes.
pub const PLACEHOLDER: &str = "<redacted>";

/// Which of the visitor's secrets to hide from traces: the `init` frame's and `init_visitor`'s
/// `token` (always a secret) and `name`, `email`, `phone` (personal data), each replaced by
/// [`PLACEHOLDER`] when not empty; group ids, visitor ids and session keys are kept.
///
/// | constant | `token` | `name`, `email`, `phone` |
/// | --- | --- | --- |
/// | [`Redaction::ALL`] (the driver's default) | `<redacted>` | `<redacted>` |
/// | [`Redaction::TOKEN`] | `<redacted>` | kept |
/// | [`Redaction::OFF`] | kept | kept |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Redaction {
    token: bool,
    personal: bool,
}

impl Default for Redaction {
    /// [`Redaction::ALL`].
    fn default() -> Self {
        Redaction::ALL
    }
}

impl Redaction {
    /// Hide the token and the visitor's name, email and phone (the default).
    pub const ALL: Redaction = Redaction {
        token: true,
        personal: true,
    };
    /// Hide the token only.
    pub const TOKEN: Redaction = Redaction {
        token: true,
        personal: false,
    };
    /// Hide nothing (for tests that compare full transcripts, or a developer's own
    /// debugging).
    pub const OFF: Redaction = Redaction {
        token: false,
        personal: false,
    };

    /// Whether anything is hidden.
    pub fn is_on(self) -> bool {
        self.token || self.personal
    }

    /// `frame` with its secrets replaced by [`PLACEHOLDER`] (only `init` has any).
    pub fn redact_frame(self, frame: &ClientFrame) -> ClientFrame {
        match frame {
            ClientFrame::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            } => ClientFrame::Init {
                v: *v,
                group_id: *group_id,
                token: self.field(self.token, token),
                name: self.field(self.personal, name),
                email: self.field(self.personal, email),
                phone: self.field(self.personal, phone),
                visitor_id: visitor_id.clone(),
            },
            other => other.clone(),
        }
    }

    /// `call` with its secrets replaced by [`PLACEHOLDER`] (only `init_visitor` has any).
    pub fn redact_call(self, call: &ApiCall) -> ApiCall {
        match call {
            ApiCall::InitVisitor(p) => ApiCall::InitVisitor(InitParams {
                group_id: p.group_id,
                token: self.field(self.token, &p.token),
                name: self.field(self.personal, &p.name),
                email: self.field(self.personal, &p.email),
                phone: self.field(self.personal, &p.phone),
                visitor_id: p.visitor_id.clone(),
            }),
            other => other.clone(),
        }
    }

    fn field(self, hide: bool, value: &str) -> String {
        if hide && !value.is_empty() {
            PLACEHOLDER.to_owned()
        } else {
            value.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> InitParams {
        InitParams {
            group_id: 19921,
            token: "tok-s3cret".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            phone: "+44 20 7946 0000".into(),
            visitor_id: Some("cust-42".into()),
        }
    }

    #[test]
    fn all_token_off() {
        let call = ApiCall::InitVisitor(params());
        let ApiCall::InitVisitor(all) = Redaction::ALL.redact_call(&call) else {
            unreachable!()
        };
        assert_eq!(
            (&*all.token, &*all.name, &*all.email, &*all.phone),
            (PLACEHOLDER, PLACEHOLDER, PLACEHOLDER, PLACEHOLDER)
        );
        assert_eq!(all.visitor_id.as_deref(), Some("cust-42"));
        let ApiCall::InitVisitor(token) = Redaction::TOKEN.redact_call(&call) else {
            unreachable!()
        };
        assert_eq!(token.token, PLACEHOLDER);
        assert_eq!(token.name, "Ada Lovelace");
        assert_eq!(Redaction::OFF.redact_call(&call), call);
    }

    #[test]
    fn empty_fields_stay_empty_and_other_frames_are_untouched() {
        let frame = ClientFrame::Init {
            v: 1,
            group_id: 1,
            token: String::new(),
            name: String::new(),
            email: "a@b.c".into(),
            phone: String::new(),
            visitor_id: None,
        };
        let ClientFrame::Init { token, email, .. } = Redaction::ALL.redact_frame(&frame) else {
            unreachable!()
        };
        assert_eq!(token, "");
        assert_eq!(email, PLACEHOLDER);
        let other = ClientFrame::ResumeSession {
            sessionkey: "1234".into(),
        };
        assert_eq!(Redaction::ALL.redact_frame(&other), other);
    }
}
