"""Acting once on events delivered at least once: ``idempotent`` around a trigger's handler, with a mail keyed by
the event, in process (``TestClient.deliver``): a redelivered event runs nothing again; a call that failed after
its mail was sent is run again and mails nothing twice; a claim held by a call under way turns a second call away
until it lapses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stratus import App, Context, IdempotencyInProgress, Mail, TableChange, idempotent
from stratus.errors import ConfigError
from stratus.testing import TestClient


def _app(fail_after_send: list[bool]) -> tuple[App, Any]:
    app = App("club")
    members = app.table("members", partition_key="email", stream=True)
    done = app.table("done", partition_key="id")
    mail = app.email("hello", sender="hello@club.example")
    calls: list[str] = []

    @app.on_table_change(members, kinds={"INSERT"}, uses=[mail, done], max_attempts=5)
    @idempotent(done)
    def welcome(change: TableChange, ctx: Context) -> dict[str, str]:
        calls.append(change.event_id)
        to = change.keys["email"]
        ctx.mailer.send(Mail(to=to, subject="Welcome", text="Hello", message_id=f"welcome-{change.event_id}"))
        if fail_after_send and fail_after_send.pop():
            raise RuntimeError("crashed after the mail went")
        return {"welcomed": to}

    api = app.rest_api("api")

    @api.put("/members/{email}", public=True, uses=[members])
    def join(req: Any, ctx: Context) -> None:
        ctx.table(members).put({"email": req.path_params["email"]})
    return app, calls


def test_a_redelivered_event_runs_once_and_a_retry_mails_once() -> None:
    app, calls = _app([True])  # the first call fails after sending its mail
    with TestClient(app) as client:
        assert client.api().put("/members/ann@example.com").status == 204
        client.deliver()
        assert len(calls) == 1 and len(client.mail()) == 1
        client.clock.advance(2)
        client.deliver()  # the retry runs the handler again: the mail has the same id, so the outbox keeps one
        assert len(calls) == 2 and len(client.mail()) == 1 and client.mail()[0].to == "ann@example.com"
        sub = next(iter(client.runtime.subscriptions.values()))
        trigger = app.resource("table_trigger", "welcome")
        change = TableChange("INSERT", "members", {"email": "ann@example.com"}, {"email": "ann@example.com"}, None,
                             "1", 0.0, calls[0])
        assert trigger.handler(change, sub.context) == {"welcomed": "ann@example.com"}  # a redelivery: the result
        assert len(calls) == 2 and len(client.mail()) == 1
        other = dataclasses.replace(change, event_id="another-event")
        trigger.handler(other, sub.context)
        assert len(calls) == 3  # another event is another call


def test_a_claim_under_way_turns_a_second_call_away_until_it_lapses() -> None:
    app, calls = _app([])
    with TestClient(app) as client:
        sub_ctx = None
        client.api().put("/members/bob@example.com")
        client.deliver()
        sub_ctx = next(iter(client.runtime.subscriptions.values())).context
        done = app.resource("table", "done")
        key = {"id": "club/welcome#held-event"}
        sub_ctx.table(done).put({**key, "status": "IN_PROGRESS", "until": client.clock.now() + 900,
                                 "expires": client.clock.now() + 3600})
        trigger = app.resource("table_trigger", "welcome")
        held = TableChange("INSERT", "members", {"email": "bob@example.com"}, {}, None, "9", 0.0, "held-event")
        with pytest.raises(IdempotencyInProgress):
            trigger.handler(held, sub_ctx)
        client.clock.advance(901)  # the claim of a call that crashed lapses: the event is handled
        assert trigger.handler(held, sub_ctx) == {"welcomed": "bob@example.com"}


def test_idempotent_needs_a_table_keyed_by_strings() -> None:
    app = App("x")
    with pytest.raises(ConfigError, match="partition key is a string"):
        idempotent(app.table("numbers", partition_key=("n", int)))
