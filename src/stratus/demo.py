"""``stratus demo``: a fresh system, toured the way a client uses it.

Each step is what a mobile client would do, with the client it would use:
boto3's ``cognito-idp`` for the user pool, ``cognito-identity`` and ``s3`` for
the user's own folder in object storage, plain HTTPS (trusting only the local
CA) for the REST API. A step passes only if the answer is the one AWS would
give; the tour prints each step with its latency and exits non-zero if any
failed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._https import HttpsJson
from .errors import StratusError
from .local.system import RunningSystem

PASSWORD = "Demo-Passw0rd"


class Tour:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def step(self, title: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            result = fn()
            ok, detail = True, ""
        except Exception as exc:  # a failed step is reported, and the tour goes on where it can
            result, ok, detail = None, False, f"  ({type(exc).__name__}: {exc})"
        ms = (time.perf_counter() - t0) * 1000
        print(f"  {'PASS' if ok else 'FAIL'}  {ms:8.1f} ms  {title}{detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return result


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def _todo_tour(tour: Tour, system: RunningSystem) -> None:
    import boto3
    from botocore.exceptions import ClientError

    ep = system.endpoints
    todo = ep["apps"]["todo"]
    idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"])
    client_id = todo["user_pool_client_id"]
    api = HttpsJson(todo["api"], ep["ca_file"])
    run = uuid.uuid4().hex[:6]
    tokens: dict[str, dict[str, str]] = {}

    def onboard(name: str) -> None:
        email = f"{name}-{run}@example.com"
        tour.step(f"{name}: sign up to the user pool (cognito-idp SignUp)",
                  lambda: expect(not idp.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)["UserConfirmed"],
                                 "new user should be unconfirmed"))
        code = tour.step(f"{name}: read the confirmation code from the mail outbox", lambda: system.latest_code(email))
        tour.step(f"{name}: confirm the sign-up with the code (ConfirmSignUp)",
                  lambda: idp.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode=code))

        def sign_in() -> None:
            res = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
            tokens[name] = res
        tour.step(f"{name}: sign in (InitiateAuth USER_PASSWORD_AUTH) and get RS256 tokens", sign_in)

    print("MyTodoList (apps/todo)")
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
              lambda: expect(api.call("GET", f"/todos/{ids[0]}", token=alice())[1]["title"] == "buy milk", "wrong todo"))
    tour.step("alice: mark it done, set a due date (PATCH /todos/{id})",
              lambda: expect(api.call("PATCH", f"/todos/{ids[0]}", {"done": True, "due": "2030-01-31"}, alice())[1]
                             ["done"] is True, "not done"))
    def cached() -> None:
        first = api.call("GET", "/todos", token=alice())
        expect(api.last_headers.get("x-stratus-cache") in ("hit", "miss"), "no cache header")
        again = api.call("GET", "/todos", token=alice())
        expect(api.last_headers.get("x-stratus-cache") == "hit" and again == first, "second read was not a hit")
    tour.step("alice: read her list twice; the second answer comes from the API cache", cached)
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

    _folder_tour(tour, ep, tokens)

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


def _folder_tour(tour: Tour, ep: dict[str, Any], tokens: dict[str, dict[str, str]]) -> None:
    """Each user's own folder in the files bucket, reached directly with identity-pool credentials."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    todo = ep["apps"]["todo"]
    bucket = todo["buckets"]["files"]
    ci = boto3.client("cognito-identity", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"])
    provider = todo["user_pools"]["users"]["issuer"].split("://", 1)[1]
    s3: dict[str, Any] = {}
    ids: dict[str, str] = {}

    def credentials(name: str) -> None:
        logins = {provider: tokens[name]["IdToken"]}
        ids[name] = ci.get_id(IdentityPoolId=todo["identity_pool_id"], Logins=logins)["IdentityId"]
        c = ci.get_credentials_for_identity(IdentityId=ids[name], Logins=logins)["Credentials"]
        s3[name] = boto3.client("s3", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"],
                                aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretKey"],
                                aws_session_token=c["SessionToken"], config=Config(s3={"addressing_style": "path"}))
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


def _paginate(api: HttpsJson, token: str, ids: list[str]) -> None:
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


def run_demo(apps_dir: Path | None = None, keep: bool = False) -> int:
    apps_dir = apps_dir or Path("apps")
    if not (apps_dir / "todo" / "app.py").is_file():
        raise StratusError(f"no apps/todo under {apps_dir.resolve()}; run from the repository root or pass --apps-dir")
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-demo-"))
    tour = Tour()
    system = None
    try:
        print(f"starting a fresh system in {data_dir}")
        system = tour.step("stratus up: HTTPS with a new local CA, ready to serve",
                           lambda: RunningSystem.start(data_dir, [apps_dir / "todo"]))
        if system is not None:
            _todo_tour(tour, system)
    finally:
        if system is not None:
            system.stop()
        if keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n{tour.passed} passed, {tour.failed} failed")
    return 1 if tour.failed else 0
