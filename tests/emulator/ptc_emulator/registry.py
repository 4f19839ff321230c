"""Registry-level ECR settings next to the cache: the registry permissions policy, the registry
scanning configuration (and the effective per-repository scanning it gives), and pull-time
update exclusions. Everything is kept on moto's ECR backend of the (account, region).

Sources: botocore ecr service model (shapes, lengths, patterns, enums, errors); ECR user guide
pages named where a rule is applied.
"""

from __future__ import annotations

import json
import re
import threading

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.models import ECRBackend, ecr_backends
from moto.ecr.responses import ECRResponse
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from . import ecr_ext
from .ecr_ext import InvalidParameterException, LimitExceededException, _validation_error

_lock = threading.RLock()


def _invalid(member: str, constraint: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'")


# ---- registry permissions policy ------------------------------------------------------------

MAX_REGISTRY_POLICY = 10240  # botocore ecr service model, RegistryPolicyText


def _policy_actions(statement: dict) -> list:
    actions = statement.get("Action", statement.get("NotAction", []))
    return [actions] if isinstance(actions, str) else list(actions) if isinstance(actions, list) else [actions]


def put_registry_policy(self: ECRResponse):
    """Registry policy scope V2, the default, takes every ECR action (ECR user guide,
    registry-permissions.html); moto allows only ecr:CreateRepository and ecr:ReplicateImage.
    The document must be a valid IAM policy of ECR actions only."""
    text = self._get_param("policyText")
    if not isinstance(text, str):
        raise _validation_error(text, "policyText", "Member must not be null")
    if len(text) > MAX_REGISTRY_POLICY:
        raise _validation_error("…", "policyText",
                                f"Member must have length less than or equal to {MAX_REGISTRY_POLICY}")
    invalid = _invalid("PolicyText", "Invalid registry policy provided")
    try:
        IAMPolicyDocumentValidator(text).validate()
        statements = json.loads(text)["Statement"]
    except (MalformedPolicyDocument, ValueError, KeyError, TypeError):
        raise invalid from None
    for statement in statements if isinstance(statements, list) else [statements]:
        for action in _policy_actions(statement):
            if not isinstance(action, str) or not action.lower().startswith("ecr:"):
                raise invalid
    self.ecr_backend.registry_policy = text
    return ActionResult({"registryId": self.current_account, "policyText": text})


# ---- registry scanning configuration ------------------------------------------------------------
# ECR API reference, PutRegistryScanningConfiguration (0 to 2 rules):
#   https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutRegistryScanningConfiguration.html
# RegistryScanningRule (scanFrequency, 1 to 100 repositoryFilters):
#   https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_RegistryScanningRule.html
# ScanningRepositoryFilter (pattern, 1 to 255 characters, WILDCARD only):
#   https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ScanningRepositoryFilter.html
# Filter semantics (no wildcard: "contains"; '*' zero or more characters):
#   https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-enabling.html
# BatchGetRepositoryScanningConfiguration (1 to 25 names; scanOnPush, scanFrequency,
# appliedScanFilters; failures REPOSITORY_NOT_FOUND):
#   https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetRepositoryScanningConfiguration.html

SCAN_TYPES = ("BASIC", "ENHANCED")
SCAN_FREQUENCIES = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL")
# Rule frequencies by scan type: BASIC scans on push, ENHANCED on push or continuously; MANUAL
# is what a repository gets without a rule, never a rule's value (ECR API reference,
# RegistryScanningRule; CloudFormation AWS::ECR::RegistryScanningConfiguration ScanningRule).
RULE_FREQUENCIES = {"BASIC": ("SCAN_ON_PUSH",), "ENHANCED": ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")}
MAX_RULES = 2
MAX_FILTERS = 100
FILTER_PATTERN = r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$"
FILTER_RE = re.compile(FILTER_PATTERN)
# botocore ecr service model, RepositoryName (2 to 256 characters).
REPOSITORY_NAME_RE = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_FILTER = 255


def _check_scanning_rules(scan_type, rules) -> list[dict]:
    if not isinstance(rules, list):
        raise _validation_error(rules, "rules", "Member must be a list")
    if len(rules) > MAX_RULES:
        raise _validation_error("[…]", "rules", f"Member must have length less than or equal to {MAX_RULES}")
    checked = []
    for index, rule in enumerate(rules):
        member = f"rules.{index + 1}.member"
        if not isinstance(rule, dict):
            raise _validation_error(rule, member, "Member must not be null")
        frequency = rule.get("scanFrequency")
        if frequency not in SCAN_FREQUENCIES:
            raise _validation_error(frequency, f"{member}.scanFrequency",
                                    f"Member must satisfy enum value set: [{', '.join(SCAN_FREQUENCIES)}]")
        if frequency not in RULE_FREQUENCIES[scan_type]:
            raise _invalid("rules", f"Scan frequency {frequency} is not supported for scan type {scan_type}")
        filters = rule.get("repositoryFilters")
        if not isinstance(filters, list):
            raise _validation_error(filters, f"{member}.repositoryFilters", "Member must not be null")
        if len(filters) > MAX_FILTERS:
            raise _validation_error("[…]", f"{member}.repositoryFilters",
                                    f"Member must have length less than or equal to {MAX_FILTERS}")
        out_filters = []
        for f_index, item in enumerate(filters):
            f_member = f"{member}.repositoryFilters.{f_index + 1}.member"
            if not isinstance(item, dict):
                raise _validation_error(item, f_member, "Member must not be null")
            value = item.get("filter")
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_FILTER:
                raise _validation_error(value, f"{f_member}.filter",
                                        f"Member must have length between 1 and {MAX_FILTER}")
            if not FILTER_RE.fullmatch(value):
                raise _validation_error(value, f"{f_member}.filter",
                                        f"Member must satisfy regular expression pattern: {FILTER_PATTERN}")
            if item.get("filterType") != "WILDCARD":
                raise _validation_error(item.get("filterType"), f"{f_member}.filterType",
                                        "Member must satisfy enum value set: [WILDCARD]")
            out_filters.append({"filter": value, "filterType": "WILDCARD"})
        checked.append({"scanFrequency": frequency, "repositoryFilters": out_filters})
    return checked


def put_registry_scanning_configuration(self: ECRResponse):
    """moto stores whatever it is given; ECR validates the configuration first."""
    scan_type = self._get_param("scanType")
    if scan_type not in SCAN_TYPES:
        # Without a scanType the request says nothing ECR could store; the emulator refuses it.
        raise _validation_error(scan_type, "scanType", f"Member must satisfy enum value set: [{', '.join(SCAN_TYPES)}]")
    rules = _check_scanning_rules(scan_type, self._get_param("rules") or [])
    backend = self.ecr_backend
    with backend.registry_scanning_configuration_update_lock:
        backend.registry_scanning_configuration = {"scanType": scan_type, "rules": rules}
    return ActionResult({"registryScanningConfiguration": {"scanType": scan_type, "rules": rules}})


def filter_matches(value: str, repository: str) -> bool:
    """A filter without '*' matches names containing it; '*' stands for zero or more characters
    of a name that must match as a whole (ECR user guide, image-scanning-filters.html)."""
    if "*" not in value:
        return value in repository
    pattern = ".*".join(re.escape(part) for part in value.split("*"))
    return re.fullmatch(pattern, repository) is not None


def effective_scanning(backend: ECRBackend, repository) -> dict:
    """What BatchGetRepositoryScanningConfiguration reports for one repository.

    No configuration means BASIC with no rules. A repository that matches a rule's filters gets
    that rule's frequency (CONTINUOUS_SCAN before SCAN_ON_PUSH when both match; unconfirmed).
    Under BASIC a repository that matches no filter falls back to its own, deprecated
    `imageScanningConfiguration.scanOnPush`: SCAN_ON_PUSH if set, MANUAL otherwise. Whether AWS
    lets the repository flag stand beside a registry configuration in every case is
    unconfirmed, so the product must read this answer rather than assume it (ECR user guide,
    image-scanning-filters.html; botocore ecr service model, PutImageScanningConfiguration)."""
    configuration = backend.registry_scanning_configuration or {}
    scan_type = configuration.get("scanType") or "BASIC"
    matched: dict[str, list[dict]] = {}
    for rule in configuration.get("rules") or []:
        hits = [dict(f) for f in rule.get("repositoryFilters") or [] if filter_matches(f["filter"], repository.name)]
        if hits:
            matched.setdefault(rule["scanFrequency"], []).extend(hits)
    frequency, filters = "MANUAL", []
    for candidate in ("CONTINUOUS_SCAN", "SCAN_ON_PUSH"):
        if candidate in matched:
            frequency, filters = candidate, matched[candidate]
            break
    else:
        own = repository.image_scanning_configuration or {}
        if scan_type == "BASIC" and own.get("scanOnPush"):
            frequency = "SCAN_ON_PUSH"
    return {
        "repositoryArn": repository.arn,
        "repositoryName": repository.name,
        "scanOnPush": frequency == "SCAN_ON_PUSH",
        "scanFrequency": frequency,
        "appliedScanFilters": filters,
    }


def batch_get_repository_scanning_configuration(self: ECRResponse):
    names = self._get_param("repositoryNames")
    if not isinstance(names, list) or not 1 <= len(names) <= 25:
        raise _validation_error(names, "repositoryNames", "Member must have length between 1 and 25")
    for name in names:
        # repositoryNames members: 2 to 256 characters of the repository name pattern
        # (API_BatchGetRepositoryScanningConfiguration.html, Request Parameters; botocore ecr
        # service model, RepositoryName). A request that breaks a member's constraint is a
        # ValidationException for the whole request (CommonErrors.html), not a per-name failure.
        if not isinstance(name, str) or not 2 <= len(name) <= 256 or not REPOSITORY_NAME_RE.fullmatch(name):
            raise _validation_error(name, "repositoryNames.member", "Member must satisfy regular expression pattern: (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
    backend = self.ecr_backend
    configurations, failures = [], []
    for name in dict.fromkeys(names):
        repository = backend.repositories.get(name)
        if repository is None:
            # A named repository that does not exist is listed in `failures` with failureCode
            # REPOSITORY_NOT_FOUND (API_BatchGetRepositoryScanningConfiguration.html, Response
            # Elements, failures; RepositoryScanningConfigurationFailure; botocore ecr service
            # model, ScanningConfigurationFailureCode). Whether AWS fails the whole call instead
            # is not documented; the product reads such a batch one repository at a time.
            failures.append({"repositoryName": name, "failureCode": "REPOSITORY_NOT_FOUND",
                             "failureReason": "REPOSITORY_NOT_FOUND"})
        else:
            configurations.append(effective_scanning(backend, repository))
    return ActionResult({"scanningConfigurations": configurations, "failures": failures})


# ---- pull-time update exclusions ------------------------------------------------------------

# botocore ecr service model, PrincipalArn; ECR user guide, pull-time-update-exclusions.html
# ("up to 100 exclusions per account": counted over every region of the account).
PRINCIPAL_PATTERN = r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$"
PRINCIPAL_RE = re.compile(PRINCIPAL_PATTERN)
MAX_PRINCIPAL = 200
MAX_EXCLUSIONS = 100


class ExclusionAlreadyExistsException(ServiceException):
    code = "ExclusionAlreadyExistsException"


class ExclusionNotFoundException(ServiceException):
    code = "ExclusionNotFoundException"


def exclusions_of(backend: ECRBackend) -> dict[str, object]:
    """principal ARN -> registration time."""
    store = getattr(backend, "_ptc_pull_time_exclusions", None)
    if store is None:
        store = backend._ptc_pull_time_exclusions = {}
    return store


def _check_principal(value) -> str:
    if not isinstance(value, str):
        raise _validation_error(value, "principalArn", "Member must not be null")
    if len(value) > MAX_PRINCIPAL:
        raise _validation_error(value, "principalArn", f"Member must have length less than or equal to {MAX_PRINCIPAL}")
    if not PRINCIPAL_RE.fullmatch(value):
        raise _validation_error(value, "principalArn",
                                f"Member must satisfy regular expression pattern: {PRINCIPAL_PATTERN}")
    return value


def register_pull_time_update_exclusion(self: ECRResponse):
    account = self.current_account
    principal = _check_principal(self._get_param("principalArn"))
    with _lock:
        store = exclusions_of(self.ecr_backend)
        if principal in store:
            raise ExclusionAlreadyExistsException(
                f"The pull time update exclusion for '{principal}' already exists in the registry with id '{account}'"
            )
        # Backends of the account's regions that exist (reading them creates none).
        in_account = sum(len(exclusions_of(b)) for b in dict.values(ecr_backends[account]))
        if in_account >= MAX_EXCLUSIONS:
            raise LimitExceededException(
                f"The maximum number of pull time update exclusions ({MAX_EXCLUSIONS}) for account "
                f"'{account}' has been reached."
            )
        created = ecr_ext._now()
        store[principal] = created
    return ActionResult({"principalArn": principal, "createdAt": created})


def deregister_pull_time_update_exclusion(self: ECRResponse):
    account = self.current_account
    principal = _check_principal(self._get_param("principalArn"))
    with _lock:
        store = exclusions_of(self.ecr_backend)
        if principal not in store:
            raise ExclusionNotFoundException(
                f"The pull time update exclusion for '{principal}' does not exist in the registry with id '{account}'"
            )
        del store[principal]
    return ActionResult({"principalArn": principal})


def list_pull_time_update_exclusions(self: ECRResponse):
    max_results = ecr_ext._check_max_results(self._get_param("maxResults"))
    with _lock:
        principals = sorted(exclusions_of(self.ecr_backend))
    page, token = ecr_ext._paginate(principals, lambda p: p, self._get_param("nextToken"), max_results)
    result = {"pullTimeUpdateExclusions": page}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


ACTIONS = {
    "put_registry_policy": put_registry_policy,
    "put_registry_scanning_configuration": put_registry_scanning_configuration,
    "batch_get_repository_scanning_configuration": batch_get_repository_scanning_configuration,
    "register_pull_time_update_exclusion": register_pull_time_update_exclusion,
    "deregister_pull_time_update_exclusion": deregister_pull_time_update_exclusion,
    "list_pull_time_update_exclusions": list_pull_time_update_exclusions,
}


def install() -> None:
    for name, func in ACTIONS.items():
        setattr(ECRResponse, name, func)
