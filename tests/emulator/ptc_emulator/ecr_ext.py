"""Extension of moto's ECR: pull-through cache rules, the pull-through itself, and
pagination for DescribeRepositories.

moto dispatches an ECR JSON action to the snake_case method of the same name on
`moto.ecr.responses.ECRResponse`; `install()` adds or replaces those methods. Every piece of
state is keyed by (account, region), like moto's own backends.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.exceptions import RepositoryNotFoundException
from moto.ecr.models import Image, ecr_backends
from moto.ecr.responses import ECRResponse

from . import lifecycle
from . import upstream as upstream_mod
from .state import settings

SECRET_PREFIX = "ecr-pullthroughcache/"
PREFIX_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/?)*$")
SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):([0-9]{12}):secret:(.+)$")

# upstreamRegistryUrl host (glob) -> upstreamRegistry value, for rules created without one.
URL_TO_UPSTREAM_REGISTRY: list[tuple[str, str]] = [
    ("registry-1.docker.io", "docker-hub"),
    ("docker.io", "docker-hub"),
    ("public.ecr.aws", "ecr-public"),
    ("ghcr.io", "github-container-registry"),
    ("registry.gitlab.com", "gitlab-container-registry"),
    ("registry.k8s.io", "k8s"),
    ("quay.io", "quay"),
    ("*.azurecr.io", "azure-container-registry"),
    ("cgr.dev", "chainguard"),
    ("*.dkr.ecr.*.amazonaws.com", "ecr"),
]

# Set by the server before moto starts.
UPSTREAMS: upstream_mod.Upstreams | None = None


# ---- errors ---------------------------------------------------------------------------------

class InvalidParameterException(ServiceException):
    code = "InvalidParameterException"


class ValidationException(ServiceException):
    code = "ValidationException"


class LimitExceededException(ServiceException):
    code = "LimitExceededException"


class PullThroughCacheRuleAlreadyExistsException(ServiceException):
    code = "PullThroughCacheRuleAlreadyExistsException"


class PullThroughCacheRuleNotFoundException(ServiceException):
    code = "PullThroughCacheRuleNotFoundException"


class UnsupportedUpstreamRegistryException(ServiceException):
    code = "UnsupportedUpstreamRegistryException"


class UnableToGetUpstreamImageException(ServiceException):
    code = "UnableToGetUpstreamImageException"


# ---- rule store -----------------------------------------------------------------------------

_rules: dict[tuple[str, str], dict[str, dict]] = {}
_rules_lock = threading.RLock()
_pull_locks: dict[tuple[str, str, str], threading.Lock] = {}
_pull_locks_guard = threading.Lock()


def reset() -> None:
    """Forget every rule (moto's own reset clears the rest)."""
    with _rules_lock:
        _rules.clear()


def rules_for(account: str, region: str) -> dict[str, dict]:
    with _rules_lock:
        return _rules.setdefault((account, region), {})


def _norm_prefix(prefix: str) -> str:
    return prefix if prefix == "ROOT" else prefix.rstrip("/")


def find_rule(account: str, region: str, repository: str) -> dict | None:
    """The rule whose prefix matches repository at a '/' boundary (longest wins, ROOT last)."""
    with _rules_lock:
        rules = list(rules_for(account, region).values())
    best, best_len = None, -1
    for rule in rules:
        prefix = _norm_prefix(rule["ecrRepositoryPrefix"])
        if prefix == "ROOT":
            if best is None:
                best, best_len = rule, 0
            continue
        if repository.startswith(prefix + "/") and len(prefix) > best_len:
            best, best_len = rule, len(prefix)
    return best


def upstream_path(rule: dict, repository: str) -> str:
    prefix = _norm_prefix(rule["ecrRepositoryPrefix"])
    rest = repository if prefix == "ROOT" else repository[len(prefix) + 1:]
    up = _norm_prefix(rule.get("upstreamRepositoryPrefix") or "ROOT")
    return rest if up == "ROOT" else f"{up}/{rest}"


def infer_upstream_registry(url: str) -> str | None:
    host = upstream_mod.normalize_host(url)
    for pattern, name in URL_TO_UPSTREAM_REGISTRY:
        if fnmatch.fnmatchcase(host, pattern):
            return name
    return None


def _validation_error(value, member: str, constraint: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    )


def _check_prefix(value, member: str) -> None:
    if not isinstance(value, str):
        raise _validation_error(value, member, "Member must not be null")
    if value == "ROOT":
        return
    if not 2 <= len(value) <= 30:
        raise _validation_error(value, member, "Member must have length between 2 and 30")
    if not PREFIX_RE.match(value):
        raise _validation_error(
            value, member,
            "Member must satisfy regular expression pattern: "
            "^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$",
        )


def _check_credential_arn(value) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.startswith("arn:") or ":secretsmanager:" not in value:
        raise InvalidParameterException(
            "Invalid parameter at 'credentialArn' failed to satisfy constraint: "
            "'must be the ARN of a Secrets Manager secret'"
        )


def _check_max_results(value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise _validation_error(value, "maxResults", "Member must have value between 1 and 1000")
    return value


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": key}).encode()).decode()


def _decode_token(token) -> str | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["after"])
    except Exception:  # noqa: BLE001 - any malformed token is the caller's error
        raise InvalidParameterException(
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'"
        ) from None


def _paginate(items: list, key, token, max_results: int | None, default: int = 100):
    """items sorted by key; returns (page, next_token)."""
    after = _decode_token(token)
    limit = max_results or default
    if after is not None:
        items = [i for i in items if key(i) > after]
    page = items[:limit]
    next_token = _encode_token(key(page[-1])) if len(items) > limit else None
    return page, next_token


def _now() -> datetime:
    return datetime.now(timezone.utc)


RULE_FIELDS = ("ecrRepositoryPrefix", "upstreamRegistryUrl", "createdAt", "registryId", "credentialArn",
               "customRoleArn", "upstreamRepositoryPrefix", "upstreamRegistry", "updatedAt")


def _rule_view(rule: dict, fields=RULE_FIELDS) -> dict:
    return {k: rule[k] for k in fields if rule.get(k) is not None}


# ---- credentials ----------------------------------------------------------------------------

def resolve_credentials(account: str, region: str, credential_arn: str):
    """Read a PTC secret from moto's Secrets Manager; returns ((user, token), None) or (None, failure)."""
    from moto.secretsmanager.models import secretsmanager_backends

    m = SECRET_ARN_RE.match(credential_arn)
    if not m:
        return None, f"The credential ARN '{credential_arn}' is not a valid Secrets Manager secret ARN."
    arn_region, arn_account, name = m.groups()
    if not name.startswith(SECRET_PREFIX):
        return None, (f"The secret '{credential_arn}' cannot be used by a pull through cache rule: "
                      f"its name must start with '{SECRET_PREFIX}'.")
    if arn_region != region or arn_account != account:
        return None, (f"The secret '{credential_arn}' must be in the same account and Region "
                      f"as the pull through cache rule.")
    backend = secretsmanager_backends[account][region]
    secret = backend.secrets.get(credential_arn)
    if secret is None:
        return None, (f"Unable to access the secret '{credential_arn}': Secrets Manager can't find "
                      f"the specified secret.")
    is_deleted = getattr(secret, "is_deleted", None)
    if callable(is_deleted) and is_deleted():
        return None, (f"Unable to access the secret '{credential_arn}': the secret is scheduled "
                      f"for deletion.")
    versions = getattr(secret, "versions", {}) or {}
    version = versions.get(getattr(secret, "default_version_id", None) or "") or {}
    value = version.get("secret_string")
    if value is None:
        return None, f"The secret '{credential_arn}' has no SecretString value."
    try:
        data = json.loads(value)
    except ValueError:
        return None, f"The secret '{credential_arn}' is not valid JSON."
    if not isinstance(data, dict):
        return None, f"The secret '{credential_arn}' must be a JSON object."
    missing = [k for k in ("username", "accessToken") if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        extra = " The key 'password' is not supported; use 'accessToken'." if "password" in data else ""
        return None, (f"The secret '{credential_arn}' is missing the required key(s) "
                      f"{', '.join(repr(k) for k in missing)}.{extra}")
    return (data["username"], data["accessToken"]), None


def _upstream_sleep(account: str) -> None:
    ms = settings.get("upstream_latency_ms", account)
    if ms:
        time.sleep(ms / 1000.0)


# ---- actions --------------------------------------------------------------------------------

def create_pull_through_cache_rule(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = self._get_param("ecrRepositoryPrefix")
    url = self._get_param("upstreamRegistryUrl")
    registry = self._get_param("upstreamRegistry")
    credential_arn = self._get_param("credentialArn")
    custom_role_arn = self._get_param("customRoleArn")
    up_prefix = self._get_param("upstreamRepositoryPrefix")
    _check_prefix(prefix, "ecrRepositoryPrefix")
    if not isinstance(url, str) or not url.strip():
        raise _validation_error(url, "upstreamRegistryUrl", "Member must not be null")
    if up_prefix is not None:
        _check_prefix(up_prefix, "upstreamRepositoryPrefix")
    _check_credential_arn(credential_arn)
    if registry is None:
        registry = infer_upstream_registry(url)
        if registry is None:
            raise UnsupportedUpstreamRegistryException(
                f"The upstream registry URL '{url}' is not supported for pull through cache rules."
            )
    now = _now()
    rule = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": url,
        "createdAt": now,
        "updatedAt": now,
        "registryId": account,
        "upstreamRegistry": registry,
        "credentialArn": credential_arn,
        "customRoleArn": custom_role_arn,
        "upstreamRepositoryPrefix": up_prefix or "ROOT",
    }
    with _rules_lock:
        rules = rules_for(account, region)
        if prefix in rules:
            raise PullThroughCacheRuleAlreadyExistsException(
                f"The pull-through cache rule with prefix '{prefix}' already exists "
                f"in the registry with id '{account}'"
            )
        if len(rules) >= settings.get('rule_limit', account):
            raise LimitExceededException(
                f"The maximum number of pull through cache rules ({settings.get('rule_limit', account)}) "
                f"for registry '{account}' has been reached."
            )
        rules[prefix] = rule
    return ActionResult(_rule_view(rule, ("ecrRepositoryPrefix", "upstreamRegistryUrl", "createdAt", "registryId",
                                          "upstreamRegistry", "credentialArn", "customRoleArn",
                                          "upstreamRepositoryPrefix")))


def _get_rule(account: str, region: str, prefix) -> dict:
    _check_prefix(prefix, "ecrRepositoryPrefix")
    with _rules_lock:
        rule = rules_for(account, region).get(prefix)
    if rule is None:
        raise PullThroughCacheRuleNotFoundException(
            f"The pull-through cache rule with prefix '{prefix}' does not exist in the registry with id '{account}'"
        )
    return rule


def describe_pull_through_cache_rules(self: ECRResponse):
    account, region = self.current_account, self.region
    wanted = self._get_param("ecrRepositoryPrefixes")
    max_results = _check_max_results(self._get_param("maxResults"))
    with _rules_lock:
        rules = rules_for(account, region)
        if wanted:
            selected = [_get_rule(account, region, p) for p in dict.fromkeys(wanted)]
        else:
            selected = list(rules.values())
        selected = sorted((copy.copy(r) for r in selected), key=lambda r: r["ecrRepositoryPrefix"])
    page, token = _paginate(selected, lambda r: r["ecrRepositoryPrefix"], self._get_param("nextToken"), max_results)
    result = {"pullThroughCacheRules": [_rule_view(r) for r in page]}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def update_pull_through_cache_rule(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = self._get_param("ecrRepositoryPrefix")
    credential_arn = self._get_param("credentialArn")
    custom_role_arn = self._get_param("customRoleArn")
    _check_credential_arn(credential_arn)
    if credential_arn is None and custom_role_arn is None:
        raise InvalidParameterException("Either credentialArn or customRoleArn must be specified.")
    with _rules_lock:
        rule = _get_rule(account, region, prefix)
        if credential_arn is not None:
            rule["credentialArn"] = credential_arn
        if custom_role_arn is not None:
            rule["customRoleArn"] = custom_role_arn
        rule["updatedAt"] = _now()
        view = _rule_view(rule, ("ecrRepositoryPrefix", "registryId", "updatedAt", "credentialArn",
                                 "customRoleArn", "upstreamRepositoryPrefix"))
    return ActionResult(view)


def delete_pull_through_cache_rule(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = self._get_param("ecrRepositoryPrefix")
    with _rules_lock:
        rule = _get_rule(account, region, prefix)
        del rules_for(account, region)[prefix]
    return ActionResult(_rule_view(rule, ("ecrRepositoryPrefix", "upstreamRegistryUrl", "createdAt", "registryId",
                                          "credentialArn", "customRoleArn", "upstreamRepositoryPrefix")))


def validate_pull_through_cache_rule(self: ECRResponse):
    account, region = self.current_account, self.region
    prefix = self._get_param("ecrRepositoryPrefix")
    with _rules_lock:
        rule = dict(_get_rule(account, region, prefix))
    result = _rule_view(rule, ("ecrRepositoryPrefix", "registryId", "upstreamRegistryUrl", "credentialArn",
                               "customRoleArn", "upstreamRepositoryPrefix"))
    credential_arn = rule.get("credentialArn")
    if not credential_arn:
        if rule.get("customRoleArn") or settings.get("anonymous_validation", account) == "valid":
            result["isValid"] = True
            return ActionResult(result)
        raise ValidationException(
            f"The pull through cache rule with prefix '{prefix}' does not use authentication; "
            f"there is nothing to validate."
        )
    failure = None
    creds, failure = resolve_credentials(account, region, credential_arn)
    if failure is None:
        url = rule["upstreamRegistryUrl"]
        addr = UPSTREAMS.resolve(url) if UPSTREAMS else None
        if addr is None:
            failure = f"Unable to connect to the upstream registry '{url}'."
        else:
            _upstream_sleep(account)
            try:
                status = upstream_mod.login(addr, creds)
            except OSError:
                failure = f"Unable to connect to the upstream registry '{url}'."
            else:
                if status == 401 or status == 403:
                    failure = (f"Authentication to the upstream registry '{url}' failed with the credentials "
                               f"in secret '{credential_arn}'. Verify the username and access token.")
                elif status != 200:
                    failure = f"The upstream registry '{url}' answered HTTP {status} to the login request."
    result["isValid"] = failure is None
    if failure is not None:
        result["failure"] = failure
    return ActionResult(result)


def describe_repositories(self: ECRResponse):
    names = self._get_param("repositoryNames")
    registry_id = self._get_param("registryId")
    max_results = _check_max_results(self._get_param("maxResults"))
    token = self._get_param("nextToken")
    repos = self.ecr_backend.describe_repositories(repository_names=names, registry_id=registry_id)
    if names:  # moto's behaviour: every named repository (or RepositoryNotFoundException), one page
        return ActionResult({"repositories": repos})
    repos = sorted(repos, key=lambda r: r.name)
    page, next_token = _paginate(repos, lambda r: r.name, token, max_results)
    result = {"repositories": page}
    if next_token:
        result["nextToken"] = next_token
    return ActionResult(result)


def _pull_lock(account: str, region: str, name: str) -> threading.Lock:
    with _pull_locks_guard:
        return _pull_locks.setdefault((account, region, name), threading.Lock())


def _has_tag(backend, name: str, tag: str) -> bool:
    repo = backend.repositories.get(name)
    return repo is not None and any(tag in img.image_tags for img in repo.images)


def _pull_through(self: ECRResponse, rule: dict, name: str, tag: str, accepted) -> None:
    account, region = self.current_account, self.region
    backend = ecr_backends[account][region]
    url = rule["upstreamRegistryUrl"]
    path = upstream_path(rule, name)
    what = f"Unable to pull image '{path}:{tag}' from upstream registry '{url}' for repository '{name}'"
    creds = None
    if rule.get("credentialArn"):
        creds, failure = resolve_credentials(account, region, rule["credentialArn"])
        if failure:
            raise UnableToGetUpstreamImageException(f"{what}: {failure}")
    addr = UPSTREAMS.resolve(url) if UPSTREAMS else None
    if addr is None:
        raise UnableToGetUpstreamImageException(f"{what}: the upstream registry could not be reached.")
    _upstream_sleep(account)
    try:
        body, media_type, _ = upstream_mod.fetch_manifest(
            addr, path, tag, accepted or upstream_mod.DEFAULT_ACCEPT, creds)
    except upstream_mod.UpstreamError as err:
        detail = str(err)
        if err.kind == "auth":
            detail = "Authentication to the upstream registry failed. Verify the credentials of the rule."
        raise UnableToGetUpstreamImageException(f"{what}: {detail}") from None
    manifest = body.decode("utf-8")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with _pull_lock(account, region, name):
        if _has_tag(backend, name, tag):
            return
        if name not in backend.repositories:
            from .templates import create_cache_repository

            create_cache_repository(account, region, name, what)
        backend.put_image(name, manifest, tag, media_type, digest)


def batch_get_image(self: ECRResponse):
    account, region = self.current_account, self.region
    name = self._get_param("repositoryName")
    registry_id = self._get_param("registryId")
    image_ids = self._get_param("imageIds")
    accepted = self._get_param("acceptedMediaTypes")
    if not image_ids:
        raise InvalidParameterException("Invalid parameter: imageIds must contain at least one image id")
    backend = ecr_backends[account][region]
    rule = find_rule(account, region, name) if isinstance(name, str) else None
    if rule is not None:
        for tag in dict.fromkeys(i.get("imageTag") for i in image_ids if i.get("imageTag")):
            if not _has_tag(backend, name, tag):
                _pull_through(self, rule, name, tag, accepted)
    repo = backend.repositories.get(name)
    if repo is None or (registry_id and repo.registry_id != registry_id):
        raise RepositoryNotFoundException(name, registry_id or account)
    images, failures = [], []
    for image_id in image_ids:
        tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
        if not tag and not digest:
            failures.append({"imageId": image_id, "failureCode": "MissingDigestAndTag",
                             "failureReason": "Invalid request parameters: both tag and digest cannot be null"})
            continue
        found = None
        for img in repo.images:
            if (tag is None or tag in img.image_tags) and (digest is None or img.get_image_digest() == digest):
                found = img
                break
        if found is None:
            failures.append({"imageId": dict(image_id), "failureCode": "ImageNotFound",
                             "failureReason": "Requested image not found"})
            continue
        from .image_details import record_pull

        record_pull(account, region, name, found.get_image_digest())
        out_id = {"imageDigest": found.get_image_digest()}
        if tag:
            out_id["imageTag"] = tag
        images.append({
            "registryId": repo.registry_id,
            "repositoryName": name,
            "imageId": out_id,
            "imageManifest": found.image_manifest,
            "imageManifestMediaType": found.image_manifest_media_type,
        })
    return ActionResult({"images": images, "failures": failures})


def put_image_scanning_configuration(self: ECRResponse):
    """`scanOnPush` is a boolean with a default of false: SDKs leave `false` out of the request,
    so ECR reads a missing value as false. moto ignores an empty configuration and keeps the
    old one, which would make turning scanning off impossible here."""
    account, region = self.current_account, self.region
    requested = self._get_param("imageScanningConfiguration") or {}
    configuration = {"scanOnPush": bool(requested.get("scanOnPush", False))}
    backend = ecr_backends[account][region]
    repository_name = self._get_param("repositoryName")
    repository = backend._get_repository(repository_name, self._get_param("registryId"))
    repository.image_scanning_configuration = configuration
    return ActionResult({
        "registryId": repository.registry_id,
        "repositoryName": repository_name,
        "imageScanningConfiguration": configuration,
    })


_ACTIONS = {
    "put_image_scanning_configuration": put_image_scanning_configuration,
    "create_pull_through_cache_rule": create_pull_through_cache_rule,
    "describe_pull_through_cache_rules": describe_pull_through_cache_rules,
    "update_pull_through_cache_rule": update_pull_through_cache_rule,
    "delete_pull_through_cache_rule": delete_pull_through_cache_rule,
    "validate_pull_through_cache_rule": validate_pull_through_cache_rule,
    "describe_repositories": describe_repositories,
    "batch_get_image": batch_get_image,
}


def _image_create_digest(self: Image) -> None:
    """Digest of the manifest bytes, as registries compute it.

    moto hashes the joined layer digests, and for manifest lists and OCI indexes (no
    'layers') a random number out of 101, so two different indexes often collide.
    """
    self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()


def install(upstreams: upstream_mod.Upstreams) -> None:
    """Patch moto's ECR; call before the moto server starts serving."""
    global UPSTREAMS
    UPSTREAMS = upstreams
    for name, func in _ACTIONS.items():
        setattr(ECRResponse, name, func)
    Image._create_digest = _image_create_digest
    from . import events, image_details, registry, templates

    image_details.install()
    templates.install()
    registry.install()
    events.install()
    lifecycle.install()
