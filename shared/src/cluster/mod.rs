//! The cluster tools: what runs in the clusters that pull through the cache, read from outside
//! it. They share one image model ([`crate::domain::ImageReference`] and its parts) and the one
//! cache mapping of the domain ([`crate::domain::CacheMapping`]).
//!
//! - [`audit`]: which images of a cluster bypass the cache (`ptc audit`).
//! - [`kyverno`]: a Kyverno policy that rewrites Pod images to the cache, from the rules.
//! - [`manifests`]: image references in manifests, values files and Dockerfiles, and their
//!   rewrite (`ptc manifests`).

pub mod audit;
pub mod kyverno;
pub mod manifests;
