//! Upstream registries' own APIs, spoken over HTTPS: the one client every request with a
//! credential goes through ([`http`]: HTTPS only, to the host the URL names, bounded by the
//! deadline), and what GitHub, GitLab and Docker Hub say about a token's expiry
//! ([`token_expiry`]). The credential checks use them; nothing else talks to an upstream.

pub mod http;
pub mod token_expiry;

pub use http::{HttpTimeouts, UpstreamHttp};
