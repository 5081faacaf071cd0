"""Synthesis's registry of resource kinds: one module per kind, named after it.

``stratus.aws.deploy.kinds.<kind>`` defines ``KIND``, a ``SynthKind``: what AWS cannot honour
as declared (``check``, refused before anything is built), the constructs a declared resource
becomes (``build``), what the stack's endpoints output says of it (``facts``), and, for kinds
handlers use, what a function using it is given (``bind``: its name in the environment, its
ARN for the role, and anything the deployment shares, such as the DAX cluster and its VPC).
The builder (``synth.StackBuilder``) asks this registry; it knows no kind by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ....errors import UnsupportedFeature
from ....graph import App, Resource
from ....registry import kind_module

if TYPE_CHECKING:
    from ..synth import StackBuilder

D = TypeVar("D", bound=Resource)


@dataclass
class Binding:
    """What a function using a resource is given: the real name (in ``STRATUS_<KIND>_<NAME>``), the ARN its role
    is granted on, and what the deployment shares (``shared["dax"]``: the cluster's ARN; ``env``, ``vpc``)."""

    name: str
    arn: str
    env: dict[str, str] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)
    vpc: bool = False  # the function runs in the app's VPC (to reach DAX)


class SynthKind(Generic[D]):
    """How one kind of resource is synthesized."""

    def check(self, decl: D, app: App) -> None:
        """Refuse, naming it, what AWS cannot honour as declared (before anything is built)."""

    def build(self, b: StackBuilder, decl: D) -> Any:
        """The construct ``decl`` becomes (dependencies through ``b.construct``)."""
        raise NotImplementedError

    def vendor(self, b: StackBuilder, decl: D) -> list[str]:
        """The distributions the functions' asset must carry for it (e.g. amazon-dax-client)."""
        return []

    def facts(self, b: StackBuilder, decl: D, built: Any) -> Any:
        """What the endpoints output says of it (CDK tokens); None: nothing."""
        return None

    def bind(self, b: StackBuilder, decl: D, built: Any) -> Binding:
        """What a function that uses ``decl`` needs."""
        raise UnsupportedFeature(f"{decl!r}: handlers cannot use {decl.kind} resources on AWS")


def synth_kind(kind: str) -> SynthKind[Any]:
    """Synthesis's module for ``kind``; ``UnsupportedFeature`` when AWS has no mapping for it."""
    found: SynthKind[Any] = kind_module(__name__, kind, "the AWS provider cannot synthesize {kind} resources yet")
    return found

