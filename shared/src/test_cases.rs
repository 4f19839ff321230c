//! Named cases for table tests: the macro lives with the pure domain
//! (`ptc_ops_domain::named_cases!`, documented there); this module names it for the crate's own
//! tests, and the crate root re-exports it (`ptc_ops::named_cases!`) for the other crates' tests.

#[allow(unused_imports)] // used by the unit tests, which are not in every build
pub(crate) use ptc_ops_domain::named_cases;
