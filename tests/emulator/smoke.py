"""End-to-end smoke test of the local AWS emulator.

Run from the repository root after scripts/setup-emulator.sh:

    .venv/bin/python tests/emulator/smoke.py

It starts its own emulator (free ports, temporary state), drives it with boto3 and prints one
line per check and a closing 'N passed, N failed' line. Exit status 0 when everything passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]

CHECKS = []


def check(func):
    CHECKS.append(func)
    return func


class Ctx:
    def __init__(self, ready: dict) -> None:
        self.ready = ready
        self.endpoint = ready["endpoint"]

    def client(self, service: str, region: str):
        return boto3.client(
            service, region_name=region, endpoint_url=self.endpoint,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, parameter_validation=False),
        )

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def secret(self, region: str, name: str, value) -> str:
        sm = self.client("secretsmanager", region)
        text = value if isinstance(value, str) else json.dumps(value)
        return sm.create_secret(Name=name, SecretString=text)["ARN"]

    def good_secret(self, region: str, name: str = "ecr-pullthroughcache/docker-hub") -> str:
        creds = self.ready["upstream_credentials"]
        return self.secret(region, name, {"username": creds["username"], "accessToken": creds["access_token"]})

    def image(self, repository: str, tag: str) -> dict:
        return next(i for i in self.ready["images"] if i["repository"] == repository and i["tag"] == tag)


def error_code(func, *args, **kwargs) -> str:
    try:
        func(*args, **kwargs)
    except ClientError as err:
        return err.response["Error"]["Code"]
    raise AssertionError("expected an error")


def expect(cond, message="") -> None:
    if not cond:
        raise AssertionError(message)


# ---- checks -------------------------------------------------------------------------------------

@check
def rule_crud(ctx: Ctx) -> None:
    region = "eu-west-1"
    ecr = ctx.client("ecr", region)
    arn = ctx.good_secret(region)
    raw = {}
    ecr.meta.events.register("after-call.ecr.CreatePullThroughCacheRule",
                             lambda http_response, **_: raw.setdefault("body", http_response.content))
    out = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub",
                                             upstreamRegistryUrl="registry-1.docker.io", credentialArn=arn)
    expect(out["upstreamRegistry"] == "docker-hub", out)
    expect(out["upstreamRepositoryPrefix"] == "ROOT", out)
    expect(isinstance(json.loads(raw["body"])["createdAt"], float), raw)
    expect(error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="docker-hub",
                      upstreamRegistryUrl="registry-1.docker.io") == "PullThroughCacheRuleAlreadyExistsException")
    expect(error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="Bad_Prefix",
                      upstreamRegistryUrl="quay.io") == "ValidationException")
    expect(error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="x",
                      upstreamRegistryUrl="quay.io") == "ValidationException")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="future", upstreamRegistryUrl="future.example.com",
                                       upstreamRegistry="future-registry")
    rules = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    expect([r["ecrRepositoryPrefix"] for r in rules] == ["docker-hub", "future"], rules)
    expect(rules[1]["upstreamRegistry"] == "future-registry", rules)
    expect(error_code(ecr.describe_pull_through_cache_rules, ecrRepositoryPrefixes=["nope"])
           == "PullThroughCacheRuleNotFoundException")
    upd = ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", credentialArn=arn)
    expect(upd["updatedAt"] >= out["createdAt"], upd)
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="future")
    expect(deleted["upstreamRegistryUrl"] == "future.example.com", deleted)
    expect(error_code(ecr.delete_pull_through_cache_rule, ecrRepositoryPrefix="future")
           == "PullThroughCacheRuleNotFoundException")


@check
def rule_limit_and_pagination(ctx: Ctx) -> None:
    ecr = ctx.client("ecr", "ap-south-1")
    for i in range(50):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=f"q{i:02d}", upstreamRegistryUrl="quay.io")
    expect(error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="q50",
                      upstreamRegistryUrl="quay.io") == "LimitExceededException")
    ctx.control("POST", "/_ptc/settings", {"rule_limit": 60})
    try:
        for i in range(50, 60):
            ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=f"q{i:02d}", upstreamRegistryUrl="quay.io")
        expect(error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="q60",
                          upstreamRegistryUrl="quay.io") == "LimitExceededException")
    finally:
        ctx.control("POST", "/_ptc/settings", {"rule_limit": 50})
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 7}
        if token:
            kwargs["nextToken"] = token
        out = ecr.describe_pull_through_cache_rules(**kwargs)
        pages += 1
        seen += [r["ecrRepositoryPrefix"] for r in out["pullThroughCacheRules"]]
        token = out.get("nextToken")
        if not token:
            break
    expect(pages == 9 and seen == [f"q{i:02d}" for i in range(60)], (pages, seen))
    paginated = [r["ecrRepositoryPrefix"] for page in ecr.get_paginator("describe_pull_through_cache_rules")
                 .paginate() for r in page["pullThroughCacheRules"]]
    expect(len(paginated) == 60, len(paginated))
    expect(error_code(ecr.describe_pull_through_cache_rules, maxResults=0) == "ValidationException")


@check
def validate_rules(ctx: Ctx) -> None:
    region = "eu-central-1"
    ecr, sm = ctx.client("ecr", region), ctx.client("secretsmanager", region)
    creds = ctx.ready["upstream_credentials"]
    good = ctx.good_secret(region)
    wrong = ctx.secret(region, "ecr-pullthroughcache/wrong", {"username": creds["username"], "accessToken": "nope"})
    password = ctx.secret(region, "ecr-pullthroughcache/password",
                          {"username": creds["username"], "password": creds["access_token"]})
    noprefix = ctx.secret(region, "dockerhub-creds",
                          {"username": creds["username"], "accessToken": creds["access_token"]})
    notjson = ctx.secret(region, "ecr-pullthroughcache/notjson", "user:token")
    doomed = ctx.secret(region, "ecr-pullthroughcache/doomed",
                        {"username": creds["username"], "accessToken": creds["access_token"]})
    sm.delete_secret(SecretId=doomed, RecoveryWindowInDays=7)
    gone = ctx.secret(region, "ecr-pullthroughcache/gone",
                      {"username": creds["username"], "accessToken": creds["access_token"]})
    sm.delete_secret(SecretId=gone, ForceDeleteWithoutRecovery=True)
    cases = {"good": good, "wrong": wrong, "password": password, "noprefix": noprefix, "notjson": notjson,
             "doomed": doomed, "gone": gone}
    for prefix, arn in cases.items():
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=prefix, upstreamRegistryUrl="ghcr.io",
                                           credentialArn=arn)
    results = {p: ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix=p) for p in cases}
    expect(results["good"]["isValid"] is True and "failure" not in results["good"], results["good"])
    expect(results["good"]["credentialArn"] == good, results["good"])
    for p in cases:
        if p != "good":
            expect(results[p]["isValid"] is False and results[p]["failure"], (p, results[p]))
    expect("Authentication to the upstream registry" in results["wrong"]["failure"], results["wrong"])
    expect("password" in results["password"]["failure"], results["password"])
    expect("scheduled for deletion" in results["doomed"]["failure"], results["doomed"])
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    expect(error_code(ecr.validate_pull_through_cache_rule, ecrRepositoryPrefix="quay") == "ValidationException")
    ctx.control("POST", "/_ptc/settings", {"anonymous_validation": "valid"})
    try:
        expect(ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="quay")["isValid"] is True)
    finally:
        ctx.control("POST", "/_ptc/settings", {"anonymous_validation": "error"})
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="other-ecr", upstreamRegistryUrl="210987654321.dkr.ecr.eu-central-1.amazonaws.com",
        customRoleArn="arn:aws:iam::123456789012:role/ptc-ecr-to-ecr")
    expect(ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="other-ecr")["isValid"] is True)
    expect(error_code(ecr.validate_pull_through_cache_rule, ecrRepositoryPrefix="absent")
           == "PullThroughCacheRuleNotFoundException")


@check
def pull_through(ctx: Ctx) -> None:
    region = "us-west-2"
    ecr = ctx.client("ecr", region)
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", upstreamRegistryUrl="registry-1.docker.io",
                                       credentialArn=ctx.good_secret(region))
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="k8s", upstreamRegistryUrl="registry.k8s.io")
    for repo, tag in [("library/nginx", "1.27"), ("library/alpine", "3.20"), ("library/busybox", "1.36")]:
        want = ctx.image(repo, tag)
        out = ecr.batch_get_image(repositoryName=f"docker-hub/{repo}", imageIds=[{"imageTag": tag}],
                                  acceptedMediaTypes=ALL_TYPES)
        expect(not out["failures"] and len(out["images"]) == 1, out)
        img = out["images"][0]
        expect(img["imageManifestMediaType"] == want["media_type"], (img, want))
        expect(img["imageId"] == {"imageTag": tag, "imageDigest": want["digest"]}, (img, want))
        details = ecr.describe_images(repositoryName=f"docker-hub/{repo}")["imageDetails"]
        expect(details[0]["imageDigest"] == want["digest"] and details[0]["imageTags"] == [tag], details)
    repo = ecr.describe_repositories(repositoryNames=["docker-hub/library/nginx"])["repositories"][0]
    expect(repo["imageTagMutability"] == "MUTABLE", repo)
    expect(repo["encryptionConfiguration"]["encryptionType"] == "AES256", repo)
    out = ecr.batch_get_image(repositoryName="k8s/pause", imageIds=[{"imageTag": "3.10"}])
    expect(out["images"][0]["imageId"]["imageDigest"] == ctx.image("pause", "3.10")["digest"], out)
    # cached tags answer without the upstream: an upstream latency does not slow them down
    ctx.control("POST", "/_ptc/settings", {"upstream_latency_ms": 400})
    try:
        t0 = time.monotonic()
        ecr.batch_get_image(repositoryName="docker-hub/library/nginx", imageIds=[{"imageTag": "1.27"}])
        expect(time.monotonic() - t0 < 0.3, "cached pull was slow")
        t0 = time.monotonic()
        ecr.batch_get_image(repositoryName="docker-hub/grafana/grafana", imageIds=[{"imageTag": "11.3.0"}])
        expect(time.monotonic() - t0 >= 0.4, "upstream latency not applied")
    finally:
        ctx.control("POST", "/_ptc/settings", {"upstream_latency_ms": 0})


@check
def prefix_matching(ctx: Ctx) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ecr = ctx.client("ecr", "ap-southeast-2")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ROOT", upstreamRegistryUrl="quay.io")
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="mirror", upstreamRepositoryPrefix="prometheus",
        upstreamRegistryUrl="210987654321.dkr.ecr.ap-southeast-2.amazonaws.com",
        customRoleArn="arn:aws:iam::123456789012:role/ptc")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="mirror/karpenter", upstreamRegistryUrl="public.ecr.aws")
    out = ecr.batch_get_image(repositoryName="coredns/coredns", imageIds=[{"imageTag": "v1.11.3"}])
    expect(out["images"][0]["imageId"]["imageDigest"] == ctx.image("coredns/coredns", "v1.11.3")["digest"], out)
    out = ecr.batch_get_image(repositoryName="mirror/node-exporter", imageIds=[{"imageTag": "v1.8.2"}])
    expect(out["images"][0]["imageId"]["imageDigest"]
           == ctx.image("prometheus/node-exporter", "v1.8.2")["digest"], out)
    out = ecr.batch_get_image(repositoryName="mirror/karpenter/karpenter/controller", imageIds=[{"imageTag": "1.0.6"}])
    expect(out["images"][0]["imageId"]["imageDigest"] == ctx.image("karpenter/controller", "1.0.6")["digest"], out)

    def pull(_):
        return ecr.batch_get_image(repositoryName="pause", imageIds=[{"imageTag": "3.10"}])["images"][0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(pull, range(8)))
    expect(len({r["imageId"]["imageDigest"] for r in results}) == 1, results)
    expect(len(ecr.describe_images(repositoryName="pause")["imageDetails"]) == 1)


@check
def pull_through_errors(ctx: Ctx) -> None:
    region = "us-east-2"
    ecr = ctx.client("ecr", region)
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", upstreamRegistryUrl="registry-1.docker.io",
                                       credentialArn=ctx.good_secret(region))
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ghcr", upstreamRegistryUrl="ghcr.io")
    expect(error_code(ecr.batch_get_image, repositoryName="docker-hub/library/nginx",
                      imageIds=[{"imageTag": "9.99"}]) == "UnableToGetUpstreamImageException")
    expect(error_code(ecr.batch_get_image, repositoryName="docker-hub/nginx",
                      imageIds=[{"imageTag": "1.27"}]) == "UnableToGetUpstreamImageException")
    # anonymous rule against the authenticated upstream: login fails
    expect(error_code(ecr.batch_get_image, repositoryName="ghcr/fluxcd/source-controller",
                      imageIds=[{"imageTag": "v1.4.1"}]) == "UnableToGetUpstreamImageException")
    repos = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    expect(repos == [], repos)
    # first pull by digest does not populate
    digest = ctx.image("library/nginx", "1.27")["digest"]
    expect(error_code(ecr.batch_get_image, repositoryName="docker-hub/library/nginx",
                      imageIds=[{"imageDigest": digest}]) == "RepositoryNotFoundException")
    ecr.batch_get_image(repositoryName="docker-hub/library/nginx", imageIds=[{"imageTag": "1.27"}])
    out = ecr.batch_get_image(repositoryName="docker-hub/library/nginx", imageIds=[{"imageDigest": digest}])
    expect(out["images"][0]["imageId"]["imageDigest"] == digest, out)
    other = "sha256:" + "0" * 64
    out = ecr.batch_get_image(repositoryName="docker-hub/library/nginx", imageIds=[{"imageDigest": other}])
    expect(out["images"] == [] and out["failures"][0]["failureCode"] == "ImageNotFound", out)


@check
def put_image_digests(ctx: Ctx) -> None:
    import hashlib

    ecr = ctx.client("ecr", "eu-west-3")
    ecr.create_repository(repositoryName="pushed/app")
    for n in range(3):
        index = json.dumps({"schemaVersion": 2, "mediaType": ALL_TYPES[3], "manifests": [
            {"mediaType": ALL_TYPES[2], "digest": f"sha256:{n:064d}", "size": 10,
             "platform": {"architecture": "amd64", "os": "linux"}}]})
        out = ecr.put_image(repositoryName="pushed/app", imageManifest=index, imageTag=f"v{n}")
        want = "sha256:" + hashlib.sha256(index.encode()).hexdigest()
        expect(out["image"]["imageId"]["imageDigest"] == want, out["image"]["imageId"])
    details = ecr.describe_images(repositoryName="pushed/app")["imageDetails"]
    expect(len({d["imageDigest"] for d in details}) == 3, details)


@check
def describe_repositories_paging(ctx: Ctx) -> None:
    ecr = ctx.client("ecr", "sa-east-1")
    for i in range(250):
        ecr.create_repository(repositoryName=f"team/app-{i:03d}")
    out = ecr.describe_repositories()
    expect(len(out["repositories"]) == 100 and out.get("nextToken"), len(out["repositories"]))
    names, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 30}
        if token:
            kwargs["nextToken"] = token
        out = ecr.describe_repositories(**kwargs)
        pages += 1
        names += [r["repositoryName"] for r in out["repositories"]]
        token = out.get("nextToken")
        if not token:
            break
    expect(pages == 9 and names == sorted(set(names)) and len(names) == 250, (pages, len(names)))
    total = sum(len(p["repositories"]) for p in ecr.get_paginator("describe_repositories").paginate())
    expect(total == 250, total)
    expect(error_code(ecr.describe_repositories, repositoryNames=["nope"]) == "RepositoryNotFoundException")


@check
def faults_and_call_log(ctx: Ctx) -> None:
    region = "ca-central-1"
    ecr, sns = ctx.client("ecr", region), ctx.client("sns", region)
    ecr.create_repository(repositoryName="svc/a")
    ecr.create_repository(repositoryName="svc/b")
    policy = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType":
                                    "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]})
    ctx.control("DELETE", f"/_ptc/calls?region={region}")
    fid = ctx.control("POST", "/_ptc/faults", {"operation": "PutLifecyclePolicy", "region": region,
                                               "match": {"repositoryName": "svc/a"}, "kind": "throttle",
                                               "count": 1})["id"]
    expect(fid)
    expect(ecr.put_lifecycle_policy(repositoryName="svc/b", lifecyclePolicyText=policy))
    expect(error_code(ecr.put_lifecycle_policy, repositoryName="svc/a", lifecyclePolicyText=policy)
           == "ThrottlingException")
    ecr.put_lifecycle_policy(repositoryName="svc/a", lifecyclePolicyText=policy)
    ctx.control("POST", "/_ptc/faults", {"operation": "TagResource", "kind": "access-denied", "count": 1})
    try:
        ecr.tag_resource(resourceArn=f"arn:aws:ecr:{region}:123456789012:repository/svc/a",
                         tags=[{"Key": "k", "Value": "v"}])
        raise AssertionError("expected AccessDeniedException")
    except ClientError as err:
        expect(err.response["Error"]["Code"] == "AccessDeniedException", err.response)
        expect("is not authorized to perform: ecr:TagResource" in err.response["Error"]["Message"], err.response)
    ctx.control("POST", "/_ptc/faults", {"operation": "DescribeRepositories", "region": region,
                                         "kind": "server-error", "count": 1})
    expect(error_code(ecr.describe_repositories) == "ServerException")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    ctx.control("POST", "/_ptc/faults", {"operation": "Publish", "service": "sns", "kind": "throttle", "count": 1})
    expect(error_code(sns.publish, TopicArn=topic, Message="hi") == "Throttling")
    calls = ctx.control("GET", f"/_ptc/calls?region={region}&service=ecr")["calls"]
    ops = [(c["operation"], c["resource"], c["status"], c["fault"]) for c in calls]
    expect(ops[:4] == [("PutLifecyclePolicy", "svc/b", 200, None), ("PutLifecyclePolicy", "svc/a", 400, "throttle"),
                       ("PutLifecyclePolicy", "svc/a", 200, None),
                       ("TagResource", f"arn:aws:ecr:{region}:123456789012:repository/svc/a", 400, "access-denied")],
           ops)
    sns_calls = ctx.control("GET", f"/_ptc/calls?region={region}&service=sns")["calls"]
    expect([(c["operation"], c["fault"]) for c in sns_calls][-1] == ("Publish", "throttle"), sns_calls)
    expect(all(c["seq"] > 0 for c in calls))
    expect(ctx.control("GET", "/_ptc/faults")["faults"] == [], "faults left over")
    ctx.control("POST", "/_ptc/faults", {"operation": "ListImages", "region": region, "kind": "latency",
                                         "latency_ms": 300})
    t0 = time.monotonic()
    ecr.list_images(repositoryName="svc/a")
    expect(time.monotonic() - t0 >= 0.3, "latency fault not applied")
    ctx.control("DELETE", f"/_ptc/faults?region={region}")
    expect(ctx.control("GET", "/_ptc/faults")["faults"] == [], "faults not cleared")


@check
def sns_to_sqs(ctx: Ctx) -> None:
    region = "eu-north-1"
    sns, sqs = ctx.client("sns", region), ctx.client("sqs", region)
    topic = sns.create_topic(Name="ptc-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="ptc-alerts-sink")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Subject="PTC rule invalid", Message=json.dumps({"version": "1.0"}),
                MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}})
    msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    expect(len(msgs) == 1, msgs)
    body = json.loads(msgs[0]["Body"])
    expect(body["MessageAttributes"]["severity"]["Value"] == "high", body)
    expect(body["Subject"] == "PTC rule invalid", body)
    calls = ctx.control("GET", f"/_ptc/calls?region={region}")["calls"]
    seen = {(c["service"], c["operation"]) for c in calls}
    expect({("sns", "Publish"), ("sqs", "ReceiveMessage"), ("sqs", "CreateQueue")} <= seen, seen)
    expect(any(c["resource"] == topic for c in calls if c["operation"] == "Publish"), calls)


@check
def no_secret_values_logged(ctx: Ctx) -> None:
    text = json.dumps(ctx.control("GET", "/_ptc/calls"))
    expect(ctx.ready["upstream_credentials"]["access_token"] not in text, "secret value in the call log")


@check
def iam_simulation(ctx: Ctx) -> None:
    """SimulatePrincipalPolicy (ptc_emulator/iam_ext.py): never more lenient than AWS."""
    iam = ctx.client("iam", "us-east-1")
    repo = "arn:aws:ecr:eu-west-1:123456789012:repository/ghcr/x"
    other = "arn:aws:ecr:eu-west-1:123456789012:repository/quay/x"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

    def decisions(arn, actions, resources=None):
        kwargs = {"PolicySourceArn": arn, "ActionNames": actions}
        if resources:
            kwargs["ResourceArns"] = resources
        return {(r["EvalActionName"], r["EvalResourceName"]): r for r in iam.simulate_principal_policy(**kwargs)["EvaluationResults"]}

    # A role: NotAction, NotResource, a Deny, conditions on both effects.
    role = iam.create_role(RoleName="smoke-node", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="smoke-node", PolicyName="inline", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "arn:aws:ecr:*:*:repository/ghcr/*"},
        {"Effect": "Allow", "Action": "ecr:BatchGetImage", "NotResource": "arn:aws:ecr:*:*:repository/ghcr/*"},
        {"Sid": "NoCreate", "Effect": "Deny", "Action": "ecr:CreateRepository", "Resource": repo},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {"Effect": "Deny", "Action": "ecr:PutImage", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}},
    ]}))
    got = decisions(role, ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:BatchGetImage", "ecr:PutImage"], [repo, other])
    for (action, resource), want in {
        ("ecr:BatchImportUpstreamImage", repo): "allowed",      # NotAction leaves it in
        ("ecr:BatchImportUpstreamImage", other): "implicitDeny",
        ("ecr:CreateRepository", repo): "explicitDeny",         # the Deny wins over NotAction
        ("ecr:DeleteRepository", repo): "implicitDeny",         # NotAction takes it out
        ("ecr:BatchGetImage", other): "allowed",                # NotResource covers quay
        ("ecr:PutImage", repo): "explicitDeny",                 # a conditional Deny applies
    }.items():
        expect(got[(action, resource)]["EvalDecision"] == want, (action, resource, got[(action, resource)]))
    put = got[("ecr:PutImage", repo)]["ResourceSpecificResults"][0]
    expect(put["MissingContextValues"] == ["aws:SourceVpc"], put)
    token = decisions(role, ["ecr:GetAuthorizationToken"])[("ecr:GetAuthorizationToken", "*")]
    expect(token["EvalDecision"] == "implicitDeny", token)           # a conditional Allow does not
    expect(token["MissingContextValues"] == ["aws:SecureTransport"], token)
    denied = got[("ecr:CreateRepository", repo)]["MatchedStatements"]
    expect(denied == [{"SourcePolicyId": "inline", "SourcePolicyType": "role"}], denied)

    # A user: its group's managed policy.
    managed = iam.create_policy(PolicyName="smoke-ecr", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.create_group(GroupName="smoke-ci")
    iam.attach_group_policy(GroupName="smoke-ci", PolicyArn=managed)
    user = iam.create_user(UserName="smoke-ci")["User"]["Arn"]
    iam.add_user_to_group(GroupName="smoke-ci", UserName="smoke-ci")
    got = decisions(user, ["ecr:BatchGetImage", "ecr:CreateRepository"], [repo])
    expect(got[("ecr:CreateRepository", repo)]["EvalDecision"] == "allowed", got)
    expect(got[("ecr:BatchGetImage", repo)]["MatchedStatements"] == [{"SourcePolicyId": "smoke-ecr", "SourcePolicyType": "user-managed"}], got)

    # A role's permissions boundary caps its policies; moto drops a user's, so it is refused.
    boundary = iam.create_policy(PolicyName="smoke-boundary", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}]}))["Policy"]["Arn"]
    capped = iam.create_role(RoleName="smoke-capped", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="smoke-capped", PolicyArn=managed)
    got = decisions(capped, ["ecr:BatchGetImage", "ecr:CreateRepository"], [repo])
    expect(got[("ecr:BatchGetImage", repo)]["EvalDecision"] == "allowed", got)
    expect(got[("ecr:CreateRepository", repo)]["EvalDecision"] == "implicitDeny", got)
    expect(error_code(iam.create_user, UserName="smoke-bounded", PermissionsBoundary=boundary) == "InvalidInput")

    # Pages, and what AWS refuses.
    first = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["ecr:BatchGetImage", "ecr:PutImage", "ecr:CreateRepository"], ResourceArns=[repo], MaxItems=2)
    expect(first["IsTruncated"] and len(first["EvaluationResults"]) == 2, first)
    rest = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["ecr:BatchGetImage", "ecr:PutImage", "ecr:CreateRepository"], ResourceArns=[repo], MaxItems=2, Marker=first["Marker"])
    expect(not rest["IsTruncated"] and len(rest["EvaluationResults"]) == 1, rest)
    expect(error_code(iam.simulate_principal_policy, PolicySourceArn="arn:aws:iam::123456789012:role/nobody", ActionNames=["ecr:BatchGetImage"]) == "NoSuchEntity")
    # The whole ARN names the principal: another path is another principal.
    expect(error_code(iam.simulate_principal_policy, PolicySourceArn="arn:aws:iam::123456789012:role/elsewhere/smoke-node", ActionNames=["ecr:BatchGetImage"]) == "NoSuchEntity")
    expect(error_code(iam.simulate_principal_policy, PolicySourceArn=role, ActionNames=["ecr:BatchGetImage\n"]) == "InvalidInput")
    expect(error_code(iam.simulate_principal_policy, PolicySourceArn=role, ActionNames=["ecr:*"]) == "InvalidInput")
    expect(error_code(iam.simulate_principal_policy, PolicySourceArn=role, ActionNames=["ecr:BatchGetImage"], ResourcePolicy="{}") == "InvalidInput")


# ---- driver -------------------------------------------------------------------------------------

@check
def registry_scanning_refusals(ctx: Ctx) -> None:
    """What the registry scanning calls refuse (ptc_emulator/registry.py)."""
    ecr = ctx.client("ecr", "eu-west-1")
    rule = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "docker-hub/*\n", "filterType": "WILDCARD"}]}
    expect(error_code(ecr.put_registry_scanning_configuration, scanType="BASIC", rules=[rule]) == "ValidationException")
    expect(error_code(ecr.batch_get_repository_scanning_configuration, repositoryNames=["Upper/x"]) == "ValidationException")
    missing = ecr.batch_get_repository_scanning_configuration(repositoryNames=["docker-hub/none"])
    expect([f["failureCode"] for f in missing["failures"]] == ["REPOSITORY_NOT_FOUND"], missing)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def main() -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="ptc-smoke-") as tmp:
        ready_file = os.path.join(tmp, "ready.json")
        proc = subprocess.Popen(
            [python, "-m", "ptc_emulator", "serve", "--port", "0", "--ready-file", ready_file,
             "--exit-on-stdin-eof"],
            cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = proc.stdout.readline()
        if not line:
            print("emulator did not start", file=sys.stderr)
            return 1
        ready = json.loads(line)
        with open(ready_file) as fh:
            expect(json.load(fh) == ready, "ready file differs from stdout")
        print(f"emulator up at {ready['endpoint']} in {ready['startup_seconds']} s")
        ctx = Ctx(ready)
        passed = failed = 0
        for func in CHECKS:
            try:
                func(ctx)
                passed += 1
                print(f"ok   {func.__name__}")
            except Exception:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {func.__name__}\n{traceback.format_exc()}")
        registries = [p for p in _children(proc.pid)]
        proc.stdin.close()
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        alive = [p for p in registries if os.path.exists(f"/proc/{p}")]
        if rc == 0 and registries and not alive and not os.path.exists(ready_file):
            passed += 1
            print(f"ok   stdin_eof_shutdown ({len(registries)} registry processes stopped)")
        else:
            failed += 1
            print(f"FAIL stdin_eof_shutdown rc={rc} registries={registries} alive={alive}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
