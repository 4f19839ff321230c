//! Named cases for table tests: one `#[test]` per row, so a failing row names itself and the
//! other rows still run (the `check(input, expected)` helper stays the one place that asserts).
//!
//! ```ignore
//! fn check_url(name: &str, text: &str, expected: Result<&str, &str>) { … }
//!
//! named_cases! {
//!     /// Upstream API URLs go where they say.
//!     mod upstream_urls => check_url;
//!     public_api("https://api.github.com", Ok("api.github.com")),
//!     query("https://api.github.com?x=1", Err("no query or fragment")),
//! }
//! ```
//!
//! expands to `mod upstream_urls { #[test] fn public_api() { check_url("public_api", …) } … }`,
//! so `cargo test upstream_urls::query` runs one row and the failure line says which.

/// See the module documentation. Exported (`ptc_ops_domain::named_cases!`, re-exported as
/// `ptc_ops::named_cases!`) for the tests of the other workspace crates.
#[macro_export]
macro_rules! named_cases {
    (
        $(#[$group_attr:meta])*
        mod $group:ident => $check:path;
        $(
            $(#[$case_attr:meta])*
            $case:ident ( $($argument:expr),* $(,)? )
        ),+ $(,)?
    ) => {
        $(#[$group_attr])*
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$case_attr])*
                #[test]
                fn $case() {
                    $check(stringify!($case), $($argument),*);
                }
            )+
        }
    };
}
