//! `PutLifecyclePolicy` answers every case of `tests/fixtures/lifecycle-policies.json` as the
//! table says (the product's validator runs the same table in its unit tests).

use serde_json::Value;

use crate::target::{refusal, Target};

const INVALID_PARAMETER: &str = "InvalidParameterException";
/// ECR's message for a refused lifecycle policy starts so (ECR user guide, lp_creation.html;
/// the same shape the emulator answers).
const MESSAGE_START: &str =
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure";

struct Case {
    name: String,
    text: String,
    accepted: bool,
    path: String,
    confirmed: bool,
}

fn cases() -> Vec<Case> {
    let path = ptc_ops_tests::repo_root().join("tests/fixtures/lifecycle-policies.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let table: Value = serde_json::from_str(&text).expect("the fixture table is JSON");
    table["cases"]
        .as_array()
        .expect("`cases` is a list")
        .iter()
        .map(|case| Case {
            name: case["name"].as_str().expect("name").to_owned(),
            text: match case.get("policy_text").and_then(Value::as_str) {
                Some(text) => text.to_owned(),
                None => case["policy"].to_string(),
            },
            accepted: case["accepted"].as_bool().expect("accepted"),
            path: case["path"].as_str().unwrap_or_default().to_owned(),
            confirmed: case["confirmed"].as_bool().unwrap_or(true),
        })
        .collect()
}

#[tokio::test]
async fn put_lifecycle_policy_answers_the_fixture_table() {
    let target = Target::new().await;
    let repository = target.name("lifecycle");
    target.create_repository(&repository).await;
    target
        .run_then_clean(
            async {
                let mut disagreements = Vec::new();
                let cases = cases();
                for case in &cases {
                    let answer = target
                        .ecr
                        .put_lifecycle_policy()
                        .repository_name(&repository)
                        .lifecycle_policy_text(&case.text)
                        .send()
                        .await
                        .map_err(refusal);
                    let verdict = match (&answer, case.accepted) {
                        (Ok(_), true) => Ok(()),
                        (Err(refused), false) if refused.code == INVALID_PARAMETER => {
                            // Only the emulator names the JSON path; ECR's text is its own.
                            if target.real()
                                || (refused.message.starts_with(MESSAGE_START)
                                    && refused.message.contains(&case.path))
                            {
                                Ok(())
                            } else {
                                Err(format!("refused with an unexpected message: {refused}"))
                            }
                        }
                        (Ok(_), false) => Err("accepted, the table says ECR refuses it".to_owned()),
                        (Err(refused), _) => Err(format!("answered {refused}")),
                    };
                    if !case.confirmed {
                        let given = match &answer {
                            Ok(_) => "accepted".to_owned(),
                            Err(refused) => format!("refused ({})", refused.code),
                        };
                        target.record(&format!("lifecycle policy `{}`", case.name), &given);
                    }
                    // The emulator gives the strict answer everywhere; a real account may
                    // differ where no AWS page settles the case (recorded above).
                    if let Err(problem) = verdict {
                        if case.confirmed || !target.real() {
                            disagreements.push(format!("{}: {problem}", case.name));
                        }
                    }
                }
                assert!(cases.len() >= 40, "the table lost cases");
                assert!(
                    disagreements.is_empty(),
                    "{} of {} cases disagree with the table: {disagreements:#?}",
                    disagreements.len(),
                    cases.len()
                );
            },
            target.delete_repository(&repository),
        )
        .await;
}

/// The API's own length limits answer before the policy is read (botocore ecr model:
/// `LifecyclePolicyText` 100 to 30,720 characters).
#[tokio::test]
async fn put_lifecycle_policy_refuses_texts_out_of_length() {
    let target = Target::new().await;
    let repository = target.name("lifecycle-length");
    target.create_repository(&repository).await;
    target
        .run_then_clean(
            async {
                let short = r#"{"rules":[]}"#;
                let rule = r#"{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}"#;
                let long = format!(r#"{{"rules":[{rule}]}}{}"#, " ".repeat(30_720));
                for (what, text) in [("short", short.to_owned()), ("long", long)] {
                    let refused = target
                        .ecr
                        .put_lifecycle_policy()
                        .repository_name(&repository)
                        .lifecycle_policy_text(text)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(refusal)
                        .expect_err(what);
                    assert!(
                        ["ValidationException", INVALID_PARAMETER].contains(&refused.code.as_str()),
                        "{what}: {refused}"
                    );
                    target.record(
                        &format!("lifecycle policy text too {what}"),
                        &refused.code,
                    );
                }
            },
            target.delete_repository(&repository),
        )
        .await;
}
