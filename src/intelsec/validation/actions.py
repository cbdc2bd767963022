"""Safe simulations: each action only WRITES synthetic telemetry (no real API call, no traffic).

Every event looks like the real log line the matching detection reads (Okta System Log,
CloudTrail, Kubernetes audit, web proxy), acts as a synthetic principal, and is tagged
`simulation: true` with the run id so nobody mistakes it for an attack.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACCOUNT_ID = "123456789012"  # AWS documentation account id: never a real account
BASELINE_IP = "198.51.100.10"  # TEST-NET-2
NEW_IP_PREFIX = "203.0.113."  # TEST-NET-3


@dataclass(frozen=True)
class ActionContext:
    run_id: str
    scenario: str
    principal: str
    domain: str
    now: datetime
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class SimEvent:
    source: str
    kind: str
    entity: str
    data: dict[str, Any]


Emit = Callable[[ActionContext, dict[str, Any], int], list[SimEvent]]


@dataclass(frozen=True)
class Action:
    name: str
    technique: str
    description: str
    emit: Emit
    principal_params: tuple[str, ...] = ()


def _iso(ctx: ActionContext) -> str:
    return ctx.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ctx.now.microsecond // 1000:03d}Z"


def _tag(ctx: ActionContext, data: dict[str, Any]) -> dict[str, Any]:
    data.update(simulation=True, simulation_run=ctx.run_id, simulation_scenario=ctx.scenario)
    return data


def _email(ctx: ActionContext) -> str:
    return f"{ctx.principal}@{ctx.domain}"


def _key_id(ctx: ActionContext) -> str:
    return "AKIAINTELSECSIM" + uuid.UUID(int=ctx.rng.getrandbits(128)).hex[:5].upper()


def push_mfa(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    ip = str(params.get("source_ip", NEW_IP_PREFIX + "66"))
    data = {
        "uuid": str(uuid.UUID(int=ctx.rng.getrandbits(128))), "published": _iso(ctx),
        "eventType": "system.push.send_factor_verify_push", "displayMessage": "Push notification sent for verification",
        "severity": "INFO", "legacyEventType": "core.user.factor.push_sent",
        "actor": {"id": "00u" + ctx.principal[-12:], "type": "User", "alternateId": _email(ctx),
                  "displayName": ctx.principal},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Linux", "browser": "CHROME"}},
        "outcome": {"result": "SUCCESS"},
        "target": [{"type": "AuthenticatorEnrollment", "displayName": "Okta Verify"}],
    }
    return [SimEvent("okta", "okta.system_log", _email(ctx), _tag(ctx, data))]


def _cloudtrail(ctx: ActionContext, source: str, name: str, ip: str, key_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09", "eventTime": _iso(ctx), "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0 intelsec-validation",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAINTELSECSIM", "accountId": ACCOUNT_ID,
                         "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{ctx.principal}", "userName": ctx.principal,
                         "accessKeyId": key_id},
        "requestID": str(uuid.UUID(int=ctx.rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=ctx.rng.getrandbits(128))),
        "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": ACCOUNT_ID, "eventCategory": "Management", **extra,
    }


def create_access_key(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    target = str(params.get("target_user", f"{ctx.principal}-target"))
    new_key = _key_id(ctx)
    data = _cloudtrail(ctx, "iam.amazonaws.com", "CreateAccessKey", BASELINE_IP, _key_id(ctx),
                       requestParameters={"userName": target},
                       responseElements={"accessKey": {"userName": target, "accessKeyId": new_key,
                                                       "status": "Active", "createDate": _iso(ctx)}})
    return [SimEvent("cloudtrail", "aws.api_call", data["userIdentity"]["arn"], _tag(ctx, data))]


def use_access_key_new_ip(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    """First call from the key's usual address, every further one from a new address."""
    key = str(params.get("access_key_id", "AKIAINTELSECSIM00001"))
    ip = str(params.get("baseline_ip", BASELINE_IP)) if i == 0 else f"{params.get('new_ip_prefix', NEW_IP_PREFIX)}{i}"
    data = _cloudtrail(ctx, "sts.amazonaws.com", "GetCallerIdentity", ip, key, readOnly=True)
    return [SimEvent("cloudtrail", "aws.api_call", data["userIdentity"]["arn"], _tag(ctx, data))]


def stop_logging(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    trail = str(params.get("trail", "intelsec-sim-trail"))
    data = _cloudtrail(ctx, "cloudtrail.amazonaws.com", "StopLogging", BASELINE_IP, _key_id(ctx),
                       requestParameters={"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/{trail}"},
                       responseElements=None)
    return [SimEvent("cloudtrail", "aws.api_call", data["userIdentity"]["arn"], _tag(ctx, data))]


def _audit(ctx: ActionContext, verb: str, uri: str, object_ref: dict[str, Any], code: int) -> dict[str, Any]:
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
        "auditID": str(uuid.UUID(int=ctx.rng.getrandbits(128))), "stage": "ResponseComplete",
        "requestURI": uri, "verb": verb,
        "user": {"username": ctx.principal, "groups": ["system:authenticated"]},
        "sourceIPs": [BASELINE_IP], "userAgent": "kubectl/v1.30.0 (linux/amd64)",
        "objectRef": object_ref, "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": _iso(ctx), "stageTimestamp": _iso(ctx),
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }


def k8s_exec(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    ns = str(params.get("namespace", "validation"))
    pod = str(params.get("pod", "intelsec-sim-pod"))
    cmd = str(params.get("command", "id"))
    data = _audit(ctx, "create", f"/api/v1/namespaces/{ns}/pods/{pod}/exec?command={cmd}&stdin=true&tty=true",
                  {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "exec"}, 101)
    return [SimEvent("k8s_audit", "k8s.audit", ctx.principal, _tag(ctx, data))]


def k8s_list_secrets(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    ns = str(params.get("namespace", "validation"))
    data = _audit(ctx, "list", f"/api/v1/namespaces/{ns}/secrets",
                  {"resource": "secrets", "namespace": ns, "apiVersion": "v1"}, 200)
    return [SimEvent("k8s_audit", "k8s.audit", ctx.principal, _tag(ctx, data))]


def upload_paste_site(ctx: ActionContext, params: dict[str, Any], i: int) -> list[SimEvent]:
    host = str(params.get("host", "pastebin.com"))
    data = {
        "timestamp": _iso(ctx), "c-ip": "10.0.0.23", "cs-username": ctx.principal, "cs-method": "POST",
        "cs-host": host, "c-uri": f"https://{host}/api/api_post.php", "c-useragent": "python-requests/2.31",
        "sc-status": 200, "cs-bytes": int(params.get("bytes", 48_000)), "r-dns": host,
        "namespace": str(params.get("namespace", "validation")), "category": "paste-sites",
    }
    return [SimEvent("egress", "proxy.request", ctx.principal, _tag(ctx, data))]


ACTIONS: dict[str, Action] = {a.name: a for a in [
    Action("idp.push_mfa", "T1621", "Okta Verify push sent to the synthetic user", push_mfa),
    Action("iam.create_access_key", "T1098.001", "CloudTrail CreateAccessKey for another (synthetic) user",
           create_access_key, ("target_user",)),
    Action("iam.use_access_key_new_ip", "T1078.004", "CloudTrail calls with one access key from new addresses",
           use_access_key_new_ip),
    Action("cloudtrail.stop_logging", "T1562.008", "CloudTrail StopLogging on a synthetic trail", stop_logging),
    Action("k8s.exec", "T1609", "Kubernetes audit: exec into a pod", k8s_exec),
    Action("k8s.list_secrets", "T1552.007", "Kubernetes audit: list secrets in a namespace", k8s_list_secrets),
    Action("egress.upload_paste_site", "T1567", "Proxy log: POST upload to a paste site", upload_paste_site),
]}
