"""Events ECR sends to EventBridge around the pull-through cache, delivered to moto's events
backend of the same account and region: its rules match them and deliver to their targets
(SQS queues included), as for events put with PutEvents.

- A repository created by the pull-through is a CloudTrail service event (`AWS Service Event
  via CloudTrail`, invoked by ecr.amazonaws.com, name in `serviceEventDetails.repositoryName`)
  (EventBridge user guide, eb-service-event-cloudtrail.html; CloudTrail user guide,
  non-api-aws-service-events.html).
- Every attempted sync of a tag, successful or not, is an `ECR Pull Through Cache Action`
  event (ECR user guide, ecr-eventbridge.html).

Delivery is best effort, as in AWS: a failure to deliver never fails the pull.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

from moto.ecr.models import Repository, ecr_backends

from . import ecr_ext

log = logging.getLogger(__name__)

SOURCE = "aws.ecr"
SERVICE_EVENT = "AWS Service Event via CloudTrail"
PULL_THROUGH_CACHE_ACTION = "ECR Pull Through Cache Action"

RULE_VERSION = "_ruleVersion"


def put_event(account: str, region: str, detail_type: str, detail: dict, resources: list[str]) -> None:
    from moto.events.models import events_backends

    try:
        events_backends[account][region].put_events([{
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Resources": resources,
        }])
    except Exception:  # noqa: BLE001 - best effort, like EventBridge delivery from ECR
        log.exception("cannot deliver the %s event", detail_type)


def emit(account: str, region: str, events: list) -> list[dict]:
    """Events as the AWS service named in their `source` emits them (the control API's
    `POST /_ptc/events`): tests and the demo use it for events the emulator cannot cause itself,
    because `PutEvents` refuses `aws.` sources, as EventBridge does. Each event is
    `{"source", "detail-type", "detail", "resources"}`; the answer is PutEvents' entries, whose
    `EventId` is the `id` the rules' targets receive."""
    from moto.events.models import events_backends

    entries = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
            raise ValueError(f"events[{index}] must be an object with an object `detail`")
        for key in ("source", "detail-type"):
            if not isinstance(event.get(key), str) or not event[key]:
                raise ValueError(f"events[{index}].{key} must be a non-empty string")
        entries.append({
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": list(event.get("resources") or []),
        })
    backend = events_backends[account][region]
    answered = []
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        answered.extend(backend.put_events(entries[start:start + 10]))
    return answered


def _put_events_refusing_aws_sources(original):
    """EventBridge refuses `PutEvents` entries whose `Source` starts with `aws.` (only AWS
    services emit those): the entry fails with `NotAuthorizedForSourceException` (EventBridge API
    reference, PutEvents and PutEventsResultEntry; EventBridge user guide, eb-putevents.html).
    moto delivers them; the emulator must not, or a test could forge ECR's events unnoticed."""
    def put_events(self):
        requested = self._get_param("Entries") or []
        refused = {index for index, entry in enumerate(requested)
                   if isinstance(entry, dict) and str(entry.get("Source", "")).startswith("aws.")}
        if not refused:
            return original(self)
        allowed = [entry for index, entry in enumerate(requested) if index not in refused]
        delivered = iter(self.events_backend.put_events(allowed) if allowed else [])
        entries = [
            {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
            if index in refused else next(delivered)
            for index in range(len(requested))
        ]
        return json.dumps({"FailedEntryCount": len([e for e in entries if "ErrorCode" in e]),
                           "Entries": entries})

    put_events.__wrapped__ = original
    return put_events


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # moto keeps UTC without a zone
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def repository_created_by_pull_through(account: str, region: str, repository: Repository) -> None:
    """The CloudTrail service event of a repository that ECR created for a pull, as sparse as the
    published record: beyond the fields the pages above name, it is unconfirmed."""
    now = _iso(datetime.now(timezone.utc))
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {"accountId": account, "invokedBy": "ecr.amazonaws.com"},
        "eventTime": now,
        "eventSource": "ecr.amazonaws.com",
        "eventName": "CreateRepository",
        "awsRegion": region,
        "sourceIPAddress": "ecr.amazonaws.com",
        "userAgent": "ecr.amazonaws.com",
        "requestParameters": None,
        # The published record of a pull-through creation (cloud-custodian#8736) has no
        # response elements: only `serviceEventDetails.repositoryName` names the repository.
        # Sending more would let code that reads anything else pass here and fail on AWS.
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [{"accountId": account, "type": "AWS::ECR::Repository", "ARN": repository.arn}],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account,
        "serviceEventDetails": {"repositoryName": repository.name},
        "eventCategory": "Management",
    }
    put_event(account, region, SERVICE_EVENT, detail, [])


def _rule_version(rule: dict) -> str:
    return str(rule.get(RULE_VERSION, 1))


def _failure_code(err: Exception) -> str:
    """ECR does not document the failure codes; these are the emulator's own."""
    explicit = getattr(err, "failure_code", None)
    if explicit:
        return explicit
    return "UPSTREAM_AUTHENTICATION_FAILED" if "Authentication" in str(err) else "UPSTREAM_SYNC_FAILED"


def _pull_through_with_events(original):
    def pull_through(self, rule: dict, name: str, tag: str, accepted) -> None:
        account, region = self.current_account, self.region
        detail = {
            "rule-version": _rule_version(rule),
            "sync-status": "SUCCESS",
            "ecr-repository-prefix": rule["ecrRepositoryPrefix"],
            "repository-name": name,
            "upstream-registry-url": rule["upstreamRegistryUrl"],
            "image-tag": tag,
        }
        arn = f"arn:aws:ecr:{region}:{account}:repository/{name}"
        try:
            original(self, rule, name, tag, accepted)
        except ecr_ext.UnableToGetUpstreamImageException as err:
            detail.update({"sync-status": "FAILED", "failure-code": _failure_code(err),
                           "failure-reason": getattr(err, "message", str(err))})
            put_event(account, region, PULL_THROUGH_CACHE_ACTION, detail, [arn])
            raise
        repository = ecr_backends[account][region].repositories.get(name)
        image = next((i for i in (repository.images if repository else []) if tag in i.image_tags), None)
        if image is not None:
            detail["image-digest"] = image.get_image_digest()
        put_event(account, region, PULL_THROUGH_CACHE_ACTION, detail, [arn])

    pull_through.__wrapped__ = original
    return pull_through


def _update_rule_with_version(original):
    """A rule's version goes up with every update (`rule-version` in the sync events); it is
    kept in the rule itself, so it goes with the rule."""
    def update_pull_through_cache_rule(self):
        result = original(self)
        with ecr_ext._rules_lock:
            rule = ecr_ext.rules_for(self.current_account, self.region).get(self._get_param("ecrRepositoryPrefix"))
            if rule is not None:
                rule[RULE_VERSION] = rule.get(RULE_VERSION, 1) + 1
        return result

    update_pull_through_cache_rule.__wrapped__ = original
    return update_pull_through_cache_rule


def _deliver_whole_events() -> None:
    """moto rebuilds an event for its targets from a template that leaves out `account`;
    EventBridge delivers the whole event, `account` included (EventBridge user guide,
    eb-events-structure.html)."""
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
        '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
        '"detail": <detail>}'
    )


def install() -> None:
    from moto.ecr.responses import ECRResponse
    from moto.events.responses import EventsHandler

    _deliver_whole_events()
    if not hasattr(EventsHandler.put_events, "__wrapped__"):
        EventsHandler.put_events = _put_events_refusing_aws_sources(EventsHandler.put_events)

    if not hasattr(ecr_ext._pull_through, "__wrapped__"):
        ecr_ext._pull_through = _pull_through_with_events(ecr_ext._pull_through)
    if not hasattr(ECRResponse.update_pull_through_cache_rule, "__wrapped__"):
        ECRResponse.update_pull_through_cache_rule = _update_rule_with_version(
            ECRResponse.update_pull_through_cache_rule)
