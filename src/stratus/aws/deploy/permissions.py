"""Least privilege, derived: the IAM policy a handler needs, from what it declares it uses.

Each kind's runtime module names the AWS actions its adapter calls, and nothing more
(``stratus.aws.runtime.kinds``). A handler's policy grants those actions on exactly the
resources in its ``uses=[...]``, so a handler that reaches for an undeclared resource fails on
AWS as it fails locally. No statement has a wildcard action; resources are the ARNs the
deployment gives each declared resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...graph import Resource, Route
from ..runtime.kinds import aws_kind


def handler_policy(uses: Route | Iterable[Resource], arn: Callable[[Resource], str],
                   dax_arn: str | None = None, writes: Mapping[Resource, tuple[str, ...]] | None = None
                   ) -> dict[str, Any]:
    """The IAM policy document for the function of a handler that ``uses`` these resources (or a route's).

    ``arn`` gives each declared resource's ARN; ``dax_arn`` is the DAX cluster's, when the deployment has one;
    ``writes`` the key prefixes a handler writes a resource under, when it declares them (an object trigger's own
    bucket). A statement two resources need alike (the cluster, for two cached tables) is granted once.
    """
    shared = {"dax": dax_arn} if dax_arn is not None else {}
    statements: list[dict[str, Any]] = []
    for resource in (uses.uses if isinstance(uses, Route) else uses):
        kind, prefixes = aws_kind(resource.kind), (writes or {}).get(resource)
        granted = kind.confined_grants(resource, arn(resource), shared, prefixes) if prefixes else \
            kind.grants(resource, arn(resource), shared)
        for statement in granted:
            if statement not in statements:
                statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
