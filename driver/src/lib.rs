//! A tokio + WebSocket IO driver for the sans-IO visitor core.
#![forbid(unsafe_code)]
