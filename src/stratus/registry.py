"""How each provider finds its module for a kind of resource: one module per kind, named after it.

A provider's registry is a package (``stratus.local.kinds``, ``stratus.aws.runtime.kinds``,
``stratus.aws.deploy.kinds``) holding ``<kind>.py`` for each kind it supports, each defining
``KIND``. Finding one is importing it: no list to keep, and a kind a provider lacks is refused
with ``UnsupportedFeature`` naming it, never half-run.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import UnsupportedFeature


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
