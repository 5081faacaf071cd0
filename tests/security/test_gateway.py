"""Attacks on the REST APIs' front: reaching the operations or another service through an API's path, and
poisoning the stage cache (unkeyed headers and parameters, another caller's entries, forced refreshes).

Raw TLS for the paths a client library would normalize before sending; httpx for the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ROOT, TODO, Clients, User, start
from tests.security.conftest import raw_request

CACHED = ROOT / "tests" / "apps" / "fixtures" / "cached"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    s = start(tmp_path_factory.mktemp("gateway"), CACHED, TODO)
    yield Clients(s, app="cached")
    s.stop()


@pytest.fixture(scope="module")
def ann(gw: Clients) -> User:
    return gw.user()


@pytest.fixture(scope="module")
def ben(gw: Clients) -> User:
    return gw.user()


def test_no_path_leads_out_of_an_api(gw: Clients, ann: User) -> None:
    api = gw.app["apis"]["api"].split("/", 3)[3]  # the API's path on the shared origin
    auth = f"Authorization: Bearer {ann.access}\r\n"
    for target in (f"/{api}/../../_stratus/stats", f"/{api}/%2e%2e/%2e%2e/_stratus/stats",
                   f"/{api}/..%2f..%2f_stratus%2fstats", f"/{api}/%2E%2E%2F%2E%2E%2F_stratus/stats",
                   "/%5Fstratus/stats", "//_stratus/stats", "/_stratus/./stats", "/_stratus//stats",
                   f"/{api}/count/../../../{gw.app['user_pools']['members']['issuer'].rsplit('/', 1)[1]}/x",
                   f"/{api}/..\\..\\_stratus\\stats", "_stratus/stats", "http://evil.example/_stratus/stats"):
        answer = raw_request(gw.ep, "GET", target, auth)
        status = answer.split(b" ", 2)[1]
        assert status in (b"400", b"401", b"403", b"404"), (target, answer[:200])
        assert b'"apps"' not in answer and b"hit_ratio" not in answer, target


def test_unkeyed_headers_cannot_change_what_is_cached(gw: Clients, ann: User) -> None:
    url = gw.app["apis"]["api"] + "/count?q=poison"
    auth = {"authorization": f"Bearer {ann.access}"}
    for poison in ({"x-forwarded-host": "evil.example"}, {"x-original-url": "/_stratus/stats"},
                   {"x-rewrite-url": "/nocache"}, {"x-http-method-override": "POST"}, {"x-forwarded-prefix": "/evil"},
                   {"host": "evil.example"}):
        first = gw.http.get(url, headers={**auth, **poison})
        assert first.status_code in (200, 400, 421), (poison, first.text)
        clean = gw.http.get(url, headers=auth)
        assert clean.status_code == 200 and "evil" not in clean.text and "_stratus" not in clean.text, poison
        assert clean.json()["q"] == {"q": "poison"}


def test_undeclared_parameters_never_reach_a_cached_answer(gw: Clients, ann: User) -> None:
    api, auth = gw.app["apis"]["api"], {"authorization": f"Bearer {ann.access}"}
    first = gw.http.get(api + "/count?q=p2&callback=<script>alert(1)</script>&utm=x", headers=auth)
    assert first.status_code == 200 and first.json()["q"] == {"q": "p2"}  # the handler sees the declared only
    clean = gw.http.get(api + "/count?q=p2", headers=auth)
    assert clean.headers["x-stratus-cache"] == "hit" and "<script>" not in clean.text
    dup = gw.http.get(api + "/count?q=p2&q=other", headers=auth)  # a repeated parameter: one value, keyed as such
    assert dup.json()["q"]["q"] in ("p2", "other")
    again = gw.http.get(api + "/count?q=" + dup.json()["q"]["q"], headers=auth)
    assert again.json()["q"] == dup.json()["q"]


def test_callers_cannot_read_or_refresh_each_others_entries(gw: Clients, ann: User, ben: User) -> None:
    api = gw.app["apis"]["api"]
    mine = gw.http.get(api + "/count?q=own", headers={"authorization": f"Bearer {ann.access}"}).json()
    for headers in ({"authorization": f"Bearer {ben.access}"}, {"authorization": f"Bearer {ben.id}"},
                    {"authorization": f"Bearer {ben.access}", "x-stratus-user": ann.sub},
                    {"authorization": f"Bearer {ben.access}", "cache-control": "max-age=0"}):
        theirs = gw.http.get(api + "/count?q=own", headers=headers)
        assert theirs.status_code in (200, 401, 403) and theirs.json().get("sub") != ann.sub, headers
    again = gw.http.get(api + "/count?q=own", headers={"authorization": f"Bearer {ann.access}"})
    assert again.headers["x-stratus-cache"] == "hit" and again.json() == mine  # untouched by ben's requests
    # a refresh (Cache-Control: max-age=0) needs the right to invalidate: this API answers 403 without it
    forced = gw.http.get(api + "/count?q=own", headers={"authorization": f"Bearer {ann.access}",
                                                        "cache-control": "max-age=0"})
    assert forced.status_code == 403
    assert gw.http.get(api + "/count?q=own", headers={"authorization": f"Bearer {ann.access}"}).json() == mine


def test_anonymous_callers_get_no_cached_private_answer(gw: Clients, ann: User) -> None:
    api = gw.app["apis"]["api"]
    gw.http.get(api + "/count?q=anon", headers={"authorization": f"Bearer {ann.access}"})
    for headers in ({}, {"authorization": "Bearer"}, {"authorization": "Basic YTpi"},
                    {"authorization": f"Bearer {ann.access}x"}):
        r = gw.http.get(api + "/count?q=anon", headers=headers)
        assert r.status_code == 401 and ann.sub not in r.text, headers
