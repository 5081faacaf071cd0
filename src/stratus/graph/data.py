"""Tables (DynamoDB) and their DAX-style cache."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from ..ports.table import TablePort
from ._base import Resource, Usable, check_name

KEY_TYPES: dict[type, str] = {str: "S", int: "N"}
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")


@dataclass(frozen=True)
class KeyAttr:
    """A table's key attribute, for ``app.table(..., partition_key=..., sort_key=...)`` (which also take a name,
    or ``(name, type)``).

    - ``name``: the attribute's name.
    - ``type``: ``str`` (the default; DynamoDB's ``S``) or ``int`` (``N``).
    """

    name: str
    type: type = str

    @property
    def dynamo_type(self) -> str:
        return KEY_TYPES[self.type]


def _key_attr(spec: str | tuple[str, type] | KeyAttr, table: str) -> KeyAttr:
    attr = spec if isinstance(spec, KeyAttr) else KeyAttr(spec) if isinstance(spec, str) else KeyAttr(*spec)
    if attr.type not in KEY_TYPES:
        raise ConfigError(f"table {table!r}: key {attr.name!r} must be str or int, not {attr.type!r}")
    return attr


@dataclass(frozen=True)
class TableCache:
    """A DAX-style read-through/write-through cache in front of a table: ``app.table(..., cache=TableCache())``.

    The item cache (``get``, ``batch_get``) and the query cache (``query``) are separate, each with its own
    TTL, and both bounded by entries and bytes (least recently used first out). As in DAX, writes through the
    port update the item cache but not the query cache, and ``consistent=True`` reads skip the cache. On AWS
    the app's cached tables share one DAX cluster (``stratus synth --no-dax`` leaves it out), so their TTLs
    must agree.

    - ``item_ttl``: seconds an item stays in the item cache (DAX's record TTL); default 300, DAX's default.
    - ``query_ttl``: seconds a query's page stays in the query cache (DAX's query TTL); default 300.
    - ``max_entries``: the most entries each cache keeps, locally; default 100,000. On AWS the node size bounds it.
    - ``max_bytes``: the most bytes each cache keeps, locally, at least 1 KiB; default 64 MiB.
    """

    item_ttl: float = 300.0
    query_ttl: float = 300.0
    max_entries: int = 100_000
    max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.item_ttl <= 0 or self.query_ttl <= 0:
            raise ConfigError("table cache TTLs must be positive seconds")
        if self.max_entries < 1 or self.max_bytes < 1024:
            raise ConfigError("table cache bounds: at least 1 entry and 1 KiB")


@dataclass(eq=False, repr=False)
class Table(Resource, Usable[TablePort]):
    """A key-value table (DynamoDB): partition key, optional sort key, change stream, DAX-style cache.

    Declared with ``app.table(...)``, which lists its options; handlers reach it with ``ctx.table(table)``.
    """

    kind: ClassVar[str] = "table"
    name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None = None
    stream: bool = False
    cache: TableCache | None = None
    regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        self.partition_key = _key_attr(self.partition_key, self.name)
        if self.sort_key is not None:
            self.sort_key = _key_attr(self.sort_key, self.name)
        if self.regions:
            regions = tuple(self.regions) if not isinstance(self.regions, str) else (self.regions,)
            bad = [r for r in regions if not isinstance(r, str) or not REGION.fullmatch(r)]
            if bad or len(regions) < 2 or len(set(regions)) != len(regions):
                raise ConfigError(f"table {self.name!r}: regions must be two or more distinct AWS regions "
                                  f"(us-east-1, eu-west-1, ...), the home region first; got {self.regions!r}")
            self.regions = regions
            self.stream = True  # a global table replicates through its stream (DynamoDB requires one)
            if self.cache is not None:
                raise ConfigError(f"table {self.name!r}: a global table cannot have a cache (a DAX cluster is "
                                  "regional, and replicated writes would bypass it); drop cache=")

    @property
    def home_region(self) -> str | None:
        """A global table's home region (its first: where the app's stack is); None for a table of one region."""
        return self.regions[0] if self.regions else None

    @property
    def key_names(self) -> tuple[str, ...]:
        """The primary key's attribute names: the partition key's, then the sort key's if there is one."""
        return (self.partition_key.name,) + ((self.sort_key.name,) if self.sort_key else ())

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The primary key of ``item``."""
        return {n: item[n] for n in self.key_names}
