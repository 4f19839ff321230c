//! Vulnerabilities in cached images: an `ECR Image Scan` event of an image under a managed
//! prefix becomes one finding, and so one alert, when a severity count is at or above its
//! profile's `scan_alert_severity`. The finding's resource is the image digest, so the alert
//! repeats gate (the state table) holds back a second alert for the same image; images outside
//! the cache are not the product's to alert on.

use crate::config::{Config, ScanAlertSeverity};
use crate::domain::markdown::code;
use crate::domain::{Check, Finding, Severity};
use crate::events::ImageScanned;

use super::desired::{Coverage, ManagedPrefixes};

/// The scan severities in the order findings name them.
const SEVERITY_ORDER: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNDEFINED",
];

/// What the scan of one image comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    /// Findings at or above the threshold.
    Alert(Finding),
    /// Nothing to alert; why, for the report.
    Quiet(String),
}

/// Decides on one scan event: pure.
pub fn assess(
    config: &Config,
    managed: &ManagedPrefixes,
    scan: &ImageScanned,
    region: Option<&str>,
) -> ScanVerdict {
    let name = &scan.repository_name;
    // A `ROOT`-scoped repository outside the prefixes may be an application's: only the
    // prefixes' own namespaces are the cache's for certain.
    if managed.coverage(name) != Coverage::Managed {
        return ScanVerdict::Quiet("outside the managed prefixes".to_owned());
    }
    if scan.scan_status != "COMPLETE" {
        return ScanVerdict::Quiet(format!("scan status {}", scan.scan_status));
    }
    let (_, profile) = config.hardening.profile_for(name);
    let threshold = profile.scan_alert_severity;
    if threshold == ScanAlertSeverity::Off {
        return ScanVerdict::Quiet("`scan_alert_severity` is `off`".to_owned());
    }
    let alerting = threshold.alerting();
    let over: u64 = scan
        .severity_counts
        .iter()
        .filter(|(severity, _)| alerting.contains(&severity.as_str()))
        .map(|(_, count)| *count)
        .sum();
    if over == 0 {
        return ScanVerdict::Quiet(format!("no finding at or above {}", threshold.as_str()));
    }
    ScanVerdict::Alert(finding(scan, threshold, region))
}

/// `CRITICAL 2, HIGH 5`: the counts, most severe first, unknown severities last.
pub fn counts_text(scan: &ImageScanned) -> String {
    let mut parts: Vec<String> = SEVERITY_ORDER
        .iter()
        .filter_map(|severity| {
            scan.severity_counts
                .get(*severity)
                .map(|count| format!("{severity} {count}"))
        })
        .collect();
    parts.extend(
        scan.severity_counts
            .iter()
            .filter(|(severity, _)| !SEVERITY_ORDER.contains(&severity.as_str()))
            .map(|(severity, count)| format!("{} {count}", code(severity))),
    );
    parts.join(", ")
}

fn finding(scan: &ImageScanned, threshold: ScanAlertSeverity, region: Option<&str>) -> Finding {
    let image = format!("{}@{}", scan.repository_name, scan.image_digest);
    let tags = if scan.image_tags.is_empty() {
        "no tag".to_owned()
    } else {
        scan.image_tags
            .iter()
            .map(|tag| code(tag))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let severity = if scan.severity_counts.get("CRITICAL").copied().unwrap_or(0) > 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut finding = Finding::new(
        severity,
        Check::ImageVulnerabilities,
        image.clone(),
        format!(
            "cached image {} has vulnerabilities at or above {}",
            code(&image),
            threshold.as_str()
        ),
        format!(
            "the scan of cached image {} (tags: {tags}) found {}; every pull through the cache serves it",
            code(&image),
            counts_text(scan)
        ),
    )
    .with_next_steps([
        format!(
            "read the findings: {}",
            code(&crate::remedies::describe_image_scan_findings_command(
                &scan.repository_name,
                &scan.image_digest,
                region
            ))
        ),
        "pin a fixed upstream version, then pull it through the cache".to_owned(),
    ]);
    finding.resource_arn = scan.repository_arn.clone();
    finding
}

/// The run of an `ECR Image Scan` event: reads the managed prefixes (the rules, unless
/// `hardening.prefixes` names them), writes nothing, and reports the finding, if any, which
/// the handler sends as an alert through the repeats gate.
pub async fn image_scanned(
    ports: &impl crate::ports::PortSet,
    config: &Config,
    scan: &ImageScanned,
    dry_run: bool,
) -> Result<(super::HardenReport, crate::metrics::Metrics), crate::error::Error> {
    let managed = super::observe::managed_prefixes(ports.registry(), &config.hardening).await?;
    let verdict = assess(config, &managed, scan, ports.region());
    let mut report = super::HardenReport::new(super::FUNCTION.as_str(), dry_run);
    let mut metrics = crate::metrics::Metrics::new(super::FUNCTION.as_str());
    super::outcome::Tally::new(dry_run, true).finish(&mut report, &mut metrics);
    let not_alerted = match verdict {
        ScanVerdict::Alert(finding) => {
            tracing::info!(
                repository = %scan.repository_name,
                image_digest = %scan.image_digest,
                counts = %counts_text(scan),
                "vulnerable cached image alerted"
            );
            metrics.count("VulnerableImages", 1);
            report.push_finding(finding);
            None
        }
        ScanVerdict::Quiet(reason) => {
            tracing::info!(
                repository = %scan.repository_name,
                image_digest = %scan.image_digest,
                reason = %reason,
                "image scan not alerted"
            );
            Some(reason)
        }
    };
    report.details.trigger = Some(super::Trigger::ImageScan {
        repository: scan.repository_name.clone(),
        image_digest: scan.image_digest.clone(),
        scan_status: scan.scan_status.clone(),
        not_alerted,
    });
    Ok((report, metrics))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    fn scan(repository: &str, status: &str, counts: &[(&str, u64)]) -> ImageScanned {
        ImageScanned {
            repository_name: repository.to_owned(),
            image_digest: "sha256:abcd".to_owned(),
            image_tags: vec!["1.27".to_owned(), "stable`x".to_owned()],
            scan_status: status.to_owned(),
            severity_counts: counts
                .iter()
                .map(|(severity, count)| ((*severity).to_owned(), *count))
                .collect::<BTreeMap<_, _>>(),
            repository_arn: None,
        }
    }

    const CONFIG: &str = r#"
[hardening]
prefixes = ["docker-hub", "quay", "ROOT"]

[hardening.profiles.quay]
scan_alert_severity = "HIGH"

[hardening.profiles."docker-hub/team"]
scan_alert_severity = "off"
"#;

    /// `Some(severity)` when alerted, `None` with the reason's start otherwise.
    fn check(_name: &str, scanned: ImageScanned, expected: Result<Severity, &str>) {
        let config = Config::from_toml_str(CONFIG, Path::new("."), "test").expect("valid");
        let managed = ManagedPrefixes::resolve(config.hardening.prefixes.as_deref(), &[]);
        match (
            assess(&config, &managed, &scanned, Some("eu-west-1")),
            expected,
        ) {
            (ScanVerdict::Alert(finding), Ok(severity)) => {
                assert_eq!(finding.severity, severity);
                assert_eq!(finding.check, Check::ImageVulnerabilities);
                assert_eq!(
                    finding.resource,
                    format!("{}@sha256:abcd", scanned.repository_name)
                );
            }
            (ScanVerdict::Quiet(reason), Err(expected)) => {
                assert!(reason.starts_with(expected), "{reason}");
            }
            (verdict, expected) => panic!("got {verdict:?}, expected {expected:?}"),
        }
    }

    crate::named_cases! {
        /// A count at or above the profile's threshold alerts; the default is `CRITICAL`.
        mod scans_alert_at_the_profile_threshold => check;
        critical_by_default(scan("docker-hub/library/nginx", "COMPLETE", &[("CRITICAL", 1)]), Ok(Severity::Critical)),
        high_below_the_default(scan("docker-hub/library/nginx", "COMPLETE", &[("HIGH", 4), ("LOW", 9)]), Err("no finding at or above CRITICAL")),
        high_where_high_is_the_threshold(scan("quay/prometheus/node-exporter", "COMPLETE", &[("HIGH", 4)]), Ok(Severity::Warning)),
        medium_where_high_is_the_threshold(scan("quay/prometheus/node-exporter", "COMPLETE", &[("MEDIUM", 4)]), Err("no finding at or above HIGH")),
        off_for_a_prefix(scan("docker-hub/team/app", "COMPLETE", &[("CRITICAL", 3)]), Err("`scan_alert_severity` is `off`")),
        no_counts_at_all(scan("docker-hub/library/nginx", "COMPLETE", &[]), Err("no finding")),
        failed_scan(scan("docker-hub/library/nginx", "FAILED", &[("CRITICAL", 3)]), Err("scan status FAILED")),
        outside_the_cache(scan("team/payments-api", "COMPLETE", &[("CRITICAL", 3)]), Err("outside the managed prefixes")),
        named_like_a_prefix(scan("docker-hub", "COMPLETE", &[("CRITICAL", 3)]), Err("outside the managed prefixes")),
    }

    #[test]
    fn the_alert_names_image_tags_counts_and_the_findings_command() {
        let config = Config::from_toml_str(CONFIG, Path::new("."), "test").expect("valid");
        let managed = ManagedPrefixes::resolve(config.hardening.prefixes.as_deref(), &[]);
        let scanned = scan(
            "docker-hub/library/nginx",
            "COMPLETE",
            &[("MEDIUM", 9), ("CRITICAL", 2), ("Weird", 1)],
        );
        let ScanVerdict::Alert(finding) = assess(&config, &managed, &scanned, Some("eu-west-1"))
        else {
            panic!("alerted");
        };
        assert!(
            finding.message.contains("(tags: `1.27`, ``stable`x``)"),
            "{}",
            finding.message
        );
        assert!(
            finding
                .message
                .contains("found CRITICAL 2, MEDIUM 9, `Weird` 1"),
            "{}",
            finding.message
        );
        assert_eq!(
            finding.next_steps[0],
            "read the findings: `aws ecr describe-image-scan-findings --repository-name docker-hub/library/nginx --image-id imageDigest=sha256:abcd --region eu-west-1`"
        );
    }
}
