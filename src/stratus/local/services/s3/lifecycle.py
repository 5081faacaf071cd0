"""S3 lifecycle rules: a bucket's configuration (Put, Get and DeleteBucketLifecycleConfiguration) as S3 reads
and writes it, and when each rule's actions fall due.

A rule filters objects by key prefix, tags and size, and may expire current objects (after a number of days
or on a date), expire noncurrent versions some days after they stopped being current, remove delete markers
left with no version behind them, and abort multipart uploads some days after they began. Days count as S3
counts them: from the object's creation (or the upload's start, or the moment a version became noncurrent),
rounded up to the next midnight UTC. The sweep (``ObjectStore.apply_lifecycle``) runs on the platform's clock,
so a test that moves a manual clock sees rules act. Transitions to other storage classes have no meaning
here and are refused by name.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from concurrent.futures import Executor
from typing import Any
from urllib.parse import quote

from ....clock import Clock
from ....errors import ServiceError
from ...protocols import restxml as X

DAY = 86400
MAX_RULES = 1000
MAX_DAYS = 1_000_000  # so that every date a rule gives can be written back (before the year 9999)
logger = logging.getLogger("stratus")


def due(start: float, days: int) -> float:
    """When ``days`` after ``start`` is reached, as S3 counts: the next midnight UTC after start + days."""
    return math.ceil((start + days * DAY) / DAY) * DAY


def _days(node: Any, tag: str, where: str) -> int | None:
    raw = X.text(node, tag)
    if raw is None:
        return None
    if not (raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= 9) or not 1 <= int(raw) <= MAX_DAYS:
        raise ServiceError("InvalidArgument", f"'{tag}' in {where} must be a whole number of days from 1 to "
                           f"{MAX_DAYS}", ArgumentName=tag, ArgumentValue=raw[:32])
    return int(raw)


def _date(node: Any) -> float | None:
    """An action's ``Date``: S3 takes only a midnight UTC, in ISO 8601."""
    raw = X.text(node, "Date")
    if raw is None:
        return None
    when = X.iso_seconds(raw)
    if when is None or when % DAY:
        raise ServiceError("InvalidArgument", "'Date' must be at midnight GMT in ISO 8601", ArgumentName="Date",
                           ArgumentValue=raw[:40])
    return when


def _filter(rule: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"prefix": "", "tags": {}, "larger": None, "smaller": None}
    filters = X.children(rule, "Filter")
    legacy = X.text(rule, "Prefix")
    if filters and legacy is not None:
        raise ServiceError("MalformedXML", "A rule has either a Filter or a Prefix, not both.")
    if legacy is not None:
        out["prefix"], out["legacy"] = legacy, True  # given at the rule's level: shown back there, as S3 does
        return out
    if not filters:
        return out
    node = filters[0]
    ands = X.children(node, "And")
    for scope in ([node] + ands):
        if (prefix := X.text(scope, "Prefix")) is not None:
            out["prefix"] = prefix
        for tag in X.children(scope, "Tag"):
            out["tags"][X.text(tag, "Key") or ""] = X.text(tag, "Value") or ""
        for field, name in (("larger", "ObjectSizeGreaterThan"), ("smaller", "ObjectSizeLessThan")):
            if (size := X.text(scope, name)) is not None:
                if not (size.strip().isascii() and size.strip().isdigit() and len(size.strip()) <= 18):
                    raise ServiceError("InvalidArgument", f"{name} must be a whole number of bytes")
                out[field] = int(size)
    return out


def parse_rules(body: bytes) -> list[dict[str, Any]]:
    """A LifecycleConfiguration document's rules, or S3's error for it."""
    doc = X.parse(body, "LifecycleConfiguration")
    rules, ids = [], set()
    for i, node in enumerate(X.children(doc, "Rule")):
        where = f"rule {i + 1}"
        for transition in X.children(node, "Transition"):  # a date is checked as for an expiration first
            _date(transition)
        if X.children(node, "Transition") or X.children(node, "NoncurrentVersionTransition"):
            raise ServiceError("NotImplemented", "Lifecycle transitions to other storage classes are not implemented "
                              "by the local object store (it has one storage class).", 501)
        status = X.text(node, "Status")
        if status not in ("Enabled", "Disabled"):
            raise ServiceError("MalformedXML", f"The XML you provided was not well-formed or did not validate against "
                              f"our published schema: {where} needs a Status of Enabled or Disabled.")
        rule: dict[str, Any] = {"ID": X.text(node, "ID") or f"rule-{i + 1}", "Status": status, **_filter(node)}
        if any(ch < " " or ch == "\x7f" for ch in rule["ID"]):
            raise ServiceError("InvalidArgument", "A rule's ID must not hold control characters.", ArgumentName="ID")
        if len(rule["ID"]) > 255:
            raise ServiceError("InvalidArgument", "ID length should not exceed allowed limit of 255",
                               ArgumentName="ID", ArgumentValue=rule["ID"][:64])
        if rule["ID"] in ids:
            raise ServiceError("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule",
                               ArgumentName="ID", ArgumentValue=rule["ID"])
        ids.add(rule["ID"])
        for exp in X.children(node, "Expiration"):
            rule["days"] = _days(exp, "Days", where)
            if (date := _date(exp)) is not None:
                rule["date"] = date
            rule["markers"] = (X.text(exp, "ExpiredObjectDeleteMarker") or "").strip().lower() == "true"
            if rule["markers"] and (rule.get("days") or rule.get("date")):
                raise ServiceError("MalformedXML", "ExpiredObjectDeleteMarker cannot be specified with Days or Date in "
                                  "a Lifecycle Expiration Policy.")
        for exp in X.children(node, "NoncurrentVersionExpiration"):
            if X.text(exp, "NewerNoncurrentVersions") is not None:
                raise ServiceError("NotImplemented", "NewerNoncurrentVersions is not implemented by the local object "
                                  "store: a rule expires every noncurrent version past NoncurrentDays.", 501)
            rule["noncurrent_days"] = _days(exp, "NoncurrentDays", where)
        for abort in X.children(node, "AbortIncompleteMultipartUpload"):
            rule["abort_days"] = _days(abort, "DaysAfterInitiation", where)
        if not any(rule.get(k) for k in ("days", "date", "markers", "noncurrent_days", "abort_days")):
            raise ServiceError("InvalidRequest", f"At least one action needs to be specified in a rule ({where})")
        if rule.get("abort_days") and rule["tags"]:
            raise ServiceError("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags.")
        rules.append(rule)
    if not rules or len(rules) > MAX_RULES:
        raise ServiceError("MalformedXML", f"The XML you provided was not well-formed or did not validate against our "
                          f"published schema: a lifecycle configuration has 1 to {MAX_RULES} rules.")
    return rules


def rules_document(rules: list[dict[str, Any]]) -> bytes:
    out = []
    for rule in rules:
        conditions = ([X.el("Prefix", rule["prefix"])] if rule["prefix"] or not (rule["tags"] or rule["larger"] is not None
                                                                              or rule["smaller"] is not None) else [])
        conditions += [X.el("Tag", [X.el("Key", k), X.el("Value", v)]) for k, v in rule["tags"].items()]
        if rule["larger"] is not None:
            conditions.append(X.el("ObjectSizeGreaterThan", rule["larger"]))
        if rule["smaller"] is not None:
            conditions.append(X.el("ObjectSizeLessThan", rule["smaller"]))
        where = X.el("Prefix", rule["prefix"]) if rule.get("legacy") else \
            X.el("Filter", conditions if len(conditions) <= 1 else [X.el("And", conditions)])
        parts = [X.el("ID", rule["ID"]), where, X.el("Status", rule["Status"])]
        expiration = []
        if rule.get("days"):
            expiration.append(X.el("Days", rule["days"]))
        if rule.get("date"):
            expiration.append(X.el("Date", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(rule["date"]))))
        if rule.get("markers"):
            expiration.append(X.el("ExpiredObjectDeleteMarker", True))
        if expiration:
            parts.append(X.el("Expiration", expiration))
        if rule.get("noncurrent_days"):
            parts.append(X.el("NoncurrentVersionExpiration", [X.el("NoncurrentDays", rule["noncurrent_days"])]))
        if rule.get("abort_days"):
            parts.append(X.el("AbortIncompleteMultipartUpload", [X.el("DaysAfterInitiation", rule["abort_days"])]))
        out.append(X.el("Rule", parts))
    return X.document("LifecycleConfiguration", out)


def applies(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    """Whether an enabled rule's filter takes this object."""
    return (rule["Status"] == "Enabled" and key.startswith(rule["prefix"])
            and all(tags.get(k) == v for k, v in rule["tags"].items())
            and (rule["larger"] is None or size > rule["larger"]) and (rule["smaller"] is None or size < rule["smaller"]))


# every declared bucket's rule, here as on AWS: uploads nobody completed go after a week
ABORT_STALE_UPLOADS: dict[str, Any] = {"ID": "abort-incomplete-uploads", "Status": "Enabled", "prefix": "", "tags": {},
                       "larger": None, "smaller": None, "abort_days": 7}


async def sweep_lifecycle(store: Any, clock: Clock, executor: Executor, tick: float = 1.0,
                          every: float = 60.0) -> None:
    """Apply the buckets' lifecycle rules while the server runs: once a minute of the platform's clock (at once
    when rules change), looked at every ``tick`` seconds, so a manual clock moved ahead is acted on within one."""
    last: float | None = None
    while True:
        await asyncio.sleep(tick)
        now = clock.now()
        if last is not None and now - last < every and not store.lifecycle_changed:
            continue
        store.lifecycle_changed, last = False, now
        try:
            await asyncio.get_running_loop().run_in_executor(executor, store.apply_lifecycle, now)
            if store.checkpoint_due(idle=True):  # what the last burst of small writes left in the log
                await asyncio.get_running_loop().run_in_executor(executor, store.checkpoint)
        except Exception:  # a sweep that failed is logged and tried again next time: the server goes on
            logger.exception("lifecycle rules could not be applied")


def expiration_header(rules: list[dict[str, Any]] | None, key: str, size: int, tags: dict[str, str],
                      created: float) -> str | None:
    """S3's ``x-amz-expiration`` for a current object: when the first rule that will expire it does, and its id."""
    soonest: tuple[float, str] | None = None
    for rule in rules or []:
        if not applies(rule, key, size, tags):
            continue
        when = due(created, rule["days"]) if rule.get("days") else rule.get("date")
        if when and (soonest is None or when < soonest[0]):
            soonest = (when, rule["ID"])
    if soonest is None:
        return None
    return f'expiry-date="{X.http_date(soonest[0])}", rule-id="{quote(soonest[1], safe="")}"'  # URL-encoded, as S3
