"""DescribeImages as ECR answers it, which moto does not: pages (`maxResults`, `nextToken`),
the `imageStatus` filter, `imageSizeInBytes` of the layers, and `lastRecordedPullTime`.

Each field and parameter follows the Amazon ECR API Reference:
- DescribeImages (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html):
  `maxResults` 1 to 1000, default 100 (a page of up to 100 with a `nextToken`); `nextToken`
  cannot be used with `imageIds`; `RepositoryNotFoundException` for a repository that does not
  exist.
- DescribeImagesFilter (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImagesFilter.html):
  `tagStatus` TAGGED, UNTAGGED or ANY; `imageStatus` ACTIVE, ARCHIVED, ACTIVATING or ANY (the
  page's valid values), and without it only ACTIVE images are returned. The emulator archives
  nothing, so ARCHIVED and ACTIVATING list no image and ANY lists what ACTIVE lists.
- ImageDetail (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html):
  `imageSizeInBytes` is the size of the image (the compressed layers a manifest lists; for a
  manifest list, the largest of its manifests); `lastRecordedPullTime` is when ECR recorded the
  last pull, absent for an image never pulled; `imageStatus` is ACTIVE here.
  The same page says ECR refreshes `lastRecordedPullTime` "at least once every 24 hours": a
  pull may show at once or up to a day later. The emulator records it at once, one of the
  answers AWS may give; the product documents the lag where it decides on the time (ptc usage).
- `imageSizeInBytes` is not required in botocore's `ImageDetail` shape. What ECR answers for an
  index whose platform manifests the repository does not hold is unconfirmed; the emulator
  leaves the size out then, so the product is held to counting it as unknown.

A pull (`BatchGetImage` that returns the image) records `lastRecordedPullTime`. Tests set the
push and pull times of an image through the control API (`POST /_ptc/image-times`) to make
images old without waiting.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

from moto.core.responses import ActionResult
from moto.ecr.models import ecr_backends
from moto.ecr.responses import ECRResponse

from . import ecr_ext

IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY")
TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")

# (account, region, repository, digest) -> last pull, epoch seconds.
_pulls: dict[tuple[str, str, str, str], float] = {}
_pulls_lock = threading.Lock()


def record_pull(account: str, region: str, repository: str, digest: str) -> None:
    with _pulls_lock:
        _pulls[(account, region, repository, digest)] = datetime.now(timezone.utc).timestamp()


def set_times(account: str, region: str, data: dict) -> int:
    """Sets `image_pushed_at` and/or `last_recorded_pull_time` (epoch seconds, or null to clear
    the pull) of every image of `repository`, or of the one with `digest`."""
    repository = data.get("repository")
    if not isinstance(repository, str):
        raise ValueError("`repository` (a repository name) is required")
    unknown = set(data) - {"repository", "digest", "image_pushed_at", "last_recorded_pull_time"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    repo = ecr_backends[account][region].repositories.get(repository)
    if repo is None:
        raise ValueError(f"no repository `{repository}` in {account}/{region}")
    n = 0
    for image in repo.images:
        digest = image.get_image_digest()
        if data.get("digest") not in (None, digest):
            continue
        if "image_pushed_at" in data:
            image.image_pushed_at = int(data["image_pushed_at"])
        if "last_recorded_pull_time" in data:
            with _pulls_lock:
                key = (account, region, repository, digest)
                if data["last_recorded_pull_time"] is None:
                    _pulls.pop(key, None)
                else:
                    _pulls[key] = float(data["last_recorded_pull_time"])
        n += 1
    return n


def _size(repo, image) -> int | None:
    try:
        manifest = json.loads(image.image_manifest)
    except (TypeError, ValueError):
        return None
    if "layers" in manifest:
        return sum(int(layer.get("size", 0)) for layer in manifest["layers"])
    if "manifests" in manifest:
        # The largest of its manifests the repository holds; none held: no size, which the
        # product must count as unknown (ECR itself always answers one).
        children = {m.get("digest") for m in manifest["manifests"]}
        sizes = [
            _size(repo, other)
            for other in repo.images
            if other is not image and other.get_image_digest() in children
        ]
        sizes = [s for s in sizes if s is not None]
        return max(sizes) if sizes else None
    return None


def _detail(account: str, region: str, repo, image) -> dict:
    digest = image.get_image_digest()
    detail = {
        "registryId": repo.registry_id,
        "repositoryName": repo.name,
        "imageDigest": digest,
        "imagePushedAt": image.image_pushed_at,
        "imageManifestMediaType": image.image_manifest_media_type,
        "imageStatus": "ACTIVE",
    }
    if image.image_tags:
        detail["imageTags"] = list(image.image_tags)
    size = _size(repo, image)
    if size is not None:
        detail["imageSizeInBytes"] = size
    with _pulls_lock:
        pulled = _pulls.get((account, region, repo.name, digest))
    if pulled is not None:
        detail["lastRecordedPullTime"] = pulled
    return detail


def describe_images(self: ECRResponse):
    account, region = self.current_account, self.region
    name = self._get_param("repositoryName")
    registry_id = self._get_param("registryId")
    image_ids = self._get_param("imageIds")
    max_results = ecr_ext._check_max_results(self._get_param("maxResults"))
    token = self._get_param("nextToken")
    filter_ = self._get_param("filter") or {}
    if image_ids and (max_results is not None or token is not None):
        raise ecr_ext.InvalidParameterException(
            "Invalid parameter: maxResults and nextToken cannot be used with imageIds"
        )
    tag_status = filter_.get("tagStatus", "ANY")
    image_status = filter_.get("imageStatus", "ACTIVE")
    if tag_status not in TAG_STATUSES:
        raise ecr_ext._validation_error(tag_status, "filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")
    if image_status not in IMAGE_STATUSES:
        raise ecr_ext._validation_error(image_status, "filter.imageStatus", "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]")
    backend = ecr_backends[account][region]
    repo = backend._get_repository(name, registry_id)  # RepositoryNotFoundException
    if image_ids:
        images = list(backend.describe_images(name, registry_id, image_ids))
        return ActionResult({"imageDetails": [_detail(account, region, repo, i) for i in images]})
    images = list(repo.images) if image_status in ("ACTIVE", "ANY") else []
    if tag_status == "TAGGED":
        images = [i for i in images if i.image_tags]
    elif tag_status == "UNTAGGED":
        images = [i for i in images if not i.image_tags]
    images.sort(key=lambda i: i.get_image_digest())
    page, next_token = ecr_ext._paginate(images, lambda i: i.get_image_digest(), token, max_results)
    result = {"imageDetails": [_detail(account, region, repo, i) for i in page]}
    if next_token:
        result["nextToken"] = next_token
    return ActionResult(result)


def install() -> None:
    ECRResponse.describe_images = describe_images
