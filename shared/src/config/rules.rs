//! `[rules]`: which PTC rules `validate-cache-rules` leaves alone.

use super::hardening::{parse_rule_prefix, report_duplicates};
use super::reader::{Field, Problems, Section};

/// Settings of `[rules]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    /// PTC rule prefixes not validated (e.g. a rule being migrated); `ROOT` for the root rule.
    pub skip_prefixes: Vec<String>,
}

pub(crate) fn read_rules(mut section: Section<'_>, problems: &mut Problems) -> Option<RulesConfig> {
    let skip_prefixes_path = section.path_of("skip_prefixes");
    let skip_prefixes = section.list("skip_prefixes", problems, parse_rule_prefix);
    if let Field::Present(list) = &skip_prefixes {
        report_duplicates(&skip_prefixes_path, list, problems);
    }
    section.finish(problems);
    Some(RulesConfig {
        skip_prefixes: skip_prefixes.or(Vec::new())?,
    })
}
