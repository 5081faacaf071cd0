"""``stratus.testing``: apps run in process, as an app's own tests run them, through the real request path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from stratus import App, Bucket, IdentityPool, RestApi, Table, UserPool
from stratus.testing import TestClient
from tests.conftest import ROOT, TODO

AUTHORING = ROOT / "tests" / "apps" / "fixtures" / "authoring"


@pytest.fixture()
def authoring() -> Iterator[TestClient]:
    with TestClient(AUTHORING) as client:
        yield client


def test_a_typed_body_reaches_the_handler_as_its_dataclass(authoring: TestClient) -> None:
    alice, api = authoring.user(), authoring.api()
    r = api.post("/notes", json={"title": "Milk", "due": "2030-01-02", "tags": ["shop"]}, user=alice)
    assert r.status == 201 and r.json() == {"id": "milk", "title": "Milk", "due": "2030-01-02", "tags": ["shop"],
                                            "kind": "plain"}
    r = api.post("/notes", json={"title": "Milk"}, user=alice)
    assert r.status == 409 and "exists" in r.json()["message"]
    r = api.post("/notes", json={"title": "", "due": "2030-02-30", "kind": "x", "extra": 1}, user=alice)
    assert r.status == 400 and sorted(r.json()["errors"]) == [
        "due: is not a valid date", "extra: unknown field", "kind: must be one of 'plain', 'todo'",
        "title: must be at least 1 characters"]


def test_an_async_handler_returning_a_dataclass(authoring: TestClient) -> None:
    alice, api = authoring.user(), authoring.api()
    api.post("/notes", json={"title": "One"}, user=alice)
    r = api.get("/summary", user=alice)
    assert r.status == 200 and r.json()["owner"] == alice.sub and r.json()["count"] == 1
    assert dt.datetime.fromisoformat(r.json()["at"]).timestamp() == pytest.approx(authoring.clock.now(), abs=1e-3)


def test_signed_in_routes_get_an_auth_request_and_public_ones_a_request(authoring: TestClient) -> None:
    alice, api = authoring.user(), authoring.api()
    assert api.get("/whoami", user=alice).json() == {"sub": alice.sub, "type": "AuthRequest"}
    assert api.get("/whoami").status == 401
    assert api.get("/hello").json() == {"signed_in": False, "type": "Request"}


def test_a_handler_mails_through_the_declared_sender(authoring: TestClient) -> None:
    alice = authoring.user()
    r = authoring.api().post("/welcome", user=alice)
    assert r.status == 202 and r.json()["id"].endswith("@example.com>")
    sent = authoring.mail()[-1]
    assert (sent.subject, sent.to) == ("Welcome", "nobody@example.com")
    assert "From: hello@example.com" in sent.path.read_text()


def test_a_streamed_answer_arrives_chunk_by_chunk(authoring: TestClient) -> None:
    api = authoring.api()
    r = api.get("/count/4")
    assert r.status == 200 and r.chunks == [b"0\n", b"1\n", b"2\n", b"3\n"] and r.headers["x-count"] == "4"
    assert r.headers["content-type"] == "text/plain; charset=utf-8" and "content-length" not in r.headers
    assert api.get("/tick").chunks == [b"tick ", b"tock"]  # from an async generator


def test_openapi_shows_typed_bodies_and_responses(authoring: TestClient) -> None:
    doc = authoring.api().get("/openapi.json").json()
    post = doc["paths"]["/notes"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == ["title"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["tags"]["type"] == "array"
    assert post["responses"]["409"]["description"] == "a note of that title exists"
    assert doc["paths"]["/summary"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["at"] == {"type": "string", "format": "date-time"}


def test_the_clock_moves_caches_and_token_expiry() -> None:
    with TestClient(TODO) as client:
        alice, api = client.user(), client.api()
        assert api.post("/todos", json={"title": "milk"}, user=alice).status == 201
        assert api.get("/todos", user=alice).headers["x-stratus-cache"] == "miss"
        assert api.get("/todos", user=alice).headers["x-stratus-cache"] == "hit"
        client.clock.advance(301)  # past the stage cache's 300 s
        assert api.get("/todos", user=alice).headers["x-stratus-cache"] == "miss"
        client.clock.advance(3600)  # past the access token's hour
        r = api.get("/todos", user=alice)
        assert r.status == 401 and "expired" in r.headers["www-authenticate"]
        bob = client.user()
        assert api.get("/todos", user=bob).json()["items"] == []  # his own list, nothing of alice's


def _reverse_declared() -> App:
    """An app whose resources are declared dependants first: built in the order their dependencies demand."""
    app = App("backwards")
    users = UserPool("users")
    files = Bucket("files")
    notes = Table("notes", "owner")  # type: ignore[arg-type]
    api = RestApi("api", authorizer=users)
    app.add(api)
    app.add(IdentityPool("ids", users, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{files.arn}/*"}]}))

    @api.get("/n", uses=[notes, files])
    def read(req: Any, ctx: Any) -> dict[str, Any]:
        return {"n": ctx.table(notes).get({"owner": req.user.sub}), "files": ctx.bucket(files).list().objects}
    for r in (notes, files, users):
        app.add(r)
    return app


def test_engines_are_built_in_the_order_dependencies_demand() -> None:
    app = _reverse_declared()
    assert list(app.resources) == ["rest_api:api", "identity_pool:ids", "table:notes", "bucket:files", "user_pool:users"]
    with TestClient(app) as client:
        r = client.api().get("/n", user=client.user())
        assert r.status == 200 and r.json() == {"n": None, "files": []}
        entry = client.runtime.endpoints(client.data_dir / "ca.pem")["apps"]["backwards"]
        assert entry["buckets"]["files"].startswith("backwards-files-") and entry["identity_pool_id"]


def test_a_resource_the_app_does_not_declare_is_refused_by_name() -> None:
    app = App("forgetful")
    users = UserPool("users")  # never added
    app.identity_pool("ids", user_pool=users, authenticated_policy={"Statement": []})
    from stratus.errors import ConfigError
    with pytest.raises(ConfigError, match="identity pool 'ids': its user pool is not declared in app"):
        TestClient(app)


def test_a_bodys_own_rules_and_optional_constraints_answer_400(authoring: TestClient) -> None:
    alice, api = authoring.user(), authoring.api()
    r = api.post("/notes", json={"title": " spaced "}, user=alice)
    assert r.status == 400 and r.json()["errors"] == ["body: title must not start or end with spaces"]
    r = api.post("/notes", json={"title": "P", "priority": 0}, user=alice)
    assert r.status == 400 and r.json()["errors"] == ["priority: must be >= 1"]
    assert api.post("/notes", json={"title": "Q", "priority": None}, user=alice).status == 201


@pytest.mark.parametrize("how", ["number", "none"])
def test_a_stream_that_breaks_half_way_is_never_sent_short(authoring: TestClient, how: str) -> None:
    """A piece that is not bytes (None too) fails the answer: the connection drops, nothing passes for a whole body."""
    with pytest.raises(TypeError, match="a streamed body yields bytes"):
        authoring.api().get(f"/broken/{how}")
    assert authoring.runtime.stats()["apps"]["authoring"]["apis"]["api"]["statuses"] == {"5xx": 1}


def test_streamed_headers_are_lower_case_and_said_once(authoring: TestClient) -> None:
    r = authoring.api().get("/broken/ok")
    assert r.status == 200 and r.body == b"a good start, and an end"
    assert r.headers["content-type"] == "text/plain" and r.headers["x-case"] == "Mixed"


def test_a_declared_email_sends_from_its_sender_only(authoring: TestClient) -> None:
    before = len(authoring.mail())
    assert authoring.api().post("/mail-as").status == 500  # MailRejected, as SES refuses it on AWS
    assert len(authoring.mail()) == before


def test_every_app_reports_the_same_groups_of_figures() -> None:
    from tests.conftest import OTHER
    with TestClient(OTHER) as client:
        figures = client.runtime.stats()["apps"]["other"]
        assert set(figures) == {"apis", "distributions", "regions", "table_caches", "triggers"}
        assert figures["table_caches"] == figures["triggers"] == figures["regions"] == {}


def test_an_apps_tests_may_import_every_name_of_the_testing_module() -> None:
    """pytest collects classes named Test* from a test module: none of these is one (warnings are errors here)."""
    import stratus.testing as testing
    for name in testing.__all__:
        value = getattr(testing, name)
        assert not name.startswith("Test") or getattr(value, "__test__", True) is False, name


def test_triggers_deliver_in_process_when_the_test_says() -> None:
    from tests.apps.test_triggers import FEED
    with TestClient(FEED) as client:
        api = client.api()
        assert api.put("/notes/a", json={"value": 1}).status == 200
        assert api.put("/notes/b", json={"value": 1, "fail": True}).status == 200
        assert api.get("/seen/record").json() == []  # nothing runs until the test says
        made = client.deliver()
        assert made >= 6 and [x["id"] for x in api.get("/seen/record").json()] == ["a", "b"]
        assert client.deliver() == 0  # b's retry waits for its backoff, on the test's clock
        for _ in range(2):
            client.clock.advance(5)
            client.deliver()
        letters = client.dead_letters()
        assert [(d["trigger"], d["event"]["keys"]["id"], d["attempts"]) for d in letters] == [("picky", "b", 3)]
