"""The local provider's registry of resource kinds: one module per kind, named after it.

``stratus.local.kinds.<kind>`` (the kind as the graph names it: ``table``, ``user_pool``, ...)
defines ``KIND``, a ``LocalKind``: how a declared resource of the kind is built on the local
engines, what a handler that uses it gets (``port``), what the endpoints document says of it
(``facts``), and its figures for ``stratus stats``. The runtime asks this registry and nothing
else: it holds no list of kinds and no chain of ``isinstance`` checks, and a kind without a
module here stops ``stratus up`` with ``UnsupportedFeature`` naming it.

A kind's ``build`` asks the app for the engines of the resources it depends on
(``app.engine(declared.user_pool)``), so engines are built in the order their dependencies
demand, whatever order the app declared them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ...errors import UnsupportedFeature
from ...graph import Resource
from ...registry import kind_module

if TYPE_CHECKING:
    from ..runtime import AppEngines

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
        raise UnsupportedFeature(f"{decl!r}: handlers cannot use {decl.kind} resources (declare it in no uses=[...])")

    def facts(self, engine: E) -> Any:
        """What the endpoints document says of it (see ``Resource.endpoints_group``); None: nothing."""
        return None

    def stats(self, engine: E) -> dict[str, Any] | None:
        """Its figures for ``stratus stats``; None: none to show."""
        return None


def local_kind(kind: str) -> LocalKind[Any, Any]:
    """The local provider's module for ``kind``; ``UnsupportedFeature`` when there is none."""
    found: LocalKind[Any, Any] = kind_module(__name__, kind, "the local provider has no engine for {kind} resources")
    return found

