"""The one origin: requests reach a service by protocol and service name, and a service not served says so."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Clients, error_code, message_of


def _client(clients: Clients, service: str) -> object:
    admin = clients.ep["admin_credentials"]
    return boto3.client(service, endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                        verify=clients.ep["ca_file"], aws_access_key_id=admin["access_key_id"],
                        aws_secret_access_key=admin["secret_access_key"])


def test_a_signed_request_for_a_service_not_served_names_it(clients: Clients) -> None:
    """SNS speaks the query protocol, signed for ``sns``: refused by name, not answered as if it were S3."""
    with pytest.raises(ClientError) as exc:
        _client(clients, "sns").list_topics()  # type: ignore[attr-defined]
    assert error_code(exc) == "UnsupportedService" and "sns" in message_of(exc)


def test_a_json_request_for_a_service_not_served_names_it(clients: Clients) -> None:
    with pytest.raises(ClientError) as exc:
        _client(clients, "sqs").list_queues()  # type: ignore[attr-defined]
    assert error_code(exc) == "UnknownOperationException" and "AmazonSQS" in message_of(exc)


def test_paths_of_the_platform_are_never_s3(clients: Clients) -> None:
    base = clients.ep["aws_endpoint"]
    assert clients.http.get(base + "/_nothing/here").status_code == 404
    assert clients.http.get(base + "/_api/todo/nope").json()["message"] == "no REST API at /_api/todo/nope"
    pool = clients.app["user_pool_id"]
    assert clients.http.get(f"{base}/{pool}/.well-known/jwks.json").json()["keys"][0]["alg"] == "RS256"
    assert clients.http.get(f"{base}/{pool}/other").status_code == 404
    assert clients.http.post(f"{base}/{pool}/.well-known/jwks.json").status_code == 404
    # and S3 still has the rest: an unsigned request is S3's to refuse, in S3's terms
    r = clients.http.get(f"{base}/{clients.app['buckets']['files']}/key")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    r = clients.http.get(base + "/no-such-bucket-here/key")  # a bucket that is not there: said to anyone, as S3 does
    assert r.status_code == 404 and b"<Code>NoSuchBucket</Code>" in r.content
