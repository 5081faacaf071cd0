"""The operations under ``/_stratus`` (figures, cache flushes, the clock): only the operator may drive them.

The operator's token lives in the data dir (``endpoints.json``, 0600). Anonymous callers, an app's users,
spellings of the path that decode to it, and requests a browser sends from another origin are all refused;
a flush that is refused leaves the API response cache as it was.
"""

from __future__ import annotations

import pytest

from tests.conftest import Clients, User
from tests.security.conftest import raw_request

FLUSH = "/_stratus/cache/flush"


def _cached(clients: Clients, user: User) -> str:
    return clients.api("GET", "/todos", user.access).headers["x-stratus-cache"]


@pytest.fixture(scope="module")
def warm(clients: Clients, eve: User) -> User:
    _cached(clients, eve)
    assert _cached(clients, eve) == "hit"
    return eve


def _attempts(clients: Clients, user: User) -> list[tuple[str, str, dict[str, str]]]:
    token = clients.ep["operator_token"]
    foreign = {"origin": "https://evil.example", "content-type": "text/plain"}
    return [
        ("anonymous", FLUSH, {}),
        ("an app user's access token", FLUSH, {"authorization": f"Bearer {user.access}"}),
        ("an app user's id token", FLUSH, {"authorization": f"Bearer {user.id}"}),
        ("the admin's access key as a token", FLUSH,
         {"authorization": f"Bearer {clients.ep['admin_credentials']['access_key_id']}"}),
        ("a wrong token of the right length", FLUSH, {"authorization": "Bearer " + "x" * len(token)}),
        ("the path percent-encoded", "/%5Fstratus/cache/flush", {}),
        ("a browser's simple request from another origin", FLUSH, foreign),
        ("another origin, even with the token", FLUSH, {**foreign, "authorization": f"Bearer {token}"}),
        ("a sandboxed page (origin null), with the token", FLUSH, {"origin": "null", "authorization": f"Bearer {token}"}),
        ("cross-site fetch metadata, with the token", FLUSH,
         {"sec-fetch-site": "cross-site", "authorization": f"Bearer {token}"}),
        ("same-site fetch metadata, with the token", FLUSH,
         {"sec-fetch-site": "same-site", "authorization": f"Bearer {token}"}),
    ]


def test_flushes_are_the_operators_only(clients: Clients, warm: User) -> None:
    for what, path, headers in _attempts(clients, warm):
        r = clients.http.post(clients.ep["aws_endpoint"] + path, headers=headers, content=b"x")
        assert r.status_code in (401, 403, 404), (what, r.status_code, r.text)
        assert _cached(clients, warm) == "hit", f"{what}: the cache was flushed"
    for target in ("/_stratus/../_stratus/cache/flush", "/_stratus/./cache/flush", "/_api/todo/api/../../_stratus/cache/flush",
                   "/_stratus/cache/flush/", "/_stratus/cache//flush", "/_STRATUS/cache/flush"):  # sent as written
        answer = raw_request(clients.ep, "POST", target, f"Authorization: Bearer {warm.access}\r\nContent-Length: 0\r\n")
        assert answer.split(b" ", 2)[1] in (b"400", b"401", b"403", b"404"), (target, answer[:200])
        assert _cached(clients, warm) == "hit", f"{target}: the cache was flushed"
    assert clients.operator("POST", FLUSH).status_code == 200
    assert _cached(clients, warm) == "miss"


def test_figures_are_the_operators_only(clients: Clients, eve: User) -> None:
    url = clients.ep["aws_endpoint"] + "/_stratus/stats"
    assert clients.http.get(url).status_code == 401
    r = clients.http.get(url, headers={"authorization": f"Bearer {eve.access}"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert clients.http.get(clients.ep["aws_endpoint"] + "/%5Fstratus/stats").status_code == 401
    assert clients.http.get(url, headers={"origin": "https://evil.example",
                                          "authorization": f"Bearer {clients.ep['operator_token']}"}).status_code == 403
    own = clients.operator("GET", "/_stratus/stats", headers={"origin": clients.ep["aws_endpoint"]})
    assert own.status_code == 200 and "todo" in own.json()["apps"]


def test_health_says_no_more_than_ok_to_strangers(clients: Clients) -> None:
    url = clients.ep["aws_endpoint"] + "/_stratus/health"
    assert clients.http.get(url).json() == {"status": "ok"}
    assert set(clients.operator("GET", "/_stratus/health").json()["apps"]) >= {"todo", "other"}


def test_an_unknown_operation_is_401_to_strangers(clients: Clients) -> None:
    """A stranger cannot tell which operations exist (nor whether the clock is manual)."""
    for path in ("/_stratus/clock", "/_stratus/nothing"):
        assert clients.http.post(clients.ep["aws_endpoint"] + path, json={"advance": 1}).status_code == 401
    assert clients.operator("POST", "/_stratus/clock", json={"advance": 1}).status_code == 404  # not manual here
