//! `harden-repository`: brings every cached repository to the desired state of its profile.
//!
//! The binary (`main.rs`) builds state once and runs the Lambda loop; [`handler`] maps an
//! event to the library's work and returns the report.

pub mod handler;
