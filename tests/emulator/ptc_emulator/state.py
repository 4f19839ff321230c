"""Process-wide emulator state shared by the moto extension and the middleware."""

from __future__ import annotations

import collections
import itertools
import threading

DEFAULT_RULE_LIMIT = 50
CALL_LOG_MAX = 200_000


class Settings:
    """Emulator behaviour. One global set, plus overrides per account: tests that share the
    emulator each run in an account of their own and must not change each other's behaviour."""

    def __init__(self) -> None:
        self._overrides: dict[str, dict] = {}
        self.rule_limit = DEFAULT_RULE_LIMIT
        self.anonymous_validation = "error"  # or "valid"
        self.upstream_latency_ms = 0

    def as_dict(self) -> dict:
        return {
            "rule_limit": self.rule_limit,
            "anonymous_validation": self.anonymous_validation,
            "upstream_latency_ms": self.upstream_latency_ms,
        }

    def get(self, name: str, account: str | None = None):
        """A setting as seen by `account` (its override, else the global value)."""
        override = self._overrides.get(account or "", {})
        return override.get(name, getattr(self, name))

    def update(self, data: dict) -> None:
        """Apply a partial settings document; raises ValueError on bad input. With an `account`
        key the values apply to that account only."""
        data = dict(data)
        account = data.pop("account", None)
        if account is not None and not isinstance(account, str):
            raise ValueError("account must be a string")
        unknown = set(data) - {"rule_limit", "anonymous_validation", "upstream_latency_ms"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        if "rule_limit" in data:
            v = data["rule_limit"]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError("rule_limit must be a non-negative integer")
        if "anonymous_validation" in data and data["anonymous_validation"] not in ("error", "valid"):
            raise ValueError("anonymous_validation must be 'error' or 'valid'")
        if "upstream_latency_ms" in data:
            v = data["upstream_latency_ms"]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError("upstream_latency_ms must be a non-negative number")
        if account is not None:
            self._overrides.setdefault(account, {}).update(data)
            return
        for k, v in data.items():
            setattr(self, k, v)


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._calls: collections.deque = collections.deque(maxlen=CALL_LOG_MAX)

    def record(self, entry: dict) -> None:
        with self._lock:
            entry["seq"] = next(self._seq)
            self._calls.append(entry)

    def query(self, region: str | None = None, service: str | None = None,
              operation: str | None = None, account: str | None = None) -> list[dict]:
        with self._lock:
            return [
                dict(c) for c in self._calls
                if (region is None or c["region"] == region)
                and (service is None or c["service"] == service)
                and (operation is None or c["operation"] == operation)
                and (account is None or c.get("account") == account)
            ]

    def clear(self, region: str | None = None, account: str | None = None) -> int:
        with self._lock:
            before = len(self._calls)
            kept = [c for c in self._calls
                    if not ((region is None or c["region"] == region)
                            and (account is None or c.get("account") == account))]
            self._calls.clear()
            self._calls.extend(kept)
            return before - len(self._calls)


FAULT_KINDS = ("throttle", "server-error", "access-denied", "latency")


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._faults: list[dict] = []

    def add(self, spec: dict) -> dict:
        allowed = {"operation", "service", "region", "account", "match", "kind", "count", "latency_ms"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if not isinstance(spec.get("operation"), str) or not spec["operation"]:
            raise ValueError("operation is required")
        if spec.get("kind") not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {list(FAULT_KINDS)}")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError("count must be a positive integer or null")
        match = spec.get("match") or {}
        if not isinstance(match, dict):
            raise ValueError("match must be an object")
        latency = spec.get("latency_ms", 100 if spec["kind"] == "latency" else 0)
        if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
            raise ValueError("latency_ms must be a non-negative number")
        fault = {
            "id": f"fault-{next(self._ids)}",
            "operation": spec["operation"],
            "service": spec.get("service"),
            "region": spec.get("region"),
            "account": spec.get("account"),
            "match": match,
            "kind": spec["kind"],
            "count": count,
            "latency_ms": latency,
        }
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def clear(self, region: str | None = None, account: str | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults
                            if not ((region is None or f["region"] == region)
                                    and (account is None or f.get("account") == account))]
            return before - len(self._faults)

    def take(self, service: str | None, operation: str | None, region: str | None,
             account: str | None, fields: dict) -> list[dict]:
        """Consume one count of every fault matching this call; returns copies of them."""
        taken = []
        with self._lock:
            for fault in list(self._faults):
                if fault["operation"] != operation:
                    continue
                if fault["service"] is not None and fault["service"] != service:
                    continue
                if fault["region"] is not None and fault["region"] != region:
                    continue
                if fault.get("account") is not None and fault["account"] != account:
                    continue
                if any(fields.get(k) != v for k, v in fault["match"].items()):
                    continue
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self._faults.remove(fault)
                taken.append(dict(fault))
                if fault["kind"] != "latency":
                    break  # one failure per call; latency faults before it still apply
        return taken


settings = Settings()
calls = CallLog()
faults = Faults()
