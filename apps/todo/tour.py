"""MyTodoList's part of ``stratus demo``: the app toured as a mobile client uses it.

Each step is what the client would do, with the client it would use: boto3's
``cognito-idp`` for the user pool, ``cognito-identity`` and ``s3`` for the user's own
folder in object storage, plain HTTPS for the REST API. The same tour runs against a
local system and a deployment on AWS; ``Target`` holds what differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stratus.demo import Invalid, Step, Target, Tour, expect, field, text

PASSWORD = "Demo-Passw0rd"


@dataclass(frozen=True)
class TodoEndpoints:
    """What the tour needs to know of the todo app, read from its entry in an endpoints document."""

    api: str
    user_pool_id: str
    client_id: str
    identity_pool_id: str
    login_provider: str  # the identity pool's key for the user pool: its issuer without the scheme
    bucket: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> TodoEndpoints:
        pool_id = text(entry, "user_pool_id")
        pools = field(entry, "user_pools")
        matching = [p for p in pools.values() if isinstance(p, dict) and p.get("id") == pool_id] \
            if isinstance(pools, dict) else []
        if not matching:
            raise Invalid(f"user_pools (one with id {pool_id})")
        return cls(api=text(entry, "api"), user_pool_id=pool_id, client_id=text(entry, "user_pool_client_id"),
                   identity_pool_id=text(entry, "identity_pool_id"),
                   login_provider=text(matching[0], "issuer").split("://", 1)[-1], bucket=text(entry, "buckets.files"))


def endpoints(entry: dict[str, Any]) -> TodoEndpoints:
    """What the tour needs of the app's entry in an endpoints document (``Invalid`` names a missing field)."""
    return TodoEndpoints.of(entry)


def tour(tour: Tour, target: Target, app: str = "todo") -> None:
    """MyTodoList as a mobile client uses it: sign-up and sign-in, the API, the user's own folder, sign-out."""
    from botocore.exceptions import ClientError

    todo = TodoEndpoints.of(target.app(app))
    idp = target.client("cognito-idp")
    client_id = todo.client_id
    api = target.https(todo.api)
    run = uuid.uuid4().hex[:6]
    tokens: dict[str, dict[str, str]] = {}
    signed_up: list[str] = []

    def onboard(name: str) -> None:
        email = f"{name}-{run}@example.com"

        def sign_up() -> None:
            confirmed = idp.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)["UserConfirmed"]
            signed_up.append(email)
            expect(not confirmed, "new user should be unconfirmed")
        tour.step(f"{name}: sign up to the user pool (cognito-idp SignUp)", sign_up)
        for title, fn in target.confirmation(idp, name, email, todo.user_pool_id, client_id):
            tour.step(title, fn)

        def sign_in() -> None:
            res = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
            tokens[name] = res
        tour.step(f"{name}: sign in (InitiateAuth USER_PASSWORD_AUTH) and get RS256 tokens", sign_in)

    print("MyTodoList (apps/todo)")
    try:
        onboard("alice")
        alice = lambda: tokens["alice"]["AccessToken"]  # noqa: E731
        tour.step("anonymous GET /todos is refused with 401",
                  lambda: expect(api.call("GET", "/todos")[0] == 401, "expected 401"))
        ids: list[str] = []

        def create() -> None:
            for title in ("buy milk", "write report", "call mom"):
                status, body = api.call("POST", "/todos", {"title": title, "tags": ["demo"]}, alice())
                expect(status == 201, f"create answered {status}: {body}")
                ids.append(body["id"])
        tour.step("alice: create 3 todos (POST /todos over HTTPS)", create)
        tour.step("alice: list them, 2 per page, following next_token", lambda: _paginate(api, alice(), ids))
        tour.step("alice: get one (GET /todos/{id})",
                  lambda: expect(api.call("GET", f"/todos/{ids[0]}", token=alice())[1]["title"] == "buy milk",
                                 "wrong todo"))
        tour.step("alice: mark it done, set a due date (PATCH /todos/{id})",
                  lambda: expect(api.call("PATCH", f"/todos/{ids[0]}", {"done": True, "due": "2030-01-31"}, alice())[1]
                                 ["done"] is True, "not done"))
        tour.step(*_read_twice(api, alice, target.cache_header))
        tour.step("alice: list only done todos (?done=true)",
                  lambda: expect([t["id"] for t in api.call("GET", "/todos?done=true", token=alice())[1]["items"]]
                                 == [ids[0]], "filter did not hold"))
        tour.step("alice: a bad body is refused with a 400 naming the field",
                  lambda: expect(api.call("POST", "/todos", {"title": 7}, alice()) ==
                                 (400, {"message": "invalid request: title: must be string",
                                        "errors": ["title: must be string"]}), "expected a 400 naming title"))
        onboard("bob")
        bob = lambda: tokens["bob"]["AccessToken"]  # noqa: E731
        tour.step("bob: alice's todo id answers 404 for him",
                  lambda: expect(api.call("GET", f"/todos/{ids[0]}", token=bob())[0] == 404, "bob reached alice's todo"))
        tour.step("bob: cannot change or delete it either (404)",
                  lambda: expect(api.call("PATCH", f"/todos/{ids[0]}", {"done": False}, bob())[0] == 404
                                 and api.call("DELETE", f"/todos/{ids[0]}", token=bob())[0] == 404, "bob changed it"))
        tour.step("bob: his list is empty",
                  lambda: expect(api.call("GET", "/todos", token=bob())[1]["items"] == [], "bob sees todos"))

        _folder_tour(tour, target, todo, tokens)

        def refresh() -> None:
            res = idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": tokens["alice"]["RefreshToken"]})
            tokens["alice"]["AccessToken"] = res["AuthenticationResult"]["AccessToken"]
        tour.step("alice: refresh her tokens (REFRESH_TOKEN_AUTH)", refresh)
        tour.step("alice: delete a todo (204), then it is gone (404)",
                  lambda: expect(api.call("DELETE", f"/todos/{ids[1]}", token=alice())[0] == 204
                                 and api.call("GET", f"/todos/{ids[1]}", token=alice())[0] == 404, "not deleted"))

        def sign_out() -> None:
            idp.global_sign_out(AccessToken=alice())
            try:
                idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": tokens["alice"]["RefreshToken"]})
            except ClientError as exc:
                expect(exc.response["Error"]["Code"] == "NotAuthorizedException", str(exc))
            else:
                raise AssertionError("refresh token still works after global sign-out")
        tour.step("alice: global sign-out; her refresh token stops working", sign_out)
    finally:  # even when interrupted: a deployment keeps no demo users
        for title, fn in target.cleanup(idp, todo.user_pool_id, signed_up):
            tour.step(title, fn)


def _read_twice(api: Any, token: Callable[[], str], cache_header: str | None) -> Step:
    """Read the list twice: the second answer comes from the API cache, where the target lets that be seen."""
    def read() -> None:
        first = api.call("GET", "/todos", token=token())
        if cache_header:
            expect(api.last_headers.get(cache_header) in ("hit", "miss"), "no cache header")
        again = api.call("GET", "/todos", token=token())
        expect(again == first, "the two reads differ")
        if cache_header:
            expect(api.last_headers.get(cache_header) == "hit", "second read was not a hit")
    if cache_header:
        return "alice: read her list twice; the second answer comes from the API cache", read
    return "alice: read her list twice; both answers agree (API Gateway does not show its cache)", read


def _folder_tour(tour: Tour, target: Target, todo: TodoEndpoints, tokens: dict[str, dict[str, str]]) -> None:
    """Each user's own folder in the files bucket, reached directly with identity-pool credentials."""
    from botocore.exceptions import ClientError

    bucket = todo.bucket
    ci = target.client("cognito-identity")
    s3: dict[str, Any] = {}
    ids: dict[str, str] = {}

    def credentials(name: str) -> None:
        logins = {todo.login_provider: tokens[name]["IdToken"]}
        ids[name] = ci.get_id(IdentityPoolId=todo.identity_pool_id, Logins=logins)["IdentityId"]
        c = ci.get_credentials_for_identity(IdentityId=ids[name], Logins=logins)["Credentials"]
        s3[name] = target.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretKey"],
                                 aws_session_token=c["SessionToken"])
    body = b"shopping list: milk, bread\n" * 100
    tour.step("alice: trade her ID token for temporary AWS credentials (identity pool)", lambda: credentials("alice"))
    tour.step("alice: upload a file to her own folder (s3 PutObject, SigV4)",
              lambda: s3["alice"].put_object(Bucket=bucket, Key=f"{ids['alice']}/list.txt", Body=body))
    tour.step("alice: list her folder and download the file back",
              lambda: expect([o["Key"] for o in s3["alice"].list_objects_v2(Bucket=bucket, Prefix=f"{ids['alice']}/")
                              ["Contents"]] == [f"{ids['alice']}/list.txt"] and
                             s3["alice"].get_object(Bucket=bucket, Key=f"{ids['alice']}/list.txt")["Body"].read() == body,
                             "folder did not round-trip"))
    tour.step("bob: gets credentials of his own", lambda: credentials("bob"))

    def refused() -> None:
        try:
            s3["bob"].get_object(Bucket=bucket, Key=f"{ids['alice']}/list.txt")
        except ClientError as exc:
            expect(exc.response["Error"]["Code"] == "AccessDenied", str(exc))
        else:
            raise AssertionError("bob read alice's file")
    tour.step("bob: reading alice's folder is refused (AccessDenied)", refused)


def _paginate(api: Any, token: str, ids: list[str]) -> None:
    seen, next_token, pages = [], None, 0
    while True:
        q = "/todos?limit=2" + (f"&next_token={next_token}" if next_token else "")
        status, body = api.call("GET", q, token=token)
        expect(status == 200, f"list answered {status}: {body}")
        seen += [t["id"] for t in body["items"]]
        pages += 1
        next_token = body["next_token"]
        if not next_token:
            break
    expect(seen == ids and pages == 2, f"expected {ids} over 2 pages, got {seen} over {pages}")
