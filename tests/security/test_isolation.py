"""One tenant's burst must not starve another's: each service has its own threads (S3, the user pool, the
identity pool, the apps' handlers), and Cognito's are bounded.

Loopback only, bounded in count and time. The bounds are generous (a tenth of what a shared pool cost:
a login flood took identity-pool calls from 3 ms to a median of 185 ms, big copies REST calls from 2 ms to
37 ms), so a noisy machine does not fail them while a shared pool would; the figures themselves are
measured by ``bench/bench_isolation.py``.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import TODO, Clients, start


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    s = start(tmp_path_factory.mktemp("isolation"), TODO)
    yield Clients(s)
    s.stop()


def _median_ms(call: Callable[[], Any], times: int = 15) -> float:
    spent = []
    for _ in range(times):
        t0 = time.perf_counter()
        call()
        spent.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)
    return statistics.median(spent)


def _while(load: Callable[[threading.Event], None], threads: int, measure: Callable[[], float]) -> float:
    """``measure()`` taken while ``threads`` threads run ``load`` (until told to stop)."""
    stop = threading.Event()
    with ThreadPoolExecutor(threads) as pool:
        running = [pool.submit(load, stop) for _ in range(threads)]
        time.sleep(0.5)  # the burst under way
        try:
            return measure()
        finally:
            stop.set()
            for f in running:
                f.result()


def _within(normal: float, during: float) -> None:
    print(f"{normal:.1f} ms normally, {during:.1f} ms during the burst")
    assert during < 10 * normal + 50, f"{normal:.1f} ms normally, {during:.1f} ms during the burst"


def test_a_login_flood_does_not_slow_the_identity_pool(quiet: Clients) -> None:
    ep = quiet.ep
    user = quiet.user()
    provider = quiet.app["user_pools"]["users"]["issuer"].split("://", 1)[1]
    identity = boto3.client("cognito-identity", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                            verify=ep["ca_file"])

    def get_id() -> None:
        identity.get_id(IdentityPoolId=quiet.app["identity_pool_id"], Logins={provider: user.id})

    normal = _median_ms(get_id)

    def flood(stop: threading.Event) -> None:  # wrong passwords for names never seen, so each costs a hash
        idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                           verify=ep["ca_file"], config=Config(retries={"total_max_attempts": 1}))
        while not stop.is_set():
            try:
                idp.initiate_auth(ClientId=quiet.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": f"{uuid.uuid4().hex}@example.com", "PASSWORD": "x"})
            except ClientError:
                pass

    _within(normal, _while(flood, 16, lambda: _median_ms(get_id)))


def test_big_copies_do_not_slow_the_rest_apis(quiet: Clients) -> None:
    user = quiet.user()
    s3 = quiet.s3(max_pool_connections=16)
    bucket = quiet.app["buckets"]["files"]
    s3.put_object(Bucket=bucket, Key="big.bin", Body=b"\1" * (64 << 20))

    def api() -> None:  # a write: a handler runs every time, no cached answer
        assert quiet.api("POST", "/todos", user.access, json={"title": "t"}).status_code == 201

    normal = _median_ms(api)

    def copies(stop: threading.Event) -> None:
        name = uuid.uuid4().hex
        while not stop.is_set():
            s3.copy_object(Bucket=bucket, Key=f"copies/{name}", CopySource={"Bucket": bucket, "Key": "big.bin"})

    _within(normal, _while(copies, 12, lambda: _median_ms(api)))
