"""What a handler reaches resources through.

The provider builds one ``Context`` per handler, holding a port for each
resource the handler declared in ``uses=[...]``. Asking for anything else fails
loudly, which is what the least-privilege role does on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .app import Bucket, Resource, Table
from .clock import Clock, SystemClock
from .errors import ConfigError
from .ports.objects import ObjectStorePort
from .ports.table import TablePort


class Context:
    def __init__(self, app: str, handler: str, ports: Mapping[Resource, Any], clock: Clock | None = None) -> None:
        self.app = app
        self.handler = handler
        self._ports = dict(ports)
        self._clock = clock or SystemClock()

    def now(self) -> float:
        """The platform clock (seconds since the epoch); tests can move it."""
        return self._clock.now()

    def _port(self, resource: Resource) -> Any:
        try:
            return self._ports[resource]
        except KeyError:
            raise ConfigError(
                f"handler {self.handler!r} in app {self.app!r} uses {resource!r} without declaring it; "
                f"add it to uses=[...]") from None

    def table(self, table: Table) -> TablePort:
        return self._port(table)

    def bucket(self, bucket: Bucket) -> ObjectStorePort:
        return self._port(bucket)
