"""Acting once on events delivered at least once: ``@idempotent(table)`` around a handler.

A trigger's event may come twice (a retry after a failure that came after the work, a redrive, a crash between
the work and its record). ``idempotent`` keeps, in a table the app declares, one record per event (by default its
``event_id``): the first call claims it (``IN_PROGRESS``), runs the handler and records it ``COMPLETED`` with what
the handler returned; a later call of a completed event returns that, without running the handler again. A call
that finds the event claimed by another still running raises ``IdempotencyInProgress``, and delivery tries it
again when that claim lapses, without counting an attempt. A claim lasts until the call's time is up
(``ctx.deadline``, and a second more; ``lock_for`` seconds where a call has no deadline): a call that crashed or
timed out leaves its event to run again right after; a handler that failed gives its claim back at once. Records
are kept ``expires_after`` seconds. What the handler returns is kept if the table can hold it (JSON-like, at most
400 KB), else None is, and said in the log.

The same on both providers (DynamoDB on AWS, as Powertools' idempotency utility keeps it): the table is an
ordinary declared ``Table`` with a string partition key, which the handler declares in ``uses``. What the
handler did outside the table before a crash (a mail sent, a card charged) may still happen twice: key that
work by the event as well (``Mail(message_id=...)``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .context import Context
from .errors import BadRequest, ConditionFailed, ConfigError, Conflict, InvalidItem, StratusError
from .events import Request
from .graph import Table

H = TypeVar("H", bound=Callable[..., Any])
log = logging.getLogger("stratus")


class IdempotencyInProgress(StratusError):
    """Another call of the same event is under way (or crashed, and its claim has not lapsed): try again at
    ``retry_at`` (the platform clock's seconds)."""

    def __init__(self, message: str, retry_at: float) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def idempotent(table: Table, *, key: Callable[[Any], str] | None = None, lock_for: float = 900.0,
               expires_after: float = 3600.0) -> Callable[[H], H]:
    """Make a handler act once per event: a decorator for ``handler(event, ctx)`` (sync or async), put under the
    trigger's own decorator.

    - ``table``: a declared ``Table`` whose partition key is a string, named in the handler's ``uses``.
    - ``key``: the event's key, ``key(event) -> str``; default its ``event_id``.
    - ``lock_for``: seconds a claim lasts where a call has no ``ctx.deadline`` (a trigger's calls have one);
      default 900 (Lambda's longest run).
    - ``expires_after``: seconds a completed record is kept (a repeat after it runs again); default 3600.
    """
    if not isinstance(table, Table) or table.partition_key.type is not str:
        raise ConfigError("idempotent needs a declared Table whose partition key is a string")
    if not 0 < lock_for <= expires_after:
        raise ConfigError("idempotent: lock_for must be positive and at most expires_after")

    def wrap(handler: H) -> H:
        def record_key(event: Any, ctx: Context) -> dict[str, Any]:
            k = key(event) if key is not None else getattr(event, "event_id", None)
            if not isinstance(k, str) or not k:
                if isinstance(event, Request):  # a client's request without its key: the client's mistake
                    raise BadRequest("this request needs an idempotency key")
                raise ConfigError(f"idempotent: the event's key must be a non-empty string, not {k!r}")
            return {table.partition_key.name: f"{ctx.app}/{ctx.handler}#{k}"}

        def claim(event: Any, ctx: Context) -> tuple[dict[str, Any], bool, Any]:
            """(the record's key, whether this call runs the handler, the result of a completed one)."""
            port, rk, now = ctx.table(table), record_key(event, ctx), ctx.now()
            found = port.get(rk, consistent=True)
            if found is not None and found.get("expires", 0) > now:
                if found.get("status") == "COMPLETED":
                    return rk, False, found.get("result")
                if found.get("until", 0) > now:
                    raise _held(event, rk, found["until"])
            until = ctx.deadline + 1.0 if ctx.deadline is not None else now + lock_for
            mine = {**rk, "status": "IN_PROGRESS", "until": until, "expires": max(until, now + expires_after)}
            try:
                if found is None:
                    port.put(mine, if_absent=True)
                else:  # a lapsed claim or an expired record: taken over only as it was read
                    port.put(mine, expect={"status": found.get("status"), "until": found.get("until")})
            except ConditionFailed:
                raise _held(event, rk, now + 1.0) from None
            return rk, True, None

        def complete(ctx: Context, rk: dict[str, Any], result: Any) -> None:
            done = {**rk, "status": "COMPLETED", "expires": ctx.now() + expires_after}
            try:
                ctx.table(table).put({**done, "result": result})
            except InvalidItem as exc:  # the work is done: what it returned cannot be kept, and is not
                log.warning("idempotent %s: the result of %s is not kept (%s)", ctx.handler, rk, exc)
                ctx.table(table).put({**done, "result": None})

        def give_back(ctx: Context, rk: dict[str, Any]) -> None:
            try:
                ctx.table(table).delete(rk, expect={"status": "IN_PROGRESS"})
            except (ConditionFailed, TimeoutError):  # taken over meanwhile, or the call's time is up: it lapses
                pass

        if inspect.iscoroutinefunction(inspect.unwrap(handler)):
            @functools.wraps(handler)
            async def run_async(event: Any, ctx: Context) -> Any:
                rk, mine, result = claim(event, ctx)
                if not mine:
                    return result
                try:
                    result = await handler(event, ctx)
                except BaseException:
                    give_back(ctx, rk)
                    raise
                complete(ctx, rk, result)
                return result
            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(event: Any, ctx: Context) -> Any:
            rk, mine, result = claim(event, ctx)
            if not mine:
                return result
            try:
                result = handler(event, ctx)
            except BaseException:
                give_back(ctx, rk)
                raise
            complete(ctx, rk, result)
            return result
        return run  # type: ignore[return-value]
    return wrap


def _held(event: Any, rk: dict[str, Any], until: float) -> Exception:
    """The refusal of a call whose event another call holds: a 409 to a client's request, else for delivery."""
    if isinstance(event, Request):
        return Conflict("this request is being handled by another call; try again")
    return IdempotencyInProgress(f"event {rk} is being handled by another call", until)
