"""S3 Object Lock: versions that cannot be deleted before a date (retention), or at all while a legal hold is on.

A bucket made with ``x-amz-bucket-object-lock-enabled: true`` (or a versioned bucket given an
``ObjectLockConfiguration``) has Object Lock on for good: its versioning can no longer be
suspended. Its configuration may name a default retention (mode and days or years) that every new
version gets. A version's retention is set as it is written (``x-amz-object-lock-mode`` and
``-retain-until-date``) or afterwards (PutObjectRetention); a legal hold likewise
(``x-amz-object-lock-legal-hold``, PutObjectLegalHold).

Until its date a version under ``COMPLIANCE`` cannot be deleted, shortened or changed in mode by
anyone; under ``GOVERNANCE`` only by a caller who sends ``x-amz-bypass-governance-retention: true``
and has ``s3:BypassGovernanceRetention``. A legal hold stops deletion until it is turned off.
Extending a retention is always allowed. Deleting without a version id only adds a delete marker,
as on S3, and is always allowed. Lifecycle rules never expire a locked version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ....errors import ServiceError
from ...protocols import restxml as X
from ...protocols.sigv4 import Verified
from .lifecycle import DAY
from .model import ObjectMeta, locked
from .wire_common import S3Base, S3Request

MODES = ("GOVERNANCE", "COMPLIANCE")


def _malformed(what: str) -> ServiceError:
    return ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                        f"published schema: {what}")


def parse_date(raw: str, name: str) -> float:
    """A retention's date, as epoch seconds (``restxml.iso_seconds``), or S3's error for it."""
    seconds = X.iso_seconds(raw)
    if seconds is None:
        raise ServiceError("InvalidArgument", f"{name} must be an ISO 8601 date and time before the year 9999",
                           ArgumentName=name, ArgumentValue=raw[:40])
    return seconds


def lock_configuration(body: bytes) -> dict[str, Any]:
    """An ObjectLockConfiguration document, as kept: ``{"enabled": True, "mode"?, "days"?}``."""
    doc = X.parse(body, "ObjectLockConfiguration")
    if X.text(doc, "ObjectLockEnabled") != "Enabled":
        raise _malformed("ObjectLockEnabled is Enabled.")
    out: dict[str, Any] = {"enabled": True}
    for rule in X.children(doc, "Rule"):
        defaults = X.children(rule, "DefaultRetention")
        if len(defaults) != 1:
            raise _malformed("a Rule has one DefaultRetention.")
        mode, days, years = (X.text(defaults[0], t) for t in ("Mode", "Days", "Years"))
        if mode not in MODES:
            raise _malformed("Mode is GOVERNANCE or COMPLIANCE.")
        if (days is None) == (years is None):
            raise _malformed("DefaultRetention has Days or Years, not both.")
        count = days if days is not None else years
        assert count is not None
        if not (count.strip().lstrip("-").isascii() and count.strip().lstrip("-").isdigit()
                and len(count.strip()) <= 6) or int(count) <= 0:
            raise ServiceError("InvalidRetentionPeriod", "The retention period must be a positive integer value.")
        if int(count) > (100 if years is not None else 36500):  # S3's longest default retention: 100 years
            raise ServiceError("InvalidRetentionPeriod", "Default retention period cannot exceed 100 years.")
        out.update(mode=mode, days=int(count) * (365 if years is not None else 1))
        out["years"] = years is not None
    return out


def lock_document(conf: Mapping[str, Any]) -> bytes:
    parts = [X.el("ObjectLockEnabled", "Enabled")]
    if "mode" in conf:
        count = X.el("Years", conf["days"] // 365) if conf.get("years") else X.el("Days", conf["days"])
        parts.append(X.el("Rule", [X.el("DefaultRetention", [X.el("Mode", conf["mode"]), count])]))
    return X.document("ObjectLockConfiguration", parts)


def lock_headers(attrs: Mapping[str, Any]) -> dict[str, str]:
    """What GET and HEAD say of a version's retention and legal hold."""
    out = {}
    if "retention" in attrs:
        out["x-amz-object-lock-mode"] = attrs["retention"]["mode"]
        out["x-amz-object-lock-retain-until-date"] = X.iso(attrs["retention"]["until"])
    if "hold" in attrs:
        out["x-amz-object-lock-legal-hold"] = attrs["hold"]
    return out


class ObjectLock(S3Base):
    def lock_config(self, bucket: str) -> dict[str, Any] | None:
        conf = self.store.bucket_config(bucket, "objectLock")
        return conf if conf else None

    def _require_lock(self, bucket: str) -> dict[str, Any]:
        conf = self.lock_config(bucket)
        if conf is None:
            raise ServiceError("InvalidRequest", "Bucket is missing Object Lock Configuration")
        return conf

    def new_lock_attrs(self, req: S3Request, v: Verified) -> dict[str, Any]:
        """The retention and legal hold a new version gets: its headers', else the bucket's default retention."""
        h = req.headers
        mode, until, hold = (h.get(f"x-amz-object-lock-{n}") for n in ("mode", "retain-until-date", "legal-hold"))
        conf = self.lock_config(req.bucket)
        if conf is None:
            if mode or until or hold:
                raise ServiceError("InvalidRequest", "Bucket is missing Object Lock Configuration")
            return {}
        out: dict[str, Any] = {}
        if (mode is None) != (until is None):
            raise ServiceError("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must "
                              "both be supplied")
        if mode is not None and until is not None:
            if mode not in MODES:
                raise ServiceError("InvalidArgument", "Unknown wormMode directive.", ArgumentName="x-amz-object-lock-mode")
            when = parse_date(until, "x-amz-object-lock-retain-until-date")
            if when <= self.clock.now():
                raise ServiceError("InvalidArgument", "The retain until date must be in the future!")
            self._authorize(v, req, "s3:PutObjectRetention", f"arn:aws:s3:::{req.bucket}/{req.key}")
            out["retention"] = {"mode": mode, "until": when}
        elif "mode" in conf:
            out["retention"] = {"mode": conf["mode"], "until": self.clock.now() + conf["days"] * DAY}
        if hold is not None:
            if hold not in ("ON", "OFF"):
                raise ServiceError("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'",
                                   ArgumentName="x-amz-object-lock-legal-hold")
            self._authorize(v, req, "s3:PutObjectLegalHold", f"arn:aws:s3:::{req.bucket}/{req.key}")
            out["hold"] = hold
        return out

    def check_deletable(self, v: Verified, req: S3Request, meta: ObjectMeta) -> None:
        """A version's deletion, refused while it is locked (a GOVERNANCE retention yields to a bypass)."""
        why = locked(meta.attrs, self.clock.now())
        if why is None:
            return
        if why == "GOVERNANCE" and req.headers.get("x-amz-bypass-governance-retention", "").lower() == "true":
            self._authorize(v, req, "s3:BypassGovernanceRetention", f"arn:aws:s3:::{req.bucket}/{meta.key}")
            return
        raise ServiceError("AccessDenied", "Access Denied because object protected by object lock.", 403)

    async def _check_version_deletable(self, v: Verified, req: S3Request, key: str, version: str) -> None:
        """A version's deletion, refused while Object Lock keeps it (a version not there is S3's 204 all the same)."""
        if self.lock_config(req.bucket) is None:
            return
        try:
            target = await self._run(self.store.version, req.bucket, key, version)
        except ServiceError:
            return
        self.check_deletable(v, req, target)

    async def _bucket_lock(self, req: S3Request, receive: Any, send: Any) -> None:
        """Get or PutObjectLockConfiguration (authorized by the caller)."""
        if req.method == "GET":
            conf = self.lock_config(req.bucket)
            if conf is None:
                raise ServiceError("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist "
                                  "for this bucket", 404, BucketName=req.bucket)
            return await self._reply(send, 200, lock_document(conf))
        conf = lock_configuration(await self._read_small(receive))
        if self.lock_config(req.bucket) is None and await self._run(self.store.versioning, req.bucket) != "Enabled":
            raise ServiceError("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                              "configuration", 409)
        await self._run(self.store.set_bucket_config, req.bucket, "objectLock", conf)
        await self._reply(send, 200)

    async def _object_retention(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        """Get or PutObjectRetention (authorized by the caller), of the current version or ``versionId``."""
        self._require_lock(req.bucket)
        version = req.query.get("versionId")
        meta = await self._run(self.store.head, req.bucket, req.key, version)
        if req.method == "GET":
            if "retention" not in meta.attrs:
                raise ServiceError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                                  "configuration", 404)
            r = meta.attrs["retention"]
            return await self._reply(send, 200, X.document("Retention", [X.el("Mode", r["mode"]),
                                                                         X.el("RetainUntilDate", X.iso(r["until"]))]))
        doc = X.parse(await self._read_small(receive), "Retention")
        mode, until = X.text(doc, "Mode"), X.text(doc, "RetainUntilDate")
        if mode not in MODES or until is None:
            raise _malformed("a Retention has a Mode (GOVERNANCE or COMPLIANCE) and a RetainUntilDate.")
        when = parse_date(until, "RetainUntilDate")
        if when <= self.clock.now():
            raise ServiceError("InvalidArgument", "The retain until date must be in the future!")
        old = meta.attrs.get("retention")
        if old is not None and old["until"] > self.clock.now() and (when < old["until"] or mode != old["mode"]):
            # shortening or changing a retention in force: never under COMPLIANCE, under GOVERNANCE with a bypass
            bypass = req.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
            if old["mode"] == "COMPLIANCE" or not bypass:
                raise ServiceError("AccessDenied", "Access Denied because object protected by object lock.", 403)
            self._authorize(v, req, "s3:BypassGovernanceRetention", f"arn:aws:s3:::{req.bucket}/{req.key}")
        await self._run(self.store.set_attribute, req.bucket, req.key, meta.version_id, "retention",
                        {"mode": mode, "until": when})
        await self._reply(send, 200)

    async def _object_legal_hold(self, req: S3Request, receive: Any, send: Any) -> None:
        """Get or PutObjectLegalHold (authorized by the caller), of the current version or ``versionId``."""
        self._require_lock(req.bucket)
        meta = await self._run(self.store.head, req.bucket, req.key, req.query.get("versionId"))
        if req.method == "GET":
            if "hold" not in meta.attrs:
                raise ServiceError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                                  "configuration", 404)
            return await self._reply(send, 200, X.document("LegalHold", [X.el("Status", meta.attrs["hold"])]))
        status = X.text(X.parse(await self._read_small(receive), "LegalHold"), "Status")
        if status not in ("ON", "OFF"):
            raise _malformed("a LegalHold's Status is ON or OFF.")
        await self._run(self.store.set_attribute, req.bucket, req.key, meta.version_id, "hold", status)
        await self._reply(send, 200)
