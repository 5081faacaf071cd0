"""The app: one system's name and the resources it declares, in declaration order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError
from ._base import Resource, check_name
from .api import Handler, RestApi
from .auth import IdentityPool, UserPool
from .data import Table
from .messaging import Email
from .storage import Bucket

R = TypeVar("R", bound=Resource)


class App:
    """One system: a name and the resources it declares, in declaration order."""

    def __init__(self, name: str) -> None:
        self.name = check_name("app", name)
        self.resources: dict[str, Resource] = {}
        self.folder: Path | None = None  # where it was loaded from (set by the loader)
        self._handlers: dict[Handler, str] = {}  # shared by its APIs: each handler serves one route

    def add(self, resource: R) -> R:
        key = f"{resource.kind}:{resource.name}"
        if key in self.resources:
            raise ConfigError(f"app {self.name!r}: {resource.kind} {resource.name!r} is declared twice")
        self.resources[key] = resource
        return resource

    def user_pool(self, name: str, **kw: Any) -> UserPool:
        return self.add(UserPool(name, **kw))

    def table(self, name: str, *, partition_key: str | tuple[str, type], sort_key: str | tuple[str, type] | None = None,
              **kw: Any) -> Table:
        return self.add(Table(name, partition_key, sort_key, **kw))  # type: ignore[arg-type]

    def rest_api(self, name: str, **kw: Any) -> RestApi:
        return self.add(RestApi(name, handlers=self._handlers, **kw))

    def bucket(self, name: str) -> Bucket:
        return self.add(Bucket(name))

    def identity_pool(self, name: str, *, user_pool: UserPool, authenticated_policy: dict[str, Any],
                      **kw: Any) -> IdentityPool:
        return self.add(IdentityPool(name, user_pool, authenticated_policy, **kw))

    def email(self, name: str, *, sender: str) -> Email:
        """Sending mail from ``sender``: handlers that declare it in ``uses`` get ``ctx.mailer``."""
        return self.add(Email(name, sender))

    def of_kind(self, cls: type[R]) -> list[R]:
        return [r for r in self.resources.values() if isinstance(r, cls)]

    def resource(self, kind: str, name: str) -> Resource | None:
        """The declared resource of ``kind`` named ``name``, if any."""
        return self.resources.get(f"{kind}:{name}")

    def __repr__(self) -> str:
        return f"<App {self.name!r}: {', '.join(self.resources)}>"
