//! When a token stops working: where that is known from, and how close it is.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use crate::config::CredentialsConfig;
use crate::domain::Severity;

const SECONDS_PER_DAY: i64 = 86_400;

/// Where a known expiry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExpirySource {
    /// The secret's expiry tag.
    Tag,
    /// `GitHub-Authentication-Token-Expiration` on an authenticated REST call.
    Github,
    /// GitLab's `personal_access_tokens/self`.
    Gitlab,
    /// Docker Hub's access-token list.
    DockerHub,
}

impl ExpirySource {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpirySource::Tag => "tag",
            ExpirySource::Github => "github",
            ExpirySource::Gitlab => "gitlab",
            ExpirySource::DockerHub => "docker-hub",
        }
    }
}

/// What a source said about the token's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownExpiry {
    /// `None`: the source says the token never expires.
    pub at: Option<DateTime<Utc>>,
    pub source: ExpirySource,
}

/// The thresholds of `[credentials]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub warn_days: u32,
    pub critical_days: u32,
    pub max_age_days: u32,
}

impl From<&CredentialsConfig> for Thresholds {
    fn from(config: &CredentialsConfig) -> Self {
        Thresholds {
            warn_days: config.warn_days,
            critical_days: config.critical_days,
            max_age_days: config.max_age_days,
        }
    }
}

/// An expiry tag value: `YYYY-MM-DD` (the start of that day, UTC: the earliest reading, so
/// the warning is never late) or RFC 3339.
pub fn parse_expiry_tag(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(start_of_day(date));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// GitHub's `GitHub-Authentication-Token-Expiration` value (`2027-10-07 19:07:53 UTC`); an
/// offset instead of `UTC` and RFC 3339 are read too.
pub fn parse_github_expiration(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(naive) = text.strip_suffix(" UTC") {
        if let Ok(time) = NaiveDateTime::parse_from_str(naive.trim(), "%Y-%m-%d %H:%M:%S") {
            return Some(Utc.from_utc_datetime(&time));
        }
    }
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// An API's `expires_at`: a date (GitLab) or RFC 3339 (Docker Hub).
pub fn parse_api_expiry(text: &str) -> Option<DateTime<Utc>> {
    parse_expiry_tag(text)
}

/// How a discovered expiry is written to the tag: a date when it falls at midnight, else
/// RFC 3339 to the second.
pub fn tag_value(at: DateTime<Utc>) -> String {
    if at == start_of_day(at.date_naive()) {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN))
}

/// Whole days until `at`, rounded up (a token that ends in 2.5 days has "3 days left"); zero
/// or less once it has ended.
pub fn days_left(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let seconds = (at - now).num_seconds();
    seconds.div_euclid(SECONDS_PER_DAY) + i64::from(seconds.rem_euclid(SECONDS_PER_DAY) > 0)
}

/// Whole days since `since`, rounded down.
pub fn age_days(since: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - since).num_seconds().div_euclid(SECONDS_PER_DAY)
}

/// How close a known end is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    Expired,
    /// Within `critical_days`.
    Critical,
    /// Within `warn_days`.
    Soon,
    Later,
}

impl ExpiryStatus {
    pub fn of(at: DateTime<Utc>, now: DateTime<Utc>, thresholds: Thresholds) -> Self {
        let days = days_left(at, now);
        if at <= now {
            ExpiryStatus::Expired
        } else if days <= i64::from(thresholds.critical_days) {
            ExpiryStatus::Critical
        } else if days <= i64::from(thresholds.warn_days) {
            ExpiryStatus::Soon
        } else {
            ExpiryStatus::Later
        }
    }

    /// The severity of its finding; `None` needs no finding.
    pub fn severity(self) -> Option<Severity> {
        match self {
            ExpiryStatus::Expired | ExpiryStatus::Critical => Some(Severity::Critical),
            ExpiryStatus::Soon => Some(Severity::Warning),
            ExpiryStatus::Later => None,
        }
    }

    /// Within `warn_days` or past: what `CredentialsExpiringSoon` counts.
    pub fn is_due(self) -> bool {
        self != ExpiryStatus::Later
    }
}

/// Whether a value this many days old breaks the age policy (applies when no expiry is known).
pub fn is_too_old(age_days: i64, thresholds: Thresholds) -> bool {
    age_days > i64::from(thresholds.max_age_days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;
    use chrono::Duration;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    /// The expiry tag value `text` reads as the time `expected`, or not at all.
    fn check_expiry_tag(name: &str, text: &str, expected: Option<&str>) {
        assert_eq!(
            parse_expiry_tag(text),
            expected.map(time),
            "{name}: tag value {text:?}"
        );
    }

    named_cases! {
        /// Expiry tags: a date, an RFC 3339 time, nothing else.
        mod parses_expiry_tags => check_expiry_tag;
        date_is_midnight_utc("2026-05-01", Some("2026-05-01T00:00:00Z")),
        surrounding_spaces_are_trimmed(" 2026-05-01 ", Some("2026-05-01T00:00:00Z")),
        utc_time("2026-05-01T12:30:00Z", Some("2026-05-01T12:30:00Z")),
        time_with_an_offset_is_converted_to_utc(
            "2026-05-01T12:30:00+02:00",
            Some("2026-05-01T10:30:00Z"),
        ),
        impossible_date_is_refused("2026-02-30", None),
        day_month_year_is_refused("01/05/2026", None),
        words_are_refused("next year", None),
        empty_is_refused("", None),
    }

    /// GitHub's expiration header `text` reads as the time `expected`, or not at all.
    fn check_github_expiration(name: &str, text: &str, expected: Option<&str>) {
        assert_eq!(
            parse_github_expiration(text),
            expected.map(time),
            "{name}: header {text:?}"
        );
    }

    named_cases! {
        /// GitHub expiration headers, in each spelling GitHub uses or might.
        mod parses_github_expiration_headers => check_github_expiration;
        utc_name("2027-10-07 19:07:53 UTC", Some("2027-10-07T19:07:53Z")),
        zero_offset("2027-10-07 19:07:53 +0000", Some("2027-10-07T19:07:53Z")),
        other_offset_is_converted_to_utc("2027-10-07 21:07:53 +0200", Some("2027-10-07T19:07:53Z")),
        rfc_3339("2027-10-07T19:07:53Z", Some("2027-10-07T19:07:53Z")),
        words_are_refused("soon", None),
    }

    #[test]
    fn writes_tag_values_that_read_back() {
        for (at, expected) in [
            ("2027-10-07T00:00:00Z", "2027-10-07"),
            ("2027-10-07T19:07:53Z", "2027-10-07T19:07:53Z"),
        ] {
            assert_eq!(tag_value(time(at)), expected);
            assert_eq!(parse_expiry_tag(expected), Some(time(at)));
        }
    }

    #[test]
    fn grades_expiry_and_age() {
        let thresholds = Thresholds {
            warn_days: 30,
            critical_days: 7,
            max_age_days: 365,
        };
        let now = time("2026-03-10T12:00:00Z");
        let check = |at: DateTime<Utc>, days: i64, status: ExpiryStatus, severity| {
            assert_eq!(days_left(at, now), days, "at {at}");
            let got = ExpiryStatus::of(at, now, thresholds);
            assert_eq!(got, status, "at {at}");
            assert_eq!(got.severity(), severity, "at {at}");
        };
        check(
            now + Duration::days(3),
            3,
            ExpiryStatus::Critical,
            Some(Severity::Critical),
        );
        check(
            now + Duration::days(7),
            7,
            ExpiryStatus::Critical,
            Some(Severity::Critical),
        );
        check(
            now + Duration::days(8),
            8,
            ExpiryStatus::Soon,
            Some(Severity::Warning),
        );
        check(
            now + Duration::days(20),
            20,
            ExpiryStatus::Soon,
            Some(Severity::Warning),
        );
        check(
            now + Duration::days(30),
            30,
            ExpiryStatus::Soon,
            Some(Severity::Warning),
        );
        check(now + Duration::days(31), 31, ExpiryStatus::Later, None);
        check(now + Duration::days(200), 200, ExpiryStatus::Later, None);
        // A date tag three days ahead starts at midnight: 2.5 days, read as 3.
        check(
            time("2026-03-13T00:00:00Z"),
            3,
            ExpiryStatus::Critical,
            Some(Severity::Critical),
        );
        check(now, 0, ExpiryStatus::Expired, Some(Severity::Critical));
        check(
            now - Duration::hours(12),
            0,
            ExpiryStatus::Expired,
            Some(Severity::Critical),
        );
        check(
            now - Duration::days(5),
            -5,
            ExpiryStatus::Expired,
            Some(Severity::Critical),
        );
        assert_eq!(age_days(now - Duration::hours(47), now), 1);
        assert_eq!(age_days(now - Duration::days(400), now), 400);
    }

    /// A secret `age` days old is too old under the grading thresholds, or not.
    fn check_age(name: &str, age: i64, too_old: bool) {
        let thresholds = Thresholds {
            warn_days: 30,
            critical_days: 7,
            max_age_days: 365,
        };
        assert_eq!(is_too_old(age, thresholds), too_old, "{name}: age {age}");
    }

    named_cases! {
        /// Secrets are too old only past `max_age_days` (365).
        mod grades_age => check_age;
        new_secret(0, false),
        exactly_the_maximum_age(365, false),
        one_day_past_the_maximum_age(366, true),
        well_past_the_maximum_age(400, true),
    }
}
