"""The API stage cache and throttling through a real server, time moved by its manual clock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TODO, Clients, User, start, trust

CACHED = ROOT / "tests" / "apps" / "fixtures" / "cached"


@pytest.fixture(scope="module")
def sys_(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    s = start(tmp_path_factory.mktemp("cached"), CACHED, TODO, extra=["--manual-clock"])
    yield Clients(s, app="cached")
    s.stop()


@pytest.fixture(scope="module")
def ann(sys_: Clients) -> User:
    return sys_.user()


@pytest.fixture(scope="module")
def ben(sys_: Clients) -> User:
    return sys_.user()


def get(c: Clients, api: str, path: str, user: User | None, **kw: object):  # type: ignore[no-untyped-def]
    headers = kw.pop("headers", {}) | ({"authorization": f"Bearer {user.access}"} if user else {})
    return c.http.request(kw.pop("method", "GET"), c.app["apis"][api] + path, headers=headers, **kw)  # type: ignore[arg-type]


def test_hit_miss_and_ttl(sys_: Clients, ann: User) -> None:
    first = get(sys_, "api", "/count", ann)
    assert first.headers["x-stratus-cache"] == "miss"
    again = get(sys_, "api", "/count", ann)
    assert again.headers["x-stratus-cache"] == "hit" and again.json() == first.json()
    sys_.advance(59)
    assert get(sys_, "api", "/count", ann).json() == first.json()
    sys_.advance(2)
    fresh = get(sys_, "api", "/count", ann)
    assert fresh.headers["x-stratus-cache"] == "miss" and fresh.json()["n"] > first.json()["n"]


def test_callers_never_share_entries(sys_: Clients, ann: User, ben: User) -> None:
    a = get(sys_, "api", "/count?q=same", ann).json()
    b = get(sys_, "api", "/count?q=same", ben)
    assert b.headers["x-stratus-cache"] == "miss" and b.json()["sub"] == ben.sub != a["sub"]
    assert get(sys_, "api", "/count?q=same", ann).json() == a
    assert get(sys_, "api", "/count?q=same", ben).json() == b.json()


def test_key_is_only_what_the_route_declares(sys_: Clients, ann: User) -> None:
    base = get(sys_, "api", "/count?q=k1", ann).json()
    assert get(sys_, "api", "/count?q=k2", ann).json() != base  # declared: part of the key
    assert get(sys_, "api", "/count?q=k1&undeclared=9", ann).json() == base  # undeclared: ignored


def test_route_ttl_opt_out_and_opt_in(sys_: Clients, ann: User) -> None:
    short = get(sys_, "api", "/short", ann).json()
    sys_.advance(6)
    assert get(sys_, "api", "/short", ann).json() != short
    assert get(sys_, "api", "/nocache", ann).json() != get(sys_, "api", "/nocache", ann).json()
    assert "x-stratus-cache" not in get(sys_, "api", "/nocache", ann).headers
    s1 = get(sys_, "api", "/search?q=a", ann, method="POST")
    s2 = get(sys_, "api", "/search?q=a", ann, method="POST")
    assert s2.headers["x-stratus-cache"] == "hit" and s1.json() == s2.json()
    w1 = get(sys_, "api", "/write", ann, method="POST")  # POST not opted in: never cached
    assert "x-stratus-cache" not in w1.headers


def test_responses_over_1mb_are_not_cached(sys_: Clients, ann: User) -> None:
    a, b = get(sys_, "api", "/big", ann), get(sys_, "api", "/big", ann)
    assert a.status_code == b.status_code == 200
    assert a.json()["n"] != b.json()["n"] and b.headers["x-stratus-cache"] == "miss"


def test_client_refresh_strategies(sys_: Clients, ann: User) -> None:
    refresh = {"cache-control": "max-age=0"}
    get(sys_, "api", "/count?q=r", ann)
    r = get(sys_, "api", "/count?q=r", ann, headers=refresh)
    assert r.status_code == 403

    o1 = get(sys_, "open", "/count", ann).json()
    o2 = get(sys_, "open", "/count", ann, headers=refresh)
    assert o2.headers["x-stratus-cache"] == "refresh" and o2.json() != o1
    assert get(sys_, "open", "/count", ann).json() == o2.json()  # the refreshed entry is what is cached now

    h1 = get(sys_, "hdr", "/count", ann).json()
    h2 = get(sys_, "hdr", "/count", ann, headers=refresh)
    assert h2.status_code == 200 and h2.json() == h1 and h2.headers["x-stratus-cache"] == "hit; refresh-unauthorized"


def test_writes_drop_the_callers_entries_only(sys_: Clients, ann: User, ben: User) -> None:
    a1, b1 = get(sys_, "api", "/count", ann).json(), get(sys_, "api", "/count", ben).json()
    assert get(sys_, "api", "/write", ann, method="POST").status_code == 200
    a2 = get(sys_, "api", "/count", ann)
    assert a2.headers["x-stratus-cache"] == "miss" and a2.json() != a1
    assert get(sys_, "api", "/count", ben).json() == b1


def test_flush(sys_: Clients, ann: User) -> None:
    get(sys_, "api", "/count", ann)
    out = subprocess.run([sys.executable, "-m", "stratus", "flush-cache", "cached", "--data-dir",
                          str(sys_.system.data_dir)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "cached/api" in out and "cached/open" in out and "todo/api" not in out
    assert get(sys_, "api", "/count", ann).headers["x-stratus-cache"] == "miss"


def test_throttling_429_with_retry_after(sys_: Clients) -> None:
    sys_.advance(10)  # a full bucket
    statuses = [get(sys_, "api", "/limited", None).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = get(sys_, "api", "/limited", None)
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and r.json()["message"] == "Too Many Requests"
    sys_.advance(1)
    assert get(sys_, "api", "/limited", None).status_code == 200


def test_stats(sys_: Clients, ann: User) -> None:
    get(sys_, "api", "/count", ann)
    get(sys_, "api", "/count", ann)
    doc = sys_.operator("GET", "/_stratus/stats").json()
    api = doc["apps"]["cached"]["apis"]["api"]
    assert api["requests"] > 10 and api["throttled"] >= 3 and api["statuses"]["4xx"] >= 3
    assert api["response_cache"]["hits"] >= 1 and 0 < api["response_cache"]["hit_ratio"] < 1
    assert api["latency_ms"]["p50"] is not None and api["latency_ms"]["p99"] >= api["latency_ms"]["p50"]
    assert set(doc["apps"]["todo"]["table_caches"]) == {"todos", "list-versions"}
    out = subprocess.run([sys.executable, "-m", "stratus", "stats", "--data-dir", str(sys_.system.data_dir)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "cached/api" in out and "todo/todos" in out and "hit %" in out


def test_todo_stays_correct_with_both_caches(sys_: Clients) -> None:
    todo = Clients(sys_.system, app="todo")
    u, other = todo.user(), todo.user()
    assert todo.api("GET", "/todos", u.access).headers["x-stratus-cache"] == "miss"
    assert todo.api("GET", "/todos", u.access).headers["x-stratus-cache"] == "hit"
    other_list = todo.api("GET", "/todos", other.access)
    created = todo.api("POST", "/todos", u.access, json={"title": "fresh"}).json()
    listing = todo.api("GET", "/todos", u.access)
    assert listing.headers["x-stratus-cache"] == "miss" and [t["id"] for t in listing.json()["items"]] == [created["id"]]
    got = todo.api("GET", f"/todos/{created['id']}", u.access)
    assert got.json() == created
    changed = todo.api("PATCH", f"/todos/{created['id']}", u.access, json={"done": True}).json()
    assert todo.api("GET", f"/todos/{created['id']}", u.access).json() == changed
    assert todo.api("GET", "/todos", u.access).json()["items"] == [changed]
    assert todo.api("DELETE", f"/todos/{created['id']}", u.access).status_code == 204
    assert todo.api("GET", f"/todos/{created['id']}", u.access).status_code == 404
    assert todo.api("GET", "/todos", u.access).json()["items"] == []
    assert todo.api("GET", "/todos", other.access).json() == other_list.json()  # untouched by u's writes
    caches = todo.operator("GET", "/_stratus/stats").json()["apps"]["todo"]["table_caches"]
    assert caches["list-versions"]["item_cache"]["hits"] > 0


def test_switches_turn_caches_and_throttling_off(tmp_path: Path) -> None:
    s = start(tmp_path, CACHED, extra=["--no-api-cache", "--no-throttle", "--manual-clock"])
    try:
        c = Clients(s, app="cached")
        u = c.user()
        first, second = get(c, "api", "/count", u), get(c, "api", "/count", u)
        assert first.json() != second.json() and "x-stratus-cache" not in second.headers
        assert [get(c, "api", "/limited", None).status_code for _ in range(10)] == [200] * 10
        assert c.operator("GET", "/_stratus/stats").json()["apps"]["cached"]["apis"]["api"][
            "response_cache"] is None
    finally:
        s.stop()


def test_percent_encoded_paths_are_invalidated_too(sys_: Clients) -> None:
    todo = Clients(sys_.system, app="todo")
    u = todo.user()
    created = todo.api("POST", "/todos", u.access, json={"title": "one"}).json()
    encoded = "/todos/%" + format(ord(created["id"][0]), "02X") + created["id"][1:]
    assert todo.api("GET", encoded, u.access).json()["title"] == "one"
    assert todo.api("GET", encoded, u.access).headers["x-stratus-cache"] == "hit"
    todo.api("PATCH", f"/todos/{created['id']}", u.access, json={"title": "two"})
    again = todo.api("GET", encoded, u.access)
    assert again.headers["x-stratus-cache"] == "miss" and again.json()["title"] == "two"


def test_writes_are_seen_while_others_keep_reading(sys_: Clients) -> None:
    """Concurrent readers keep refilling both caches; the writer must still read its own writes every time."""
    import threading
    todo = Clients(sys_.system, app="todo")
    u = todo.user()
    stop = threading.Event()

    def reader() -> None:
        c = httpx.Client(verify=trust(todo.ep), timeout=20)
        while not stop.is_set():
            c.get(todo.app["api"] + "/todos", params={"limit": 100}, headers={"authorization": f"Bearer {u.access}"})
    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        stale = 0
        for i in range(25):
            new = todo.api("POST", "/todos", u.access, json={"title": f"t{i}"}).json()["id"]
            listed = todo.api("GET", "/todos", u.access, params={"limit": 100}).json()["items"]
            stale += new not in [t["id"] for t in listed]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert stale == 0


def test_flush_of_an_unknown_app_is_an_error(sys_: Clients) -> None:
    r = subprocess.run([sys.executable, "-m", "stratus", "flush-cache", "nosuchapp", "--data-dir",
                        str(sys_.system.data_dir)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no app named 'nosuchapp'" in r.stderr and "Traceback" not in r.stderr
