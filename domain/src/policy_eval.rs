//! Does a resource policy let a given caller do a given action on every repository under a
//! prefix? Pure, and three-valued: `ok`, `missing` (with the action and resource) or `unknown`
//! (with why), never `ok` on a guess.
//!
//! What it evaluates, as IAM does for resource policies:
//! - `Allow` and `Deny`, a matching `Deny` always winning;
//! - `Principal` / `NotPrincipal`: `*`, `{"AWS": "*"}`, account ids, `arn:…:iam::<account>:root`
//!   and role or user ARNs, single values or lists;
//! - `Action` / `NotAction` with `*` and `?` (case-insensitive), `Resource` / `NotResource` with
//!   `*` and `?` (case-sensitive); an `Allow` counts only when it covers *every* repository under
//!   the prefix, a `Deny` counts as soon as it reaches *any* of them;
//! - conditions on `aws:PrincipalAccount`, `aws:PrincipalArn` (known for a role, not for a whole
//!   account) and `aws:PrincipalOrgID` (when the organisation is configured), with the string,
//!   ARN and `Null` operators, `…IfExists` and `ForAnyValue:`/`ForAllValues:`. Any other condition
//!   makes the statement undecidable: an `Allow` then grants nothing certain and a `Deny` may
//!   apply, so the answer is `unknown`.
//!
//! A caller is either a whole account (the policy must name the account or its `root`, or `*`)
//! or one IAM role or user (its ARN, its account or `*`). A grant to one role of an account does
//! not grant the account.
//!
//! No maintained crate answers in three values: `unknown` for what cannot be decided here is the
//! point of the check, so the evaluation is written out.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::wildcard::Wildcards;

/// Who is asking: a whole account or one principal in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Caller {
    /// Every principal of the account (cluster accounts): the policy must trust the account.
    Account { account_id: String },
    /// One IAM role or user, `arn:<partition>:iam::<account>:role/<path><name>`.
    Principal {
        arn: String,
        account_id: String,
        partition: String,
    },
}

impl Caller {
    /// A 12-digit account id, or an IAM role or user ARN; the error says what was expected.
    pub fn parse(text: &str) -> Result<Caller, String> {
        if is_account_id(text) {
            return Ok(Caller::Account {
                account_id: text.to_owned(),
            });
        }
        Caller::parse_principal(text)
    }

    /// An IAM role or user ARN (`arn:aws:iam::111122223333:role/node`); `…:root` is accepted as
    /// the account. Session ARNs (`sts::…:assumed-role/…`) and other forms are refused.
    pub fn parse_principal(text: &str) -> Result<Caller, String> {
        const SHAPE: &str = "expected a 12-digit account id or an IAM role or user ARN (`arn:aws:iam::111122223333:role/eks-node`)";
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account_id, resource] = parts.as_slice() else {
            return Err(SHAPE.to_owned());
        };
        if *arn != "arn" || !partition.starts_with("aws") || !is_account_id(account_id) {
            return Err(SHAPE.to_owned());
        }
        if *service == "sts" {
            return Err(format!(
                "{SHAPE}; a session ARN (`sts::…:assumed-role/…`) changes with every session, name its role instead"
            ));
        }
        if *service != "iam" || !region.is_empty() {
            return Err(SHAPE.to_owned());
        }
        if *resource == "root" {
            return Ok(Caller::Account {
                account_id: (*account_id).to_owned(),
            });
        }
        let name_ok = |rest: &str| {
            let name = rest.rsplit('/').next().unwrap_or_default();
            !name.is_empty()
                && (1..=512).contains(&rest.len())
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
                && !rest.contains('*')
        };
        let principal_ok = ["role/", "user/"].iter().any(|kind| {
            resource
                .strip_prefix(kind)
                .is_some_and(|rest| name_ok(rest) && !rest.starts_with('/'))
        });
        if !principal_ok {
            return Err(SHAPE.to_owned());
        }
        Ok(Caller::Principal {
            arn: text.to_owned(),
            account_id: (*account_id).to_owned(),
            partition: (*partition).to_owned(),
        })
    }

    pub fn account_id(&self) -> &str {
        match self {
            Caller::Account { account_id } | Caller::Principal { account_id, .. } => account_id,
        }
    }

    /// How a policy names this caller in `Principal.AWS`.
    pub fn policy_principal(&self, partition: &str) -> String {
        match self {
            Caller::Account { account_id } => format!("arn:{partition}:iam::{account_id}:root"),
            Caller::Principal { arn, .. } => arn.clone(),
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Account { account_id } => f.write_str(account_id),
            Caller::Principal { arn, .. } => f.write_str(arn),
        }
    }
}

pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// What the evaluation knows about the caller beyond its identity.
#[derive(Debug, Clone, Copy)]
pub struct CallerContext<'a> {
    pub caller: &'a Caller,
    /// `consumers.organization_id`: the organisation every consumer belongs to, if configured.
    pub organization_id: Option<&'a str>,
}

/// The question: may the caller do `action` on every resource matching `resource` (a pattern
/// like `arn:aws:ecr:eu-west-1:111122223333:repository/docker-hub/*`)?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
}

/// The answer for one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    Ok,
    Missing {
        action: String,
        resource: String,
        /// The `Deny` statement that takes it away; `None` when nothing grants it.
        #[serde(skip_serializing_if = "Option::is_none")]
        denied_by: Option<String>,
    },
    Unknown {
        why: String,
    },
}

impl Answer {
    pub fn is_missing(&self) -> bool {
        matches!(self, Answer::Missing { .. })
    }
}

/// Three-valued truth: `None` is "cannot tell here".
type Maybe = Option<bool>;

/// A statement's verdict for the request, with why it could not be decided.
enum Applies {
    Yes,
    No,
    Perhaps(String),
}

/// Evaluates `policy` (a JSON policy document, `Statement` a list or one object) for one request.
/// A statement whose shape cannot be read makes the answer `unknown`, naming it.
pub fn evaluate(policy: &Value, context: CallerContext<'_>, request: Request<'_>) -> Answer {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => {
            return Answer::Unknown {
                why: "the policy has no readable `Statement`".to_owned(),
            }
        }
    };
    let mut granted = false;
    let mut doubts: Vec<String> = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let label = statement_label(index, statement);
        let Some(statement) = statement.as_object() else {
            doubts.push(format!("{label} is not an object"));
            continue;
        };
        let is_deny = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            _ => {
                doubts.push(format!("{label} has no `Effect` of `Allow` or `Deny`"));
                continue;
            }
        };
        match statement_applies(statement, is_deny, context, request) {
            Ok(Applies::Yes) if is_deny => {
                return Answer::Missing {
                    action: request.action.to_owned(),
                    resource: request.resource.to_owned(),
                    denied_by: Some(label),
                }
            }
            Ok(Applies::Yes) => granted = true,
            Ok(Applies::No) => {}
            Ok(Applies::Perhaps(why)) if is_deny => {
                doubts.push(format!("the `Deny` {label} may apply: {why}"))
            }
            Ok(Applies::Perhaps(why)) => {
                doubts.push(format!("the `Allow` {label} grants it only if: {why}"))
            }
            Err(why) => doubts.push(format!("{label}: {why}")),
        }
    }
    // A doubtful `Deny` spoils a grant; a doubtful `Allow` only matters without a grant.
    let deny_doubts: Vec<&String> = doubts
        .iter()
        .filter(|doubt| !doubt.starts_with("the `Allow`"))
        .collect();
    if granted && deny_doubts.is_empty() {
        return Answer::Ok;
    }
    if granted {
        return Answer::Unknown {
            why: join(deny_doubts),
        };
    }
    if doubts.is_empty() {
        Answer::Missing {
            action: request.action.to_owned(),
            resource: request.resource.to_owned(),
            denied_by: None,
        }
    } else {
        Answer::Unknown {
            why: join(doubts.iter()),
        }
    }
}

fn join<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Statement[2]`, or `Statement[2] (`Sid`)`.
pub fn statement_label(index: usize, statement: &Value) -> String {
    match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => {
            format!("Statement[{index}] ({})", super::markdown::code(sid))
        }
        _ => format!("Statement[{index}]"),
    }
}

fn statement_applies(
    statement: &Map<String, Value>,
    is_deny: bool,
    context: CallerContext<'_>,
    request: Request<'_>,
) -> Result<Applies, String> {
    // Principal. A `Deny` with `NotPrincipal` spares a role's sessions only when their exact
    // session ARN is listed with the account: naming the caller there is no proof it is spared.
    let mut principal_doubt = None;
    let principal = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(principal), None) => principal_matches(principal, context.caller)?,
        (None, Some(not_principal)) => {
            let listed = principal_matches(not_principal, context.caller)?;
            if listed && is_deny {
                principal_doubt = Some(
                    "`NotPrincipal` names the caller, but spares a role only by its exact session ARN, which cannot be told here"
                        .to_owned(),
                );
            }
            !listed || is_deny
        }
        _ => return Err("expected exactly one of `Principal` and `NotPrincipal`".to_owned()),
    };
    if !principal {
        return Ok(Applies::No);
    }
    // Action.
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), None) => any_action_matches(actions, request.action)?,
        (None, Some(actions)) => !any_action_matches(actions, request.action)?,
        _ => return Err("expected exactly one of `Action` and `NotAction`".to_owned()),
    };
    if !action {
        return Ok(Applies::No);
    }
    // Resource: an `Allow` must cover every repository of the prefix, a `Deny` reach one.
    let resource = match (statement.get("Resource"), statement.get("NotResource")) {
        // A repository policy may leave `Resource` out: it is the repository itself.
        (None, None) => true,
        (Some(patterns), None) => {
            let patterns = strings(patterns, "Resource")?;
            if is_deny {
                patterns
                    .iter()
                    .any(|pattern| Wildcards::IAM.intersects(pattern, request.resource))
            } else {
                patterns
                    .iter()
                    .any(|pattern| Wildcards::IAM.covers(pattern, request.resource))
            }
        }
        (None, Some(patterns)) => {
            let patterns = strings(patterns, "NotResource")?;
            if is_deny {
                // Applies to what no pattern covers: reaches the prefix unless one covers it.
                !patterns
                    .iter()
                    .any(|pattern| Wildcards::IAM.covers(pattern, request.resource))
            } else {
                // Grants what no pattern matches: all of the prefix only if none reaches it.
                !patterns
                    .iter()
                    .any(|pattern| Wildcards::IAM.intersects(pattern, request.resource))
            }
        }
        _ => return Err("both `Resource` and `NotResource`".to_owned()),
    };
    if !resource {
        return Ok(Applies::No);
    }
    let applies = match statement.get("Condition") {
        None => Applies::Yes,
        Some(condition) => conditions_hold(condition, context)?,
    };
    Ok(match (applies, principal_doubt) {
        (Applies::Yes, Some(doubt)) => Applies::Perhaps(doubt),
        (Applies::Perhaps(why), Some(doubt)) => Applies::Perhaps(format!("{doubt}; {why}")),
        (applies, _) => applies,
    })
}

/// Whether `principal` (a `Principal` or `NotPrincipal` value) names the caller.
fn principal_matches(principal: &Value, caller: &Caller) -> Result<bool, String> {
    let aws_entries = match principal {
        Value::String(star) if star == "*" => return Ok(true),
        Value::String(other) => {
            return Err(format!(
                "`Principal` {other:?} is neither `*` nor an object"
            ))
        }
        Value::Object(kinds) => match kinds.get("AWS") {
            None => return Ok(false),
            Some(entries) => strings(entries, "Principal.AWS")?,
        },
        _ => return Err("`Principal` is neither `*` nor an object".to_owned()),
    };
    Ok(aws_entries
        .iter()
        .any(|entry| aws_principal_names(entry, caller)))
}

/// Whether one `Principal.AWS` entry names the caller: `*`, its account id, its account's
/// `root`, or (for a principal) its exact ARN.
fn aws_principal_names(entry: &str, caller: &Caller) -> bool {
    if entry == "*" || entry == caller.account_id() {
        return true;
    }
    let names_account = entry
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":iam::"))
        .is_some_and(|(_, rest)| rest == format!("{}:root", caller.account_id()));
    if names_account {
        return true;
    }
    match caller {
        Caller::Account { .. } => false,
        Caller::Principal { arn, .. } => entry == arn,
    }
}

fn any_action_matches(actions: &Value, action: &str) -> Result<bool, String> {
    Ok(strings(actions, "Action")?
        .iter()
        .any(|pattern| Wildcards::IAM_ACTIONS.matches(pattern, action)))
}

/// A string or a list of strings.
fn strings<'v>(value: &'v Value, key: &str) -> Result<Vec<&'v str>, String> {
    match value {
        Value::String(text) => Ok(vec![text]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| format!("`{key}` holds something other than strings"))
            })
            .collect(),
        _ => Err(format!("`{key}` is neither a string nor a list of strings")),
    }
}

/// Every operator and key must hold (`Yes`); one that cannot be told makes it `Perhaps`.
fn conditions_hold(condition: &Value, context: CallerContext<'_>) -> Result<Applies, String> {
    let Some(operators) = condition.as_object() else {
        return Err("`Condition` is not an object".to_owned());
    };
    let mut doubts = Vec::new();
    for (operator, keys) in operators {
        let Some(keys) = keys.as_object() else {
            return Err(format!("`Condition.{operator}` is not an object"));
        };
        for (key, values) in keys {
            let values = strings(values, &format!("Condition.{operator}.{key}"))?;
            match condition_holds(operator, key, &values, context) {
                Some(false) => return Ok(Applies::No),
                Some(true) => {}
                None => doubts.push(format!("`{operator}` on `{key}`")),
            }
        }
    }
    if doubts.is_empty() {
        Ok(Applies::Yes)
    } else {
        Ok(Applies::Perhaps(format!(
            "the condition {} cannot be evaluated here",
            doubts.join(" and ")
        )))
    }
}

/// The value of a condition key for the caller: `Some(Some(v))` known, `Some(None)` known to be
/// absent, `None` unknown here.
fn key_value(key: &str, context: CallerContext<'_>) -> Option<Option<String>> {
    match key.to_ascii_lowercase().as_str() {
        "aws:principalaccount" => Some(Some(context.caller.account_id().to_owned())),
        "aws:principalarn" => match context.caller {
            Caller::Principal { arn, .. } => Some(Some(arn.clone())),
            // Which principal of the account calls is not known.
            Caller::Account { .. } => None,
        },
        "aws:principalorgid" => context.organization_id.map(|id| Some(id.to_owned())),
        _ => None,
    }
}

fn condition_holds(
    operator: &str,
    key: &str,
    values: &[&str],
    context: CallerContext<'_>,
) -> Maybe {
    let value = key_value(key, context)?;
    // Single-valued keys: `ForAnyValue:` and `ForAllValues:` compare the one value.
    let (set_operator, base) = match operator.split_once(':') {
        Some((qualifier @ ("ForAnyValue" | "ForAllValues"), base)) => (Some(qualifier), base),
        Some(_) => return None,
        None => (None, operator),
    };
    let (base, if_exists) = match base.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (base, false),
    };
    if base == "Null" {
        // `"true"`: the key must be absent; `"false"`: present.
        let absent = value.is_none();
        return Some(values.iter().any(|wanted| match *wanted {
            "true" => absent,
            "false" => !absent,
            _ => false,
        }));
    }
    let Some(value) = value else {
        // An absent key: `…IfExists` and `ForAllValues:` hold, the rest do not.
        return Some(if_exists || set_operator == Some("ForAllValues"));
    };
    let positive = |compare: &dyn Fn(&str) -> bool| values.iter().any(|wanted| compare(wanted));
    let holds = match base {
        "StringEquals" | "ArnEquals" => positive(&|wanted| wanted == value),
        "StringNotEquals" | "ArnNotEquals" => !positive(&|wanted| wanted == value),
        "StringEqualsIgnoreCase" => positive(&|wanted| wanted.eq_ignore_ascii_case(&value)),
        "StringNotEqualsIgnoreCase" => !positive(&|wanted| wanted.eq_ignore_ascii_case(&value)),
        "StringLike" | "ArnLike" => positive(&|wanted| Wildcards::IAM.matches(wanted, &value)),
        "StringNotLike" | "ArnNotLike" => {
            !positive(&|wanted| Wildcards::IAM.matches(wanted, &value))
        }
        _ => return None,
    };
    // A policy variable (`${aws:username}`) in a value cannot be resolved here.
    if values.iter().any(|wanted| wanted.contains("${")) {
        return None;
    }
    Some(holds)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::named_cases;

    const RESOURCE: &str = "arn:aws:ecr:eu-west-1:999999999999:repository/docker-hub/*";
    const NODE_ROLE: &str = "arn:aws:iam::111111111111:role/eks-node";

    fn account() -> Caller {
        Caller::parse("111111111111").expect("an account")
    }

    fn role() -> Caller {
        Caller::parse(NODE_ROLE).expect("a role")
    }

    fn allow(principal: Value, action: Value, resource: Value) -> Value {
        json!({"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource})
    }

    fn root() -> Value {
        json!({"AWS": "arn:aws:iam::111111111111:root"})
    }

    /// `expected`: `ok`, `missing`, `denied` (missing because of a Deny) or `unknown`.
    fn check(name: &str, statements: Value, caller: Caller, org: Option<&str>, expected: &str) {
        check_action(
            name,
            statements,
            caller,
            org,
            "ecr:BatchImportUpstreamImage",
            expected,
        );
    }

    fn check_action(
        name: &str,
        statements: Value,
        caller: Caller,
        org: Option<&str>,
        action: &str,
        expected: &str,
    ) {
        let policy = json!({"Version": "2012-10-17", "Statement": statements});
        let answer = evaluate(
            &policy,
            CallerContext {
                caller: &caller,
                organization_id: org,
            },
            Request {
                action,
                resource: RESOURCE,
            },
        );
        let got = match &answer {
            Answer::Ok => "ok",
            Answer::Missing {
                denied_by: Some(_), ..
            } => "denied",
            Answer::Missing { .. } => "missing",
            Answer::Unknown { .. } => "unknown",
        };
        assert_eq!(got, expected, "case `{name}`: {answer:?}");
    }

    /// A statement allowing the pull action to `principal`, as `caller` meets it.
    fn check_principal(name: &str, principal: Value, caller: Caller, expected: &str) {
        let action = json!("ecr:BatchImportUpstreamImage");
        check(
            name,
            json!([allow(principal, action.clone(), json!(RESOURCE))]),
            caller,
            None,
            expected,
        );
    }

    named_cases! {
        /// Principals: which callers a statement's `Principal` grants.
        mod principals => check_principal;
        root_grants_the_account(root(), account(), "ok"),
        root_grants_a_role_of_the_account(root(), role(), "ok"),
        account_id_grants_a_role(
            json!({"AWS": "111111111111"}),
            role(),
            "ok",
        ),
        role_grants_that_role(
            json!({"AWS": NODE_ROLE}),
            role(),
            "ok",
        ),
        a_role_does_not_grant_the_whole_account(
            json!({"AWS": NODE_ROLE}),
            account(),
            "missing",
        ),
        another_role_grants_nothing(
            json!({"AWS": "arn:aws:iam::111111111111:role/ci"}),
            role(),
            "missing",
        ),
        another_account_grants_nothing(
            json!({"AWS": ["arn:aws:iam::222222222222:root", "333333333333"]}),
            account(),
            "missing",
        ),
        a_list_holding_the_account(
            json!({"AWS": ["222222222222", "arn:aws:iam::111111111111:root"]}),
            account(),
            "ok",
        ),
        star(json!("*"), account(), "ok"),
        aws_star(json!({"AWS": "*"}), role(), "ok"),
        a_service_principal_is_not_the_caller(
            json!({"Service": "ecr.amazonaws.com"}),
            role(),
            "missing",
        ),
    }

    /// A statement allowing `action` to the account grants the pull action, or not.
    fn check_granted_action(name: &str, action: Value, expected: &str) {
        check(
            name,
            json!([allow(root(), action, json!(RESOURCE))]),
            account(),
            None,
            expected,
        );
    }

    named_cases! {
        /// Actions: which `Action` values grant the pull action.
        mod actions => check_granted_action;
        exact(json!("ecr:BatchImportUpstreamImage"), "ok"),
        case_does_not_count(
            json!("ECR:batchimportupstreamimage"),
            "ok",
        ),
        ecr_star(json!("ecr:*"), "ok"),
        ecr_batch_star(json!("ecr:Batch*"), "ok"),
        question_marks(
            json!("ecr:BatchImportUpstreamImag?"),
            "ok",
        ),
        a_list(
            json!(["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]),
            "ok",
        ),
        another_action(json!("ecr:CreateRepository"), "missing"),
        ecr_get_star(json!("ecr:Get*"), "missing"),
        star(json!("*"), "ok"),
    }

    #[test]
    fn not_action() {
        let statement = |not_action: Value| json!([{"Effect": "Allow", "Principal": root(), "NotAction": not_action, "Resource": "*"}]);
        check(
            "NotAction of others grants",
            statement(json!(["ecr:Delete*"])),
            account(),
            None,
            "ok",
        );
        check(
            "NotAction naming it grants nothing",
            statement(json!("ecr:BatchImport*")),
            account(),
            None,
            "missing",
        );
        check(
            "Deny with NotAction of others takes it away",
            json!([
                allow(root(), json!("ecr:*"), json!("*")),
                {"Effect": "Deny", "Principal": "*", "NotAction": ["ecr:BatchGetImage"], "Resource": "*"}
            ]),
            account(),
            None,
            "denied",
        );
    }

    /// The repository ARNs of the evaluated registry, up to the repository name.
    const REPOSITORY_BASE: &str = "arn:aws:ecr:eu-west-1:999999999999:repository/";

    /// A statement allowing every ECR action to the account on `resource`.
    fn check_resource(name: &str, resource: String, expected: &str) {
        check(
            name,
            json!([allow(root(), json!("ecr:*"), json!(resource))]),
            account(),
            None,
            expected,
        );
    }

    named_cases! {
        /// Resources: which `Resource` patterns cover the pull-through prefix.
        mod resource_patterns => check_resource;
        the_prefix(format!("{REPOSITORY_BASE}docker-hub/*"), "ok"),
        every_repository(format!("{REPOSITORY_BASE}*"), "ok"),
        star("*".to_owned(), "ok"),
        any_region(
            "arn:aws:ecr:*:999999999999:repository/docker-hub/*".to_owned(),
            "ok",
        ),
        prefix_star(format!("{REPOSITORY_BASE}docker-*"), "ok"),
        only_below_a_sub_path(
            format!("{REPOSITORY_BASE}docker-hub/library/*"),
            "missing",
        ),
        another_prefix(format!("{REPOSITORY_BASE}ghcr/*"), "missing"),
        the_bare_prefix_only(format!("{REPOSITORY_BASE}docker-hub"), "missing"),
        one_character_names_only(
            format!("{REPOSITORY_BASE}docker-hub/?"),
            "missing",
        ),
        another_account(
            "arn:aws:ecr:eu-west-1:888888888888:repository/*".to_owned(),
            "missing",
        ),
    }

    #[test]
    fn resource_lists_and_not_resource() {
        let base = REPOSITORY_BASE;
        check(
            "a list with one covering",
            json!([allow(
                root(),
                json!("ecr:*"),
                json!([format!("{base}ghcr/*"), format!("{base}docker-hub/*")])
            )]),
            account(),
            None,
            "ok",
        );
        check(
            "NotResource elsewhere grants",
            json!([{"Effect": "Allow", "Principal": root(), "Action": "ecr:*", "NotResource": format!("{base}ghcr/*")}]),
            account(),
            None,
            "ok",
        );
        check(
            "NotResource reaching the prefix grants nothing certain",
            json!([{"Effect": "Allow", "Principal": root(), "Action": "ecr:*", "NotResource": format!("{base}docker-hub/private/*")}]),
            account(),
            None,
            "missing",
        );
    }

    #[test]
    fn denies() {
        let base = "arn:aws:ecr:eu-west-1:999999999999:repository/";
        let grant = allow(root(), json!("ecr:*"), json!("*"));
        let deny = |principal: Value, resource: String| json!({"Sid": "NoImport", "Effect": "Deny", "Principal": principal, "Action": "ecr:BatchImport*", "Resource": resource});
        check(
            "Deny overrides Allow",
            json!([grant.clone(), deny(json!("*"), format!("{base}*"))]),
            account(),
            None,
            "denied",
        );
        check(
            "Deny on a part of the prefix",
            json!([
                grant.clone(),
                deny(json!("*"), format!("{base}docker-hub/private/*"))
            ]),
            account(),
            None,
            "denied",
        );
        check(
            "Deny on another prefix",
            json!([grant.clone(), deny(json!("*"), format!("{base}ghcr/*"))]),
            account(),
            None,
            "ok",
        );
        check(
            "Deny to another account",
            json!([
                grant.clone(),
                deny(json!({"AWS": "222222222222"}), format!("{base}*"))
            ]),
            account(),
            None,
            "ok",
        );
        check(
            "Deny before Allow",
            json!([deny(root(), "*".to_owned()), grant.clone()]),
            role(),
            None,
            "denied",
        );
        check(
            "Deny NotPrincipal naming the caller may still reach its sessions",
            json!([grant.clone(), {"Effect": "Deny", "NotPrincipal": root(), "Action": "ecr:*", "Resource": "*"}]),
            account(),
            None,
            "unknown",
        );
        check(
            "Deny NotPrincipal naming the caller, on other actions",
            json!([grant.clone(), {"Effect": "Deny", "NotPrincipal": root(), "Action": "ecr:Delete*", "Resource": "*"}]),
            account(),
            None,
            "ok",
        );
        check(
            "Allow NotPrincipal naming the caller grants nothing",
            json!([{"Effect": "Allow", "NotPrincipal": root(), "Action": "ecr:*", "Resource": "*"}]),
            account(),
            None,
            "missing",
        );
        check(
            "Deny NotPrincipal not excluding the caller",
            json!([grant.clone(), {"Effect": "Deny", "NotPrincipal": {"AWS": "222222222222"}, "Action": "ecr:*", "Resource": "*"}]),
            account(),
            None,
            "denied",
        );
        check(
            "Deny NotResource covering the prefix",
            json!([grant.clone(), {"Effect": "Deny", "Principal": "*", "Action": "ecr:*", "NotResource": format!("{base}docker-hub/*")}]),
            account(),
            None,
            "ok",
        );
        check(
            "Deny with a condition it cannot evaluate",
            json!([grant, {"Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
            account(),
            None,
            "unknown",
        );
    }

    /// The organisation of the callers in the condition table.
    const ORG: Option<&str> = Some("o-abc123def4");

    /// A statement allowing everything to everyone under `condition`, as `caller` meets it.
    fn check_condition(
        name: &str,
        condition: Value,
        caller: Caller,
        org: Option<&str>,
        expected: &str,
    ) {
        let star_with = |condition: Value| json!([{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": condition}]);
        check(name, star_with(condition), caller, org, expected);
    }

    named_cases! {
        /// Conditions: which callers a `Condition` lets through, and which it cannot decide.
        mod conditions => check_condition;
        org_id_organisation_configured(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}),
            account(),
            ORG,
            "ok",
        ),
        another_org_id(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-other00000"}}),
            account(),
            ORG,
            "missing",
        ),
        org_id_organisation_not_configured(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}),
            account(),
            None,
            "unknown",
        ),
        org_id_foranyvalue(
            json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgID": ["o-abc*"]}}),
            account(),
            ORG,
            "ok",
        ),
        principal_account_listed(
            json!({"StringEquals": {"aws:PrincipalAccount": ["111111111111"]}}),
            role(),
            None,
            "ok",
        ),
        account_key_in_any_case(
            json!({"StringEquals": {"AWS:principalaccount": "111111111111"}}),
            role(),
            None,
            "ok",
        ),
        another_account(
            json!({"StringEquals": {"aws:PrincipalAccount": "222222222222"}}),
            role(),
            None,
            "missing",
        ),
        role_arn_for_the_role(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/eks-*"}}),
            role(),
            None,
            "ok",
        ),
        role_arn_not_matching(
            json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/ci"}}),
            role(),
            None,
            "missing",
        ),
        role_arn_for_a_whole_account(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/*"}}),
            account(),
            None,
            "unknown",
        ),
        other_key(
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            account(),
            ORG,
            "unknown",
        ),
        two_keys_one_unknown(
            json!({"StringEquals": {"aws:PrincipalAccount": "111111111111", "aws:SourceVpce": "vpce-1"}}),
            account(),
            None,
            "unknown",
        ),
        two_keys_one_false(
            json!({"StringEquals": {"aws:PrincipalAccount": "222222222222", "aws:SourceVpce": "vpce-1"}}),
            account(),
            None,
            "missing",
        ),
        null_false_on_a_known_key(
            json!({"Null": {"aws:PrincipalAccount": "false"}}),
            account(),
            None,
            "ok",
        ),
        policy_variable(
            json!({"StringEquals": {"aws:PrincipalAccount": "${aws:username}"}}),
            account(),
            None,
            "unknown",
        ),
    }

    #[test]
    fn shapes() {
        let single = json!({"Effect": "Allow", "Principal": root(), "Action": "ecr:*", "Resource": RESOURCE});
        check("a single statement object", single, account(), None, "ok");
        check(
            "no statements granting",
            json!([]),
            account(),
            None,
            "missing",
        );
        check(
            "a statement that is not an object",
            json!(["x"]),
            account(),
            None,
            "unknown",
        );
        check_action(
            "the pull actions",
            json!([allow(
                root(),
                json!(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]),
                json!("*")
            )]),
            account(),
            None,
            "ecr:GetDownloadUrlForLayer",
            "ok",
        );
    }

    #[test]
    fn callers_parse() {
        assert!(matches!(
            Caller::parse("111111111111"),
            Ok(Caller::Account { .. })
        ));
        assert!(matches!(
            Caller::parse("arn:aws:iam::111111111111:root"),
            Ok(Caller::Account { .. })
        ));
        assert!(matches!(
            Caller::parse(NODE_ROLE),
            Ok(Caller::Principal { .. })
        ));
        assert!(matches!(
            Caller::parse("arn:aws-cn:iam::111111111111:role/path/ci"),
            Ok(Caller::Principal { .. })
        ));
        assert!(matches!(
            Caller::parse("arn:aws:iam::111111111111:user/alice"),
            Ok(Caller::Principal { .. })
        ));
    }

    /// `bad` is not a caller: parsing it fails.
    fn check_refused_caller(name: &str, bad: &str) {
        assert!(Caller::parse(bad).is_err(), "{name}: {bad} parsed");
    }

    named_cases! {
        /// Texts that name no account and no IAM role or user are refused as callers.
        mod refused_callers => check_refused_caller;
        eleven_digit_account("11111111111"),
        assumed_role_session("arn:aws:sts::111111111111:assumed-role/node/i-0abc"),
        group("arn:aws:iam::111111111111:group/admins"),
        role_without_a_name("arn:aws:iam::111111111111:role/"),
        role_name_with_a_wildcard("arn:aws:iam::111111111111:role/eks-*"),
        not_an_iam_arn("arn:aws:s3:::bucket"),
        bare_role_name("eks-node"),
    }
}
