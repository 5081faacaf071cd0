"""The local provider's composition root: app graphs onto embedded engines, served behind one front door.

``LocalRuntime`` takes loaded apps and a data dir. The services a data dir holds once (the
object store and its S3 endpoint, the user pools' and identity pools' stores and wire
protocols, the REST API router) are made first; then every declared resource is built by its
kind's module (``stratus.local.kinds``), each on demand of what depends on it. A kind or option
without a local engine stops the start-up with ``UnsupportedFeature``, naming it.

Everything is served on one origin (``FrontDoor``): the apps' REST APIs under ``/_api/``,
operations under ``/_stratus/``, Cognito's JSON protocols by ``X-Amz-Target``, each user pool's
OIDC discovery under its id, and S3 (path style) for the rest.
"""

from __future__ import annotations

import dataclasses
import functools
import pkgutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..clock import Clock
from ..endpoints import app_entry
from ..errors import NotFound, UnsupportedFeature
from ..graph import App, Resource
from ..ports.mailer import Mailer
from ..registry import OnDemand, kind_module
from . import kinds as kind_modules
from .events.delivery import Subscription
from .events.log import EventLog, keep_pruned
from .events.replication import Replication
from .frontdoor import FrontDoor
from .operator import Operations
from .protocols.principals import Credentials
from .services.apigateway.router import Gateways
from .services.cloudfront.edge import Edge
from .services.cognito_identity.model import IdentityStore
from .services.cognito_identity.wire import CognitoIdentityWire
from .services.cognito_idp.model import UserPoolStore
from .services.cognito_idp.wire import CognitoIdpWire
from .services.s3.lifecycle import sweep_lifecycle
from .services.s3.model import ObjectStore
from .services.s3.wire import S3Endpoint

D = TypeVar("D", bound=Resource)
E = TypeVar("E")


class LocalKind(Generic[D, E]):
    """How the local provider runs one kind of resource."""

    stats_group: str | None = None  # the key its figures go under in an app's stats (None: it has none)

    def build(self, app: AppEngines, decl: D) -> E:
        """The running engine of ``decl``."""
        raise NotImplementedError

    def port(self, app: AppEngines, decl: D, engine: E) -> Any:
        """What a handler that declares ``decl`` in ``uses`` gets from its context."""
        raise UnsupportedFeature(f"{decl!r}: handlers cannot use {decl.kind} resources (take it out of uses=[...])")

    def facts(self, engine: E) -> Any:
        """What the endpoints document says of it (see ``Resource.endpoints_group``); None: nothing."""
        return None

    def stats(self, engine: E) -> dict[str, Any] | None:
        """Its figures for ``stratus stats``; None: none to show."""
        return None


def local_kind(kind: str) -> LocalKind[Any, Any]:
    """The local provider's module for ``kind`` (``stratus.local.kinds.<kind>``); ``UnsupportedFeature`` when there is
    none."""
    found: LocalKind[Any, Any] = kind_module("stratus.local.kinds", kind, "the local provider has no engine for {kind} resources")
    return found


@functools.cache
def stats_groups() -> tuple[str, ...]:
    """Every group of figures a kind of the registry gives (``apis``, ``table_caches``)."""
    found = (local_kind(m.name).stats_group for m in pkgutil.iter_modules(kind_modules.__path__))
    return tuple(sorted(g for g in found if g is not None))


@dataclass(frozen=True)
class Options:
    """What ``stratus up``'s switches turn off (for load tests and comparisons)."""

    table_cache: bool = True
    api_cache: bool = True
    throttle: bool = True


class Services:
    """What a data dir holds once, whatever the apps: the stores, and the endpoints that speak AWS's protocols."""

    def __init__(self, data_dir: Path, endpoint: str, clock: Clock, region: str) -> None:
        # a pool of threads per kind of work: a burst of one (sign-ins, big copies) never starves another
        self.pools = {"s3": ThreadPoolExecutor(4, thread_name_prefix="s3"),
                      "cognito-idp": ThreadPoolExecutor(2, thread_name_prefix="cognito-idp"),  # argon2: slow by design
                      "cognito-identity": ThreadPoolExecutor(2, thread_name_prefix="cognito-identity")}
        self.credentials = Credentials(data_dir)
        self.objects = ObjectStore(data_dir / "s3", clock)
        # the store's events, for triggers (and pruned as any log's are)
        self.object_events = EventLog(self.objects.db, "event_log", owned=False, restore=ObjectStore.restore_event)
        self.objects.committed = lambda bucket: self.object_events.notify(f"bucket:{bucket}")
        self.s3 = S3Endpoint(self.objects, self.credentials, clock, region, self.pools["s3"])
        self.userpools = UserPoolStore(data_dir / "userpools.db")
        self.cognito_idp = CognitoIdpWire(self.credentials, clock, region)
        self.identities = IdentityStore(data_dir, self.credentials)
        self.cognito_identity = CognitoIdentityWire(self.identities)
        self.apigateway = Gateways(endpoint)


class AppEngines:
    """One app's running resources, each built by its kind when first asked for."""

    def __init__(self, app: App, runtime: LocalRuntime) -> None:
        self.app, self.name, self.runtime = app, app.name, runtime
        self._engines = OnDemand(app, lambda r: local_kind(r.kind).build(self, r))
        self._shared: dict[str, Any] = {}

    @property
    def engines(self) -> dict[Resource, Any]:
        return self._engines.made

    def engine(self, resource: Resource, what: str = "") -> Any:
        """The running engine of a resource this app declares (built now if it is not yet); ``what`` names the
        reference for the error when the app does not declare it."""
        return self._engines.get(resource, what)

    def port(self, resource: Resource, what: str = "", region: str | None = None) -> Any:
        """What a handler that declares ``resource`` in ``uses`` gets (a handler in ``region``, of an app with
        global tables: that region's replica of each)."""
        engine = self.engine(resource, what)
        if region is not None and region != self.home_region:
            replica = self.replication.port(resource, region)
            if replica is not None:
                return replica
        return local_kind(resource.kind).port(self, resource, engine)

    @property
    def home_region(self) -> str | None:
        """Where the app's stack is (its global tables' first region); None when it has no global table."""
        return self.app.regions[0] if self.app.regions else None

    @property
    def replication(self) -> Replication:
        """The app's global tables across its regions (made when first asked for)."""
        found: Replication = self.shared("replication", lambda: Replication(
            self.name, self.app.regions, self.runtime.clock,
            self.runtime.data_dir / "apps" / self.name / "regions" / "paused.json"))
        return found

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """A value several of the app's engines share (one tables database), made by the first to ask."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    def facts(self, resource: Resource) -> Any:
        return local_kind(resource.kind).facts(self.engines[resource])

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {group: {} for group in stats_groups()}  # one shape for every app
        out["regions"] = self.replication.stats() if self.app.regions else {}
        for region, figures in out["regions"].items():  # what each region's APIs served
            gateways = self.runtime.services.apigateway.of(self.name, None if region == self.home_region else region)
            figures["apis"] = {api: gw.stats() for api, gw in gateways.items()}
        for resource, engine in self.engines.items():
            kind = local_kind(resource.kind)
            if kind.stats_group is not None:
                group = out.setdefault(kind.stats_group, {})
                figures = kind.stats(engine)
                if figures is not None:
                    group[resource.name] = figures
        return out


class LocalRuntime:
    def __init__(self, apps: list[App], data_dir: Path, *, endpoint: str, clock: Clock, mailer: Mailer,
                 region: str = "us-east-1", workers: int = 8, options: Options | None = None) -> None:
        self.data_dir, self.endpoint, self.clock, self.mailer, self.region = data_dir, endpoint, clock, mailer, region
        self.options = options or Options()
        names = [a.name for a in apps]
        if len(set(names)) != len(names):
            raise UnsupportedFeature(f"two apps share a name: {names}")
        for app in apps:  # refuse the whole start-up before anything is built or written
            for r in app.resources.values():
                try:
                    local_kind(r.kind)
                except UnsupportedFeature as exc:
                    raise UnsupportedFeature(f"app {app.name!r} declares {r!r}: {exc}") from None
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler")  # the apps' handlers
        self.services = Services(data_dir, endpoint, clock, region)
        self.frontdoor = FrontDoor(self.services.s3)
        self.frontdoor.mount("_api", self.services.apigateway)
        self.subscriptions: dict[str, Subscription] = {}  # every trigger's delivery, by "<app>/<trigger>"
        self.edges: dict[str, Edge] = {}  # every distribution's edge, by "<app>/<distribution>"
        self.frontdoor.mount("_stratus", Operations(self.stats, self.flush, lambda: sorted(self.apps), clock,
                                                    self.services.credentials.operator_token, endpoint, self))
        self.frontdoor.serve_json(self.services.cognito_idp, self.services.pools["cognito-idp"])
        self.frontdoor.serve_json(self.services.cognito_identity, self.services.pools["cognito-identity"])
        self.frontdoor.on_shutdown.append(self.close)
        self.frontdoor.background.append(lambda: sweep_lifecycle(self.services.objects, clock,
                                                                  self.services.pools["s3"]))
        self.frontdoor.background.append(lambda: keep_pruned(self.services.object_events, clock,
                                                             self.services.pools["s3"]))
        self.apps: dict[str, AppEngines] = {}
        for app in apps:
            engines = self.apps[app.name] = AppEngines(app, self)
            for r in app.resources.values():
                engines.engine(r)

    def start(self, sub: Subscription) -> None:
        """Run a subscription (a trigger's, a replication link's) with the system: listed, started, stopped."""
        self.subscriptions[sub.key] = sub
        self.frontdoor.background.append(sub.run)
        self.frontdoor.on_shutdown.append(sub.close)

    # -- what clients are told

    def endpoints(self, ca_file: Path) -> dict[str, Any]:
        """The document clients read to find everything (``endpoints.json``)."""
        admin = self.services.credentials.admin
        return {"region": self.region, "ca_file": str(ca_file), "aws_endpoint": self.endpoint,
                "admin_credentials": {"access_key_id": admin.access_key_id,
                                      "secret_access_key": admin.secret_access_key},
                "operator_token": self.services.credentials.operator_token,
                "apps": {name: app_entry(a.app, a.facts, self._regional_apis(a)) for name, a in self.apps.items()},
                "app_dirs": {name: str(a.app.folder) for name, a in self.apps.items() if a.app.folder is not None}}

    def _regional_apis(self, app: AppEngines) -> dict[str, dict[str, str]]:
        """Each region's base URL of each of the app's REST APIs (none for an app of one region)."""
        gateways = self.services.apigateway
        return {region: {api: gw.base_url for api, gw in gateways.of(app.name, None if region == app.home_region
                                                                       else region).items()}
                for region in app.app.regions}

    # -- operations

    def stats(self) -> dict[str, Any]:
        """Per app: each REST API's requests, latency, throttling and response cache; each table cache."""
        return {"apps": {name: a.stats() for name, a in self.apps.items()}}

    def flush(self, app: str | None = None) -> dict[str, int]:
        """Empty the stage caches (of one app, or all): how many answers each API had cached."""
        if app and app not in self.apps:
            raise NotFound(f"no app named {app!r} is running (running: {', '.join(sorted(self.apps))})")
        return self.services.apigateway.flush(app)

    def _triggers(self, app: str | None, trigger: str | None = None) -> list[Subscription]:
        if app is not None and app not in self.apps:
            raise NotFound(f"no app named {app!r} is running (running: {', '.join(sorted(self.apps))})")
        found = [s for s in self.subscriptions.values() if (app is None or s.app == app)
                 and (trigger is None or s.name == trigger.replace("_", "-").lower())]
        if trigger is not None and not found:
            names = sorted(f"{s.app}/{s.name}" for s in self.subscriptions.values() if app in (None, s.app))
            where = f"app {app!r} has no" if app is not None else "no app has a"
            raise NotFound(f"{where} trigger named {trigger!r} (triggers: {', '.join(names) or 'none'})")
        return found

    def dead_letters(self, app: str | None = None) -> list[dict[str, Any]]:
        """The dead letters of every trigger (of one app), oldest first per trigger."""
        return [{"app": s.app, **d} for s in self._triggers(app) for d in s.dead_letters()]

    def redrive(self, app: str, trigger: str, ids: list[int] | None = None) -> int:
        """Send a trigger's dead letters (all, or those named: each must be one of its dead letters) again; how
        many."""
        subs = self._triggers(app, trigger)
        if ids is not None:
            held = {d["id"] for s in subs for d in s.dead_letters()}
            missing = sorted(set(ids) - held)
            if missing:
                raise NotFound(f"trigger {app}/{trigger} has no dead letter {', '.join(map(str, missing[:10]))} "
                               "(`stratus dead-letters` lists them)")
        return sum(s.redrive(ids) for s in subs)

    def invocations(self, app: str | None = None, trigger: str | None = None, since: float = 0.0
                    ) -> list[dict[str, Any]]:
        """The recent calls of the triggers' handlers (of one app, one trigger), since ``since``, oldest first."""
        calls = [(s.app, c) for s in self._triggers(app, trigger) for c in s.recent if c.started >= since]
        return [{"app": a, **dataclasses.asdict(c)} for a, c in sorted(calls, key=lambda ac: ac[1].started)]

    def replication(self, app: str, region: str, paused: bool) -> dict[str, Any]:
        """Cut (``paused``) or heal replication into and out of one region of an app's global tables; the app's
        regions as they now are."""
        engines = self.apps.get(app)
        if engines is None:
            raise NotFound(f"no app named {app!r} is running (running: {', '.join(sorted(self.apps))})")
        if not engines.app.regions:
            raise NotFound(f"app {app!r} has no global table, so no regions to pause or resume")
        (engines.replication.pause if paused else engines.replication.resume)(region)
        return {"regions": engines.replication.stats()}

    def invalidate(self, app: str, distribution: str, paths: list[str]) -> dict[str, Any]:
        """Drop ``paths`` (CloudFront invalidation paths) from a distribution's cache, at once; the invalidation."""
        if app not in self.apps:
            raise NotFound(f"no app named {app!r} is running (running: {', '.join(sorted(self.apps))})")
        edge = self.edges.get(f"{app}/{distribution}")
        if edge is None:
            names = sorted(k.split("/", 1)[1] for k in self.edges if k.startswith(f"{app}/"))
            raise NotFound(f"app {app!r} has no distribution named {distribution!r} (distributions: "
                           f"{', '.join(names) or 'none'})")
        return edge.invalidation(paths)

    def close(self) -> None:
        """Let running handlers finish, then stop the pools (on shutdown)."""
        for pool in (self.executor, *self.services.pools.values()):
            pool.shutdown(wait=True, cancel_futures=False)
