"""MyTodoList's REST API over real HTTPS, with tokens from the real user pool."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Clients, User


@pytest.fixture(scope="module")
def alice(clients: Clients) -> User:
    return clients.user()


@pytest.fixture(scope="module")
def bob(clients: Clients) -> User:
    return clients.user()


def test_create_get_update_delete(clients: Clients, alice: User) -> None:
    r = clients.api("POST", "/todos", alice.access,
                    json={"title": "buy milk", "notes": "2 litres", "due": "2030-05-01", "tags": ["shop", "food"]})
    assert r.status_code == 201, r.text
    todo = r.json()
    assert r.headers["location"] == f"{clients.app['api']}/todos/{todo['id']}"
    assert clients.http.get(r.headers["location"], headers={"authorization": f"Bearer {alice.access}"}).json() == todo
    assert todo | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None, "title": "buy milk", "notes": "2 litres", "done": False, "due": "2030-05-01",
        "tags": ["shop", "food"], "created_at": None, "updated_at": None, "version": 1}
    assert "owner" not in todo

    got = clients.api("GET", f"/todos/{todo['id']}", alice.access)
    assert got.status_code == 200 and got.json() == todo

    r = clients.api("PATCH", f"/todos/{todo['id']}", alice.access,
                    json={"title": "buy oat milk", "notes": "", "done": True, "due": None, "tags": []})
    assert r.status_code == 200, r.text
    new = r.json()
    assert (new["title"], new["notes"], new["done"], new["due"], new["tags"], new["version"]) == \
        ("buy oat milk", "", True, None, [], 2)
    assert clients.api("GET", f"/todos/{todo['id']}", alice.access).json() == new

    r = clients.api("DELETE", f"/todos/{todo['id']}", alice.access)
    assert r.status_code == 204 and r.content == b""
    assert clients.api("GET", f"/todos/{todo['id']}", alice.access).status_code == 404
    assert clients.api("DELETE", f"/todos/{todo['id']}", alice.access).status_code == 404
    assert clients.api("PATCH", f"/todos/{todo['id']}", alice.access, json={"done": False}).status_code == 404


def test_list_pages_and_done_filter(clients: Clients) -> None:
    u = clients.user()
    ids = []
    for i in range(7):
        r = clients.api("POST", "/todos", u.access, json={"title": f"t{i}", "done": i % 3 == 0})
        ids.append(r.json()["id"])
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"next_token": token} if token else {})
        body = clients.api("GET", "/todos", u.access, params=params).json()
        assert len(body["items"]) <= 3
        seen += [t["id"] for t in body["items"]]
        pages += 1
        token = body["next_token"]
        if token is None:
            break
    assert seen == ids and pages == 3  # 3 + 3 + 1, oldest first, no empty last page

    done = clients.api("GET", "/todos", u.access, params={"done": "true", "limit": 2}).json()
    assert [t["title"] for t in done["items"]] == ["t0", "t3"] and done["next_token"]
    rest = clients.api("GET", "/todos", u.access, params={"done": "true", "limit": 2,
                                                          "next_token": done["next_token"]}).json()
    assert [t["title"] for t in rest["items"]] == ["t6"] and rest["next_token"] is None
    undone = clients.api("GET", "/todos", u.access, params={"done": "false", "limit": 100}).json()
    assert [t["title"] for t in undone["items"]] == ["t1", "t2", "t4", "t5"]
    assert clients.api("GET", "/todos", u.access).json()["items"].__len__() == 7  # default limit 20


def test_users_are_isolated(clients: Clients, alice: User, bob: User) -> None:
    mine = clients.api("POST", "/todos", alice.access, json={"title": "alice's secret"}).json()
    for method, kw in (("GET", {}), ("PATCH", {"json": {"title": "pwned"}}), ("DELETE", {})):
        r = clients.api(method, f"/todos/{mine['id']}", bob.access, **kw)
        assert r.status_code == 404, (method, r.text)
        assert "alice" not in r.text
    listing = clients.api("GET", "/todos", bob.access, params={"limit": 100}).json()
    assert mine["id"] not in [t["id"] for t in listing["items"]]
    assert all("alice" not in t["title"] for t in listing["items"])
    # alice's pagination token does not open her partition to bob
    for _ in range(2):
        clients.api("POST", "/todos", alice.access, json={"title": "more"})
    token = clients.api("GET", "/todos", alice.access, params={"limit": 1}).json()["next_token"]
    r = clients.api("GET", "/todos", bob.access, params={"next_token": token})
    assert r.status_code == 400 and "next token" in r.json()["message"]
    assert clients.api("GET", f"/todos/{mine['id']}", alice.access).json() == mine


@pytest.mark.parametrize("body, problem", [
    ({"title": 5}, "title: must be string"),
    ({"title": ""}, "title: must be at least 1 characters"),
    ({"title": "x" * 201}, "title: must be at most 200 characters"),
    ({"title": "x", "done": "yes"}, "done: must be boolean"),
    ({"title": "x", "due": "tomorrow"}, "due: is not a valid date"),
    ({"title": "x", "tags": ["a", "a"]}, "tags: items must be unique"),
    ({"title": "x", "tags": [1]}, "tags[0]: must be string"),
    ({"title": "x", "owner": "someone-else"}, "owner: unknown field"),
    ({"notes": "no title"}, "title: is required"),
    ([1, 2], "body: must be object"),
])
def test_bad_bodies_answer_400_naming_the_field(clients: Clients, alice: User, body: object, problem: str) -> None:
    r = clients.api("POST", "/todos", alice.access, json=body)
    assert r.status_code == 400, r.text
    assert problem in r.json()["errors"]


def test_several_bad_fields_are_all_named(clients: Clients, alice: User) -> None:
    r = clients.api("POST", "/todos", alice.access, json={"title": 1, "done": 2, "extra": 3})
    assert r.status_code == 400
    assert sorted(r.json()["errors"]) == ["done: must be boolean", "extra: unknown field", "title: must be string"]


def test_malformed_requests(clients: Clients, alice: User) -> None:
    r = clients.api("POST", "/todos", alice.access, content=b'{"title": "x",', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    r = clients.api("POST", "/todos", alice.access, content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "required" in r.json()["message"]
    r = clients.api("POST", "/todos", alice.access, content=b"title=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = clients.api("POST", "/todos", alice.access, content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = clients.api("PATCH", "/todos/0123456789abcdef01234567", alice.access, json={})
    assert r.status_code in (400, 404)


def test_oversized_body_is_413(clients: Clients, alice: User) -> None:
    big = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    r = clients.api("POST", "/todos", alice.access, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["message"]

    def chunks():  # no Content-Length: the limit holds on the streamed body too
        for _ in range(20):
            yield b"x" * 65536
    r = clients.api("POST", "/todos", alice.access, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("params, problem", [
    ({"limit": "0"}, "limit: must be >= 1"),
    ({"limit": "101"}, "limit: must be <= 100"),
    ({"limit": "ten"}, "limit: must be an integer"),
    ({"done": "maybe"}, "done: must be true or false"),
    ({"next_token": "not-a-token"}, "next token is malformed"),
    ({"next_token": "W10"}, "next token is malformed"),
    ({"next_token": "WyJ0b2RvcyIsIngiLCJ5Il0"}, "next token belongs to another query"),
])
def test_bad_query_parameters_are_400(clients: Clients, alice: User, params: dict[str, str], problem: str) -> None:
    r = clients.api("GET", "/todos", alice.access, params=params)
    assert r.status_code == 400, r.text
    assert problem in r.json()["message"]


def test_routing_errors(clients: Clients, alice: User) -> None:
    r = clients.api("GET", "/nope", alice.access)
    assert r.status_code == 404
    r = clients.api("PUT", "/todos", alice.access, json={})
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    r = clients.api("POST", "/todos/abc", alice.access, json={})
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, PATCH"
    assert clients.api("GET", "/todos/..%2F..%2Fetc", alice.access).status_code == 404
    assert clients.http.get(clients.ep["aws_endpoint"] + "/_api/todo/nope/todos").status_code == 404


def test_handler_bug_is_a_bare_500(clients: Clients) -> None:
    other = clients.ep["apps"]["other"]["api"]
    r = clients.http.get(other + "/boom")
    assert r.status_code == 500 and r.json() == {"message": "Internal server error"}
    assert "hunter2" not in r.text
    assert clients.http.get(other + "/ping").json() == {"pong": "yes"}


def test_openapi_document(clients: Clients) -> None:
    doc = clients.http.get(clients.app["api"] + "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": clients.app["api"]}]
    assert set(doc["paths"]) == {"/todos", "/todos/{id}"}
    assert set(doc["paths"]["/todos/{id}"]) == {"get", "patch", "delete"}
    post = doc["paths"]["/todos"]["post"]
    assert post["security"] == [{"userPool": []}] and "201" in post["responses"] and "401" in post["responses"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["title"] and schema["additionalProperties"] is False
    assert {p["name"] for p in doc["paths"]["/todos"]["get"]["parameters"]} == {"limit", "next_token", "done"}


def test_concurrent_writes_are_all_kept(clients: Clients) -> None:
    u = clients.user()

    def create(i: int) -> int:
        return clients.api("POST", "/todos", u.access, json={"title": f"c{i}"}).status_code
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(create, range(64)))
    assert statuses == [201] * 64
    items = clients.api("GET", "/todos", u.access, params={"limit": 100}).json()["items"]
    assert sorted(t["title"] for t in items) == sorted(f"c{i}" for i in range(64))
