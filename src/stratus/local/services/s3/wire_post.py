"""S3's browser uploads: ``POST /<bucket>`` with an HTML form (``multipart/form-data``), as boto3's
``generate_presigned_post`` prepares it.

The form carries its own authentication: a base64 policy document (an expiration and the conditions every
other field must meet) and a signature of it (SigV4's ``x-amz-signature`` with ``x-amz-credential``, or SigV2's
``signature`` with ``AWSAccessKeyId``). Everything is checked before a byte of the file is kept: the signature,
the expiration, each condition (``eq``, ``starts-with``, exact matches, ``content-length-range`` as the file
arrives), and that no field goes unchecked; then the signer must be allowed ``s3:PutObject`` on the key, as for
any upload. A form with no signature is anonymous (allowed only what a bucket policy grants to ``*``). The file
must be the last field, as in S3; ``${filename}`` in the key is the file's name. The answer is what
``success_action_redirect`` or ``success_action_status`` asks for (204 by default).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header

from ....errors import ServiceError
from ...protocols import restxml as X
from ...protocols.sigv4 import UNSIGNED_PAYLOAD, SigV4Error, Verified, resolve_credential, signing_key
from .model import check_key
from .wire_acl import Acls
from .wire_common import ANONYMOUS, S3Request
from .wire_objects import MAX_OBJECT
from .wire_sse import encryption_headers
from .wire_tags import OBJECT_TAGS, document_tags

MAX_FIELDS = 20 * 1024  # what S3 allows the form's fields other than the file, together
MAX_FIELD_COUNT = 200  # and how many of them this endpoint reads (a policy covers a few dozen at most)
EXEMPT = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file", "x-amz-security-token"})


def _redirectable(url: str) -> bool:
    """Whether ``url`` can be a Location: an http(s) URL of printable ASCII (S3 answers 204 for any other)."""
    if not (url.isascii() and url.isprintable()):
        return False
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def _denied(why: str) -> ServiceError:
    return ServiceError("AccessDenied", f"Invalid according to Policy: {why}", 403)


class _Form:
    """The form as it streams in: fields first (bounded), then the file into a blob once all is checked."""

    def __init__(self, endpoint: PostUploads, req: S3Request) -> None:
        self.endpoint, self.req = endpoint, req
        self.fields: dict[str, str] = {}
        self.names: dict[str, str] = {}  # lower-cased name -> as sent
        self._headers: list[tuple[bytes, bytes]] = []
        self._field, self._value = b"", b""
        self._name: str | None = None
        self._filename: str | None = None
        self._data = bytearray()
        self._size = 0
        self.writer: Any = None
        self.file_seen = self.file_done = False
        self.check: Any = None  # called once the file's part begins: returns the most the file may hold

    # python-multipart's callbacks

    def on_part_begin(self) -> None:
        self._headers, self._name, self._filename, self._data = [], None, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers.append((self._field.lower(), self._value))
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        disposition = dict(self._headers).get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if self.file_seen:
            return  # fields after the file: S3 ignores them
        if self._name.lower() == "file":
            self.file_seen = True
            self._filename = (filename or b"").decode("utf-8", "replace")
            self.fields.setdefault("key", "")
            self.limit = self.check(self._filename)
            self.writer = self.endpoint.store.writer()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.writer is not None and not self.file_done:
            self._size += len(chunk)
            if self._size > self.limit:
                raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
                                   MaxSizeAllowed=str(self.limit))
            self.writer.write(chunk)
        elif not self.file_seen:
            self._data += chunk
            if sum(len(v) for v in self.fields.values()) + len(self._data) > MAX_FIELDS:
                raise ServiceError("MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload "
                                  "file was too large.")

    def on_part_end(self) -> None:
        if self.writer is not None and not self.file_done:
            self.file_done = True
            return
        if self.file_seen or self._name is None:
            return
        name = self._name
        if len(self.names) >= MAX_FIELD_COUNT or sum(map(len, self.names)) + len(name) > MAX_FIELDS:
            raise ServiceError("MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload "
                              "file was too large.")
        if name.lower() in self.names:
            raise ServiceError("InvalidArgument", f"The form has {name} more than once.", ArgumentName=name)
        self.names[name.lower()] = name
        self.fields[name.lower()] = self._data.decode("utf-8", "replace")


class PostUploads(Acls):
    async def _post_object(self, req: S3Request, receive: Any, send: Any) -> None:
        _, params = parse_options_header(req.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if not boundary:
            raise ServiceError("MalformedPOSTRequest", "The body of your POST request is not well-formed "
                              "multipart/form-data.")
        self.store.require_bucket(req.bucket)
        form = _Form(self, req)
        state: dict[str, Any] = {}

        def check(filename: str) -> int:
            state.update(self._checked(req, form.fields, filename))
            return int(state["max"])
        form.check = check
        parser = MultipartParser(boundary, {
            "on_part_begin": form.on_part_begin, "on_part_data": form.on_part_data, "on_part_end": form.on_part_end,
            "on_header_field": form.on_header_field, "on_header_value": form.on_header_value,
            "on_header_end": form.on_header_end, "on_headers_finished": form.on_headers_finished},
            max_size=MAX_OBJECT + MAX_FIELDS * 2)
        try:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ServiceError("IncompleteBody", "The request body ended before the form did.")
                data = msg.get("body", b"")
                if data:
                    try:
                        await self._run(parser.write, data)
                    except ServiceError:
                        raise
                    except Exception:  # the parser's own refusals: not multipart/form-data as S3 reads it
                        raise ServiceError("MalformedPOSTRequest", "The body of your POST request is not "
                                          "well-formed multipart/form-data.") from None
                if not msg.get("more_body"):
                    break
            if not form.file_done:
                raise ServiceError("InvalidArgument", "POST requires exactly one file upload per request.",
                                   ArgumentName="file", ArgumentValue="0")
            if form._size < state["min"]:
                raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                                   400, MinSizeAllowed=str(state["min"]), ProposedSize=str(form._size))
            blob = await self._run(form.writer.finish)
        except BaseException:
            if form.writer is not None:
                form.writer.abort()
            raise
        key, fields = state["key"], form.fields
        meta = {k[11:]: v for k, v in fields.items() if k.startswith("x-amz-meta-")}
        headers: dict[str, str] = {k: fields[k] for k in ("cache-control", "content-disposition", "content-encoding",
                                                          "expires") if k in fields}
        try:
            content_type = fields.get("content-type", "binary/octet-stream")
            for name, value in [*headers.items(), ("content-type", content_type)]:  # they go back out as headers
                if not all(" " <= ch <= "~" or ch == "\t" or ch > "\x9f" for ch in value):
                    raise ServiceError("InvalidArgument", f"The form field {name} must not hold control characters.",
                                       ArgumentName=name)
            obj = await self._run(lambda: self.store.commit(req.bucket, key, blob, content_type, meta,
                                                            "ObjectCreated:Post", headers=headers,
                                                            tags=state["tags"], attrs=state["attrs"]))
        except BaseException:
            self.store.discard(blob)  # nothing on the loop's thread but a file's removal
            raise
        etag = obj.etag
        location = f"{req.headers.get('x-forwarded-proto', 'https')}://{req.headers.get('host', '')}/{req.bucket}/" \
                   f"{quote(key)}"
        redirect = fields.get("success_action_redirect") or fields.get("redirect")
        if redirect and _redirectable(redirect):
            sep = "&" if urlsplit(redirect).query else "?"
            target = f"{redirect}{sep}bucket={quote(req.bucket)}&key={quote(key)}&etag={quote(etag)}"
            return await self._reply(send, 303, headers={"location": target, "etag": etag})
        status = fields.get("success_action_status", "204")
        said = {"etag": etag, "location": location, **encryption_headers(obj.attrs)}
        if status == "201":  # S3's PostResponse document has no namespace
            return await self._reply(send, 201, (X.HEAD + X.el("PostResponse", [
                X.el("Location", location), X.el("Bucket", req.bucket), X.el("Key", key),
                X.el("ETag", etag)])).encode(), headers=said)
        await self._reply(send, 200 if status == "200" else 204, headers=said)

    def _checked(self, req: S3Request, fields: dict[str, str], filename: str) -> dict[str, Any]:
        """Verify the form (signature, policy, every field accounted for), authorize the upload; the key and the
        size bounds the file must keep to."""
        key = fields.get("key", "")
        if not key:
            raise ServiceError("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, "
                               "please check the order of the fields.", ArgumentName="key", ArgumentValue="")
        v = self._form_signer(fields)
        bounds = [0, MAX_OBJECT]
        final = key.replace("${filename}", filename)  # the policy's conditions hold for the key as it will be
        if "policy" in fields:
            self._policy(req, {**fields, "key": final}, bounds)
        check_key(final)
        tags = document_tags(fields["tagging"].encode(), OBJECT_TAGS) if "tagging" in fields else None
        # the fields that stand for headers are the request's headers to a policy's conditions, as on S3
        as_headers = {("x-amz-acl" if k == "acl" else k): val for k, val in fields.items()
                      if k == "acl" or k.startswith(("x-amz-server-side-encryption", "x-amz-grant-"))}
        if tags:
            as_headers["x-amz-tagging"] = urlencode(tags)
        # conditions read the form's fields, never x-amz-* headers the form itself does not carry
        plain = {k: val for k, val in req.headers.items() if not k.startswith("x-amz-")}
        writing = replace(req, key=final, headers={**plain, **as_headers})
        self._authorize(v, writing, "s3:PutObject", f"arn:aws:s3:::{req.bucket}/{final}")
        if tags is not None:  # a Tagging document, as in PutObjectTagging; tagging takes its own right
            self.authorize_writer(v, writing, "s3:PutObjectTagging")
        attrs = self.new_object_attrs(v, writing, as_headers)
        return {"key": final, "min": bounds[0], "max": bounds[1], "tags": tags, "attrs": attrs}

    def _form_signer(self, fields: dict[str, str]) -> Verified:
        """Who signed the form's policy (SigV4 or SigV2), or nobody (an anonymous form)."""
        now = self.clock.now()
        policy = fields.get("policy", "")
        if "x-amz-signature" in fields or "x-amz-credential" in fields:
            if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or not policy:
                raise ServiceError("InvalidArgument", "Bucket POST with SigV4 needs x-amz-algorithm "
                                  "(AWS4-HMAC-SHA256), x-amz-credential, x-amz-date, x-amz-signature and a policy.")
            parts = fields.get("x-amz-credential", "").split("/")
            if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
                raise ServiceError("InvalidArgument", "x-amz-credential is malformed: expecting "
                                  "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
            cred = resolve_credential(self.creds.lookup(parts[0]), fields.get("x-amz-security-token"), now)
            key = signing_key(cred.secret_access_key, parts[1], parts[2], parts[3])
            expected = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), fields.get("x-amz-signature", "").strip().lower().encode()):
                raise SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                 "signature you provided. Check your key and signing method.")
            return Verified(cred, UNSIGNED_PAYLOAD, b"", "", "", "", True)
        if "signature" in fields or "awsaccesskeyid" in fields:
            for needed, name in (("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature"), ("policy", "Policy")):
                if needed not in fields:
                    raise ServiceError("InvalidArgument", f"Bucket POST must contain a field named '{name}'.  If it is "
                                       "specified, please check the order of the fields.", ArgumentName=name,
                                       ArgumentValue="")
            cred = resolve_credential(self.creds.lookup(fields.get("awsaccesskeyid", "")),
                                      fields.get("x-amz-security-token"), now)
            expected = base64.b64encode(hmac.new(cred.secret_access_key.encode(), policy.encode(),
                                                 hashlib.sha1).digest()).decode()
            if not policy or not hmac.compare_digest(expected.encode(), fields.get("signature", "").encode()):
                raise SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                 "signature you provided. Check your key and signing method.")
            return Verified(cred, UNSIGNED_PAYLOAD, b"", "", "", "", True)
        return ANONYMOUS

    def _policy(self, req: S3Request, fields: dict[str, str], bounds: list[int]) -> None:
        """The policy document's expiration and conditions, each met by the form, and no field left unchecked."""
        try:
            doc = orjson.loads(base64.b64decode(fields["policy"], validate=True))
            expiration, conditions = doc["expiration"], doc["conditions"]
            if not isinstance(conditions, list):
                raise ValueError
            when = calendar.timegm(time.strptime(expiration.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid JSON, a missing expiration or "
                               "conditions, or an expiration not in ISO 8601 (2026-01-01T00:00:00Z).") from None
        if self.clock.now() > when:
            raise _denied("Policy expired.")
        values = {**fields, "bucket": req.bucket}
        checked = set()
        for cond in conditions:
            if isinstance(cond, dict) and len(cond) == 1:
                (name, want), = cond.items()
                op, field = "eq", str(name).lower()
            elif isinstance(cond, list) and len(cond) == 3 and cond[0] == "content-length-range":
                try:
                    bounds[0], bounds[1] = max(bounds[0], int(cond[1])), min(bounds[1], int(cond[2]))
                except (TypeError, ValueError):
                    raise ServiceError("InvalidPolicyDocument", "Invalid Policy: content-length-range takes two "
                                       "integers.") from None
                continue
            elif isinstance(cond, list) and len(cond) == 3 and str(cond[0]).lower() in ("eq", "starts-with") \
                    and isinstance(cond[1], str) and cond[1].startswith("$"):
                op, field, want = str(cond[0]).lower(), cond[1][1:].lower(), cond[2]
            else:
                raise ServiceError("InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: "
                                   f"{orjson.dumps(cond).decode()[:200]}")
            if not isinstance(want, str):
                raise ServiceError("InvalidPolicyDocument", f"Invalid Policy: the value for {field} must be a string.")
            checked.add(field)
            have = values.get(field, "")
            if field == "content-type" and op == "starts-with":
                ok = all(v.strip().startswith(want) for v in have.split(","))
            else:
                ok = have == want if op == "eq" else have.startswith(want)
            if not ok:
                shown = orjson.dumps(cond if isinstance(cond, list) else [op, f"${field}", want]).decode()
                raise _denied(f"Policy Condition failed: {shown}")
        extra = [fields_name for fields_name in fields if fields_name not in checked and fields_name not in EXEMPT
                 and not fields_name.startswith("x-ignore-")]
        if extra:
            raise _denied(f"Extra input fields: {', '.join(sorted(extra))}")
