//! The SAM template deployed the way organisations do: the same stack in many accounts and
//! regions, 50 managed prefixes, a central alert topic, and the guardrails of a landing zone
//! (permissions boundary, encrypted logs, no reserved concurrency in a new account).

use std::collections::BTreeMap;

use ptc_ops_tests::cloudformation::{template, Stack, REGION, STACK};
use serde_json::{json, Value};

/// IAM's quota for all the inline policies of one role together, white space not counted
/// (IAM and AWS STS quotas, "Role policy size"):
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
const ROLE_INLINE_POLICY_LIMIT: usize = 10_240;

/// ECR's quota of pull-through cache rules per registry, which bounds the managed prefixes
/// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html); a rule's
/// prefix is 2 to 30 characters.
const MAX_PREFIXES: usize = 50;
const MAX_PREFIX_LENGTH: usize = 30;

const ROLES: &[&str] = &[
    "HardenRepositoryRole",
    "ValidateCacheRulesRole",
    "CheckCredentialsRole",
    "PrewarmImagesRole",
    "CreationTemplateRole",
];

/// 50 distinct prefixes of 30 characters, some with `/`, as long as ECR allows.
fn longest_prefixes() -> Vec<String> {
    (0..MAX_PREFIXES)
        .map(|index| {
            let prefix = format!("team-{index:02}/platform-images-caches");
            assert_eq!(prefix.len(), MAX_PREFIX_LENGTH);
            prefix
        })
        .collect()
}

/// A role's policies as IAM counts them: compact JSON, in the longest region name, with a
/// 43-character stack name (the README's limit) and each resource the evaluation leaves
/// symbolic (`{{AlertTopic}}`, `{{StateTable.Arn}}`…) counted as 128 characters, more than the
/// ARN CloudFormation generates for it.
fn iam_size(stack: &Stack, role: &str) -> usize {
    let long_stack = "s".repeat(43);
    let symbolic = regex::Regex::new(r"\{\{[A-Za-z0-9.]+\}\}").expect("pattern");
    stack
        .policy_documents_of_role(role)
        .iter()
        .map(|document| {
            let text = serde_json::to_string(document).expect("JSON");
            let text = text
                .replace(REGION, "ap-southeast-2")
                .replace(&format!("{STACK}-"), &format!("{long_stack}-"));
            symbolic.replace_all(&text, "x".repeat(128)).chars().count()
        })
        .sum()
}

/// Every parameter that adds a grant, on, so each role is at its largest.
fn largest_stack(prefixes: &str) -> Stack {
    let key = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let keys = [key; 5].join(",");
    let principals = (0..10)
        .map(|index| format!("arn:aws:iam::111111111111:role/eks-node-group-{index:02}"))
        .collect::<Vec<_>>()
        .join(",");
    let tag_keys = (0..10)
        .map(|index| format!("cost-center-{index}"))
        .collect::<Vec<_>>()
        .join(",");
    Stack::new(&[
        ("ManagedPrefixes", prefixes),
        ("CredentialWriteBack", "true"),
        ("SecretKmsKeyArns", &keys),
        ("TemplateKmsKeyArns", &keys),
        ("ConsumerPrincipalArns", &principals),
        ("UpstreamRoleArns", &principals),
        ("HardeningTagKeys", &tag_keys),
        (
            "PermissionsBoundaryArn",
            "arn:aws:iam::111111111111:policy/boundary",
        ),
        (
            "ExistingAlertTopicArn",
            "arn:aws:sns:eu-west-1:222222222222:an-alert-topic-with-a-long-name",
        ),
        ("ExistingAlertTopicKmsKeyArn", key),
    ])
}

/// The quota's 50 prefixes fit every role, with room; a role whose per-prefix grants are not
/// one list (one policy or statement per prefix) passes the limit long before 50.
#[test]
fn fifty_managed_prefixes_fit_every_role() {
    let prefixes = longest_prefixes().join(",");
    let stack = largest_stack(&prefixes);
    let mut sizes = BTreeMap::new();
    for role in ROLES {
        let size = iam_size(&stack, role);
        sizes.insert(*role, size);
    }
    println!("inline policy characters per role with {MAX_PREFIXES} prefixes: {sizes:?}");
    for (role, size) in &sizes {
        assert!(
            *size <= ROLE_INLINE_POLICY_LIMIT,
            "{role}: {size} characters of inline policy with {MAX_PREFIXES} prefixes, over IAM's {ROLE_INLINE_POLICY_LIMIT}"
        );
    }
    // Each prefix costs each role that lists it one ARN per statement, not a policy.
    let one = largest_stack(&longest_prefixes()[..1].join(","));
    let per_prefix = (sizes["HardenRepositoryRole"] - iam_size(&one, "HardenRepositoryRole"))
        / (MAX_PREFIXES - 1);
    assert!(
        per_prefix <= 2 * (MAX_PREFIX_LENGTH + 30),
        "harden-repository: {per_prefix} characters per prefix"
    );
    // Every prefix is granted, none twice.
    let grants = stack.grants_of_role("HardenRepositoryRole");
    for prefix in longest_prefixes() {
        let arn = format!("arn:aws:ecr:{REGION}:111111111111:repository/{prefix}/*");
        assert!(
            grants
                .iter()
                .any(|grant| grant.action == "ecr:PutLifecyclePolicy" && grant.resource == arn),
            "{prefix} is not granted"
        );
    }
}

/// The per-prefix grants name any partition, region and account (CloudFormation cannot map a
/// list), and a `Deny` on everything outside this registry takes that back: each role that
/// lists the prefixes denies the same actions outside `arn:<partition>:ecr:<region>:<account>`.
#[test]
fn per_prefix_grants_are_taken_back_outside_this_registry() {
    let stack = Stack::new(&[]);
    for role in ROLES {
        let documents = stack.policy_documents_of_role(role);
        let statements: Vec<&Value> = documents
            .iter()
            .flat_map(|document| document["Statement"].as_array().into_iter().flatten())
            .collect();
        let wide: Vec<&Value> = statements
            .iter()
            .copied()
            .filter(|statement| statement["Resource"].to_string().contains("arn:*:ecr:*:*:"))
            .collect();
        if wide.is_empty() {
            continue;
        }
        let denied: Vec<String> = statements
            .iter()
            .filter(|statement| statement["Effect"] == "Deny")
            .flat_map(|statement| {
                assert_eq!(
                    statement["NotResource"],
                    json!(format!("arn:aws:ecr:{REGION}:111111111111:repository/*")),
                    "{role}"
                );
                ptc_ops_tests::cloudformation::one_or_many(&statement["Action"])
            })
            .collect();
        for statement in wide {
            for action in ptc_ops_tests::cloudformation::one_or_many(&statement["Action"]) {
                assert!(
                    denied.contains(&action),
                    "{role}: `{action}` is granted in every registry and not denied outside this one"
                );
            }
        }
    }
}

#[test]
fn arn_intersection_narrows_wildcard_segments_only() {
    use ptc_ops_tests::cloudformation::intersect_arn;
    let kept = "arn:aws:ecr:eu-west-1:111111111111:repository/*";
    for (allowed, expected) in [
        (
            "arn:*:ecr:*:*:repository/team/app/*",
            Some("arn:aws:ecr:eu-west-1:111111111111:repository/team/app/*"),
        ),
        (
            "arn:aws:ecr:eu-west-1:111111111111:repository/ghcr/*",
            Some("arn:aws:ecr:eu-west-1:111111111111:repository/ghcr/*"),
        ),
        ("arn:aws:ecr:us-east-1:111111111111:repository/ghcr/*", None),
        ("arn:*:ecr:*:222222222222:repository/ghcr/*", None),
        ("arn:*:sns:*:*:repository/ghcr/*", None),
        ("*", None),
    ] {
        assert_eq!(
            intersect_arn(allowed, kept).as_deref(),
            expected,
            "{allowed}"
        );
    }
}

/// Names are what collide between stacks: a dashboard (or any IAM name) is global to the
/// account, so it must carry the region; everything else named is regional and carries the
/// stack's name.
#[test]
fn every_named_resource_is_unique_per_account_and_region() {
    // The property that names each kind of resource, and whether the name is global to the
    // account (IAM, CloudWatch dashboards) rather than regional.
    const NAMES: &[(&str, &str, bool)] = &[
        ("AWS::CloudWatch::Dashboard", "DashboardName", true),
        ("AWS::IAM::Role", "RoleName", true),
        ("AWS::IAM::ManagedPolicy", "ManagedPolicyName", true),
        ("AWS::Serverless::Function", "FunctionName", false),
        ("AWS::Logs::LogGroup", "LogGroupName", false),
        ("AWS::KMS::Alias", "AliasName", false),
        ("AWS::SNS::Topic", "TopicName", false),
        ("AWS::SQS::Queue", "QueueName", false),
        ("AWS::DynamoDB::Table", "TableName", false),
        ("AWS::CloudWatch::Alarm", "AlarmName", false),
        ("AWS::Events::Rule", "Name", false),
    ];
    let stack = Stack::new(&[]);
    let mut named = 0;
    for (logical_id, (resource, _)) in &stack.resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        for (_, property, account_wide) in NAMES.iter().filter(|(of, _, _)| *of == kind) {
            let name = stack.property(logical_id, property);
            let Some(name) = name.as_str() else { continue };
            named += 1;
            assert!(
                name.contains(STACK),
                "{logical_id}.{property} = {name}: without the stack's name"
            );
            if *account_wide {
                assert!(
                    name.contains(REGION),
                    "{logical_id}.{property} = {name}: {kind} names are global to the account, so the name must carry the region"
                );
            }
        }
    }
    assert!(
        named >= 10,
        "functions, log groups, key alias and dashboard are named: {named}"
    );
    assert_eq!(
        stack.property("Dashboard", "DashboardName"),
        json!(format!("{STACK}-{REGION}"))
    );
}

/// `ExistingAlertTopicArn`: no topic, key or alias of the stack's own; the functions, every
/// alarm and the output all use the given topic; and a mail subscription is refused by a rule
/// rather than silently ignored.
#[test]
fn an_existing_alert_topic_replaces_the_stacks_own() {
    const CENTRAL: &str = "arn:aws:sns:eu-west-1:222222222222:org-alerts";
    let own = Stack::new(&[]);
    let central = Stack::new(&[("ExistingAlertTopicArn", CENTRAL)]);
    for logical_id in ["AlertTopic", "AlertKey", "AlertKeyAlias"] {
        let condition = own.resource(logical_id)["Condition"]
            .as_str()
            .unwrap_or_else(|| panic!("{logical_id} has a condition"));
        assert!(own.condition(condition), "{logical_id} created by default");
        assert!(
            !central.condition(condition),
            "{logical_id} not created with an existing topic"
        );
    }
    let no_scope = BTreeMap::new();
    for (stack, topic) in [(&own, "{{AlertTopic}}"), (&central, CENTRAL)] {
        let globals = &stack.template["Globals"]["Function"]["Environment"]["Variables"];
        assert_eq!(
            stack.eval(&globals[ptc_ops::env::PTC_ALERT_TOPIC_ARN], &no_scope),
            json!(topic)
        );
        let mut alarms = 0;
        for (logical_id, (resource, _)) in &stack.resources {
            if resource["Type"] == "AWS::CloudWatch::Alarm" {
                alarms += 1;
                for actions in ["AlarmActions", "OKActions"] {
                    assert_eq!(
                        stack.property(logical_id, actions),
                        json!([topic]),
                        "{logical_id}"
                    );
                }
            }
        }
        assert_eq!(alarms, 11);
        for role in [
            "HardenRepositoryRole",
            "ValidateCacheRulesRole",
            "CheckCredentialsRole",
            "PrewarmImagesRole",
        ] {
            let publish: Vec<String> = stack
                .grants_of_role(role)
                .into_iter()
                .filter(|grant| grant.action == "sns:Publish")
                .map(|grant| grant.resource)
                .collect();
            assert_eq!(publish, [topic], "{role}");
        }
        assert_eq!(
            stack.eval(
                &stack.template["Outputs"]["AlertTopicArn"]["Value"],
                &no_scope
            ),
            json!(topic)
        );
    }
    // An encrypted central topic: each function may use its key, through SNS only.
    const KEY: &str = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let encrypted = Stack::new(&[
        ("ExistingAlertTopicArn", CENTRAL),
        ("ExistingAlertTopicKmsKeyArn", KEY),
    ]);
    let via_sns = r#"{"StringEquals":{"kms:ViaService":["sns.eu-west-1.amazonaws.com"]}}"#;
    for role in [
        "HardenRepositoryRole",
        "ValidateCacheRulesRole",
        "CheckCredentialsRole",
        "PrewarmImagesRole",
    ] {
        let on_key: Vec<(String, String)> = encrypted
            .grants_of_role(role)
            .into_iter()
            .filter(|grant| grant.resource == KEY)
            .map(|grant| (grant.action, grant.condition))
            .collect();
        assert_eq!(
            on_key,
            [
                ("kms:Decrypt".to_owned(), via_sns.to_owned()),
                ("kms:GenerateDataKey".to_owned(), via_sns.to_owned())
            ],
            "{role}"
        );
        assert!(
            !central
                .grants_of_role(role)
                .iter()
                .any(|grant| grant.condition == via_sns),
            "{role}: no key, no KMS grant through SNS"
        );
    }
    let key_rule = &template()["Rules"]["AlertTopicKeyNeedsExistingTopic"];
    assert_eq!(
        key_rule["Assertions"][0]["Assert"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingAlertTopicArn"}, ""]}]})
    );
    let rule = &template()["Rules"]["AlertEmailNeedsOwnTopic"];
    assert_eq!(
        rule["RuleCondition"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingAlertTopicArn"}, ""]}]})
    );
    assert_eq!(
        rule["Assertions"][0]["Assert"],
        json!({"Fn::Equals": [{"Ref": "AlertEmail"}, ""]})
    );
}

/// Guardrails: the boundary on every role the template declares (a new role without it fails
/// here), the log key on every log group, and reserved concurrency off at 0.
#[test]
fn guardrails_reach_every_role_and_log_group() {
    const BOUNDARY: &str = "arn:aws:iam::111111111111:policy/ptc-boundary";
    const LOG_KEY: &str =
        "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let plain = Stack::new(&[]);
    let guarded = Stack::new(&[
        ("PermissionsBoundaryArn", BOUNDARY),
        ("LogKmsKeyArn", LOG_KEY),
        ("HardenReservedConcurrency", "0"),
    ]);
    let of_type = |stack: &Stack, kind: &str| -> Vec<String> {
        stack
            .resources
            .iter()
            .filter(|(_, (resource, _))| resource["Type"] == kind)
            .map(|(logical_id, _)| logical_id.clone())
            .collect()
    };
    let roles = of_type(&guarded, "AWS::IAM::Role");
    assert_eq!(roles.len(), ROLES.len(), "{roles:?}");
    for role in &roles {
        assert_eq!(
            guarded.property(role, "PermissionsBoundary"),
            json!(BOUNDARY),
            "{role}"
        );
        assert_eq!(
            plain.property(role, "PermissionsBoundary"),
            Value::Null,
            "{role}: none by default"
        );
    }
    let groups = of_type(&guarded, "AWS::Logs::LogGroup");
    assert_eq!(groups.len(), 4);
    for group in &groups {
        assert_eq!(
            guarded.property(group, "KmsKeyId"),
            json!(LOG_KEY),
            "{group}"
        );
        assert_eq!(plain.property(group, "KmsKeyId"), Value::Null, "{group}");
    }
    assert_eq!(
        guarded.property("HardenRepositoryFunction", "ReservedConcurrentExecutions"),
        Value::Null,
        "0 leaves harden-repository unreserved"
    );
    assert_eq!(
        plain.property("HardenRepositoryFunction", "ReservedConcurrentExecutions"),
        json!(1)
    );
}

/// The ARN parameters that become IAM resources or guardrails take exactly ARNs of their kind:
/// CloudFormation refuses the rest before anything is created.
#[test]
fn arn_parameters_refuse_wildcards_and_other_kinds() {
    let key = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let cases: &[(&str, &[(&str, bool)])] = &[
        (
            "SecretKmsKeyArns",
            &[
                (key, true),
                ("", true),
                ("*", false),
                ("arn:aws:kms:eu-west-1:111111111111:key/*", false),
                ("arn:aws:kms:eu-west-1:111111111111:alias/secrets", false),
                ("arn:aws:kms:*:111111111111:key/1234abcd", false),
            ],
        ),
        (
            "LogKmsKeyArn",
            &[
                (key, true),
                ("", true),
                ("*", false),
                ("alias/aws/logs", false),
            ],
        ),
        (
            "ExistingAlertTopicKmsKeyArn",
            &[
                (key, true),
                ("", true),
                ("arn:aws:kms:eu-west-1:222222222222:key/*", false),
            ],
        ),
        (
            "PermissionsBoundaryArn",
            &[
                ("arn:aws:iam::111111111111:policy/boundary", true),
                (
                    "arn:aws:iam::111111111111:policy/landing-zone/boundary",
                    true,
                ),
                ("arn:aws:iam::aws:policy/PowerUserAccess", true),
                ("", true),
                ("arn:aws:iam::111111111111:role/boundary", false),
                ("arn:aws:iam::111111111111:policy/*", false),
            ],
        ),
        (
            "ExistingAlertTopicArn",
            &[
                ("arn:aws:sns:eu-west-1:222222222222:org-alerts", true),
                ("arn:aws:sns:eu-west-1:222222222222:org-alerts.fifo", true),
                ("", true),
                ("arn:aws:sns:eu-west-1:222222222222:*", false),
                ("arn:aws:sqs:eu-west-1:222222222222:org-alerts", false),
                ("org-alerts", false),
            ],
        ),
    ];
    for (parameter, cases) in cases {
        let declaration = &template()["Parameters"][parameter];
        let pattern = declaration["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{parameter} has an AllowedPattern"));
        let whole = regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid pattern");
        for (value, allowed) in cases.iter() {
            assert_eq!(whole.is_match(value), *allowed, "{parameter}: {value:?}");
        }
        assert_eq!(declaration["Default"], "", "{parameter}: none by default");
    }
}

/// No macro but SAM's: `AWS::LanguageExtensions` (a loop per prefix) is gone, so no logical
/// ID is made from a prefix and none can collide.
#[test]
fn the_template_needs_no_language_extensions() {
    let template = template();
    assert_eq!(template["Transform"], "AWS::Serverless-2016-10-31");
    let text = template.to_string();
    assert!(!text.contains("Fn::ForEach"), "no loop over prefixes");
}

/// The context of one request, as a policy's conditions read it.
struct Request<'a> {
    /// `AWS` (an IAM principal) or `Service`, and the principal.
    principal: (&'a str, &'a str),
    action: &'a str,
    context: &'a [(&'a str, &'a str)],
}

/// Whether a statement of `document` (a resource policy of `Allow` statements with
/// `StringEquals` conditions only, as the central template writes them) lets `request` in. A
/// `Deny` on the requested action is beyond this evaluation and fails the test.
fn allows(document: &Value, request: &Request) -> bool {
    document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|statement| {
            let denies = statement["Effect"] == "Deny";
            if denies {
                let actions = ptc_ops_tests::cloudformation::one_or_many(&statement["Action"]);
                assert!(
                    !actions.iter().any(|action| action == request.action),
                    "a Deny on {} is not evaluated here",
                    request.action
                );
            }
            !denies
        })
        .any(|statement| {
            assert_eq!(statement["Effect"], "Allow");
            let (kind, principal) = request.principal;
            let principals = match &statement["Principal"][kind] {
                Value::Null => Vec::new(),
                named => ptc_ops_tests::cloudformation::one_or_many(named),
            };
            let actions = ptc_ops_tests::cloudformation::one_or_many(&statement["Action"]);
            let conditions = statement["Condition"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for operator in conditions.keys() {
                assert_eq!(
                    operator, "StringEquals",
                    "only StringEquals is evaluated here"
                );
            }
            let conditions_hold = conditions
                .get("StringEquals")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .all(|(key, expected)| {
                    let given = request
                        .context
                        .iter()
                        .find(|(name, _)| name == key)
                        .map(|(_, value)| *value);
                    ptc_ops_tests::cloudformation::one_or_many(expected)
                        .iter()
                        .any(|value| Some(value.as_str()) == given)
                });
            (principals.iter().any(|p| p == "*" || p == principal))
                && actions.iter().any(|action| action == request.action)
                && conditions_hold
        })
}

/// The central topic (`infra/central-alerts.yaml`) and its key let exactly the organisation's
/// principals publish (`aws:PrincipalOrgID`), its alarms (`aws:SourceOrgID`), and the key serve
/// them through SNS only: a principal of another organisation, a direct KMS call or another
/// action is refused.
#[test]
fn the_central_topic_lets_in_the_organisation_only() {
    const ORG: &str = "o-a1b2c3d4e5";
    let central = Stack::of(
        ptc_ops_tests::cloudformation::template_file("infra/central-alerts.yaml"),
        &[("OrganizationId", ORG)],
    );
    assert!(
        central.template.get("Transform").is_none(),
        "plain CloudFormation"
    );
    let topic_policy = central.property("AlertTopicPolicy", "PolicyDocument");
    let key_policy = central.property("AlertKey", "KeyPolicy");
    assert_eq!(
        central.property("AlertTopic", "KmsMasterKeyId"),
        json!("{{AlertKey}}")
    );
    let role = (
        "AWS",
        "arn:aws:iam::333333333333:role/ptc-ops-HardenRepositoryRole-1A2B3C",
    );
    let alarms = ("Service", "cloudwatch.amazonaws.com");
    let via_sns = ("kms:ViaService", "sns.eu-west-1.amazonaws.com");
    let cases: &[(&str, &Value, Request, bool)] = &[
        (
            "a function of the organisation publishes",
            &topic_policy,
            Request {
                principal: role,
                action: "sns:Publish",
                context: &[("aws:PrincipalOrgID", ORG)],
            },
            true,
        ),
        (
            "a principal of another organisation",
            &topic_policy,
            Request {
                principal: role,
                action: "sns:Publish",
                context: &[("aws:PrincipalOrgID", "o-zzzzzzzzzz")],
            },
            false,
        ),
        (
            "a principal outside any organisation",
            &topic_policy,
            Request {
                principal: role,
                action: "sns:Publish",
                context: &[],
            },
            false,
        ),
        (
            "an alarm of the organisation",
            &topic_policy,
            Request {
                principal: alarms,
                action: "sns:Publish",
                context: &[("aws:SourceOrgID", ORG)],
            },
            true,
        ),
        (
            "an alarm of another organisation",
            &topic_policy,
            Request {
                principal: alarms,
                action: "sns:Publish",
                context: &[("aws:SourceOrgID", "o-zzzzzzzzzz")],
            },
            false,
        ),
        (
            "subscribing from the organisation",
            &topic_policy,
            Request {
                principal: role,
                action: "sns:Subscribe",
                context: &[("aws:PrincipalOrgID", ORG)],
            },
            false,
        ),
        (
            "the key through SNS for the organisation",
            &key_policy,
            Request {
                principal: role,
                action: "kms:GenerateDataKey",
                context: &[("aws:PrincipalOrgID", ORG), via_sns],
            },
            true,
        ),
        (
            "the key called directly",
            &key_policy,
            Request {
                principal: role,
                action: "kms:Decrypt",
                context: &[("aws:PrincipalOrgID", ORG)],
            },
            false,
        ),
        (
            "the key for another organisation",
            &key_policy,
            Request {
                principal: role,
                action: "kms:Decrypt",
                context: &[("aws:PrincipalOrgID", "o-zzzzzzzzzz"), via_sns],
            },
            false,
        ),
        (
            "the key for the organisation's alarms",
            &key_policy,
            Request {
                principal: alarms,
                action: "kms:GenerateDataKey",
                context: &[("aws:SourceOrgID", ORG)],
            },
            true,
        ),
    ];
    let wrong: Vec<&str> = cases
        .iter()
        .filter(|(_, document, request, expected)| allows(document, request) != *expected)
        .map(|(name, _, _, _)| *name)
        .collect();
    assert!(wrong.is_empty(), "decided wrongly: {wrong:?}");
    // Every statement that lets `*` in is narrowed to the organisation.
    for document in [&topic_policy, &key_policy] {
        for statement in document["Statement"].as_array().expect("statements") {
            if statement["Principal"]["AWS"] == "*" && statement["Effect"] == "Allow" {
                assert_eq!(
                    statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"], ORG,
                    "{statement}"
                );
            }
        }
    }
}
