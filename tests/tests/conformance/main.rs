//! Conformance: the AWS behaviours the product relies on, as checks anyone can run.
//!
//! By default against the local emulator (and `make test` runs them so); with
//! `PTC_CONFORMANCE_REAL=1`, `AWS_REGION` and ordinary AWS credentials, the same checks run
//! against a real account (`make conformance`), creating and deleting only resources named
//! `ptc-conformance-*`. Where no AWS page settles a behaviour the emulator answers strictly and
//! a real run records the account's answer (`target/tmp/conformance-answers.jsonl`) instead of
//! failing.

mod lifecycle;
mod pull_through;
mod registry;
mod target;
