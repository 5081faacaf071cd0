"""The local provider: wires an app graph onto embedded engines and serves it over one ASGI app.

``LocalRuntime`` takes loaded apps and a data dir and builds, for each declared
resource, the engine that runs it (``ENGINES`` maps each resource kind to its
builder). A kind or option without an engine here stops the start-up with
``UnsupportedFeature``, naming it.

Everything is served on one origin:

    POST /  (X-Amz-Target: AWSCognitoIdentityProviderService.*)   Cognito Identity Provider
    POST /  (X-Amz-Target: AWSCognitoIdentityService.*)           Cognito Identity
    GET  /<user pool id>/.well-known/{jwks.json,openid-configuration}
    *    /_api/<app>/<api>/...                                      the apps' REST APIs
    GET  /_stratus/health | stats, POST /_stratus/cache/flush       operations
    POST /_stratus/clock   {"advance": seconds}                     only with a manual clock
    *    everything else                                            S3 (path style)

Paths under ``/_`` can never be S3 bucket names (no bucket name contains ``_``), nor can
user pool ids (``us-east-1_...``), so path-style S3 takes the rest of the namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from ..app import App, Bucket, IdentityPool, Resource, RestApi, Table, UserPool, bucket_placeholder
from ..clock import Clock, ManualClock
from ..context import Context
from ..errors import BadRequest, HttpError, NotFound, PayloadTooLarge, UnsupportedFeature
from ..ports.mailer import Mailer
from ..ports.table import TablePort
from .buckets import LocalBucket
from .cognito_wire import PREFIX as IDP_PREFIX
from .cognito_wire import CognitoIdpWire
from .dax import CachedTable
from .gateway import Gateway
from .http import Receive, Scope, Send, header, read_body, send_json, send_response
from .identitypool import PREFIX as IDENTITY_PREFIX
from .identitypool import CognitoIdentityWire, CredentialStore, IdentityPoolService
from .objects import ObjectStore
from .s3_wire import S3Endpoint
from .tables import SqliteDatabase, SqliteTable
from .userpool import UserPoolService, UserPoolStore

API_PREFIX = "/_api/"


@dataclass
class AppState:
    app: App
    tables: dict[Table, TablePort] = field(default_factory=dict)
    pools: dict[UserPool, UserPoolService] = field(default_factory=dict)
    gateways: dict[RestApi, Gateway] = field(default_factory=dict)
    buckets: dict[Bucket, str] = field(default_factory=dict)  # declared bucket -> its real name
    identity_pools: dict[IdentityPool, IdentityPoolService] = field(default_factory=dict)
    db: SqliteDatabase | None = None  # the app's tables database, opened with its first table


class LocalRuntime:
    def __init__(self, apps: list[App], data_dir: Path, *, endpoint: str, clock: Clock, mailer: Mailer,
                 region: str = "us-east-1", workers: int = 8, table_cache: bool = True, api_cache: bool = True,
                 throttle: bool = True) -> None:
        self.data_dir, self.endpoint, self.clock, self.mailer, self.region = data_dir, endpoint, clock, mailer, region
        self.table_cache, self.api_cache, self.throttle = table_cache, api_cache, throttle
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler")
        # password hashing is slow by design: it gets threads of its own so sign-ins never starve the APIs
        self.auth_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="auth")
        names = [a.name for a in apps]
        if len(set(names)) != len(names):
            raise UnsupportedFeature(f"two apps share a name: {names}")
        for app in apps:
            for r in app.resources.values():
                if r.kind not in ENGINES:
                    raise UnsupportedFeature(
                        f"app {app.name!r} declares {r!r}: the local provider has no engine for {r.kind!r} resources")
        self.userpool_store = UserPoolStore(data_dir / "userpools.db")
        self.objects = ObjectStore(data_dir / "s3", clock)
        self.credentials = CredentialStore(data_dir)
        self.s3 = S3Endpoint(self.objects, self.credentials, clock, region, self.executor)
        self.apps: dict[str, AppState] = {}
        for app in apps:
            state = AppState(app)
            self.apps[app.name] = state
            order = sorted(app.resources.values(), key=lambda r: list(ENGINES).index(r.kind))
            for r in order:
                ENGINES[r.kind](self, state, r)
        pools = [p for s in self.apps.values() for p in s.pools.values()]
        self.idp = CognitoIdpWire(pools)
        self.identity = CognitoIdentityWire([p for s in self.apps.values() for p in s.identity_pools.values()])
        self.json_services = {IDP_PREFIX: self.idp, IDENTITY_PREFIX: self.identity}
        self.pools_by_id = {p.pool_id: p for p in pools}
        self.gateways = {(name, api.name): gw for name, s in self.apps.items() for api, gw in s.gateways.items()}

    # -- engine builders, one per resource kind

    def _user_pool(self, state: AppState, pool: UserPool) -> None:
        state.pools[pool] = UserPoolService(state.app.name, pool, self.userpool_store, self.data_dir / "keys",
                                            self.mailer, self.clock, self.endpoint, self.region)

    def _table(self, state: AppState, table: Table) -> None:
        if state.db is None:
            state.db = SqliteDatabase(self.data_dir / "apps" / state.app.name / "tables.db")
        port: TablePort = SqliteTable(table, state.db, self.clock)
        if table.cache is not None and self.table_cache:
            port = CachedTable(table, port, table.cache, self.clock)
        state.tables[table] = port

    def _bucket(self, state: AppState, bucket: Bucket) -> None:
        state.buckets[bucket] = self.objects.declared_bucket(state.app.name, bucket.name)

    def _identity_pool(self, state: AppState, pool: IdentityPool) -> None:
        users = state.pools.get(pool.user_pool)
        if users is None:
            raise UnsupportedFeature(f"identity pool {pool.name!r}: its user pool is not declared in app {state.app.name!r}")
        text = orjson.dumps(pool.authenticated_policy).decode()
        for bucket, real in state.buckets.items():
            text = text.replace(bucket_placeholder(bucket.name), real)
        if "<<bucket:" in text:
            raise UnsupportedFeature(f"identity pool {pool.name!r}: its policy names a bucket app "
                                     f"{state.app.name!r} does not declare")
        state.identity_pools[pool] = IdentityPoolService(
            state.app.name, pool, orjson.loads(text), users, self.credentials, self.data_dir / "keys", self.clock,
            self.endpoint, self.region)

    def _rest_api(self, state: AppState, api: RestApi) -> None:
        contexts = {}
        for route in api.routes:
            ports: dict[Resource, Any] = {}
            for r in route.uses:
                if isinstance(r, Table) and r in state.tables:
                    ports[r] = state.tables[r]
                elif isinstance(r, Bucket) and r in state.buckets:
                    ports[r] = LocalBucket(self.objects, state.buckets[r])
                else:
                    raise UnsupportedFeature(f"{route.method} {route.path} uses {r!r}, which handlers cannot use "
                                             f"here (declare it in app {state.app.name!r}; tables and buckets so far)")
            contexts[route] = Context(state.app.name, route.operation_id, ports, self.clock)
        pool = state.pools.get(api.authorizer) if api.authorizer else None
        if api.authorizer is not None and pool is None:
            raise UnsupportedFeature(f"rest api {api.name!r}: its authorizer pool is not declared in the app")
        state.gateways[api] = Gateway(state.app.name, api, contexts, pool.verifier if pool else None,
                                      pool.client_ids if pool else frozenset(), self.executor, self.api_url(state.app, api),
                                      self.clock, cache_enabled=self.api_cache, throttle_enabled=self.throttle)

    # -- addresses

    def api_url(self, app: App, api: RestApi) -> str:
        return f"{self.endpoint}{API_PREFIX}{app.name}/{api.name}"

    def endpoints(self, ca_file: Path) -> dict[str, Any]:
        """The document clients read to find everything (``endpoints.json``)."""
        apps: dict[str, Any] = {}
        for name, state in self.apps.items():
            entry: dict[str, Any] = {}
            apis = {api.name: self.api_url(state.app, api) for api in state.gateways}
            if apis:
                entry["api"] = next(iter(apis.values()))
                entry["apis"] = apis
            pools = list(state.pools.values())
            if state.identity_pools:
                entry["identity_pool_id"] = next(iter(state.identity_pools.values())).pool_id
            if state.buckets:
                entry["buckets"] = {b.name: real for b, real in state.buckets.items()}
            if pools:
                entry["user_pool_id"] = pools[0].pool_id
                entry["user_pool_client_id"] = next(iter(pools[0].clients.values()))
                entry["user_pools"] = {p.decl.name: {"id": p.pool_id, "clients": p.clients, "issuer": p.issuer}
                                       for p in pools}
            apps[name] = entry
        admin = self.credentials.admin
        return {"region": self.region, "ca_file": str(ca_file), "aws_endpoint": self.endpoint,
                "admin_credentials": {"access_key_id": admin.access_key_id,
                                      "secret_access_key": admin.secret_access_key},
                "apps": apps}

    # -- operations

    def stats(self) -> dict[str, Any]:
        """Per app: each REST API's requests, latency, throttling and response cache; each table cache."""
        out: dict[str, Any] = {}
        for name, state in self.apps.items():
            out[name] = {
                "apis": {api.name: gw.stats() for api, gw in state.gateways.items()},
                "table_caches": {t.name: port.stats() for t, port in state.tables.items()
                                 if isinstance(port, CachedTable)},
            }
        return {"apps": out}

    def flush(self, app: str | None = None) -> list[str]:
        """Empty the stage caches (of one app, or all); the names of the APIs flushed."""
        if app and app not in self.apps:
            raise NotFound(f"no app named {app!r} is running (running: {', '.join(sorted(self.apps))})")
        done = []
        for name, state in self.apps.items():
            if app in (None, "", name):
                for api, gw in state.gateways.items():
                    if gw.cache is not None:
                        gw.cache.flush()
                        done.append(f"{name}/{api.name}")
        return done

    # -- the ASGI app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._http(scope, receive, send)
        except HttpError as exc:
            await send_json(send, exc.status, exc.body(), exc.headers)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(API_PREFIX):
            raw = (scope.get("raw_path") or path.encode()).decode("latin-1").split("?", 1)[0]
            app_raw, _, rest = raw[len(API_PREFIX):].partition("/")
            api_raw, _, sub = rest.partition("/")
            app_name, api_name = unquote(app_raw), unquote(api_raw)
            gw = self.gateways.get((app_name, api_name))
            if gw is None:
                raise NotFound(f"no REST API at {API_PREFIX}{app_name}/{api_name}")
            await gw(scope, receive, send, "/" + sub)
            return
        target = header(scope, b"x-amz-target")
        if target is not None and scope["method"] == "POST":
            try:
                body = await read_body(receive, 1024 * 1024, header(scope, b"content-length"))
            except PayloadTooLarge as exc:
                return await send_json(send, 413, {"__type": "RequestEntityTooLargeException", "message": exc.message})
            json_service = self.json_services.get(target.split(".", 1)[0] + ".")
            if json_service is not None:
                loop = asyncio.get_running_loop()
                status, headers, out = await loop.run_in_executor(self.auth_executor, json_service.handle, target, body)
                ctype = headers.pop("content-type")
                await send_response(send, status, out, headers, ctype)
                return
            service = target.split(".", 1)[0]
            await send_json(send, 400, {"__type": "UnknownOperationException",
                                        "message": f"The local endpoint does not serve {service} (target {target})."})
            return
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == ".well-known" and parts[0] in self.pools_by_id:
            pool = self.pools_by_id[parts[0]]
            if parts[2] == "jwks.json":
                return await send_json(send, 200, pool.jwks())
            if parts[2] == "openid-configuration":
                return await send_json(send, 200, pool.openid_configuration())
        if path == "/_stratus/stats" and scope["method"] == "GET":
            return await send_json(send, 200, self.stats())
        if path == "/_stratus/cache/flush" and scope["method"] == "POST":
            return await send_json(send, 200, {"flushed": self.flush(header(scope, b"x-stratus-app"))})
        if path == "/_stratus/health":
            return await send_json(send, 200, {"status": "ok", "apps": sorted(self.apps)})
        if path == "/_stratus/clock" and isinstance(self.clock, ManualClock):
            return await self._clock(scope, receive, send)
        if path.startswith("/_"):
            raise NotFound(f"nothing is served at {path}")
        await self.s3(scope, receive, send)

    async def _clock(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert isinstance(self.clock, ManualClock)
        if scope["method"] == "POST":
            try:
                seconds = orjson.loads(await read_body(receive, 4096, header(scope, b"content-length")))["advance"]
                if not isinstance(seconds, (int, float)) or seconds < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise BadRequest('send {"advance": <seconds >= 0>}') from None
            self.clock.advance(seconds)
        await send_json(send, 200, {"now": self.clock.now()})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=True, cancel_futures=False)
                self.auth_executor.shutdown(wait=True, cancel_futures=False)
                await send({"type": "lifespan.shutdown.complete"})
                return


ENGINES: dict[str, Callable[[LocalRuntime, AppState, Any], None]] = {
    # order matters: pools and tables exist before the APIs that use them
    UserPool.kind: LocalRuntime._user_pool,
    Table.kind: LocalRuntime._table,
    Bucket.kind: LocalRuntime._bucket,
    IdentityPool.kind: LocalRuntime._identity_pool,
    RestApi.kind: LocalRuntime._rest_api,
}
