"""What a handler reaches resources through.

The provider builds one ``Context`` per handler, holding a port for each
resource the handler declared in ``uses=[...]``. Asking for anything else fails
loudly, which is what the least-privilege role does on AWS.

``use`` serves every kind a handler can use and is typed by the resource
(``ctx.use(todos)`` is a ``TablePort``); ``table``, ``bucket`` and ``mailer``
read better for the kinds every app has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .clock import Clock, SystemClock
from .errors import ConfigError
from .graph import Bucket, Email, Resource, Table, Usable

if TYPE_CHECKING:
    from .ports.mailer import Mailer
    from .ports.objects import ObjectStorePort
    from .ports.table import TablePort

P = TypeVar("P")


class Context:
    """What a handler reaches resources through, its second argument (``ctx``): the ports of the resources its
    route declares in ``uses``, and the platform clock.

    ``ctx.app`` and ``ctx.handler`` name the app and the handler; using a resource the route does not
    declare raises ``ConfigError`` naming it (on AWS the function's role would refuse it). ``ctx.deadline`` is
    when a trigger's call runs out of time, on the platform clock (Lambda's remaining time, as a moment); None
    where no such bound is known.
    """

    def __init__(self, app: str, handler: str, ports: Mapping[Resource, Any], clock: Clock | None = None,
                 deadline: float | None = None) -> None:
        self.app = app
        self.handler = handler
        self._ports = dict(ports)
        self.clock = clock or SystemClock()
        self.deadline = deadline

    def now(self) -> float:
        """The platform clock, in seconds since the epoch: the real time, or a clock tests move
        (``stratus up --manual-clock``, ``TestClient``'s)."""
        return self.clock.now()

    def _port(self, resource: Resource) -> Any:
        try:
            return self._ports[resource]
        except KeyError:
            raise ConfigError(
                f"handler {self.handler!r} in app {self.app!r} uses {resource!r} without declaring it; "
                f"add it to uses=[...]") from None

    def use(self, resource: Usable[P]) -> P:
        """The port of a resource the route declares in ``uses``, typed by the resource: a ``TablePort`` for a
        ``Table``, an ``ObjectStorePort`` for a ``Bucket``, a ``Mailer`` for an ``Email``.

        - ``resource``: the declared resource (what ``app.table(...)``, ``app.bucket(...)``, ... returned).
        """
        port: P = self._port(resource)  # type: ignore[arg-type]
        return port

    def table(self, table: Table) -> TablePort:
        """``use(table)``: the ``TablePort`` of ``table``, a declared ``Table`` the route ``uses``."""
        return self.use(table)

    def bucket(self, bucket: Bucket) -> ObjectStorePort:
        """``use(bucket)``: the ``ObjectStorePort`` of ``bucket``, a declared ``Bucket`` the route ``uses``."""
        return self.use(bucket)

    @property
    def mailer(self) -> Mailer:
        """The mailer of the one ``Email`` the handler declared in ``uses`` (``use(email)`` picks among several)."""
        emails = [r for r in self._ports if isinstance(r, Email)]
        if len(emails) != 1:
            raise ConfigError(f"handler {self.handler!r} in app {self.app!r} declares "
                              f"{'no' if not emails else len(emails)} emails in uses=[...]; ctx.mailer needs one "
                              "(app.email(...)), or pick with ctx.use(email)")
        return self.use(emails[0])
