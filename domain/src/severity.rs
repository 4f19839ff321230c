use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value was not one of `info`, `warning`, `critical`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of `info`, `warning`, `critical`, found `{0}`")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == text)
            .ok_or_else(|| UnknownSeverity(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// `text` parses as `expected`.
    fn check_parse(name: &str, text: &str, expected: Result<Severity, UnknownSeverity>) {
        assert_eq!(text.parse::<Severity>(), expected, "{name}: input {text:?}");
    }

    named_cases! {
        /// Severities parse from their lower-case names only.
        mod parses => check_parse;
        info("info", Ok(Severity::Info)),
        warning("warning", Ok(Severity::Warning)),
        critical("critical", Ok(Severity::Critical)),
        capitalised_is_refused("Critical", Err(UnknownSeverity("Critical".into()))),
        empty_is_refused("", Err(UnknownSeverity(String::new()))),
    }

    #[test]
    fn orders() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    }
}
