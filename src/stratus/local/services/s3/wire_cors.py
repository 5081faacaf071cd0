"""S3's CORS: a bucket's rules (Put, Get and DeleteBucketCors), the preflight ``OPTIONS`` they answer, and the
``Access-Control-*`` headers on the requests they allow, as S3 documents them.

A preflight carries no credentials, so it is answered before authentication, from the rules alone: the first
rule whose origin, method and every requested header match decides it. The answer to an actual request from an
origin (a browser's ``Origin`` header) carries the headers of the first rule matching its origin and method;
authorization is unchanged by CORS, which only lets a browser read what the request was allowed to get.
"""

from __future__ import annotations

from typing import Any

from ....errors import ServiceError
from ...protocols import restxml as X
from .wire_common import S3Base, S3Request

METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_RULES = 100
_NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
                "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted "
                "by the resource's CORS spec.")


def _matches(pattern: str, value: str) -> bool:
    """S3's wildcard: at most one ``*``, standing for any text (``http://*.example.com``)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def parse_rules(body: bytes) -> list[dict[str, Any]]:
    """A CORSConfiguration document's rules, or S3's error for it."""
    doc = X.parse(body, "CORSConfiguration")
    rules = []
    for node in X.children(doc, "CORSRule"):
        rule: dict[str, Any] = {field: [(c.text or "").strip() for c in X.children(node, field)]
                                for field in ("AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader")}
        if not rule["AllowedOrigin"] or not rule["AllowedMethod"]:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                              "our published schema: each CORSRule needs an AllowedOrigin and an AllowedMethod.")
        for method in rule["AllowedMethod"]:
            if method not in METHODS:
                raise ServiceError("InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported "
                                  f"method is {method}")
        for field in ("AllowedOrigin", "AllowedHeader", "ExposeHeader"):  # they go back out in headers
            for value in rule[field]:
                if not (value.isascii() and value.isprintable()):
                    raise ServiceError("InvalidRequest", f"{field} values are printable US-ASCII.")
        for field in ("AllowedOrigin", "AllowedHeader"):
            for value in rule[field]:
                if value.count("*") > 1:
                    raise ServiceError("InvalidRequest", f'{field} "{value}" can not have more than one wildcard.')
        if (rule_id := X.text(node, "ID")) is not None:
            rule["ID"] = rule_id
        if (age := X.text(node, "MaxAgeSeconds")) is not None:
            if not (age.strip().isascii() and age.strip().isdigit() and len(age.strip()) <= 9):
                raise ServiceError("MalformedXML", "MaxAgeSeconds must be a whole number of seconds.")
            rule["MaxAgeSeconds"] = int(age)
        rules.append(rule)
    if not rules or len(rules) > MAX_RULES:
        raise ServiceError("MalformedXML", f"The XML you provided was not well-formed or did not validate against our "
                          f"published schema: a CORS configuration has 1 to {MAX_RULES} rules.")
    return rules


def rules_document(rules: list[dict[str, Any]]) -> bytes:
    out = []
    for rule in rules:
        parts = [X.el("ID", rule["ID"])] if "ID" in rule else []
        for field in ("AllowedHeader", "AllowedMethod", "AllowedOrigin", "ExposeHeader"):
            parts += [X.el(field, v) for v in rule[field]]
        if "MaxAgeSeconds" in rule:
            parts.append(X.el("MaxAgeSeconds", rule["MaxAgeSeconds"]))
        out.append(X.el("CORSRule", parts))
    return X.document("CORSConfiguration", out)


def _rule_for(rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]) -> dict[str, Any] | None:
    for rule in rules:
        if not any(_matches(o, origin) for o in rule["AllowedOrigin"]) or method not in rule["AllowedMethod"]:
            continue
        allowed = [h.lower() for h in rule["AllowedHeader"]]
        if all(any(_matches(a, h.lower()) for a in allowed) for h in headers):
            return rule
    return None


def _allow(rule: dict[str, Any], origin: str) -> dict[str, str]:
    """The Access-Control-* headers a matching rule gives an answer to ``origin``."""
    anyone = "*" in rule["AllowedOrigin"]
    hdrs = {"access-control-allow-origin": "*" if anyone else origin,
            "access-control-allow-methods": ", ".join(rule["AllowedMethod"])}
    if not anyone:
        hdrs["access-control-allow-credentials"] = "true"
    if rule["ExposeHeader"]:
        hdrs["access-control-expose-headers"] = ", ".join(rule["ExposeHeader"])
    if "MaxAgeSeconds" in rule:
        hdrs["access-control-max-age"] = str(rule["MaxAgeSeconds"])
    return hdrs


class Cors(S3Base):
    def cors_headers(self, req: S3Request) -> dict[str, str]:
        """The CORS headers for an actual request's answer: those of the rule matching its origin and method."""
        origin = req.headers.get("origin")
        if origin is None or not req.bucket:
            return {}
        try:
            rules = self.store.bucket_config(req.bucket, "cors")
        except ServiceError:  # no such bucket: the answer says so, without CORS
            return {}
        if not rules:
            return {}
        rule = _rule_for(rules, origin, req.method, [])
        vary = {"vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
        return {**_allow(rule, origin), **vary} if rule is not None else vary

    async def _preflight(self, req: S3Request, send: Any) -> None:
        origin, method = req.headers.get("origin"), req.headers.get("access-control-request-method")
        if not origin or not method:
            raise ServiceError("BadRequest", "Insufficient information. Origin request header needed.")
        if not req.bucket:
            raise ServiceError("AccessForbidden", "CORSResponse: Bucket not found", 403, Method=method,
                               ResourceType="BUCKET")
        rules = await self._run(self.store.bucket_config, req.bucket, "cors")
        if not rules:
            raise ServiceError("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", 403,
                               Method=method, ResourceType="BUCKET" if not req.key else "OBJECT")
        asked = [h.strip() for h in req.headers.get("access-control-request-headers", "").split(",") if h.strip()]
        rule = _rule_for(rules, origin, method, asked)
        if rule is None:
            raise ServiceError("AccessForbidden", _NOT_ALLOWED, 403, Method=method,
                               ResourceType="BUCKET" if not req.key else "OBJECT")
        hdrs = _allow(rule, origin)
        if asked:
            hdrs["access-control-allow-headers"] = ", ".join(h.lower() for h in asked)
        hdrs["vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
        await self._reply(send, 200, headers=hdrs)
