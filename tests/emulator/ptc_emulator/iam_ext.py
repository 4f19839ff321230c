"""Extension of moto's IAM: `SimulatePrincipalPolicy`, which moto 5.2.5 does not implement.

API: https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
Evaluation: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

The simulation evaluates the identity-based policies of a role, user or group of the caller's
account: inline and attached managed policies, and for a user the policies of its groups; a
permissions boundary, when the principal has one, must allow as well. Per action and resource it
answers `allowed`, `explicitDeny` (a matching `Deny`, which wins) or `implicitDeny`.

Never more lenient than AWS:
- A statement with a `Condition`, or with a policy variable (`${...}`) in `Resource`, cannot be
  evaluated here (this emulator takes no `ContextEntries`). Its `Allow` never applies; its `Deny`
  always applies; and its condition keys are reported in `MissingContextValues`, as AWS reports
  keys the simulation had no value for (API_EvaluationResult.html). AWS itself skips such a
  `Deny` when the key is absent, so this is stricter than AWS, never more lenient.
- Parameters this emulator does not implement (`PolicyInputList`, `ContextEntries`,
  `ResourcePolicy`, ...) are refused with `InvalidInput` instead of being ignored; so is a
  permissions boundary on a user, which moto would drop (roles keep theirs and it applies).
- Wildcards in `ActionNames` are refused: "This operation does not support using wildcards (*)
  in an action name" (API_SimulatePrincipalPolicy.html, ActionNames).
"""

from __future__ import annotations

import base64
import json
import re

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NotFoundException
from moto.iam.responses import IamResponse

# API_SimulatePrincipalPolicy.html: MaxItems 1..1000; "If you do not include this parameter,
# the number of items defaults to 100."
DEFAULT_MAX_ITEMS = 100
UNSUPPORTED = ("PolicyInputList", "PermissionsBoundaryPolicyInputList", "PolicyExclusionList",
               "ResourcePolicy", "ResourceOwner", "CallerArn", "ContextEntries",
               "ResourceHandlingOption")
PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):(role|user|group)/(?:.*/)?([^/]+)$")
ACTION_RE = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9]+$")


def _glob(pattern: str, text: str, ignore_case: bool) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character, nothing else special
    (reference_policies_elements_action.html, reference_policies_elements_resource.html)."""
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _listed(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)]


def _condition_keys(condition) -> list[str]:
    keys: list[str] = []
    if isinstance(condition, dict):
        for block in condition.values():
            if isinstance(block, dict):
                keys.extend(block.keys())
    return keys


def _statement_matches(statement: dict, action: str, resource: str):
    """(matches, evaluable, condition keys) of one statement for one request."""
    if "Action" in statement:
        action_ok = any(_glob(p, action, True) for p in _listed(statement["Action"]))
    elif "NotAction" in statement:
        action_ok = not any(_glob(p, action, True) for p in _listed(statement["NotAction"]))
    else:
        action_ok = False
    if not action_ok:
        return False, True, []
    patterns = _listed(statement.get("Resource", statement.get("NotResource")))
    variables = any("${" in p for p in patterns)
    if "Resource" in statement:
        resource_ok = any(_glob(p, resource, False) for p in patterns)
    elif "NotResource" in statement:
        resource_ok = not any(_glob(p, resource, False) for p in patterns)
    else:
        # Identity-based policies need Resource or NotResource; a statement without either
        # matches nothing for an Allow (evaluated like the variables case for a Deny below).
        resource_ok = False
        variables = True
    keys = _condition_keys(statement.get("Condition"))
    if variables:
        keys.append("Resource (a policy variable, or none given)")
    evaluable = not keys
    return resource_ok or variables, evaluable, keys


def _statements(document: str):
    try:
        policy = json.loads(document)
    except (TypeError, ValueError):
        return []
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _default_document(managed) -> str:
    for version in getattr(managed, "versions", []):
        if version.is_default_version:
            return version.document
    return "{}"


def _managed_type(arn: str) -> str:
    return "aws-managed" if ":iam::aws:policy/" in arn else "user-managed"


def _entity(backend, kind: str, name: str):
    if kind == "role":
        return backend.get_role(name)
    if kind == "user":
        return backend.get_user(name)
    return backend.get_group(name)


def _policies_of(backend, kind: str, name: str):
    """[(policy id, policy type, document)] of a principal's identity-based policies, and its
    permissions boundary document (or None). Unknown principal: NoSuchEntity."""
    entity = _entity(backend, kind, name)
    policies = [(policy_name, kind, document) for policy_name, document in entity.policies.items()]
    policies += [(managed.name, _managed_type(arn), _default_document(managed))
                 for arn, managed in entity.managed_policies.items()]
    if kind == "user":
        for group in backend.get_groups_for_user(name):
            policies += [(policy_name, "group", document)
                         for policy_name, document in group.policies.items()]
            policies += [(managed.name, _managed_type(arn), _default_document(managed))
                         for arn, managed in group.managed_policies.items()]
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    if boundary_arn:
        boundary = _default_document(backend.get_policy(boundary_arn))
    return policies, boundary


def _decide(policies, action: str, resource: str):
    """(decision, matched statements, missing context keys) for one request."""
    allows, denies, missing = [], [], []
    for policy_id, policy_type, document in policies:
        for statement in _statements(document):
            matches, evaluable, keys = _statement_matches(statement, action, resource)
            if not matches:
                continue
            missing.extend(keys)
            matched = {"SourcePolicyId": policy_id, "SourcePolicyType": policy_type}
            if statement.get("Effect") == "Deny":
                # Strict: a Deny that cannot be evaluated applies.
                denies.append(matched)
            elif statement.get("Effect") == "Allow" and evaluable:
                allows.append(matched)
    if denies:
        return "explicitDeny", denies, missing
    if allows:
        return "allowed", allows, missing
    return "implicitDeny", [], missing


def _encode_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_marker(marker) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(marker.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise InvalidInput("Invalid Marker.")


def simulate_principal_policy(self: IamResponse):
    for name in UNSUPPORTED:
        if self._get_param(name) not in (None, [], ""):
            raise InvalidInput(f"{name} is not supported by this emulator.")
    source = self._get_param("PolicySourceArn")
    if not isinstance(source, str) or not 20 <= len(source) <= 2048:
        raise InvalidInput("1 validation error detected: Value at 'policySourceArn' failed to satisfy constraint: Member must have length between 20 and 2048")
    actions = self._get_param("ActionNames") or []
    if not actions:
        raise InvalidInput("ActionNames must name at least one action.")
    for action in actions:
        if "*" in action or "?" in action or not ACTION_RE.fullmatch(action):
            raise InvalidInput(f"Invalid action name {action}: expected service:Action, without wildcards.")
    resources = self._get_param("ResourceArns") or ["*"]
    max_items = self._get_param("MaxItems")
    max_items = DEFAULT_MAX_ITEMS if max_items is None else int(max_items)
    if not 1 <= max_items <= 1000:
        raise InvalidInput("1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
    m = PRINCIPAL_RE.fullmatch(source)
    if not m or m.group(1) != self.current_account:
        raise NotFoundException(f"The user, group or role with ARN {source} cannot be found.")
    kind, name = m.group(2), m.group(3)
    try:
        # The whole ARN must name the principal, path and partition included: whether AWS
        # resolves an ARN with another path to the same name is not documented, so a
        # mismatch is NoSuchEntity here (stricter, never more lenient).
        if _entity(self.backend, kind, name).arn != source:
            raise NotFoundException(f"The {kind} with ARN {source} cannot be found.")
        policies, boundary = _policies_of(self.backend, kind, name)
    except NotFoundException:
        raise NotFoundException(f"The {kind} with name {name} cannot be found.") from None

    results = []
    for action in actions:
        for resource in resources:
            decision, matched, missing = _decide(policies, action, resource)
            if boundary is not None and decision == "allowed":
                # The boundary caps what identity policies grant
                # (access_policies_boundaries.html): both must allow.
                limit, limit_matched, limit_missing = _decide(
                    [("permissions-boundary", "user-managed", boundary)], action, resource)
                missing += limit_missing
                if limit != "allowed":
                    decision, matched = ("explicitDeny", limit_matched) if limit == "explicitDeny" else ("implicitDeny", [])
            missing = sorted(set(missing))
            result = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision,
                "MatchedStatements": matched,
                "MissingContextValues": missing if resource == "*" else [],
            }
            if resource != "*":
                # "If you include a list of resources, then any missing context values are
                # instead included under the ResourceSpecificResults parameter."
                result["ResourceSpecificResults"] = [{
                    "EvalResourceName": resource,
                    "EvalResourceDecision": decision,
                    "MatchedStatements": matched,
                    "MissingContextValues": missing,
                }]
            results.append(result)

    offset = _decode_marker(self._get_param("Marker")) if self._get_param("Marker") else 0
    page = results[offset:offset + max_items]
    truncated = offset + max_items < len(results)
    answer = {"EvaluationResults": page, "IsTruncated": truncated}
    if truncated:
        answer["Marker"] = _encode_marker(offset + max_items)
    return ActionResult(answer)


_moto_create_user = IamResponse.create_user


def create_user(self: IamResponse):
    """moto keeps no permissions boundary for users: a user created with one would be simulated
    without it, more leniently than AWS. Refused instead of ignored."""
    if self._get_param("PermissionsBoundary"):
        raise InvalidInput("PermissionsBoundary on users is not supported by this emulator.")
    return _moto_create_user(self)


def put_user_permissions_boundary(self: IamResponse):
    raise InvalidInput("PermissionsBoundary on users is not supported by this emulator.")


ACTIONS = {
    "simulate_principal_policy": simulate_principal_policy,
    "create_user": create_user,
    "put_user_permissions_boundary": put_user_permissions_boundary,
}


def install() -> None:
    for name, func in ACTIONS.items():
        setattr(IamResponse, name, func)
