//! The adapter of the [`crate::ports::Upstream`] port: the one HTTPS client every request with
//! a credential goes through ([`http`]: HTTPS only, to the host the URL names, bounded by the
//! deadline).

pub mod http;

pub use http::{HttpTimeouts, UpstreamHttp};
