//! `[consumers]`: the accounts and roles that pull through the cache, whose first pull of a new
//! image the consumer doctor checks.

use std::collections::BTreeMap;

use crate::domain::policy_eval::Caller;

use super::hardening::parse_rule_prefix;
use super::reader::{describe, Field, KeyPath, Problems, Section};

/// Settings of `[consumers]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumersConfig {
    /// `accounts` then `principals`, in the order written.
    pub consumers: Vec<Consumer>,
    /// `organization_id`: the AWS Organizations id every consumer belongs to, so that policies
    /// conditioned on `aws:PrincipalOrgID` can be evaluated.
    pub organization_id: Option<String>,
}

impl ConsumersConfig {
    pub fn is_empty(&self) -> bool {
        self.consumers.is_empty()
    }
}

/// One account (`accounts`) or IAM role or user (`principals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub caller: Caller,
    /// `consumers.prefixes."<consumer>"`: the rule prefixes it uses; `None` means every rule.
    pub prefixes: Option<Vec<String>>,
}

impl Consumer {
    /// Whether the consumer uses the rule with this prefix.
    pub fn uses(&self, prefix: &str) -> bool {
        self.prefixes
            .as_ref()
            .is_none_or(|prefixes| prefixes.iter().any(|wanted| wanted == prefix))
    }
}

fn parse_account(text: &str) -> Result<Caller, String> {
    match Caller::parse(text) {
        Ok(caller @ Caller::Account { .. }) => Ok(caller),
        _ => Err("expected a 12-digit account id (roles go in `consumers.principals`)".to_owned()),
    }
}

fn parse_principal(text: &str) -> Result<Caller, String> {
    match Caller::parse_principal(text) {
        Ok(caller @ Caller::Principal { .. }) => Ok(caller),
        Ok(Caller::Account { .. }) => Err(
            "expected an IAM role or user ARN; a whole account goes in `consumers.accounts`"
                .to_owned(),
        ),
        Err(expected) => Err(expected),
    }
}

/// `o-` and 10 to 32 lowercase letters or digits.
fn parse_organization_id(text: &str) -> Result<String, String> {
    let valid = text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected an AWS Organizations id like `o-a1b2c3d4e5`".to_owned())
    }
}

pub(crate) fn read_consumers(
    mut section: Section<'_>,
    problems: &mut Problems,
) -> Option<ConsumersConfig> {
    let accounts_path = section.path_of("accounts");
    let principals_path = section.path_of("principals");
    let accounts = section.list("accounts", problems, parse_account);
    let principals = section.list("principals", problems, parse_principal);
    let organization_id = section.string("organization_id", problems, parse_organization_id);
    let prefixes = match section.table("prefixes", problems) {
        Field::Absent => Some(None),
        Field::Invalid => None,
        Field::Present(table) => read_prefixes(table, problems).map(Some),
    };
    section.finish(problems);

    let accounts = accounts.or(Vec::new());
    let principals = principals.or(Vec::new());
    for (path, list) in [(&accounts_path, &accounts), (&principals_path, &principals)] {
        if let Some(list) = list {
            report_duplicate_callers(path, list, problems);
        }
    }
    let (accounts, principals) = (accounts?, principals?);
    let mut prefixes = prefixes?;
    let known: Vec<String> = accounts
        .iter()
        .chain(&principals)
        .map(ToString::to_string)
        .collect();
    let prefixes_path = KeyPath::default().key("consumers").key("prefixes");
    let mut unknown = false;
    for consumer in prefixes.iter().flat_map(BTreeMap::keys) {
        if !known.contains(consumer) {
            problems.report(
                &prefixes_path.quoted_key(consumer),
                "not a consumer: name an entry of `consumers.accounts` or `consumers.principals` exactly as written there",
            );
            unknown = true;
        }
    }
    if unknown {
        return None;
    }
    let consumers = accounts
        .into_iter()
        .chain(principals)
        .map(|caller| {
            let prefixes = prefixes
                .as_mut()
                .and_then(|map| map.remove(&caller.to_string()));
            Consumer { caller, prefixes }
        })
        .collect();
    Some(ConsumersConfig {
        consumers,
        organization_id: organization_id.optional()?,
    })
}

/// `[consumers.prefixes]`: consumer → rule prefixes. `None` when an entry is invalid.
fn read_prefixes(
    section: Section<'_>,
    problems: &mut Problems,
) -> Option<BTreeMap<String, Vec<String>>> {
    let path = section.path().clone();
    let mut map = BTreeMap::new();
    let mut valid = true;
    for (consumer, value) in section.into_entries() {
        let entry_path = path.quoted_key(consumer);
        let Some(items) = value.as_array() else {
            problems.report(
                &entry_path,
                format!(
                    "expected a list of rule prefixes, found {}",
                    describe(value)
                ),
            );
            valid = false;
            continue;
        };
        let mut prefixes = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.as_str().map(parse_rule_prefix) {
                Some(Ok(prefix)) => prefixes.push(prefix),
                Some(Err(expected)) => {
                    problems.report(
                        &entry_path.index(index),
                        format!("{expected}, found {}", describe(item)),
                    );
                    valid = false;
                }
                None => {
                    problems.report(
                        &entry_path.index(index),
                        format!("expected a string, found {}", describe(item)),
                    );
                    valid = false;
                }
            }
        }
        if prefixes.is_empty() && items.is_empty() {
            problems.report(
                &entry_path,
                "expected at least one rule prefix; leave the consumer out to give it every rule",
            );
            valid = false;
        }
        map.insert(consumer.clone(), prefixes);
    }
    valid.then_some(map)
}

fn report_duplicate_callers(path: &KeyPath, callers: &[Caller], problems: &mut Problems) {
    for (index, caller) in callers.iter().enumerate() {
        if let Some(first) = callers[..index]
            .iter()
            .position(|earlier| earlier == caller)
        {
            problems.report(
                &path.index(index),
                format!("duplicate consumer `{caller}`, already at index {first}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    use super::*;

    fn load(text: &str) -> Result<ConsumersConfig, Vec<String>> {
        Config::from_toml_str(text, Path::new("."), "test")
            .map(|config| config.consumers)
            .map_err(|error| error.problems().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_consumers_with_their_prefixes() {
        let consumers = load(
            r#"
            [consumers]
            accounts = ["111111111111"]
            principals = ["arn:aws:iam::222222222222:role/ci-runner", "arn:aws:iam::222222222222:role/eks/node"]
            organization_id = "o-abc123def4"
            [consumers.prefixes]
            "arn:aws:iam::222222222222:role/ci-runner" = ["ghcr", "ROOT"]
            "#,
        )
        .expect("valid");
        assert_eq!(consumers.organization_id.as_deref(), Some("o-abc123def4"));
        let names: Vec<String> = consumers
            .consumers
            .iter()
            .map(|consumer| consumer.caller.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "111111111111",
                "arn:aws:iam::222222222222:role/ci-runner",
                "arn:aws:iam::222222222222:role/eks/node"
            ]
        );
        assert!(consumers.consumers[0].uses("docker-hub"));
        assert!(consumers.consumers[1].uses("ghcr"));
        assert!(!consumers.consumers[1].uses("docker-hub"));
    }

    #[test]
    fn absent_section_means_no_consumers() {
        assert!(load("").expect("valid").is_empty());
    }

    #[test]
    fn every_bad_key_is_named() {
        let problems = load(
            r#"
            [consumers]
            accounts = ["11111111111", "arn:aws:iam::111111111111:role/x", "333333333333", "333333333333"]
            principals = ["arn:aws:sts::222222222222:assumed-role/node/i-0abc", "eks-node", "arn:aws:iam::222222222222:root"]
            organization_id = "org-1"
            colour = true
            [consumers.prefixes]
            "444444444444" = ["docker-hub"]
            "#,
        )
        .expect_err("should be refused");
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            keys,
            [
                "consumers.accounts[0]",
                "consumers.accounts[1]",
                "consumers.principals[0]",
                "consumers.principals[1]",
                "consumers.principals[2]",
                "consumers.organization_id",
                "consumers.colour",
            ],
            "{problems:#?}"
        );
        assert!(problems[2].contains("session ARN"), "{}", problems[2]);
    }

    #[test]
    fn prefixes_name_known_consumers_and_valid_prefixes() {
        let problems = load(
            r#"
            [consumers]
            accounts = ["111111111111", "111111111111"]
            [consumers.prefixes]
            "111111111111" = ["Docker Hub"]
            "#,
        )
        .expect_err("should be refused");
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("consumers.prefixes.\"111111111111\"[0]"));
        assert!(problems[1].starts_with("consumers.accounts[1]: duplicate consumer"));
        let problems = load(
            r#"
            [consumers]
            accounts = ["111111111111"]
            [consumers.prefixes]
            "222222222222" = ["ghcr"]
            "#,
        )
        .expect_err("should be refused");
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("consumers.prefixes.\"222222222222\": not a consumer"));
    }
}
