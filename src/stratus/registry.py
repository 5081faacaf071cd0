"""How each provider finds its module for a kind of resource, and builds an app's resources in dependency order.

A provider's registry is a package (``stratus.local.kinds``, ``stratus.aws.runtime.kinds``,
``stratus.aws.deploy.kinds``) holding ``<kind>.py`` for each kind it supports, each defining
``KIND``. Finding one is importing it: no list to keep, and a kind a provider lacks is refused
with ``UnsupportedFeature`` naming it, never half-run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnsupportedFeature
from .graph import App, Resource

V = TypeVar("V")


def kind_module(package: str, kind: str, lacking: str) -> Any:
    """``package``'s ``KIND`` for ``kind``; ``lacking`` (with ``{kind}`` in it) says what a missing one means."""
    if not kind.isidentifier() or not kind.islower():
        raise UnsupportedFeature(f"{kind!r} is not a resource kind")
    name = f"{package}.{kind}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise UnsupportedFeature(lacking.format(kind=repr(kind))) from None
    return module.KIND


class OnDemand(Generic[V]):
    """An app's declared resources, each made by ``make`` once, when first asked for.

    A kind's module asks for what its resource depends on (``get(decl.user_pool)``), which is made
    first, so the order an app declares things in does not matter; a resource the app does not
    declare, or one that depends on itself, is refused.
    """

    def __init__(self, app: App, make: Callable[[Resource], V]) -> None:
        self.app, self.make = app, make
        self.made: dict[Resource, V] = {}
        self._making: set[Resource] = set()

    def get(self, resource: Resource, what: str = "") -> V:
        """What ``resource`` became, made now if it is not yet; ``what`` names the reference for the refusal."""
        if resource in self.made:
            return self.made[resource]
        if self.app.resource(resource.kind, resource.name) is not resource:
            raise ConfigError(f"{what or repr(resource)} is not declared in app {self.app.name!r}")
        if resource in self._making:
            raise ConfigError(f"app {self.app.name!r}: {resource!r} depends on itself")
        self._making.add(resource)
        try:
            self.made[resource] = self.make(resource)
        finally:
            self._making.discard(resource)
        return self.made[resource]
