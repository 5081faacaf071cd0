"""Every kind of resource the graph declares is known to each provider's registry: one module per kind.

A graph class with a ``kind`` must have a local engine module and a synthesis module; a kind
handlers use (a ``Usable``) must also have an AWS runtime module (its adapter and IAM grants).
What a provider lacks is refused by name, never half-run.
"""

from __future__ import annotations

import pytest

from stratus import graph
from stratus.aws.deploy.synth import synth_kind
from stratus.aws.runtime.kinds import aws_kind
from stratus.errors import UnsupportedFeature
from stratus.local.runtime import local_kind

KINDS = [c for c in vars(graph).values()
         if isinstance(c, type) and issubclass(c, graph.Resource) and c is not graph.Resource]


@pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.kind)
def test_each_kind_has_a_module_per_provider(cls: type[graph.Resource]) -> None:
    assert local_kind(cls.kind) is not None and synth_kind(cls.kind) is not None
    if issubclass(cls, graph.Usable):
        assert aws_kind(cls.kind) is not None
    else:
        with pytest.raises(UnsupportedFeature, match="handlers cannot use"):
            aws_kind(cls.kind)


def test_the_kinds_are_the_ones_the_graph_declares() -> None:
    assert sorted(c.kind for c in KINDS) == ["bucket", "bucket_deployment", "distribution", "email", "identity_pool",
                                              "object_trigger", "rest_api",
                                               "table", "table_trigger", "user_pool"]


@pytest.mark.parametrize("lookup", [local_kind, synth_kind, aws_kind])
@pytest.mark.parametrize("kind", ["queue", "os", "../table", "Table", "table.x"])
def test_an_unknown_kind_is_refused_by_name(lookup: object, kind: str) -> None:
    with pytest.raises(UnsupportedFeature) as exc:
        lookup(kind)  # type: ignore[operator]
    assert repr(kind) in str(exc.value)
