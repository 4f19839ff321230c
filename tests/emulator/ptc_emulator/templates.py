"""Repository creation templates: the four API actions, and their use when the pull-through
creates a repository.

Sources: botocore ecr service model (shapes, enums, lengths, errors); ECR user guide,
repository-creation-templates.html and repository-creation-templates-custom.html (matching,
what a template applies, when `customRoleArn` is needed).

Templates live on moto's ECR backend of the (account, region), so moto's reset drops them.
"""

from __future__ import annotations

import copy
import re
import threading

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.models import Repository, ecr_backends
from moto.ecr.responses import ECRResponse
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from . import ecr_ext
from .ecr_ext import InvalidParameterException, _validation_error

# botocore ecr service model: Prefix, RCTAppliedFor, ImageTagMutability, EncryptionType,
# ImageTagMutabilityExclusionFilterValue, KmsKeyForRepositoryCreationTemplate and the lengths.
PREFIX_PATTERN = (r"^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$")
PREFIX_RE = re.compile(PREFIX_PATTERN)
APPLIED_FOR = ("REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH")
TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
WITH_EXCLUSION = ("IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
ENCRYPTION_TYPES = ("AES256", "KMS", "KMS_DSSE")
EXCLUSION_FILTER_RE = re.compile(r"^[0-9a-zA-Z._*-]{1,128}$")
KMS_KEY_RE = re.compile(r"^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-z0-9-]+")
MAX_DESCRIPTION = 256
MAX_PREFIX = 256
MAX_REPOSITORY_POLICY = 10240
MAX_LIFECYCLE_POLICY = 30720
MAX_CUSTOM_ROLE_ARN = 2048
# The role ECR assumes to create the repository: an IAM role of the template's own account
# (ECR user guide, repository-creation-templates-custom.html).
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+$")

_lock = threading.RLock()


class TemplateAlreadyExistsException(ServiceException):
    code = "TemplateAlreadyExistsException"


class TemplateNotFoundException(ServiceException):
    code = "TemplateNotFoundException"


# ---- store ----------------------------------------------------------------------------------

def templates_for(account: str, region: str) -> dict[str, dict]:
    """Templates keyed by prefix without its trailing '/' (a trailing '/' is implied)."""
    backend = ecr_backends[account][region]
    store = getattr(backend, "_ptc_creation_templates", None)
    if store is None:
        store = backend._ptc_creation_templates = {}
    return store


def _key(prefix: str) -> str:
    return prefix if prefix == "ROOT" else prefix.rstrip("/")


def find_template(account: str, region: str, repository: str, applied_for: str) -> dict | None:
    """The template for a new repository: the longest prefix that matches at a '/' boundary,
    `ROOT` when no other matches, among templates applied for `applied_for`
    (ECR user guide, repository-creation-templates.html)."""
    with _lock:
        candidates = [t for t in templates_for(account, region).values() if applied_for in t["appliedFor"]]
    best, best_len = None, -1
    for template in candidates:
        key = _key(template["prefix"])
        if key == "ROOT":
            if best is None:
                best, best_len = template, 0
        elif (repository == key or repository.startswith(key + "/")) and len(key) > best_len:
            best, best_len = template, len(key)
    return copy.deepcopy(best)


# ---- validation -----------------------------------------------------------------------------

def _invalid(member: str, constraint: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'")


def _check_prefix(value) -> str:
    if not isinstance(value, str):
        raise _validation_error(value, "prefix", "Member must not be null")
    if not 1 <= len(value) <= MAX_PREFIX:
        raise _validation_error(value, "prefix", f"Member must have length between 1 and {MAX_PREFIX}")
    if not PREFIX_RE.match(value):
        raise _validation_error(value, "prefix", f"Member must satisfy regular expression pattern: {PREFIX_PATTERN}")
    return value


def _check_string(value, member: str, maximum: int) -> None:
    if not isinstance(value, str):
        raise _validation_error(value, member, "Member must be a string")
    if len(value) > maximum:
        raise _validation_error(value, member, f"Member must have length less than or equal to {maximum}")


def _check_enum(value, member: str, allowed) -> None:
    if value not in allowed:
        raise _validation_error(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")


def _check_applied_for(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _invalid("appliedFor", "must contain at least one of " + ", ".join(APPLIED_FOR))
    for index, item in enumerate(value):
        _check_enum(item, f"appliedFor.{index + 1}.member", APPLIED_FOR)
    return list(dict.fromkeys(value))


def _check_mutability(mutability, filters) -> None:
    """Exclusion filters go with the *_WITH_EXCLUSION values only, and those need 1 to 5 of
    them (botocore ecr service model, ImageTagMutabilityExclusionFilters; ECR API reference,
    PutImageTagMutability)."""
    _check_enum(mutability, "imageTagMutability", TAG_MUTABILITY)
    if mutability in WITH_EXCLUSION:
        if not filters:
            raise _invalid("imageTagMutabilityExclusionFilters",
                           f"ImageTagMutabilityExclusionFilters can't be null when imageTagMutability "
                           f"is set as {mutability}")
    elif filters is not None:
        raise _invalid("imageTagMutabilityExclusionFilters",
                       f"ImageTagMutabilityExclusionFilters must be null when imageTagMutability is set "
                       f"as {mutability}")
    if filters is None:
        return
    if not isinstance(filters, list) or not 1 <= len(filters) <= 5:
        raise _validation_error(filters, "imageTagMutabilityExclusionFilters",
                                "Member must have length between 1 and 5")
    for index, item in enumerate(filters):
        member = f"imageTagMutabilityExclusionFilters.{index + 1}.member"
        if not isinstance(item, dict):
            raise _validation_error(item, member, "Member must not be null")
        _check_enum(item.get("filterType"), f"{member}.filterType", ("WILDCARD",))
        value = item.get("filter")
        if not isinstance(value, str) or not EXCLUSION_FILTER_RE.fullmatch(value):
            raise _validation_error(value, f"{member}.filter",
                                    "Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$")


def _check_encryption(value) -> dict:
    if not isinstance(value, dict):
        raise _validation_error(value, "encryptionConfiguration", "Member must not be null")
    kind = value.get("encryptionType")
    _check_enum(kind, "encryptionConfiguration.encryptionType", ENCRYPTION_TYPES)
    key = value.get("kmsKey")
    if key is not None:
        if not isinstance(key, str) or len(key) > 2048 or not KMS_KEY_RE.match(key):
            raise _validation_error(key, "encryptionConfiguration.kmsKey",
                                    "Member must satisfy regular expression pattern: "
                                    "^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\\/[a-z0-9-]+")
        if key and kind == "AES256":
            raise _invalid("encryptionConfiguration",
                           "kmsKey can only be specified with the encryption type KMS or KMS_DSSE")
    out = {"encryptionType": kind}
    if key:
        out["kmsKey"] = key
    return out


def _check_tags(value) -> list[dict]:
    if not isinstance(value, list):
        raise _validation_error(value, "resourceTags", "Member must be a list")
    for index, tag in enumerate(value):
        if not isinstance(tag, dict) or not isinstance(tag.get("Key"), str) or not isinstance(tag.get("Value"), str):
            raise _validation_error(tag, f"resourceTags.{index + 1}.member", "Member must have Key and Value")
    return [{"Key": t["Key"], "Value": t["Value"]} for t in value]


def _check_repository_policy(value) -> None:
    """Same document rules as SetRepositoryPolicy (moto's checks for it, as it applies them)."""
    _check_string(value, "repositoryPolicy", MAX_REPOSITORY_POLICY)
    if not value:
        return
    try:
        validator = IAMPolicyDocumentValidator(value)
        validator._validate_resource_exist = lambda: None  # a repository policy names no resource
        validator._validate_version = lambda: None  # 2008-10-17 is accepted
        validator._validate_sid_uniqueness = lambda: None
        validator.validate()
    except MalformedPolicyDocument:
        raise _invalid("repositoryPolicy", "Invalid repository policy provided") from None


def _lifecycle_problems(text: str) -> list[str]:
    from .lifecycle import lifecycle_policy_problems

    return lifecycle_policy_problems(text)


def _check_lifecycle_policy(value) -> None:
    """Validated like PutLifecyclePolicy; ECR's error for both (ECR API reference,
    PutLifecyclePolicy; ECR user guide, lifecycle_policy_parameters.html)."""
    _check_string(value, "lifecyclePolicy", MAX_LIFECYCLE_POLICY)
    if not value:
        return
    problems = _lifecycle_problems(value)
    if problems:
        raise InvalidParameterException(
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
            f"'Lifecycle policy validation failure: {problems[0]}'"
        )


def _check_custom_role(value, account: str) -> None:
    _check_string(value, "customRoleArn", MAX_CUSTOM_ROLE_ARN)
    if not value:
        return
    m = ROLE_ARN_RE.match(value)
    if not m or m.group(1) != account:
        raise _invalid("customRoleArn", "must be the ARN of an IAM role in the same account as the registry")


def _apply_fields(template: dict, params: dict, account: str) -> None:
    """Validates the optional fields present in `params` and writes them into `template`."""
    if params.get("description") is not None:
        _check_string(params["description"], "description", MAX_DESCRIPTION)
        template["description"] = params["description"]
    if params.get("encryptionConfiguration") is not None:
        template["encryptionConfiguration"] = _check_encryption(params["encryptionConfiguration"])
    if params.get("resourceTags") is not None:
        template["resourceTags"] = _check_tags(params["resourceTags"])
    mutability = params.get("imageTagMutability")
    filters = params.get("imageTagMutabilityExclusionFilters")
    if mutability is not None or filters is not None:
        mutability = mutability if mutability is not None else template["imageTagMutability"]
        _check_mutability(mutability, filters)
        template["imageTagMutability"] = mutability
        template["imageTagMutabilityExclusionFilters"] = copy.deepcopy(filters)
    if params.get("repositoryPolicy") is not None:
        _check_repository_policy(params["repositoryPolicy"])
        template["repositoryPolicy"] = params["repositoryPolicy"]
    if params.get("lifecyclePolicy") is not None:
        _check_lifecycle_policy(params["lifecyclePolicy"])
        template["lifecyclePolicy"] = params["lifecyclePolicy"]
    if params.get("appliedFor") is not None:
        template["appliedFor"] = _check_applied_for(params["appliedFor"])
    if params.get("customRoleArn") is not None:
        _check_custom_role(params["customRoleArn"], account)
        template["customRoleArn"] = params["customRoleArn"]


TEMPLATE_FIELDS = ("prefix", "description", "encryptionConfiguration", "resourceTags", "imageTagMutability",
                   "imageTagMutabilityExclusionFilters", "repositoryPolicy", "lifecyclePolicy", "appliedFor",
                   "customRoleArn", "createdAt", "updatedAt")


def _view(template: dict) -> dict:
    return {k: copy.deepcopy(template[k]) for k in TEMPLATE_FIELDS if template.get(k) not in (None, "")}


def _params(self: ECRResponse) -> dict:
    names = ("description", "encryptionConfiguration", "resourceTags", "imageTagMutability",
             "imageTagMutabilityExclusionFilters", "repositoryPolicy", "lifecyclePolicy", "appliedFor",
             "customRoleArn")
    return {name: self._get_param(name) for name in names}


# ---- actions --------------------------------------------------------------------------------

def create_repository_creation_template(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = _check_prefix(self._get_param("prefix"))
    params = _params(self)
    if params["appliedFor"] is None:
        raise _validation_error(None, "appliedFor", "Member must not be null")
    now = ecr_ext._now()
    # What ECR reports for a template created without these fields: its defaults for new
    # repositories (ECR user guide, repository-creation-templates.html).
    template = {"prefix": prefix, "imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": None,
                "encryptionConfiguration": {"encryptionType": "AES256"}, "resourceTags": [],
                "createdAt": now, "updatedAt": now}
    _apply_fields(template, params, account)
    with _lock:
        store = templates_for(account, region)
        if _key(prefix) in store:
            raise TemplateAlreadyExistsException(
                f"The repository creation template with prefix '{prefix}' already exists "
                f"in the registry with id '{account}'"
            )
        store[_key(prefix)] = template
    return ActionResult({"registryId": account, "repositoryCreationTemplate": _view(template)})


def _get(account: str, region: str, prefix: str) -> dict:
    template = templates_for(account, region).get(_key(prefix))
    if template is None:
        raise TemplateNotFoundException(
            f"The repository creation template with prefix '{prefix}' does not exist "
            f"in the registry with id '{account}'"
        )
    return template


def describe_repository_creation_templates(self: ECRResponse):
    """`prefixes` narrows the answer; unknown prefixes are left out (the operation has no
    TemplateNotFoundException in the botocore ecr service model)."""
    account, region = self.current_account, self.region
    wanted = self._get_param("prefixes")
    max_results = ecr_ext._check_max_results(self._get_param("maxResults"))
    if wanted is not None:
        if not isinstance(wanted, list):
            raise _validation_error(wanted, "prefixes", "Member must be a list")
        keys = {_key(_check_prefix(p)) for p in wanted}
    with _lock:
        selected = [copy.deepcopy(t) for k, t in templates_for(account, region).items()
                    if wanted is None or k in keys]
    selected.sort(key=lambda t: t["prefix"])
    page, token = ecr_ext._paginate(selected, lambda t: t["prefix"], self._get_param("nextToken"), max_results)
    result = {"registryId": account, "repositoryCreationTemplates": [_view(t) for t in page]}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def update_repository_creation_template(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = _check_prefix(self._get_param("prefix"))
    params = _params(self)
    with _lock:
        current = _get(account, region, prefix)
        updated = copy.deepcopy(current)
        _apply_fields(updated, params, account)
        updated["updatedAt"] = ecr_ext._now()
        templates_for(account, region)[_key(prefix)] = updated
    return ActionResult({"registryId": account, "repositoryCreationTemplate": _view(updated)})


def delete_repository_creation_template(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = _check_prefix(self._get_param("prefix"))
    with _lock:
        template = _get(account, region, prefix)
        del templates_for(account, region)[_key(prefix)]
    return ActionResult({"registryId": account, "repositoryCreationTemplate": _view(template)})


ACTIONS = {
    "create_repository_creation_template": create_repository_creation_template,
    "describe_repository_creation_templates": describe_repository_creation_templates,
    "update_repository_creation_template": update_repository_creation_template,
    "delete_repository_creation_template": delete_repository_creation_template,
}


# ---- use at pull-through --------------------------------------------------------------------

class RepositoryCreationFailed(ecr_ext.UnableToGetUpstreamImageException):
    """The pull fails because the repository could not be created from its template."""

    failure_code = "REPOSITORY_CREATION_FAILED"


def create_cache_repository(account: str, region: str, name: str, failure_prefix: str) -> Repository:
    """Creates a repository for the pull-through, from the matching PULL_THROUGH_CACHE template
    or with ECR's defaults (MUTABLE, AES256, no policy, no lifecycle policy, no tags).

    A template carries no scanning setting. ECR creates with its service-linked role unless the
    template names `customRoleArn`; that role can only create repositories, so tags or KMS
    encryption without `customRoleArn` make the creation, and with it the pull, fail
    (ECR user guide, repository-creation-templates.html and slr-rct.html)."""
    backend = ecr_backends[account][region]
    template = find_template(account, region, name, "PULL_THROUGH_CACHE")
    if template is None:
        repository = backend.create_repository(
            repository_name=name, registry_id=None, encryption_config=None,
            image_scan_config=None, image_tag_mutability=None, tags=[],
        )
    else:
        encryption = template.get("encryptionConfiguration") or {"encryptionType": "AES256"}
        needs_role = [what for what, present in (
            ("resource tags", bool(template.get("resourceTags"))),
            (f"{encryption['encryptionType']} encryption", encryption["encryptionType"] in ("KMS", "KMS_DSSE")),
        ) if present]
        if needs_role and not template.get("customRoleArn"):
            raise RepositoryCreationFailed(
                f"{failure_prefix}: the repository creation template with prefix '{template['prefix']}' "
                f"sets {' and '.join(needs_role)} but has no customRoleArn; the repository could not be created."
            )
        repository = backend.create_repository(
            repository_name=name, registry_id=None, encryption_config=dict(encryption),
            image_scan_config=None, image_tag_mutability=template.get("imageTagMutability") or "MUTABLE",
            tags=copy.deepcopy(template.get("resourceTags") or []),
            image_tag_mutability_exclusion_filters=template.get("imageTagMutabilityExclusionFilters"),
        )
        repository.policy = template.get("repositoryPolicy") or None
        repository.lifecycle_policy = template.get("lifecyclePolicy") or None
    from . import events

    events.repository_created_by_pull_through(account, region, repository)
    return repository


def install() -> None:
    for name, func in ACTIONS.items():
        setattr(ECRResponse, name, func)
