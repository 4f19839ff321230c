//! `validate-cache-rules`: validates every pull-through cache rule and cross-checks its secret.
//!
//! The binary (`main.rs`) builds state once and runs the Lambda loop; [`handler`] maps an
//! event to the library's work and returns the report.

pub mod handler;
