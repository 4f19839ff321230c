//! The hand-off with an in-memory fake: what a sweep's last step records and alerts, without
//! Lambda or the emulator.

use std::sync::Mutex;

use futures::future::BoxFuture;

use super::*;

/// Records what it was asked to hand on; answers `Ok(target)` or fails like Lambda would.
struct FakeHandOff {
    target: Option<&'static str>,
    seen: Mutex<Vec<HardenRequest>>,
}

impl HandOff for FakeHandOff {
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(request.clone());
            match self.target {
                Some(target) => Ok(target.to_owned()),
                None => Err(AwsError::invalid_request(
                    "lambda:InvokeFunction",
                    Some("harden-repository"),
                    std::io::Error::other("the function's role may not invoke it"),
                )),
            }
        })
    }
}

fn continuation() -> HardenRequest {
    HardenRequest {
        target: HardenTarget::Sweep,
        dry_run: Some(false),
        cursor: Some(serde_json::json!({"after": "docker-hub/library/nginx", "link": 1})),
    }
}

/// (case, the fake's answer, handed to in the report, a finding to alert)
#[tokio::test]
async fn hand_on_records_where_the_rest_went_or_alerts() {
    let cases: [(&str, Option<&'static str>, Option<&str>, bool); 2] = [
        (
            "handed on",
            Some("harden-repository:live"),
            Some("harden-repository:live"),
            false,
        ),
        ("invoke refused", None, None, true),
    ];
    for (case, target, handed_to, alerts) in cases {
        let fake = FakeHandOff {
            target,
            seen: Mutex::new(Vec::new()),
        };
        let mut report = HardenReport::new(FUNCTION.as_str(), false);
        let failure = hand_on(&mut report, &continuation(), &fake).await;
        assert_eq!(failure.is_some(), alerts, "{case}: {failure:?}");
        assert_eq!(
            fake.seen
                .lock()
                .map(|seen| seen.clone())
                .unwrap_or_default(),
            vec![continuation()],
            "{case}: exactly one hand-off, with the continuation"
        );
        assert_eq!(
            report
                .details
                .hand_off
                .as_ref()
                .and_then(|record| record.handed_to.as_deref()),
            handed_to,
            "{case}"
        );
        if let Some(finding) = failure {
            assert_eq!(finding.severity, Severity::Critical, "{case}");
            assert!(
                finding
                    .next_steps
                    .iter()
                    .any(|step| step.contains("\"cursor\"")),
                "{case}: the payload to continue by hand: {finding:?}"
            );
        }
    }
}
