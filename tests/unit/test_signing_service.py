"""The front door reads which service a signed request is for, in one pass over what the client sent."""

from __future__ import annotations

import pytest

from stratus.local.frontdoor import signing_service


def scope(auth: str | None = None, query: str = "") -> dict[str, object]:
    headers = [(b"authorization", auth.encode())] if auth is not None else []
    return {"headers": headers, "query_string": query.encode()}


@pytest.mark.parametrize(("auth", "query", "service"), [
    ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=ab",
     "", "sns"),
    ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=ab", "", "s3"),
    (None, "X-Amz-Credential=AKID%2F20261129%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=ab", "s3"),
    ("AWS AKID:signature", "", None),                                      # SigV2: S3's to answer
    ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/sns/other", "", None),
    ("AWS4-HMAC-SHA256 Credential=", "", None),
    ("Credential=" * 100_000, "", None),                                   # no backtracking: one pass
    (None, "", None),
])
def test_the_signing_service_is_read_from_the_credential_scope(auth: str | None, query: str,
                                                                 service: str | None) -> None:
    assert signing_service(scope(auth, query)) == service
