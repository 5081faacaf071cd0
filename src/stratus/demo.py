"""``stratus demo``: a system toured the way a client uses it, locally or on AWS.

Each step is what a mobile client would do, with the client it would use:
boto3's ``cognito-idp`` for the user pool, ``cognito-identity`` and ``s3`` for
the user's own folder in object storage, plain HTTPS for the REST API. A step
passes only if the answer is the one AWS would give; the tour prints each step
with its latency and exits non-zero if any failed.

By default the tour starts a fresh local system and stops it afterwards. Given
an endpoints file it tours a system that is already running instead: the
``endpoints.json`` a ``stratus up`` writes into its data dir, or the one a
deployment to AWS writes. The tour is the same for both; what differs is
gathered in one ``Target`` built from that file, which the tour asks for its
clients and for the steps that confirm a sign-up:

- locally, clients go to the system's endpoint and trust only its CA, S3 is
  addressed path-style, a sign-up is confirmed with the code read from the mail
  outbox, and the gateway tells a cache hit by its ``x-stratus-cache`` header;
- on AWS, clients use AWS's own endpoints and the system trust store, a sign-up
  is confirmed by the caller as an admin (``AdminConfirmSignUp``, with their
  ambient AWS credentials), API Gateway does not show its cache, and the tour
  deletes its users at the end so a deployment keeps none.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ._https import HttpsJson
from .errors import StratusError
from .local.mail import latest_code
from .local.system import RunningSystem

PASSWORD = "Demo-Passw0rd"

Step = tuple[str, Callable[[], Any]]  # a title and what the step does


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


# -- where the tour runs


@dataclass(frozen=True)
class TodoEndpoints:
    """What the tour needs to know of the todo app, read from an endpoints file."""

    api: str
    user_pool_id: str
    client_id: str
    identity_pool_id: str
    login_provider: str  # the identity pool's key for the user pool: its issuer without the scheme
    bucket: str


class _Invalid(Exception):
    """An endpoints document without a field the tour needs (the field's dotted path)."""


def _field(doc: Any, path: str) -> Any:
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise _Invalid(path)
        node = node[key]
    return node


def _text(doc: Any, path: str) -> str:
    value = _field(doc, path)
    if not isinstance(value, str) or not value:
        raise _Invalid(path)
    return value


def _todo_endpoints(doc: dict[str, Any]) -> TodoEndpoints:
    todo = doc["apps"]["todo"]
    pool_id = _text(todo, "user_pool_id")
    pools = _field(todo, "user_pools")
    matching = [p for p in pools.values() if isinstance(p, dict) and p.get("id") == pool_id] \
        if isinstance(pools, dict) else []
    if not matching:
        raise _Invalid(f"user_pools (one with id {pool_id})")
    return TodoEndpoints(api=_text(todo, "api"), user_pool_id=pool_id, client_id=_text(todo, "user_pool_client_id"),
                         identity_pool_id=_text(todo, "identity_pool_id"),
                         login_provider=_text(matching[0], "issuer").split("://", 1)[-1], bucket=_text(todo, "buckets.files"))


@dataclass(frozen=True)
class Target:
    """A running system the tour walks, and the few ways a local one and one on AWS differ.

    Each field is one decision, made once from the endpoints document; the tour
    reads them through ``client``, ``confirmation`` and ``cleanup`` and never
    asks which kind of system it is on.
    """

    where: str                # what the tour's header says it is touring
    region: str
    todo: TodoEndpoints
    endpoint_url: str | None  # every service's endpoint; None: AWS's own endpoints
    ca_file: str | None       # the CA to trust; None: the system trust store
    s3_path_style: bool       # path-style S3 addressing (one local host); else boto3's default, virtual-hosted
    outbox: Path | None       # where confirmation codes are mailed; None: confirm sign-ups as an admin
    cache_header: str | None  # the API response header that tells a cache hit; None: the cache is not observable
    delete_users: bool        # delete the tour's users at the end, so a deployment keeps no demo users

    @classmethod
    def load(cls, path: Path) -> Target:
        """The target an endpoints file describes; a ``StratusError`` saying what is wrong if it cannot be used."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise StratusError(f"no endpoints file at {path}; start a system with `stratus up` (or deploy one) "
                               "first") from None
        except OSError as exc:
            raise StratusError(f"cannot read the endpoints file {path}: {exc.strerror or exc}") from exc
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StratusError(f"{path} is not an endpoints file: not JSON ({exc})") from exc
        return cls.from_endpoints(doc, path)

    @classmethod
    def from_endpoints(cls, doc: Any, path: Path) -> Target:
        """The target ``doc`` describes; ``path`` is where it was read (a local system's outbox is beside it)."""
        if not isinstance(doc, dict):
            raise StratusError(f"{path} is not an endpoints file: not a JSON object")
        apps = doc.get("apps")
        if not isinstance(apps, dict) or not isinstance(apps.get("todo"), dict):
            names = ", ".join(sorted(apps)) if isinstance(apps, dict) and apps else "none"
            raise StratusError(f"{path} describes no todo app (apps: {names}); the demo tours apps/todo")
        try:
            if doc.get("provider") == "aws":
                return cls._aws(doc)
            if "provider" in doc:
                raise StratusError(f"{path} is for provider {doc['provider']!r}; the demo knows local and aws")
            if "aws_endpoint" not in doc:
                raise StratusError(f"{path} is neither a local endpoints file (with aws_endpoint) nor an AWS one "
                                   "(with provider: aws)")
            return cls._local(doc, path)
        except _Invalid as exc:
            raise StratusError(f"{path} is not a usable endpoints file: it has no {exc}") from None

    @classmethod
    def _local(cls, doc: dict[str, Any], path: Path) -> Target:
        ca_file = _text(doc, "ca_file")
        if not Path(ca_file).is_file():
            raise StratusError(f"{path} names the CA file {ca_file}, which is gone; is the system still up?")
        endpoint = _text(doc, "aws_endpoint")
        return cls(where=f"the local system at {endpoint}", region=_text(doc, "region"), todo=_todo_endpoints(doc),
                   endpoint_url=endpoint, ca_file=ca_file, s3_path_style=True, outbox=path.parent / "outbox",
                   cache_header="x-stratus-cache", delete_users=False)

    @classmethod
    def _aws(cls, doc: dict[str, Any]) -> Target:
        from .aws import check_credentials
        region, todo, stack = _text(doc, "region"), _todo_endpoints(doc), doc.get("stack")
        check_credentials()  # sign-ups are confirmed, and the tour's users deleted, with the caller's credentials
        return cls(where=f"{'stack ' + stack if isinstance(stack, str) else 'a deployment'} on AWS ({region})",
                   region=region, todo=todo, endpoint_url=None, ca_file=None, s3_path_style=False,
                   outbox=None, cache_header=None, delete_users=True)

    def client(self, service: str, **credentials: Any) -> Any:
        """A boto3 client for ``service`` on this target, with the ``aws_*`` credentials given, if any."""
        import boto3
        from botocore.config import Config

        opts: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url is not None:
            opts["endpoint_url"] = self.endpoint_url
        if self.ca_file is not None:
            opts["verify"] = self.ca_file
        if service == "s3" and self.s3_path_style:
            opts["config"] = Config(s3={"addressing_style": "path"})
        return boto3.client(service, **opts, **credentials)

    def api(self) -> HttpsJson:
        """An HTTPS client for the todo app's REST API."""
        return HttpsJson(self.todo.api, self.ca_file)

    def confirmation(self, idp: Any, who: str, email: str) -> list[Step]:
        """The steps that confirm ``email``'s sign-up: with the mailed code, or as an admin where no mail is read."""
        if self.outbox is None:
            return [(f"{who}: confirm the sign-up as an admin, with your AWS credentials (AdminConfirmSignUp)",
                     lambda: idp.admin_confirm_sign_up(UserPoolId=self.todo.user_pool_id, Username=email))]
        outbox = self.outbox
        codes: list[str] = []
        return [(f"{who}: read the confirmation code from the mail outbox",
                 lambda: codes.append(latest_code(outbox, email))),
                (f"{who}: confirm the sign-up with the code (ConfirmSignUp)",
                 lambda: idp.confirm_sign_up(ClientId=self.todo.client_id, Username=email, ConfirmationCode=codes[-1]))]

    def cleanup(self, idp: Any, emails: list[str]) -> list[Step]:
        """The steps that remove what the tour left behind, where it must not stay."""
        if not self.delete_users or not emails:
            return []

        def delete() -> None:
            for email in emails:
                idp.admin_delete_user(UserPoolId=self.todo.user_pool_id, Username=email)
        return [(f"delete the tour's {len(emails)} users, with your AWS credentials (AdminDeleteUser)", delete)]


# -- the tour


def _todo_tour(tour: Tour, target: Target) -> None:
    from botocore.exceptions import ClientError

    todo = target.todo
    idp = target.client("cognito-idp")
    client_id = todo.client_id
    api = target.api()
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
        for title, fn in target.confirmation(idp, name, email):
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

        _folder_tour(tour, target, tokens)

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
        for title, fn in target.cleanup(idp, signed_up):
            tour.step(title, fn)


def _read_twice(api: HttpsJson, token: Callable[[], str], cache_header: str | None) -> Step:
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


def _folder_tour(tour: Tour, target: Target, tokens: dict[str, dict[str, str]]) -> None:
    """Each user's own folder in the files bucket, reached directly with identity-pool credentials."""
    from botocore.exceptions import ClientError

    todo = target.todo
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


def run_demo(apps_dir: Path | None = None, keep: bool = False, *, endpoints: Path | None = None) -> int:
    """Tour a fresh local system, or (``endpoints``) the running one that file describes; 0 if every step passed.

    ``apps_dir`` and ``keep`` are for the fresh system only: where apps/todo is, and whether to keep its data dir.
    """
    tour = Tour()
    if endpoints is not None:
        target = Target.load(endpoints)
        print(f"touring {target.where}, as {endpoints} describes it")
        _todo_tour(tour, target)
        return _summary(tour)
    apps_dir = apps_dir or Path("apps")
    if not (apps_dir / "todo" / "app.py").is_file():
        raise StratusError(f"no apps/todo under {apps_dir.resolve()}; run from the repository root or pass --apps-dir")
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-demo-"))
    system = None
    try:
        print(f"starting a fresh system in {data_dir}")
        system = tour.step("stratus up: HTTPS with a new local CA, ready to serve",
                           lambda: RunningSystem.start(data_dir, [apps_dir / "todo"]))
        if system is not None:
            _todo_tour(tour, Target.from_endpoints(system.endpoints, data_dir / "endpoints.json"))
    finally:
        if system is not None:
            system.stop()
        if keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return _summary(tour)


def _summary(tour: Tour) -> int:
    print(f"\n{tour.passed} passed, {tour.failed} failed")
    return 1 if tour.failed else 0
