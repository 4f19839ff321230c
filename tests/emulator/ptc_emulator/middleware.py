"""WSGI middleware around moto: call log, fault injection and the /_ptc/ control API."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from contextlib import nullcontext
from urllib.parse import parse_qs

from .state import calls, faults, settings

CONTROL_PREFIX = "/_ptc/"
RESOURCE_KEYS = ("repositoryName", "ecrRepositoryPrefix", "SecretId", "resourceArn", "TopicArn", "QueueUrl",
                 "TableName")
# DynamoDB applies a conditional write atomically: of two writers racing on one item, exactly one
# condition holds (DynamoDB developer guide, Expressions.ConditionExpressions.html, "Conditional
# writes"). moto checks the condition and writes in separate Python steps that another request
# thread can interleave, so two racing writers could both pass: one lock over DynamoDB calls keeps
# the emulator as strict as DynamoDB.
# The DynamoDB answers the product relies on are moto's own, each as the API reference states it:
# UpdateItem with ConditionExpression, ReturnValues ALL_OLD/ALL_NEW and
# ConditionalCheckFailedException (DynamoDB API reference, API_UpdateItem.html); GetItem with
# ConsistentRead (API_GetItem.html); BatchGetItem with ProjectionExpression,
# ExpressionAttributeNames and ConsistentRead, up to 100 keys (API_BatchGetItem.html). The lock adds
# no answer of its own: it only orders the calls.
_DYNAMODB_LOCK = threading.Lock()
_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
# An access key id of exactly twelve digits selects that account: tests sharing one emulator each
# get an account of their own, with ARNs and registry ids that say so.
_ACCOUNT_KEY_RE = re.compile(r"^[0-9]{12}$")
_RPC_PATH_RE = re.compile(r"^/service/[^/]+/operation/([^/]+)$")

SERVER_ERROR_CODES = {
    "ecr": "ServerException",
    "secretsmanager": "InternalServiceError",
    "sns": "InternalError",
    "sqs": "InternalError",
}


def _read_body(environ) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            return stream.read(int(length))
        except ValueError:
            return b""
    if environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return stream.read()
    return b""


def _request_info(environ, body: bytes, default_account: str) -> dict:
    """service, region, account, operation, protocol and flat request fields (never logged)."""
    service = region = None
    account = default_account
    m = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        access_key, region, service = m.group(1), m.group(2), m.group(3)
        if _ACCOUNT_KEY_RE.match(access_key):
            account = access_key
    fields: dict = {}
    for k, v in parse_qs(environ.get("QUERY_STRING", "")).items():
        fields[k] = v[0]
    ctype = environ.get("CONTENT_TYPE", "").lower()
    target = environ.get("HTTP_X_AMZ_TARGET")
    gzipped = "gzip" in environ.get("HTTP_CONTENT_ENCODING", "").lower()
    protocol = "json" if target or "json" in ctype else "query"
    if body and not gzipped:
        if "json" in ctype or target:
            try:
                data = json.loads(body)
                if isinstance(data, dict):
                    fields.update(data)
            except ValueError:
                pass
        elif "x-www-form-urlencoded" in ctype:
            for k, v in parse_qs(body.decode("utf-8", "replace")).items():
                fields[k] = v[0]
    operation = None
    if target:
        operation = target.split(".")[-1]
    elif isinstance(fields.get("Action"), str):
        operation = fields["Action"]
    else:
        m = _RPC_PATH_RE.match(environ.get("PATH_INFO", ""))
        if m:
            operation = m.group(1)
            protocol = "rpc-v2-cbor"
    resource = None
    for key in RESOURCE_KEYS:
        if isinstance(fields.get(key), str) and fields[key]:
            resource = fields[key]
            break
    return {"service": service, "region": region, "account": account, "operation": operation,
            "protocol": protocol, "resource": resource, "fields": fields}


def _resource_arn(info: dict, account: str) -> str:
    service, region, fields = info["service"], info["region"] or "us-east-1", info["fields"]
    res = info["resource"]
    if service == "ecr":
        if fields.get("resourceArn"):
            return fields["resourceArn"]
        return f"arn:aws:ecr:{region}:{account}:repository/{fields.get('repositoryName') or '*'}"
    if service == "secretsmanager" and res:
        return res if res.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{res}"
    if service == "sqs" and res and "/" in res:
        return f"arn:aws:sqs:{region}:{account}:{res.rstrip('/').rsplit('/', 1)[-1]}"
    return res if res and res.startswith("arn:") else "*"


def _error(info: dict, kind: str, account: str):
    """(status, headers, body) of an injected failure, in the protocol the caller speaks."""
    service = info["service"] or "unknown"
    op = info["operation"] or "Unknown"
    if kind == "throttle":
        status, code, message = 400, "ThrottlingException", "Rate exceeded"
        query_code = "Throttling"
    elif kind == "server-error":
        status = 500
        code = query_code = SERVER_ERROR_CODES.get(service, "InternalFailure")
        message = "An internal error occurred. Try again later."
    else:  # access-denied
        status, code, query_code = 400, "AccessDeniedException", "AuthorizationError"
        message = (f"User: arn:aws:iam::{account}:user/ptc-test is not authorized to perform: "
                   f"{service}:{op} on resource: {_resource_arn(info, account)} because no "
                   f"identity-based policy allows the {service}:{op} action")
    request_id = str(uuid.uuid4())
    if info["protocol"] == "query":
        if kind == "access-denied":
            status = 403
        body = (
            '<?xml version="1.0"?>\n<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{query_code}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", code)]
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error"}


class PtcMiddleware:
    def __init__(self, app, account_id: str, info_provider=None) -> None:
        self.app = app
        self.account_id = account_id
        self.info_provider = info_provider

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            if path.rstrip("/") == "/moto-api/reset":
                from . import ecr_ext

                ecr_ext.reset()
            return self.app(environ, start_response)

        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        info = _request_info(environ, body, self.account_id)
        account = info["account"]
        if account != self.account_id:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        entry = {"seq": 0, "service": info["service"], "operation": info["operation"], "region": info["region"],
                 "account": account, "resource": info["resource"], "status": None, "fault": None}

        taken = faults.take(info["service"], info["operation"], info["region"], account, info["fields"]) \
            if info["operation"] else []
        for fault in taken:
            if fault["kind"] == "latency":
                time.sleep(fault["latency_ms"] / 1000.0)
                entry["fault"] = "latency"
        failing = next((f for f in taken if f["kind"] != "latency"), None)
        if failing is not None:
            status, headers, out = _error(info, failing["kind"], account)
            entry["status"], entry["fault"] = status, failing["kind"]
            calls.record(entry)
            start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
            return [out]

        def recording_start_response(status, headers, exc_info=None):
            try:
                entry["status"] = int(str(status).split(" ", 1)[0])
            except ValueError:
                entry["status"] = None
            return start_response(status, headers, exc_info)

        try:
            with _DYNAMODB_LOCK if info["service"] == "dynamodb" else nullcontext():
                result = self.app(environ, recording_start_response)
        except Exception:
            entry["status"] = 500
            calls.record(entry)
            raise
        calls.record(entry)
        return result

    # ---- control API ------------------------------------------------------------------------

    def _control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            data = {}
            if method in ("POST", "PUT"):
                raw = _read_body(environ)
                data = json.loads(raw) if raw.strip() else {}
                if not isinstance(data, dict):
                    raise ValueError("the request body must be a JSON object")
            status, out = self._route(method, path, query, data)
        except ValueError as err:
            status, out = 400, {"error": str(err)}
        body = json.dumps(out).encode()
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _route(self, method: str, path: str, query: dict, data: dict):
        region = query.get("region")
        account = query.get("account")
        if path == "/_ptc/health" and method == "GET":
            return 200, {"ok": True}
        if path == "/_ptc/info" and method == "GET":
            return 200, (self.info_provider() if self.info_provider else {})
        if path == "/_ptc/calls":
            if method == "GET":
                return 200, {"calls": calls.query(region, query.get("service"), query.get("operation"), account)}
            if method == "DELETE":
                return 200, {"deleted": calls.clear(region, account)}
        if path == "/_ptc/faults":
            if method == "GET":
                return 200, {"faults": faults.list()}
            if method == "POST":
                fault = faults.add(data)
                return 200, {"id": fault["id"], "fault": fault}
            if method == "DELETE":
                return 200, {"deleted": faults.clear(region, account)}
        if path == "/_ptc/events" and method == "POST":
            from . import events

            if not account or not region:
                raise ValueError("`account` and `region` are required query parameters")
            return 200, {"entries": events.emit(account, region, data.get("events") or [])}
        if path == "/_ptc/image-times" and method == "POST":
            from . import image_details

            if not account or not region:
                raise ValueError("`account` and `region` are required query parameters")
            return 200, {"updated": image_details.set_times(account, region, data)}
        if path == "/_ptc/settings":
            if method == "GET":
                return 200, settings.as_dict()
            if method == "POST":
                settings.update(data)
                return 200, settings.as_dict()
        return 404, {"error": f"no control endpoint {method} {path}"}
