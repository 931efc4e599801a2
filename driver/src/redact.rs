//! What the driver keeps out of traces: the rule is the core's [`Redaction`]
//! (`token`, `name`, `email`, `phone` of `init`, as [`PLACEHOLDER`]); the driver applies it to
//! [`Notification::Sent`](crate::Notification::Sent) (the only notification that can carry
//! these fields) and keeps URLs out of `Debug` output and errors. Its
//! [`ConnectError`](crate::ConnectError)s and [`LinkError`](crate::LinkError)s carry no URL
//! path or query and nothing the app sent; [`DriverConfig`](crate::DriverConfig)'s `Debug`
//! shows the URL without its user info, path or query unless redaction is off.

pub use cobrowse_visitor_core::{Redaction, PLACEHOLDER};

/// `url` as safe to show: scheme, host and port, without user info, path or query (which
/// may carry credentials).
pub(crate) fn redact_url(url: &str) -> String {
    match url.parse::<tokio_tungstenite::tungstenite::http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                let host_port = authority
                    .as_str()
                    .rsplit_once('@')
                    .map_or(authority.as_str(), |(_, hp)| hp);
                let rest = if uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
                    format!("/{PLACEHOLDER}")
                } else {
                    "/".to_owned()
                };
                format!("{scheme}://{host_port}{rest}")
            }
            _ => PLACEHOLDER.to_owned(),
        },
        Err(_) => PLACEHOLDER.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_user_info_path_and_query() {
        assert_eq!(
            redact_url("wss://user:pw@cobrowse.example:443/ws?token=s3cret"),
            "wss://cobrowse.example:443/<redacted>"
        );
        assert_eq!(redact_url("ws://127.0.0.1:4000/"), "ws://127.0.0.1:4000/");
        assert_eq!(redact_url("::not a url::"), PLACEHOLDER);
    }
}
