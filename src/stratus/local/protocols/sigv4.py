"""Server-side AWS Signature Version 4 verification for the local S3 endpoint.

Real clients (boto3, AWS CLI v1) sign every S3 request, so the endpoint has to
recompute their signatures to know who is calling. The rule is: accept exactly
what botocore sends, refuse what S3 refuses, and answer with S3's error codes.

How: the canonical request, string to sign and signature are computed as
botocore's ``S3SigV4Auth`` computes them (``_signature``; a test holds the two
equal over many generated requests), from the wire alone: the headers to sign are
exactly the client's ``SignedHeaders`` (botocore's blacklist and host guessing
are client-side policy) and the payload hash is the one the client declared. Done
by hand because it runs on every request: botocore's request objects cost more
than the rest of a small request's work. Like S3, the signer leaves the path alone (``a//b`` and ``a/./b`` are
distinct keys), so the raw path and query as received are tried first; the same
path and query re-encoded the AWS way are tried second, for clients that put
bytes on the wire spelt differently from how they signed them. Both spellings
name the same key, so accepting either grants nothing new.

Refusals carry S3's codes and statuses (the error list in S3's API reference:
ExpiredToken and InvalidToken are 400, not 403). A temporary key sent without
its session token is answered ``InvalidAccessKeyId``, as S3 does: such keys only
exist together with their token. Every ``x-amz-*`` header must be signed.

Streaming uploads (``Content-Encoding: aws-chunked``) are decoded by
:class:`ChunkedDecoder`, which checks each chunk signature as it goes (signed
modes) and returns the trailer headers (a ``x-amz-checksum-*`` value) for the
caller to compare with the data. Decoded bytes are provisional until
:meth:`ChunkedDecoder.finish` returns: a later chunk can still fail.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from botocore.auth import EMPTY_SHA256_HASH

from ...errors import ServiceError

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
MAX_SKEW = 15 * 60            # seconds a request time may differ from ours (S3's limit)
MAX_EXPIRES = 7 * 24 * 3600   # the longest X-Amz-Expires S3 accepts
MAX_LINE = 4096               # a chunk header or trailer line
MAX_TRAILER = 16 * 1024       # the whole trailer section
MAX_CHUNK = 5 * 1024**3       # no single chunk can be bigger than an S3 part

_STATUS_400 = frozenset({"AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "MissingSecurityHeader",
                         "InvalidArgument", "XAmzContentSHA256Mismatch", "IncompleteBody", "InvalidRequest",
                         "ExpiredToken", "InvalidToken"})  # S3's error list gives 400 for both token errors
_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
             "Check your key and signing method.")
_SIGV2 = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_UINT = re.compile(r"[0-9]{1,18}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SIG = re.compile(rb"[0-9a-f]{64}")
_WIRE = re.compile(r"[!-\"$-~]*")  # visible ASCII but '#', which urlsplit would cut


class SigV4Error(ServiceError):
    """A refused signature, as S3 answers it: the status follows from the code unless given."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code, message, status if status is not None else (400 if code in _STATUS_400 else 403))


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None   # temporary credentials: requests must carry exactly this token
    expires: float | None = None       # epoch seconds; from then on -> ExpiredToken
    principal: object = None           # opaque here: whoever the caller says this key belongs to


CredentialLookup = Callable[[str], Credential | None]


@dataclass(frozen=True)
class Verified:
    credential: Credential
    payload: str                        # a payload mode (UNSIGNED-PAYLOAD, STREAMING-...) or the declared hex sha256
    signing_key: bytes
    scope: str                          # "20261123/us-east-1/s3/aws4_request"
    amz_date: str                       # "20261123T040000Z"
    seed_signature: str
    presigned: bool
    decoded_length: int | None = None   # x-amz-decoded-content-length, for aws-chunked bodies
    trailer_names: tuple[str, ...] = ()  # x-amz-trailer: the trailer headers the client announced


def header_text(value: str) -> str | None:
    """A header value (its bytes as latin-1 text, as the server hands them over) as the client signed it: SDKs
    sign the UTF-8 encoding of their text, so the bytes are read as UTF-8. None when they are not UTF-8: no
    text encodes to them, and reading them another way would let two different byte strings carry one
    signature."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def is_signed(query_string: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether the request claims any AWS authentication (so it must not be treated as anonymous)."""
    if any(name.lower() == "authorization" for name, _ in headers):
        return True
    names = {name for name, _, _ in _query(query_string)}
    return bool(names & {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature"})


def verify_request(method: str, raw_path: str, query_string: str, headers: Sequence[tuple[str, str]],
                   lookup: CredentialLookup, now: float, *, region: str | None = None, service: str = "s3",
                   body: bytes | None = None) -> Verified:
    """Check a request's SigV4 signature (Authorization header or presigned query); raise SigV4Error if refused.

    ``body``: the whole body, for services other than S3: their signatures always cover the body's hash, which
    this endpoint computes (a client's ``x-amz-content-sha256``, ``UNSIGNED-PAYLOAD`` included, counts for
    nothing but a signed header), so a signed request cannot be sent again with another body."""
    hmap: dict[str, list[str]] = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), []).append(value)
    payload = hashlib.sha256(body).hexdigest() if body is not None else None
    if payload is not None and "x-amz-content-sha256" not in hmap:
        hmap["x-amz-content-sha256"] = [payload]  # what S3's parsing reads; the claim's payload is set below
    params = _query(query_string)
    query = {name: value for name, value, _ in reversed(params)}  # the first occurrence wins
    auth = ",".join(hmap.get("authorization", []))
    presign = bool({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"} & query.keys())
    if auth and (presign or "Signature" in query):
        raise SigV4Error("InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                         "Signature query string parameter or the Authorization header should be specified")
    if auth:
        claim = _header_claim(auth, hmap)
    elif presign:
        claim = _query_claim(query)
        params = [p for p in params if p[0] != "X-Amz-Signature"]
    elif "AWSAccessKeyId" in query or "Signature" in query:
        raise SigV4Error("InvalidRequest", _SIGV2)
    else:
        raise SigV4Error("AccessDenied", "Anonymous access is not allowed here: "
                         "requests must be signed (AWS Signature Version 4).")
    if payload is not None:
        claim = replace(claim, payload=payload, decoded_length=None, trailer_names=())
    return _verify(claim, method, raw_path, params, hmap, lookup, now, region, service)


def check_payload_sha256(verified: Verified, body: bytes | str) -> None:
    """For a request that declared the hex sha256 of its body, check what arrived against it.

    ``body`` is the body itself, or (for a body streamed elsewhere) the hex sha256 computed of it.
    """
    digest = body if isinstance(body, str) else hashlib.sha256(body).hexdigest()
    if _HEX64.fullmatch(verified.payload) and not hmac.compare_digest(digest.lower().encode(),
                                                                      verified.payload.lower().encode()):
        raise SigV4Error("XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does not match what was computed.")


def _query(query_string: str) -> list[tuple[str, str, str]]:
    """(decoded name, decoded value, raw piece) for each ``&``-separated piece; '+' stays a plus, as in SigV4."""
    pieces = [piece.partition("=") + (piece,) for piece in query_string.split("&") if piece]
    return [(unquote_to_bytes(n).decode("utf-8", "replace"), unquote_to_bytes(v).decode("utf-8", "replace"), raw)
            for n, _, v, raw in pieces]


def _parse_time(amz_date: str) -> float | None:
    """``YYYYMMDDTHHMMSSZ`` as epoch seconds, or None if it is not a real time (read by hand: strptime costs more
    than the rest of a small request's checks)."""
    if not _AMZ_DATE.fullmatch(amz_date):
        return None
    year, month, day = int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8])
    hour, minute, second = int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15])
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour <= 23
            and minute <= 59 and second <= 61):
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@dataclass(frozen=True)
class _Claim:
    """What a request says about its own signature, before anything is checked."""

    credential: str
    signed_headers: str
    signature: str
    amz_date: str
    payload: str
    token: str | None
    presigned: bool
    expires: int = 0
    decoded_length: int | None = None
    trailer_names: tuple[str, ...] = ()


def _header_claim(auth: str, hmap: dict[str, list[str]]) -> _Claim:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error("InvalidRequest", _SIGV2) if algorithm == "AWS" else SigV4Error("InvalidArgument",
                                                                                          "Unsupported Authorization Type")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq or key in fields:
            raise SigV4Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; the authorization "
                             f'component "{item.strip()[:64]}" is malformed.')
        fields[key] = value
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in fields:
            raise SigV4Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; missing {key}.")
    first = {name: values[0].strip() for name, values in hmap.items()}
    amz_date = first.get("x-amz-date", "")
    if not amz_date and "date" in first:  # SigV4 allows Date instead of x-amz-date
        try:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", parsedate_to_datetime(first["date"]).utctimetuple())
        except (TypeError, ValueError):
            pass
    payload = first.get("x-amz-content-sha256", "")
    if not payload:
        raise SigV4Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if payload not in STREAMING_MODES and payload != UNSIGNED_PAYLOAD and not _HEX64.fullmatch(payload):
        raise SigV4Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
                         "or a valid sha256 value.")
    decoded = first.get("x-amz-decoded-content-length")
    if decoded is not None and not _UINT.fullmatch(decoded):
        raise SigV4Error("InvalidArgument", "x-amz-decoded-content-length must be a non-negative integer")
    trailer = tuple(t.strip().lower() for v in hmap.get("x-amz-trailer", []) for t in v.split(",") if t.strip())
    return _Claim(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, payload,
                  first.get("x-amz-security-token"), False, 0, int(decoded) if decoded is not None else None, trailer)


def _query_claim(q: dict[str, str]) -> _Claim:
    code = "AuthorizationQueryParametersError"
    if q.get("X-Amz-Algorithm") != ALGORITHM:
        raise SigV4Error(code, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if any(not q.get(k) for k in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires")):
        raise SigV4Error(code, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                         "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    if _parse_time(q["X-Amz-Date"]) is None:
        raise SigV4Error(code, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = q["X-Amz-Expires"]
    if expires[:1] == "-" and _UINT.fullmatch(expires[1:]):  # S3 refuses these as Forbidden, not Bad Request
        raise SigV4Error(code, "X-Amz-Expires must be non-negative", 403)
    if not _UINT.fullmatch(expires):
        raise SigV4Error(code, "X-Amz-Expires should be a number")
    if int(expires) > MAX_EXPIRES:
        raise SigV4Error(code, "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
                         f"must be less than {MAX_EXPIRES} seconds", 403)
    return _Claim(q["X-Amz-Credential"], q["X-Amz-SignedHeaders"], q["X-Amz-Signature"], q["X-Amz-Date"], UNSIGNED_PAYLOAD,
                  q.get("X-Amz-Security-Token"), True, int(q["X-Amz-Expires"]))


def _verify(claim: _Claim, method: str, raw_path: str, params: list[tuple[str, str, str]], hmap: dict[str, list[str]],
            lookup: CredentialLookup, now: float, region: str | None, service: str) -> Verified:
    when = _parse_time(claim.amz_date)
    if when is None:
        raise SigV4Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    code, prefix = (("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter; ") if claim.presigned
                    else ("AuthorizationHeaderMalformed", "The authorization header is malformed; "))
    parts = claim.credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise SigV4Error(code, f'{prefix}the Credential is mal-formed; '
                         'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    akid, date, req_region, req_service, terminal = parts
    if date != claim.amz_date[:8]:
        raise SigV4Error(code, f'{prefix}Invalid credential date "{date}". This date is not the same as X-Amz-Date: '
                         f'"{claim.amz_date[:8]}".')
    if region is not None and req_region != region:
        raise SigV4Error(code, f"{prefix}the region '{req_region}' is wrong; expecting '{region}'")
    if req_service != service:
        raise SigV4Error(code, f'{prefix}incorrect service "{req_service}". This endpoint belongs to "{service}".')
    if terminal != "aws4_request":
        raise SigV4Error(code, f'{prefix}incorrect terminal "{terminal}". This endpoint uses "aws4_request".')
    names = [n.strip().lower() for n in claim.signed_headers.split(";")]
    if "host" not in names:
        raise SigV4Error(code, f"{prefix}'Host' must be a 'SignedHeader' in the AWS Authorization.")
    unsigned = sorted(n for n in hmap if n.startswith("x-amz-") and n not in names and n != "x-amz-content-sha256")
    if unsigned:
        raise SigV4Error("AccessDenied", "There were headers present in the request which were not signed: "
                         + ", ".join(unsigned))
    cred = resolve_credential(lookup(akid), claim.token, now)
    if claim.presigned and (now > when + claim.expires or claim.expires == 0):  # 0: expired as soon as made
        raise SigV4Error("AccessDenied", "Request has expired")
    if claim.presigned and when - now > MAX_SKEW:
        raise SigV4Error("AccessDenied", "Request is not valid yet")
    if not claim.presigned and abs(now - when) > MAX_SKEW:
        raise SigV4Error("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
    texts: dict[str, list[str]] = {}
    for name in names:
        for value in hmap.get(name, [""]):
            text = header_text(value)
            if text is None:
                raise SigV4Error("SignatureDoesNotMatch", f"The signed header {name} is not UTF-8 text, so no "
                                 "signature can match it.")
            texts.setdefault(name, []).append(text)
    key = signing_key(cred.secret_access_key, date, req_region, service)
    scope = f"{date}/{req_region}/{service}/aws4_request"
    candidates = []
    plus = any("+" in raw for _, _, raw in params)  # a '+' in a query is a space, here as where it is read
    if raw_path.startswith("/") and "?" not in raw_path and not plus \
            and all(_WIRE.fullmatch(t) for t in [raw_path, *(p[2] for p in params)]):
        candidates.append((raw_path, "&".join(raw for _, _, raw in params)))  # as sent: what botocore signs
    path = quote(unquote_to_bytes(raw_path if raw_path.startswith("/") else "/" + raw_path), safe="/~")
    query = "&".join(sorted("=".join(quote(unquote_to_bytes(part.replace("+", " ")), safe="-_.~")
                                     for part in raw.partition("=")[::2]) for _, _, raw in params))
    if (path, query) not in candidates:
        candidates.append((path, query))  # re-encoded the AWS way: same key, other spelling
    given = claim.signature.strip().lower().encode()
    for cand_path, cand_query in candidates:
        expected = _signature(key, scope, claim.amz_date, method, cand_path, cand_query, texts, claim.payload)
        if hmac.compare_digest(expected.encode(), given):
            return Verified(cred, claim.payload, key, scope, claim.amz_date, given.decode(), claim.presigned,
                            claim.decoded_length, claim.trailer_names)
    raise SigV4Error("SignatureDoesNotMatch", _MISMATCH)


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's signing key: the secret, HMAC'd with the date, region, service and ``aws4_request`` in turn."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signature(key: bytes, scope: str, amz_date: str, method: str, path: str, query: str,
               headers: dict[str, list[str]], payload: str) -> str:
    """The signature botocore's ``S3SigV4Auth`` computes for this request: the path as given (S3 does not
    normalize it), the query's pieces sorted as they are, each signed header's values trimmed and joined."""
    pairs = sorted(piece.partition("=")[::2] for piece in query.split("&")) if query else []
    canonical = "\n".join([
        method.upper(), path, "&".join(f"{k}={v}" for k, v in pairs),
        "\n".join(f"{name}:{','.join(' '.join(v.split()) for v in headers[name])}" for name in sorted(headers)) + "\n",
        ";".join(sorted(headers)), payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def resolve_credential(cred: Credential | None, token: str | None, now: float) -> Credential:
    """The credential a request may use: a temporary key only with its own session token, and not once expired."""
    # Temporary keys exist only together with their session token: S3 answers a missing token as an unknown key.
    if cred is None or (cred.session_token is not None and token is None):
        raise SigV4Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    if token is not None and (cred.session_token is None or not hmac.compare_digest(token.encode(), cred.session_token.encode())):
        raise SigV4Error("InvalidToken", "The provided token is malformed or otherwise invalid.")
    if cred.expires is not None and now >= cred.expires:
        raise SigV4Error("ExpiredToken", "The provided token has expired.")
    return cred


class ChunkedDecoder:
    """Decode an ``aws-chunked`` body fed in arbitrary pieces, checking chunk signatures in the signed modes.

    Signed: ``<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n`` ... ``0;chunk-signature=<sig>\\r\\n`` then
    ``\\r\\n``, or (-TRAILER) ``<name>:<value>\\r\\n`` lines and ``x-amz-trailer-signature:<sig>\\r\\n``.
    Unsigned trailer: ``<hex size>\\r\\n<data>\\r\\n`` ... ``0\\r\\n<name>:<value>\\r\\n\\r\\n``.
    The parser is a generator that pauses (``yield``) whenever it needs more bytes.
    """

    def __init__(self, verified: Verified) -> None:
        if verified.payload not in STREAMING_MODES:
            raise SigV4Error("InvalidRequest", f"x-amz-content-sha256 {verified.payload!r} is not an aws-chunked payload mode")
        self._v = verified
        self._signed = verified.payload != STREAMING_UNSIGNED_TRAILER
        self._buf = bytearray()
        self._out = bytearray()
        self._previous = verified.seed_signature
        self._decoded = 0
        self._trailers: dict[str, str] = {}
        self._stage = "chunks"  # -> "trailer" -> "signed" (trailer signature checked) -> "done"
        self._blank = False
        self._parser = self._parse()
        next(self._parser)

    def feed(self, data: bytes) -> bytes:
        """Consume the next piece of the wire body; return the payload bytes it completes (provisional until finish)."""
        self._buf += data
        next(self._parser, None)
        if self._stage == "done" and self._buf:
            raise SigV4Error("InvalidRequest", "Unexpected data after the end of the aws-chunked body.")
        out = bytes(self._out)
        self._out.clear()
        return out

    def finish(self) -> dict[str, str]:
        """At the end of the body: check that it ended properly and return the trailer headers (lower-case names)."""
        # The trailer section may end without its blank line (the framing of AWS's signed-trailer example).
        ended = self._stage == "signed" or (self._stage == "trailer" and not self._signed and (self._trailers or self._blank))
        if self._buf or not (self._stage == "done" or ended):
            raise SigV4Error("IncompleteBody", "The request body ended before the end of the aws-chunked encoding.")
        if self._v.decoded_length is not None and self._decoded != self._v.decoded_length:
            raise SigV4Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                             "x-amz-decoded-content-length HTTP header")
        for name in self._v.trailer_names:
            if name not in self._trailers:
                raise SigV4Error("InvalidRequest", f"The trailer header {name} announced in x-amz-trailer was not sent.")
        return dict(self._trailers)

    def _check(self, given: bytes, kind: str, digest: str) -> None:
        string_to_sign = f"{kind}\n{self._v.amz_date}\n{self._v.scope}\n{self._previous}\n{digest}"
        expected = hmac.new(self._v.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given):
            raise SigV4Error("SignatureDoesNotMatch", _MISMATCH)
        self._previous = expected

    def _line(self) -> Generator[None, None, bytes]:
        while (end := self._buf.find(b"\r\n", 0, MAX_LINE + 2)) < 0:
            if len(self._buf) > MAX_LINE:
                raise SigV4Error("InvalidRequest", "An aws-chunked header or trailer line is too long.")
            yield
        line = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return line

    def _parse(self) -> Generator[None, None, None]:
        yield
        size = -1
        while size:
            size_hex, _, ext = (yield from self._line()).partition(b";")
            name, _, sig = ext.partition(b"=")
            if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_hex) or (
                    self._signed and (name.strip() != b"chunk-signature" or not _SIG.fullmatch(sig.strip()))):
                raise SigV4Error("InvalidRequest", "An aws-chunked chunk header is malformed.")
            size = int(size_hex, 16)
            if size > (MAX_CHUNK if self._v.decoded_length is None else self._v.decoded_length - self._decoded):
                raise SigV4Error("InvalidRequest", "The aws-chunked body is longer than x-amz-decoded-content-length.")
            self._decoded += size
            digest, remaining = hashlib.sha256() if self._signed else None, size  # unsigned chunks have no digest to check
            while remaining:
                while not self._buf:
                    yield
                piece = self._buf[:remaining]
                del self._buf[:len(piece)]
                if digest is not None:
                    digest.update(piece)
                self._out += piece
                remaining -= len(piece)
            if size or self._v.payload == STREAMING_SIGNED:  # data ends with CRLF, as does the plain signed stream
                while len(self._buf) < 2:
                    yield
                if self._buf[:2] != b"\r\n":
                    raise SigV4Error("InvalidRequest", "An aws-chunked chunk is not followed by CRLF.")
                del self._buf[:2]
            if digest is not None:
                self._check(sig.strip(), "AWS4-HMAC-SHA256-PAYLOAD", f"{EMPTY_SHA256_HASH}\n{digest.hexdigest()}")
        if self._v.payload != STREAMING_SIGNED:
            yield from self._trailer()
        self._stage = "done"

    def _trailer(self) -> Generator[None, None, None]:
        self._stage = "trailer"
        canonical = bytearray()
        while True:
            line = yield from self._line()
            if not line and (self._trailers or self._stage == "signed" or self._blank):
                break
            if not line:  # a blank line straight after the last chunk: the framing of AWS's example; skipped
                self._blank = True
                continue
            name, colon, value = line.partition(b":")
            key, value = name.strip().lower().decode("latin-1"), value.strip()
            if not colon or not key or self._stage == "signed" or len(canonical) > MAX_TRAILER:
                raise SigV4Error("InvalidRequest", "An aws-chunked trailer is malformed.")
            if key != "x-amz-trailer-signature":
                canonical += key.encode() + b":" + value + b"\n"
                self._trailers[key] = value.decode("latin-1")
            elif self._signed and _SIG.fullmatch(value):
                self._check(value, "AWS4-HMAC-SHA256-TRAILER", hashlib.sha256(canonical).hexdigest())
                self._stage = "signed"
            else:
                raise SigV4Error("InvalidRequest", "An aws-chunked trailer signature is malformed.")
        if self._signed and self._stage != "signed":
            raise SigV4Error("SignatureDoesNotMatch", _MISMATCH)


def sign_headers(cred: Credential, method: str, host: str, raw_path: str, headers: dict[str, str], region: str,
                 service: str, now: float, payload: str = EMPTY_SHA256_HASH) -> dict[str, str]:
    """``headers`` (lowercased names) and what SigV4 adds to sign a request with ``cred`` at ``now``, every header
    signed, as botocore's ``S3SigV4Auth`` signs one (``raw_path``: the path and query as sent)."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    signed = {**headers, "host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload}
    path, _, query = raw_path.partition("?")
    signature = _signature(signing_key(cred.secret_access_key, amz_date[:8], region, service), scope, amz_date,
                           method, path, query, {k: [v] for k, v in signed.items()}, payload)
    signed["authorization"] = (f"AWS4-HMAC-SHA256 Credential={cred.access_key_id}/{scope}, "
                               f"SignedHeaders={';'.join(sorted(signed))}, Signature={signature}")
    return signed
