"""What every declared resource shares: a kind, a checked name, and how the endpoints document lists it."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Generic, TypeVar

from ..errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}\Z")

P = TypeVar("P", covariant=True)


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{kind} name {name!r}: use 1-40 of a-z, 0-9 and '-', starting with a letter")
    return name


class Resource:
    """A declared resource; ``kind`` names it for providers, their registries and error messages.

    ``endpoints_group`` is the key of an app's entry in the endpoints document under which every
    resource of the kind is listed by name (None: the kind is not listed); ``endpoints_first`` gives
    the shortcut keys the first resource of the kind adds. Both providers describe each resource
    with the same facts, so the document has one shape wherever the app runs (``stratus.endpoints``).
    """

    kind: ClassVar[str] = "resource"
    endpoints_group: ClassVar[str | None] = None
    name: str

    def endpoints_first(self, facts: Any) -> dict[str, Any]:
        """The shortcut keys the first resource of its kind adds to its app's endpoints entry."""
        return {}

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r}>"


class Usable(Generic[P]):
    """A resource handlers use through a port of type ``P`` (``ctx.use(resource)``), once declared in ``uses``."""
