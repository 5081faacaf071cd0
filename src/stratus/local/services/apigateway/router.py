"""Every REST API of the running apps, each below ``/_api/<app>/<api>``: one dispatch by (app, api).

An app with global tables serves its APIs in each region too: the home region's at ``/_api/<app>/<api>``, each
other's at ``/_api/<app>@<region>/<api>``."""

from __future__ import annotations

from urllib.parse import unquote

from ....errors import NotFound
from ....graph import RestApi
from ...infra.asgi import Receive, Scope, Send
from .gateway import Gateway

PREFIX = "/_api/"


class Gateways:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.by_name: dict[tuple[str, str], Gateway] = {}

    @staticmethod
    def _where(app: str, region: str | None) -> str:
        """What names an app's APIs in their path: the app, in a region other than its home ``app@region``."""
        return f"{app}@{region}" if region else app

    def url(self, app: str, api: RestApi, region: str | None = None) -> str:
        """The base URL of ``api`` of ``app`` (in ``region``, other than the app's home region)."""
        return f"{self.endpoint}{PREFIX}{self._where(app, region)}/{api.name}"

    def add(self, app: str, api: str, gateway: Gateway, region: str | None = None) -> None:
        self.by_name[(self._where(app, region), api)] = gateway

    def of(self, app: str, region: str | None = None) -> dict[str, Gateway]:
        """The gateways of ``app``'s APIs (in ``region``, other than its home region), by API name."""
        where = self._where(app, region)
        return {api: gw for (name, api), gw in self.by_name.items() if name == where}

    def flush(self, app: str | None = None) -> dict[str, int]:
        """Empty the stage caches (of one app, or all): how many answers each API (``app/api``) had cached."""
        done = {}
        for (name, api), gw in self.by_name.items():
            if app in (None, "", name.split("@")[0]) and gw.cache is not None:
                done[f"{name}/{api}"] = gw.cache.flush()
        return done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        app_raw, _, rest = raw[len(PREFIX):].partition("/")
        api_raw, _, sub = rest.partition("/")
        app, api = unquote(app_raw), unquote(api_raw)
        gw = self.by_name.get((app, api))
        if gw is None:
            raise NotFound(f"no REST API at {PREFIX}{app}/{api}")
        await gw(scope, receive, send, "/" + sub)
