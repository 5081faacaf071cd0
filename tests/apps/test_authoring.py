"""What an app author declares beyond MyTodoList, through ``stratus up`` over HTTPS with real clients:
streamed answers, typed bodies, async handlers, and mail sent through ``ctx.mailer``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stratus.local.system import RunningSystem
from tests.conftest import ROOT, Clients, start, trust

AUTHORING = ROOT / "tests" / "apps" / "fixtures" / "authoring"


@pytest.fixture(scope="module")
def authoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    s: RunningSystem = start(tmp_path_factory.mktemp("authoring"), AUTHORING)
    yield Clients(s, app="authoring")
    s.stop()


def test_a_streamed_answer_is_sent_chunked_as_it_is_produced(authoring: Clients) -> None:
    url = authoring.app["api"] + "/count/20000"
    with httpx.Client(verify=trust(authoring.ep), http1=True) as http, http.stream("GET", url) as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
        assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.headers["x-count"] == "10000"
        body = b"".join(r.iter_raw())
    assert body == b"".join(f"{i}\n".encode() for i in range(10_000))
    r = authoring.api("GET", "/tick")
    assert r.status_code == 200 and r.text == "tick tock"


def test_typed_bodies_async_handlers_and_mail_over_https(authoring: Clients) -> None:
    alice = authoring.user()
    r = authoring.api("POST", "/notes", alice.access, json={"title": "Milk", "due": "2030-01-02"})
    assert r.status_code == 201 and r.json()["due"] == "2030-01-02"
    r = authoring.api("POST", "/notes", alice.access, json={"title": "x" * 51})
    assert r.status_code == 400 and r.json()["errors"] == ["title: must be at most 50 characters"]
    r = authoring.api("GET", "/summary", alice.access)
    assert r.status_code == 200 and r.json()["count"] == 1 and r.json()["owner"] == alice.sub
    assert authoring.api("POST", "/welcome", alice.access).status_code == 202
    from stratus.local.services.ses.mailers import read_outbox
    sent = read_outbox(authoring.system.data_dir / "outbox")[-1]
    assert sent.subject == "Welcome" and "From: hello@example.com" in sent.path.read_text()


def test_a_stream_that_breaks_half_way_drops_the_connection(authoring: Clients) -> None:
    """The client sees a broken answer, never a short one passed off as whole."""
    with httpx.Client(verify=trust(authoring.ep)) as http, pytest.raises(httpx.RemoteProtocolError):
        http.get(authoring.app["api"] + "/broken/none")
    assert authoring.api("GET", "/broken/ok").text == "a good start, and an end"  # the server goes on serving
