//! `prewarm-images`: pulls a list of upstream images through the cache ahead of need.
//!
//! The binary (`main.rs`) builds state once and runs the Lambda loop; [`handler`] maps an
//! event to the library's work and returns the report.

pub mod handler;
