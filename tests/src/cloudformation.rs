//! The SAM template (`infra/template.yaml`) read as CloudFormation reads it: YAML with short
//! tags, `Fn::ForEach` expanded (when a template has one), intrinsic functions (`Ref`, `Fn::Sub`, `Fn::GetAtt`,
//! `Fn::If`, conditions…) evaluated for one set of parameter values in a fixed account and
//! region, and the IAM grants of each role read off the result. Used by the template tests.

use std::collections::{BTreeMap, BTreeSet};

use ptc_ops::domain::permissions::Grant;
use serde_json::{json, Map, Value};

use crate::repo_root;

pub const PARTITION: &str = "aws";
pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "111111111111";
pub const STACK: &str = "ptc-ops";

/// YAML → JSON with the short tags in their long form (`!Ref X` → `{"Ref": "X"}`).
pub fn to_json(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(flag) => Value::Bool(flag),
        Yaml::Number(number) => serde_json::from_str(&number.to_string())
            .unwrap_or_else(|_| Value::String(number.to_string())),
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(key, value)| {
                    let key = match to_json(key) {
                        Value::String(key) => key,
                        other => other.to_string(),
                    };
                    (key, to_json(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            match tag {
                "Ref" | "Condition" => json!({ tag: value }),
                "GetAtt" => match value {
                    Value::String(text) => {
                        let (resource, attribute) = text.split_once('.').unwrap_or((&text, ""));
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({"Fn::GetAtt": other}),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

/// `infra/template.yaml`.
pub fn template() -> Value {
    template_file("infra/template.yaml")
}

/// A CloudFormation template of the repository, by its path from the root.
pub fn template_file(relative: &str) -> Value {
    let path = repo_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let yaml: serde_norway::Value = serde_norway::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()));
    to_json(yaml)
}

/// The template evaluated for one set of parameter values.
pub struct Stack {
    pub template: Value,
    pub parameters: BTreeMap<String, Value>,
    /// Resources after `Fn::ForEach`, each with the loop variables it was made with.
    pub resources: BTreeMap<String, (Value, BTreeMap<String, Value>)>,
}

impl Stack {
    pub fn new(overrides: &[(&str, &str)]) -> Stack {
        Stack::of(template(), overrides)
    }

    /// Any template evaluated for these parameter values (the others at their default).
    pub fn of(template: Value, overrides: &[(&str, &str)]) -> Stack {
        let mut parameters = BTreeMap::new();
        for (name, declaration) in template["Parameters"].as_object().into_iter().flatten() {
            let raw = overrides
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| (*value).to_owned())
                .or_else(|| match &declaration["Default"] {
                    Value::String(text) => Some(text.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .unwrap_or_else(|| panic!("parameter `{name}` has no default and no value"));
            let value = if declaration["Type"] == "CommaDelimitedList" {
                json!(raw.split(',').map(str::trim).collect::<Vec<_>>())
            } else {
                json!(raw)
            };
            parameters.insert(name.clone(), value);
        }
        let mut stack = Stack {
            template,
            parameters,
            resources: BTreeMap::new(),
        };
        stack.expand_resources();
        stack
    }

    pub fn expand_resources(&mut self) {
        let declared = self.template["Resources"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, body) in declared {
            if !key.starts_with("Fn::ForEach::") {
                self.resources.insert(key, (body, BTreeMap::new()));
                continue;
            }
            let [identifier, collection, outputs] = body
                .as_array()
                .and_then(|items| <[Value; 3]>::try_from(items.clone()).ok())
                .unwrap_or_else(|| panic!("`{key}` is not [identifier, collection, outputs]"));
            let identifier = identifier.as_str().expect("loop identifier").to_owned();
            let values = self.eval(&collection, &BTreeMap::new());
            for value in values.as_array().expect("loop collection is a list") {
                let text = value.as_str().expect("loop values are strings");
                let scope = BTreeMap::from([(identifier.clone(), value.clone())]);
                for (template_key, resource) in outputs.as_object().expect("loop outputs") {
                    let alphanumeric: String =
                        text.chars().filter(char::is_ascii_alphanumeric).collect();
                    let logical_id = template_key
                        .replace(&format!("&{{{identifier}}}"), &alphanumeric)
                        .replace(&format!("${{{identifier}}}"), text);
                    self.resources
                        .insert(logical_id, (resource.clone(), scope.clone()));
                }
            }
        }
    }

    pub fn resource(&self, logical_id: &str) -> &Value {
        &self
            .resources
            .get(logical_id)
            .unwrap_or_else(|| panic!("the template has no resource `{logical_id}`"))
            .0
    }

    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources
            .get(logical_id)
            .and_then(|(resource, _)| resource["Type"].as_str())
    }

    /// A value with every intrinsic function evaluated. Resources the evaluation cannot name
    /// stay symbolic: `{{Logical}}` for a `Ref`, `{{Logical.Attribute}}` for a `GetAtt`.
    pub fn eval(&self, value: &Value, scope: &BTreeMap<String, Value>) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.eval(item, scope))
                    .filter(|item| *item != no_value())
                    .collect(),
            ),
            Value::Object(object) if object.len() == 1 => {
                let (key, argument) = object.iter().next().expect("one key");
                match key.as_str() {
                    "Ref" => self.reference(argument.as_str().expect("Ref name"), scope),
                    "Fn::GetAtt" => {
                        let parts = argument.as_array().expect("GetAtt [resource, attribute]");
                        self.attribute(
                            parts[0].as_str().expect("GetAtt resource"),
                            parts[1].as_str().expect("GetAtt attribute"),
                        )
                    }
                    "Fn::Sub" => self.substitute(argument, scope),
                    "Fn::Join" => {
                        let parts = argument.as_array().expect("Join [delimiter, list]");
                        let delimiter = parts[0].as_str().expect("Join delimiter is literal");
                        let items = self.eval(&parts[1], scope);
                        let texts: Vec<String> = items
                            .as_array()
                            .expect("Join list")
                            .iter()
                            .map(|item| item.as_str().expect("Join items").to_owned())
                            .collect();
                        json!(texts.join(delimiter))
                    }
                    "Fn::Split" => {
                        let parts = argument.as_array().expect("Split [delimiter, text]");
                        let delimiter = parts[0].as_str().expect("Split delimiter is literal");
                        let text = self.eval(&parts[1], scope);
                        json!(text
                            .as_str()
                            .expect("Split text")
                            .split(delimiter)
                            .collect::<Vec<_>>())
                    }
                    "Fn::If" => {
                        let parts = argument.as_array().expect("If [condition, then, else]");
                        let name = parts[0].as_str().expect("If condition name");
                        if self.condition(name) {
                            self.eval(&parts[1], scope)
                        } else {
                            self.eval(&parts[2], scope)
                        }
                    }
                    _ => Value::Object(
                        object
                            .iter()
                            .map(|(key, value)| (key.clone(), self.eval(value, scope)))
                            .collect(),
                    ),
                }
            }
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.clone(), self.eval(value, scope)))
                    .filter(|(_, value)| *value != no_value())
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn reference(&self, name: &str, scope: &BTreeMap<String, Value>) -> Value {
        if let Some(value) = scope.get(name) {
            return value.clone();
        }
        match name {
            "AWS::Partition" => return json!(PARTITION),
            "AWS::Region" => return json!(REGION),
            "AWS::AccountId" => return json!(ACCOUNT),
            "AWS::StackName" => return json!(STACK),
            "AWS::NoValue" => return no_value(),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return value.clone();
        }
        match self.resource_type(name) {
            Some("AWS::Serverless::Function") => self.property(name, "FunctionName"),
            Some("AWS::Logs::LogGroup") => self.property(name, "LogGroupName"),
            Some(_) => json!(format!("{{{{{name}}}}}")),
            None => panic!("`Ref {name}` names nothing in the template"),
        }
    }

    pub fn attribute(&self, name: &str, attribute: &str) -> Value {
        match (self.resource_type(name), attribute) {
            (Some("AWS::Logs::LogGroup"), "Arn") => json!(format!(
                "arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{}:*",
                self.property(name, "LogGroupName")
                    .as_str()
                    .expect("log group name")
            )),
            (Some("AWS::Serverless::Function"), "Arn") => json!(format!(
                "arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{}",
                self.property(name, "FunctionName")
                    .as_str()
                    .expect("function name")
            )),
            (Some(_), _) => json!(format!("{{{{{name}.{attribute}}}}}")),
            (None, _) => panic!("`GetAtt {name}.{attribute}` names nothing in the template"),
        }
    }

    /// A property evaluated; `Null` when it is absent or `Ref AWS::NoValue`.
    pub fn property(&self, logical_id: &str, property: &str) -> Value {
        let (resource, scope) = &self.resources[logical_id];
        let value = self.eval(&resource["Properties"][property], scope);
        if value == no_value() {
            Value::Null
        } else {
            value
        }
    }

    pub fn substitute(&self, argument: &Value, scope: &BTreeMap<String, Value>) -> Value {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), Map::new()),
            Value::Array(parts) => (
                parts[0].as_str().expect("Sub text is literal"),
                parts[1].as_object().cloned().unwrap_or_default(),
            ),
            other => panic!("unexpected Fn::Sub argument {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("unclosed ${") + start;
            let name = &rest[start + 2..end];
            let value = if let Some(value) = variables.get(name) {
                self.eval(value, scope)
            } else if let Some((resource, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                self.attribute(resource, attribute)
            } else {
                self.reference(name, scope)
            };
            out.push_str(
                value
                    .as_str()
                    .unwrap_or_else(|| panic!("`${{{name}}}` is not text")),
            );
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        json!(out)
    }

    pub fn condition(&self, name: &str) -> bool {
        let definition = &self.template["Conditions"][name];
        assert!(!definition.is_null(), "no condition `{name}`");
        self.truth(definition)
    }

    pub fn truth(&self, value: &Value) -> bool {
        let (key, argument) = value
            .as_object()
            .and_then(|object| object.iter().next())
            .unwrap_or_else(|| panic!("not a condition: {value}"));
        let empty = BTreeMap::new();
        match key.as_str() {
            "Fn::Not" => !self.truth(&argument[0]),
            "Fn::And" => argument
                .as_array()
                .into_iter()
                .flatten()
                .all(|item| self.truth(item)),
            "Fn::Or" => argument
                .as_array()
                .into_iter()
                .flatten()
                .any(|item| self.truth(item)),
            "Fn::Equals" => self.eval(&argument[0], &empty) == self.eval(&argument[1], &empty),
            "Condition" => self.condition(argument.as_str().expect("condition name")),
            other => panic!("unknown condition function `{other}`"),
        }
    }

    /// The names of a role's inline policies and of the role policies attached to it.
    pub fn policy_names_of_role(&self, role: &str) -> Vec<String> {
        let (role_resource, role_scope) = &self.resources[role];
        let inline = role_resource["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|policy| self.eval(&policy["PolicyName"], role_scope));
        let attached = self
            .resources
            .iter()
            .filter(|(_, (resource, _))| {
                resource["Type"] == "AWS::IAM::RolePolicy"
                    && resource["Properties"]["RoleName"] == json!({"Ref": role})
                    && resource["Condition"]
                        .as_str()
                        .is_none_or(|condition| self.condition(condition))
            })
            .map(|(logical_id, _)| self.property(logical_id, "PolicyName"));
        inline
            .chain(attached)
            .map(|name| {
                name.as_str()
                    .unwrap_or_else(|| panic!("{role}: a policy name is not text: {name}"))
                    .to_owned()
            })
            .collect()
    }

    /// The policy documents of a role, evaluated: its inline policies and the role policies
    /// attached to it, in that order.
    pub fn policy_documents_of_role(&self, role: &str) -> Vec<Value> {
        let mut documents = Vec::new();
        let (role_resource, role_scope) = &self.resources[role];
        for policy in role_resource["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            documents.push(self.eval(&policy["PolicyDocument"], role_scope));
        }
        for (resource, scope) in self.resources.values() {
            let attached = resource["Type"] == "AWS::IAM::RolePolicy"
                && resource["Properties"]["RoleName"] == json!({"Ref": role});
            // A resource whose `Condition` is false is not created.
            let created = resource["Condition"]
                .as_str()
                .is_none_or(|condition| self.condition(condition));
            if attached && created {
                documents.push(self.eval(&resource["Properties"]["PolicyDocument"], scope));
            }
        }
        documents
    }

    /// Every grant a role's policies make (its inline policies and the role policies attached
    /// to it): action, resource and the statement's condition.
    pub fn grants_of_role(&self, role: &str) -> BTreeSet<Grant> {
        let documents = self.policy_documents_of_role(role);
        let statements: Vec<&Value> = documents
            .iter()
            .flat_map(|document| document["Statement"].as_array().into_iter().flatten())
            .collect();
        // A `Deny` on everything but one ARN pattern (`NotResource`) narrows the allowed
        // resources of its actions to that pattern; nothing else may deny.
        let mut kept: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for statement in statements.iter().filter(|s| s["Effect"] == "Deny") {
            assert!(
                statement.get("Resource").is_none()
                    && statement.get("NotAction").is_none()
                    && statement.get("Condition").is_none(),
                "{role}: a Deny must be `NotResource` alone: {statement}"
            );
            for action in one_or_many(&statement["Action"]) {
                kept.entry(action)
                    .or_default()
                    .extend(one_or_many(&statement["NotResource"]));
            }
        }
        let mut grants = BTreeSet::new();
        for statement in statements {
            if statement["Effect"] == "Deny" {
                continue;
            }
            assert_eq!(statement["Effect"], "Allow", "{role}: {statement}");
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "{role}: {statement}"
            );
            let condition = statement
                .get("Condition")
                .map(|condition| condition_with_lists(condition).to_string())
                .unwrap_or_default();
            for action in one_or_many(&statement["Action"]) {
                for resource in one_or_many(&statement["Resource"]) {
                    let resource = match kept.get(&action) {
                        None => Some(resource),
                        Some(patterns) => patterns
                            .iter()
                            .find_map(|pattern| intersect_arn(&resource, pattern)),
                    };
                    // Wholly denied: granted nowhere.
                    let Some(resource) = resource else { continue };
                    grants.insert(Grant {
                        action: action.clone(),
                        resource,
                        condition: condition.clone(),
                    });
                }
            }
        }
        grants
    }
}

/// The ARN pattern both `allowed` and `kept` match, when one of them is the narrower in each
/// part: a `*` partition, region or account in one takes the other's, and the resource of
/// `allowed` must lie under the resource of `kept` (`repository/team/*` under `repository/*`).
/// `None` when they share nothing, or when the answer would not be one pattern.
pub fn intersect_arn(allowed: &str, kept: &str) -> Option<String> {
    let allowed_parts: Vec<&str> = allowed.splitn(6, ':').collect();
    let kept_parts: Vec<&str> = kept.splitn(6, ':').collect();
    if allowed_parts.len() != 6 || kept_parts.len() != 6 {
        return None;
    }
    let mut parts = Vec::with_capacity(6);
    for index in 0..5 {
        let (a, k) = (allowed_parts[index], kept_parts[index]);
        parts.push(if a == k || k == "*" {
            a
        } else if a == "*" {
            k
        } else {
            return None;
        });
    }
    let (resource, within) = (allowed_parts[5], kept_parts[5]);
    let inside = match within.strip_suffix('*') {
        Some(stem) => resource.starts_with(stem),
        None => resource == within,
    };
    if !inside {
        return None;
    }
    parts.push(resource);
    Some(parts.join(":"))
}

/// What `Ref AWS::NoValue` evaluates to: removed from the list or object holding it.
pub fn no_value() -> Value {
    json!({"AWS::NoValue": true})
}

/// A condition as compact JSON with every value a list (`""` stays `""`).
pub fn normalised_condition(condition: &str) -> String {
    if condition.is_empty() {
        return String::new();
    }
    let parsed: Value = serde_json::from_str(condition).expect("condition JSON");
    condition_with_lists(&parsed).to_string()
}

/// A condition block with every value a list, as IAM reads a single value.
pub fn condition_with_lists(condition: &Value) -> Value {
    let Some(operators) = condition.as_object() else {
        return condition.clone();
    };
    Value::Object(
        operators
            .iter()
            .map(|(operator, keys)| {
                let keys = keys
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(key, value)| (key.clone(), json!(one_or_many(value))))
                    .collect();
                (operator.clone(), Value::Object(keys))
            })
            .collect(),
    )
}

pub fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("text").to_owned())
            .collect(),
        other => panic!("expected text or a list of text, got {other}"),
    }
}
