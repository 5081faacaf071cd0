"""Object storage: buckets (S3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ..ports.objects import ObjectStorePort
from ._base import Resource, Usable, check_name


@dataclass(eq=False, repr=False)
class Bucket(Resource, Usable[ObjectStorePort]):
    """An object store bucket (S3). Private: only the platform and policies that name it reach it.

    Declared with ``app.bucket(name)``; handlers reach it with ``ctx.bucket(bucket)``.

    The real bucket name is chosen by the provider (globally unique on AWS); ``arn`` is a
    placeholder, usable in policy documents, that each provider resolves to the real ARN.

    Endpoints facts: the real bucket name.
    """

    kind: ClassVar[str] = "bucket"
    endpoints_group: ClassVar[str | None] = "buckets"
    name: str

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)

    @property
    def arn(self) -> str:
        """The bucket's ARN in policy documents (``f"{files.arn}/*"`` for its objects): a placeholder each
        provider resolves to the real bucket's ARN."""
        return f"arn:aws:s3:::{bucket_placeholder(self.name)}"


def bucket_placeholder(name: str) -> str:
    """The token a provider replaces with the real name of bucket ``name`` in policy documents."""
    return f"<<bucket:{name}>>"


def placeholder_names(text: str) -> list[str]:
    """The names of the buckets whose placeholders stand in ``text`` (a policy document as JSON)."""
    return re.findall(r"<<bucket:([a-z][a-z0-9-]{0,39})>>", text)
