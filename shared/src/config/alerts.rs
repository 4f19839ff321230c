//! `[alerts]`: where findings go and from which severity on.

use std::fmt;

use crate::domain::Severity;

use super::reader::{Problems, Section};

/// Settings of `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// `None`: alerts are only logged (no topic in the file and no `PTC_ALERT_TOPIC_ARN`).
    pub topic_arn: Option<SnsTopicArn>,
    /// Findings below this severity are reported but not published.
    pub min_severity: Severity,
    /// An alert with the thread, check and resource of one sent less than this long ago is
    /// held back (needs the state table); 0 sends every alert.
    pub repeat_after_minutes: u32,
}

/// Default of `alerts.repeat_after_minutes`: a storm of one failure reaches chat once an hour.
pub const DEFAULT_REPEAT_AFTER_MINUTES: u32 = 60;
/// Upper bound of `alerts.repeat_after_minutes`: a week. A longer silence would hide that a
/// problem is still there; a report still lists every finding.
pub const MAX_REPEAT_AFTER_MINUTES: i64 = 7 * 24 * 60;

/// An SNS topic ARN, `arn:<partition>:sns:<region>:<account id>:<topic name>`, checked so that a
/// typo fails at init rather than on the first alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsTopicArn(String);

impl SnsTopicArn {
    /// Checks the ARN's shape; the error says what was expected (without the value, which the
    /// caller shows as "found …").
    pub fn parse(text: &str) -> Result<SnsTopicArn, String> {
        const SHAPE: &str =
            "expected an SNS topic ARN `arn:<partition>:sns:<region>:<12-digit account id>:<topic name>`";
        let parts: Vec<&str> = text.split(':').collect();
        let [arn, partition, service, region, account_id, topic_name] = parts.as_slice() else {
            return Err(SHAPE.to_owned());
        };
        let is_word = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        let topic_name_ok = {
            let base = topic_name.strip_suffix(".fifo").unwrap_or(topic_name);
            (1..=256).contains(&topic_name.len())
                && !base.is_empty()
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let valid = *arn == "arn"
            && is_word(partition)
            && *service == "sns"
            && is_word(region)
            && account_id.len() == 12
            && account_id.chars().all(|c| c.is_ascii_digit())
            && topic_name_ok;
        if valid {
            Ok(SnsTopicArn(text.to_owned()))
        } else {
            Err(SHAPE.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region of the topic: the SNS client must publish there.
    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }
}

impl fmt::Display for SnsTopicArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn read_alerts(
    mut section: Section<'_>,
    problems: &mut Problems,
) -> Option<AlertsConfig> {
    let topic_arn = section.string("topic_arn", problems, SnsTopicArn::parse);
    let severities = Severity::ALL.map(|severity| (severity.as_str(), severity));
    let min_severity = section.choice("min_severity", &severities, problems);
    let repeat_after_minutes = section.integer_in(
        "repeat_after_minutes",
        0..=MAX_REPEAT_AFTER_MINUTES,
        problems,
    );
    section.finish(problems);
    Some(AlertsConfig {
        topic_arn: topic_arn.optional()?,
        min_severity: min_severity.or(Severity::Warning)?,
        repeat_after_minutes: repeat_after_minutes.or(DEFAULT_REPEAT_AFTER_MINUTES)?,
    })
}
