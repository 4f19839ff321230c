"""ECR's lifecycle policy rules, as strict as ECR enforces them.

moto's validator predates the archive storage class: it refuses `sinceImagePulled`,
`transition` and `storageClass`, and knows none of the pairings ECR enforces since. Widening it
made the emulator accept `sinceImagePulled` with `expire`, which ECR refuses, so a shipped policy
passed every test and would have failed on every repository. This module replaces it for
`PutLifecyclePolicy`, lifecycle previews and creation templates.

Sources (ECR user guide): LifecyclePolicies.html, lifecycle_policy_parameters.html,
lifecycle_policy_examples.html, archive-image.html; the botocore ECR service model for the text
length (100 to 30,720 characters). Every case is also a row of
`tests/fixtures/lifecycle-policies.json`, run against this module and the product's validator.
"""

from __future__ import annotations

import json

MIN_TEXT_CHARS = 100  # botocore: LifecyclePolicyText min 100
MAX_TEXT_CHARS = 30_720  # botocore: LifecyclePolicyText max 30720
MAX_RULES = 50  # ECR user guide, service-quotas.html: rules per lifecycle policy
MAX_WILDCARDS = 4  # lifecycle_policy_parameters.html: "maximum limit of four wildcards"
MIN_DAYS_IN_ARCHIVE = 90  # archive-image.html: 90-day minimum storage duration in archive

TAG_STATUS = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
STORAGE_CLASSES = ("standard", "archive")
ACTIONS = ("expire", "transition")
RULE_KEYS = ("rulePriority", "description", "selection", "action")
SELECTION_KEYS = ("tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit",
                  "countNumber", "storageClass")
ACTION_KEYS = ("type", "targetStorageClass")

# The count type decides the action since the archive storage class (archive-image.html;
# AWS closed containers-roadmap#921 saying `sinceImagePulled` archives on purpose).
ALLOWED_ACTIONS = {
    "imageCountMoreThan": ("expire", "transition"),
    "sinceImagePushed": ("expire", "transition"),
    "sinceImagePulled": ("transition",),
    "sinceImageTransitioned": ("expire",),
}

ERROR_PREFIX = ("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
                "'Lifecycle policy validation failure: ")


def invalid_parameter_message(problem: str) -> str:
    """ECR's message shape for a refused lifecycle policy."""
    return f"{ERROR_PREFIX}{problem}'"


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def unknown_keys(self, obj: dict, path: str, known) -> None:
        for key in obj:
            if key not in known:
                self.report(_child(path, key), f"unknown key, expected one of {', '.join(known)}")

    def choice(self, obj: dict, path: str, key: str, choices):
        value = obj.get(key)
        if value is None and key not in obj:
            self.report(_child(path, key), f"missing, expected one of {', '.join(choices)}")
            return None
        if value not in choices:
            self.report(_child(path, key), f"expected one of {', '.join(choices)}, found {value!r}")
            return None
        return value

    def tag_list(self, selection: dict, path: str, key: str):
        if key not in selection:
            return None
        value = selection[key]
        if not isinstance(value, list) or not value:
            self.report(_child(path, key), "expected a non-empty list of strings")
            return None
        if not all(isinstance(item, str) and item for item in value):
            self.report(_child(path, key), "expected a non-empty list of strings")
            return None
        return value

    def rule(self, rule, path: str) -> dict:
        fields = {"path": path, "priority": None, "tag_status": None, "storage_class": None,
                  "tag_list": None}
        if not isinstance(rule, dict):
            self.report(path, "expected a rule object")
            return fields
        self.unknown_keys(rule, path, RULE_KEYS)
        priority = rule.get("rulePriority")
        if not _is_positive_int(priority):
            self.report(_child(path, "rulePriority"), f"expected an integer greater than 0, found {priority!r}")
        else:
            fields["priority"] = priority
        if "description" in rule and not isinstance(rule["description"], str):
            self.report(_child(path, "description"), "expected a string")
        selection, action = rule.get("selection"), rule.get("action")
        if not isinstance(selection, dict):
            self.report(_child(path, "selection"), "missing, expected an object")
            selection = None
        if not isinstance(action, dict):
            self.report(_child(path, "action"), "missing, expected an object")
            action = None
        count_type = action_type = None
        if selection is not None:
            count_type = self.selection(selection, _child(path, "selection"), fields)
        if action is not None:
            action_type = self.action(action, _child(path, "action"))
        if count_type and action_type and action_type not in ALLOWED_ACTIONS[count_type]:
            expected = "transition (to archive)" if count_type == "sinceImagePulled" else "expire"
            self.report(_child(path, "action.type"),
                        f"countType {count_type} only pairs with type {expected}, found {action_type}")
        if count_type and fields["storage_class"]:
            expected = "archive" if count_type == "sinceImageTransitioned" else "standard"
            if fields["storage_class"] != expected:
                if expected == "archive":
                    message = f"countType {count_type} needs storageClass archive"
                else:
                    message = f"storageClass archive only pairs with countType sinceImageTransitioned, found {count_type}"
                self.report(_child(path, "selection.storageClass"), message)
                fields["storage_class"] = None
        if count_type == "sinceImageTransitioned" and selection is not None:
            days = selection.get("countNumber")
            if _is_positive_int(days) and days < MIN_DAYS_IN_ARCHIVE:
                self.report(_child(path, "selection.countNumber"),
                            f"archived images must stay at least {MIN_DAYS_IN_ARCHIVE} days before "
                            f"a rule deletes them, found {days}")
        return fields

    def selection(self, selection: dict, path: str, fields: dict):
        self.unknown_keys(selection, path, SELECTION_KEYS)
        tag_status = self.choice(selection, path, "tagStatus", TAG_STATUS)
        fields["tag_status"] = tag_status
        prefixes = self.tag_list(selection, path, "tagPrefixList")
        patterns = self.tag_list(selection, path, "tagPatternList")
        for index, pattern in enumerate(patterns or []):
            if pattern.count("*") > MAX_WILDCARDS:
                self.report(f"{_child(path, 'tagPatternList')}[{index}]",
                            f"at most {MAX_WILDCARDS} wildcards per pattern")
        has_prefixes, has_patterns = "tagPrefixList" in selection, "tagPatternList" in selection
        if tag_status == "tagged":
            if not has_prefixes and not has_patterns:
                self.report(_child(path, "tagStatus"), "tagged needs tagPrefixList or tagPatternList")
            elif has_prefixes and has_patterns:
                self.report(_child(path, "tagPatternList"), "tagged takes tagPrefixList or tagPatternList, not both")
            else:
                key, values = ("tagPatternList", patterns) if has_patterns else ("tagPrefixList", prefixes)
                if values is not None:
                    fields["tag_list"] = (key, tuple(sorted(set(values))))
        elif tag_status in ("untagged", "any"):
            for key in ("tagPrefixList", "tagPatternList"):
                if key in selection:
                    self.report(_child(path, key), f"not allowed with tagStatus {tag_status}")
        count_type = self.choice(selection, path, "countType", COUNT_TYPES)
        if count_type is not None:
            unit = selection.get("countUnit")
            if count_type != "imageCountMoreThan":
                if "countUnit" not in selection:
                    self.report(_child(path, "countUnit"), f"missing, expected days with {count_type}")
                elif unit != "days":
                    self.report(_child(path, "countUnit"), f"expected days, found {unit!r}")
            elif "countUnit" in selection:
                self.report(_child(path, "countUnit"), "not allowed with countType imageCountMoreThan")
        number = selection.get("countNumber")
        if not _is_positive_int(number):
            self.report(_child(path, "countNumber"), f"expected an integer greater than 0, found {number!r}")
        if "storageClass" in selection:
            fields["storage_class"] = self.choice(selection, path, "storageClass", STORAGE_CLASSES)
        else:
            fields["storage_class"] = "standard"
        return count_type

    def action(self, action: dict, path: str):
        self.unknown_keys(action, path, ACTION_KEYS)
        action_type = self.choice(action, path, "type", ACTIONS)
        target = action.get("targetStorageClass")
        if action_type == "transition":
            if "targetStorageClass" not in action:
                self.report(_child(path, "targetStorageClass"), "missing, expected archive with type transition")
                return None
            if target != "archive":
                self.report(_child(path, "targetStorageClass"), f"expected archive, found {target!r}")
                return None
        elif action_type == "expire" and "targetStorageClass" in action:
            self.report(_child(path, "targetStorageClass"), "not allowed with type expire")
            return None
        return action_type

    def groups(self, rules: list[dict]) -> None:
        """Priorities unique; per storage class one untagged rule, unique tag lists, `any` last.
        A standard `any` rule and an archive `any` rule coexist in the archive example of
        archive-image.html, so the `any`-last rule is per storage class."""
        seen: dict[int, str] = {}
        for rule in rules:
            priority = rule["priority"]
            if priority is None:
                continue
            if priority in seen:
                self.report(_child(rule["path"], "rulePriority"),
                            f"duplicate rulePriority {priority}, already used by {seen[priority]}")
            else:
                seen[priority] = rule["path"]
        for storage_class in STORAGE_CLASSES:
            group = [r for r in rules if r["storage_class"] == storage_class]
            untagged = None
            lists: dict = {}
            for rule in group:
                if rule["tag_status"] == "untagged":
                    if untagged is not None:
                        self.report(_child(rule["path"], "selection.tagStatus"),
                                    f"only one rule in storage class {storage_class} may select "
                                    f"untagged images, {untagged} already does")
                    else:
                        untagged = rule["path"]
                if rule["tag_list"] is not None:
                    key = rule["tag_list"][0]
                    if rule["tag_list"] in lists:
                        self.report(_child(rule["path"], f"selection.{key}"),
                                    f"the same {key} as {lists[rule['tag_list']]} in storage class "
                                    f"{storage_class}; tag lists must be unique")
                    else:
                        lists[rule["tag_list"]] = rule["path"]
            for rule in group:
                if rule["tag_status"] != "any" or rule["priority"] is None:
                    continue
                for other in group:
                    if other is not rule and other["priority"] is not None and other["priority"] >= rule["priority"]:
                        self.report(_child(rule["path"], "rulePriority"),
                                    f"a rule with tagStatus any must have the highest rulePriority in "
                                    f"storage class {storage_class}, but {other['path']} has {other['priority']}")
                        break


def lifecycle_policy_problems(text) -> list[str]:
    """Every reason ECR would refuse this policy text; empty when it accepts it."""
    if not isinstance(text, str):
        return ["Could not map policyString into LifecyclePolicy."]
    try:
        document = json.loads(text)
    except ValueError:
        return ["Could not map policyString into LifecyclePolicy."]
    if not isinstance(document, dict):
        return ["Could not map policyString into LifecyclePolicy."]
    checker = _Checker()
    rules = document.get("rules")
    if not isinstance(rules, list):
        checker.report("rules", "object has missing required properties ([\"rules\"])")
        checker.unknown_keys(document, "", ("rules",))
        return checker.problems
    if not rules:
        checker.report("rules", "expected at least one rule")
    if len(rules) > MAX_RULES:
        checker.report("rules", f"{len(rules)} rules, at most {MAX_RULES} are allowed")
    fields = [checker.rule(rule, f"rules[{index}]") for index, rule in enumerate(rules)]
    checker.groups(fields)
    checker.unknown_keys(document, "", ("rules",))
    return checker.problems


def length_problem(text) -> str | None:
    """The API's own length constraint on `lifecyclePolicyText` (a ValidationException, checked
    before the policy is read)."""
    if isinstance(text, str) and not MIN_TEXT_CHARS <= len(text) <= MAX_TEXT_CHARS:
        return (f"1 validation error detected: Value at 'lifecyclePolicyText' failed to satisfy "
                f"constraint: Member must have length between {MIN_TEXT_CHARS} and {MAX_TEXT_CHARS}")
    return None


def install() -> None:
    """Replace moto's lifecycle validator (used by PutLifecyclePolicy and the preview) with
    ECR's rules."""
    from moto.core.exceptions import ServiceException
    from moto.ecr import models
    from moto.ecr.exceptions import InvalidParameterException

    class LengthValidationException(ServiceException):
        code = "ValidationException"

    class StrictLifecyclePolicyValidator:
        def __init__(self, policy_text: str) -> None:
            self._policy_text = policy_text

        def validate(self) -> None:
            length = length_problem(self._policy_text)
            if length is not None:
                raise LengthValidationException(length)
            problems = lifecycle_policy_problems(self._policy_text)
            if problems:
                raise InvalidParameterException(invalid_parameter_message(problems[0]))

    models.EcrLifecyclePolicyValidator = StrictLifecyclePolicyValidator
