"""Testing an app in process: ``TestClient`` runs apps on a fresh data dir with a clock the test moves.

    from stratus.testing import TestClient
    from myapp.app import app

    with TestClient(app) as client:
        alice = client.user("alice@example.com")           # signed up, confirmed with the mailed code, signed in
        r = client.api().post("/todos", json={"title": "milk"}, user=alice)
        assert r.status == 201 and r.json()["title"] == "milk"
        client.clock.advance(301)                          # TTLs, token and code expiry follow the clock
        assert client.mail()[-1].subject == "..."          # what the app mailed
        assert client.deliver() == 1                       # the triggers' waiting events, handled now

Requests go through the same front door, gateway, authorizer, validation and handlers as
``stratus up`` (sync handlers on the same thread pool), only without sockets and TLS, so a
test sees exactly what a client would. Nothing here is imported by the platform itself.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from .clock import ManualClock
from .errors import ConfigError
from .graph import App, Distribution, RestApi, UserPool
from .loader import load_app
from .local.runtime import LocalRuntime, Options
from .local.services.cognito_idp.model import Tokens, UserPoolService
from .local.services.ses.mailers import OutboxEntry, OutboxMailer, latest_code, read_outbox

__all__ = ["ApiClient", "ManualClock", "TestClient", "TestResponse", "TestUser"]

ENDPOINT = "https://stratus.test"
PASSWORD = "Test-Passw0rd-1"


@dataclass(frozen=True)
class TestUser:
    """A confirmed, signed-in user of a user pool, with their tokens."""

    __test__ = False  # not a test class, for pytest

    email: str
    sub: str
    access_token: str
    id_token: str
    refresh_token: str


@dataclass
class TestResponse:
    __test__ = False  # not a test class, for pytest
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes] = field(default_factory=list)  # the body as it was sent, piece by piece

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()


class ApiClient:
    """Calls one REST API of a ``TestClient``'s apps, by path below the API's base URL."""

    def __init__(self, client: TestClient, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.client, self.base_path, self.port = client, parts.path, parts.port or 443

    def request(self, method: str, path: str, *, json: Any = None, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, query: dict[str, Any] | None = None,
                user: TestUser | None = None) -> TestResponse:
        """``json`` is sent as the JSON body (``body`` as raw bytes); ``user`` signs the request with their
        access token."""
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        if json is not None:
            body = orjson.dumps(json)
            sent.setdefault("content-type", "application/json")
        if user is not None:
            sent.setdefault("authorization", f"Bearer {user.access_token}")
        raw = body.encode() if isinstance(body, str) else (body or b"")
        return self.client.request(method, self.base_path + path, raw, sent, urlencode(query or {}, doseq=True),
                                   port=self.port)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.request("DELETE", path, **kw)


class TestClient:
    """Apps (``App`` objects or app folders) running in this process on a fresh data dir."""

    __test__ = False  # not a test class, for pytest

    def __init__(self, *apps: App | Path | str, data_dir: Path | None = None, table_cache: bool = True,
                 api_cache: bool = True, throttle: bool = True) -> None:
        if not apps:
            raise ConfigError("TestClient needs at least one app")
        self.apps = [a if isinstance(a, App) else load_app(Path(a)) for a in apps]
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="stratus-test-"))
        self.clock = ManualClock()
        self.outbox = self.data_dir / "outbox"
        try:
            self.runtime = LocalRuntime(self.apps, self.data_dir, endpoint=ENDPOINT, clock=self.clock,
                                        mailer=OutboxMailer(self.outbox, self.clock),
                                        options=Options(table_cache, api_cache, throttle))
        except BaseException:
            if self._own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        for n, (_, edge) in enumerate(sorted(self.runtime.edges.items()), start=1):  # each its own port, as served
            edge.url = f"{ENDPOINT}:{8443 + n}"
            self.runtime.frontdoor.serve_port(8443 + n, edge)
        self._loop = asyncio.new_event_loop()

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.runtime.close()
        self._loop.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- what the apps declare

    def _app(self, app: str | None) -> Any:
        if app is None and len(self.runtime.apps) == 1:
            return next(iter(self.runtime.apps.values()))
        if app not in self.runtime.apps:
            raise ConfigError(f"name the app: one of {', '.join(sorted(self.runtime.apps))}")
        return self.runtime.apps[app]

    def _one(self, app: str | None, cls: type, name: str | None) -> Any:
        engines = self._app(app)
        found = [r for r in engines.app.of_kind(cls) if name in (None, r.name)]
        if len(found) != 1:
            raise ConfigError(f"app {engines.name!r} declares {len(found)} {cls.__name__} matching {name!r}; "
                              "name the one you mean")
        return engines.engine(found[0])

    def api(self, name: str | None = None, *, app: str | None = None, region: str | None = None) -> ApiClient:
        """A client for a REST API (the app's only one unless named); of an app with global tables, as it is served
        in ``region`` (default: its home region)."""
        gateway = self._one(app, RestApi, name)
        engines = self._app(app)
        if region is None or region == engines.home_region:
            return ApiClient(self, gateway.base_url)
        if region not in engines.app.regions:
            raise ConfigError(f"app {engines.name!r} is not served in {region!r} (its regions: "
                              f"{', '.join(engines.app.regions) or 'only its own, with no global table'})")
        return ApiClient(self, self.runtime.services.apigateway.url(engines.name, gateway.api, region))

    def distribution(self, name: str | None = None, *, app: str | None = None) -> ApiClient:
        """A client for a distribution's edge (the app's only one unless named), by path from its root: its cache,
        behaviors and origins as ``stratus up`` serves them, answers with ``x-cache`` and the rest."""
        edge = self._one(app, Distribution, name)
        return ApiClient(self, edge.url)

    def user_pool(self, name: str | None = None, *, app: str | None = None) -> UserPoolService:
        """A running user pool (the app's only one unless named), for what a test needs beyond ``user``."""
        pool: UserPoolService = self._one(app, UserPool, name)
        return pool

    def user(self, email: str | None = None, password: str = PASSWORD, *, pool: str | None = None,
             app: str | None = None, groups: tuple[str, ...] = ()) -> TestUser:
        """A new user of a user pool: signed up, confirmed with the code the pool mailed, put in ``groups`` (as an
        operator would), and signed in."""
        users = self.user_pool(pool, app=app)
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        client_id = next(iter(users.clients.values()))
        sub = users.sign_up(client_id, email, password, {}).sub
        users.confirm_sign_up(client_id, email, latest_code(self.outbox, email))
        for group in groups:
            users.admin_group_member(email, group, True)
        tokens = users.password_auth(client_id, email, password)
        assert isinstance(tokens, Tokens) and tokens.refresh_token is not None, "the pool asks for MFA at sign-in"
        return TestUser(email, sub, tokens.access_token, tokens.id_token, tokens.refresh_token)

    def deliver(self) -> int:
        """Hand every trigger (and replication between regions) the events waiting for it that are due now, as
        ``stratus up`` does in the background, and what those calls make due, until nothing is; how many calls were
        made. A failed event is due again after its backoff: ``clock.advance(...)`` and ``deliver()`` again;
        ``dead_letters()`` holds those whose attempts ran out."""
        async def drain() -> int:
            made = 0
            while n := sum(await asyncio.gather(*(s.drain() for s in self.runtime.subscriptions.values()))):
                made += n
            return made
        return self._loop.run_until_complete(drain())

    def dead_letters(self, app: str | None = None) -> list[dict[str, Any]]:
        """The triggers' dead letters (of one app), as ``stratus dead-letters --json`` lists them."""
        return self.runtime.dead_letters(app)

    def mail(self) -> list[OutboxEntry]:
        """What the apps mailed, oldest first."""
        return read_outbox(self.outbox)

    # -- one request through the front door

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                query: str = "", port: int = 443) -> TestResponse:
        """One request through the front door (on ``port``: a distribution's, or the system's own)."""
        return self._loop.run_until_complete(self._request(method.upper(), path, body, headers or {}, query, port))

    async def _request(self, method: str, path: str, body: bytes, headers: dict[str, str],
                       query: str, port: int = 443) -> TestResponse:
        raw_path = quote(path, safe="/%:@!$&'()*+,;=-._~")
        hdrs = [(b"host", urlsplit(ENDPOINT).netloc.encode()), (b"content-length", str(len(body)).encode())]
        hdrs += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "https", "path": path, "raw_path": raw_path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": hdrs, "client": ("127.0.0.1", 50000), "server": ("stratus.test", port)}
        sent = False
        out = TestResponse(0, {}, b"")

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out.status = message["status"]
                out.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body" and message.get("body"):
                out.chunks.append(message["body"])
        await self.runtime.frontdoor(scope, receive, send)
        out.body = b"".join(out.chunks)
        return out
