//! `check-credentials`: format, expiry and age checks of the upstream credential secrets.
//!
//! The binary (`main.rs`) builds state once and runs the Lambda loop; [`handler`] maps an
//! event to the library's work and returns the report.

pub mod handler;
