"""Triggers: handlers that events call rather than requests: a table's changes (DynamoDB Streams to Lambda) and a
bucket's objects created or removed (S3 event notifications to Lambda); queue messages and stream records are
triggers of the same shape.

Every trigger is one subscription of the one event mechanism: its events are delivered at least once, in order
per item, retried on failure and then kept as dead letters (``stratus dead-letters``, ``stratus redrive``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from ._base import Resource, check_name
from .data import Table
from .storage import Bucket

TABLE_CHANGE_KINDS = frozenset({"INSERT", "MODIFY", "REMOVE"})
MAX_TIMEOUT = 900  # seconds: Lambda's longest run


def trigger_name(handler: Any) -> str:
    """The name a trigger goes by (``stratus redrive APP NAME``): its handler's, with ``-`` for ``_``."""
    name = getattr(handler, "__name__", "")
    if not callable(handler) or not name or name == "<lambda>":
        raise ConfigError(f"a trigger's handler must be a named function, not {handler!r}")
    return check_name("trigger", name.replace("_", "-").lower())


@dataclass(eq=False, repr=False)
class Trigger(Resource):
    """A handler an event source calls: its name (the handler's), the resources it ``uses``, its timeout and how
    often a failing event is tried."""

    kind: ClassVar[str] = "trigger"
    name: str
    handler: Any
    uses: tuple[Resource, ...] = ()
    timeout: float = 3.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        if self.name.startswith("replicate-"):
            raise ConfigError(f"trigger {self.name!r}: names starting replicate- are the platform's (global tables' "
                              "replication); rename the handler")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"trigger {self.name!r}: timeout must be more than 0 and at most {MAX_TIMEOUT} s "
                              "(Lambda's limit)")
        if self.max_attempts is not None and not 1 <= self.max_attempts <= 10_000:
            raise ConfigError(f"trigger {self.name!r}: max_attempts must be 1 to 10,000, or None")
        for r in self.uses:
            if not isinstance(r, Resource):
                raise ConfigError(f"trigger {self.name!r}: uses lists {r!r}, which is not a declared resource")

    def confine(self, resource: Resource, port: Any) -> Any:
        """What the handler gets for ``resource``, given the provider's ``port`` (a trigger may narrow it)."""
        return port

    @property
    def is_async(self) -> bool:
        """Whether the handler is async, seen through decorators (``functools.wraps``) and callable objects."""
        unwrapped = inspect.unwrap(self.handler)
        return inspect.iscoroutinefunction(unwrapped) or (
            not inspect.isroutine(unwrapped) and inspect.iscoroutinefunction(type(unwrapped).__call__))


@dataclass(eq=False, repr=False)
class TableTrigger(Trigger):
    """A handler of a table's changes (``app.on_table_change``): each ``TableChange`` of ``table`` whose kind is
    in ``kinds``. Until a change is handled, or dead-lettered, later changes of the same item wait; other items'
    do not. By default a failing change is retried until it is 24 hours old (a stream's retention), as Lambda
    retries a stream's records."""

    kind: ClassVar[str] = "table_trigger"
    table: Table = field(default=None)  # type: ignore[assignment]
    kinds: frozenset[str] = TABLE_CHANGE_KINDS

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.table, Table):
            raise ConfigError(f"trigger {self.name!r}: table must be a declared Table")
        if not self.table.stream:
            raise ConfigError(f"trigger {self.name!r}: table {self.table.name!r} has no stream; declare it with "
                              "app.table(..., stream=True)")
        if not self.kinds or not set(self.kinds) <= TABLE_CHANGE_KINDS:
            raise ConfigError(f"trigger {self.name!r}: kinds must be some of INSERT, MODIFY, REMOVE")


OBJECT_EVENTS = ("created", "removed")


@dataclass(eq=False, repr=False)
class ObjectTrigger(Trigger):
    """A handler of a bucket's object events (``app.on_object_created``, ``app.on_object_removed``): each
    ``ObjectCreated`` (or ``ObjectRemoved``) of a key that starts with ``prefix`` and ends with ``suffix``, whoever
    wrote it. A failing event is tried 3 times in all by default, as Lambda retries an S3 notification twice."""

    kind: ClassVar[str] = "object_trigger"
    bucket: Bucket = field(default=None)  # type: ignore[assignment]
    events: str = "created"
    prefix: str = ""
    suffix: str = ""
    writes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.bucket, Bucket):
            raise ConfigError(f"trigger {self.name!r}: bucket must be a declared Bucket")
        if self.events not in OBJECT_EVENTS:
            raise ConfigError(f"trigger {self.name!r}: events must be 'created' or 'removed'")
        for what, value in (("prefix", self.prefix), ("suffix", self.suffix)):
            if not isinstance(value, str) or len(value.encode()) > 1024:
                raise ConfigError(f"trigger {self.name!r}: {what} must be a string of at most 1024 bytes")
        if self.events == "created" and self.bucket in self.uses and not self.prefix and not self.suffix:
            raise ConfigError(f"trigger {self.name!r} handles every object created in bucket {self.bucket.name!r} "
                              "and may write to it: each object it writes would call it again. Give it a prefix "
                              "or suffix that what it writes does not match.")
        if isinstance(self.writes, str) or not all(isinstance(w, str) and w and not set(w) & set("*?$")
                                                   and len(w.encode()) <= 1024 for w in self.writes):
            raise ConfigError(f"trigger {self.name!r}: writes is a list of key prefixes (\"thumbnails/\"), without "
                              "the wildcards * ? and $ (which IAM would read as patterns)")
        self.writes = tuple(self.writes)
        if self.writes and self.bucket not in self.uses:
            raise ConfigError(f"trigger {self.name!r} writes under {self.writes[0]!r} of bucket {self.bucket.name!r}: "
                              "put the bucket in its uses")
        for w in self.writes:
            if self.events == "created" and (w.startswith(self.prefix) or self.prefix.startswith(w)):
                raise ConfigError(f"trigger {self.name!r} writes under {w!r} in bucket {self.bucket.name!r}, where "
                                  f"its own prefix {self.prefix!r} is: each object it writes could call it again. "
                                  "Write under a prefix its own does not match.")

    def writes_to(self, key: str) -> bool:
        """Whether the handler may write (put, delete) ``key`` in the bucket it is called for: under one of its
        ``writes`` prefixes, or (none declared) anywhere its own events do not come from."""
        if self.writes:
            return key.startswith(self.writes)
        return self.events != "created" or not (key.startswith(self.prefix) and key.endswith(self.suffix))

    def confine(self, resource: Resource, port: Any) -> Any:
        if resource is not self.bucket:
            return port
        from ..ports.objects import ConfinedBucket
        return ConfinedBucket(port, self.writes_to, f"trigger {self.name!r}")
