"""The AWS runtime's registry of resource kinds: one module per kind a handler can use, named after it.

``stratus.aws.runtime.kinds.<kind>`` defines ``KIND``, an ``AwsKind``: the port a handler
gets on AWS (an adapter over a boto3 client, made from the name synthesis writes into the
function's environment) and the IAM statements that adapter's calls need, from which each
function's least-privilege role is derived. Kinds no handler uses (user pools, identity
pools, REST APIs) have no module here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from ....graph import Resource
from ....registry import kind_module

D = TypeVar("D", bound=Resource)
Statement = dict[str, Any]


def env_var(resource: Resource) -> str:
    """The environment variable naming the real resource behind a declared one (synthesis writes it)."""
    return f"STRATUS_{resource.kind.upper()}_{resource.name.upper().replace('-', '_')}"


class LazyClient:
    """A boto3 client made on first use, so a cold start pays only for the clients a handler uses."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


class Clients:
    """The function's AWS clients, one per service, each made when a handler first uses it."""

    def __init__(self) -> None:
        self._clients: dict[str, LazyClient] = {}

    def get(self, service: str, make: Callable[[], Any] | None = None) -> LazyClient:
        if service not in self._clients:
            self._clients[service] = LazyClient(make or (lambda: __import__("boto3").client(service)))
        return self._clients[service]


class AwsKind(Generic[D]):
    """How a handler uses one kind of resource on AWS."""

    def port(self, decl: D, name: str, env: Mapping[str, str], clients: Clients) -> Any:
        """The port on the real resource ``name`` (from the function's environment)."""
        raise NotImplementedError

    def grants(self, decl: D, arn: str, shared: Mapping[str, str]) -> list[Statement]:
        """The IAM statements a handler using ``decl`` (ARN ``arn``) needs: exactly what the adapter calls.
        ``shared`` holds the ARNs of what the deployment shares between resources (``dax``: the DAX cluster)."""
        raise NotImplementedError

    def confined_grants(self, decl: D, arn: str, shared: Mapping[str, str], writes: tuple[str, ...]) -> list[Statement]:
        """``grants`` for a handler that writes ``decl`` only under the key prefixes ``writes`` (an object trigger's
        own bucket); a kind without keys to confine grants as usual."""
        return self.grants(decl, arn, shared)


def aws_kind(kind: str) -> AwsKind[Any]:
    """The AWS runtime's module for ``kind``; ``UnsupportedFeature`` when handlers cannot use it on AWS."""
    found: AwsKind[Any] = kind_module(__name__, kind, "handlers cannot use {kind} resources on AWS")
    return found
