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


def test_a_call_that_timed_out_is_run_again_once_its_claim_lapses_and_odd_results_are_not_kept() -> None:
    import time as _time
    app = App("slow")
    jobs = app.table("jobs", partition_key="id", stream=True)
    done = app.table("done", partition_key="id")
    runs: list[str] = []

    @app.on_table_change(jobs, kinds={"INSERT"}, uses=[done], timeout=1, max_attempts=3)
    @idempotent(done)
    def work(change: TableChange, ctx: Context) -> tuple[str, int]:
        runs.append(change.keys["id"])
        if len(runs) == 1:
            _time.sleep(1.5)  # past its timeout, once
        return ("not", 1)  # a tuple: the table keeps no such thing

    api = app.rest_api("api")

    @api.put("/jobs/{id}", public=True, uses=[jobs])
    def add(req: Any, ctx: Context) -> None:
        ctx.table(jobs).put({"id": req.path_params["id"]})
    with TestClient(app) as client:
        client.api().put("/jobs/j1")
        client.deliver()  # the first call times out (its thread runs on, and its claim holds)
        _time.sleep(0.8)  # its thread ends: until then the item is busy
        client.clock.advance(3)  # past the call's deadline and its claim
        client.deliver()
        assert runs == ["j1", "j1"] and client.dead_letters() == []
        client.clock.advance(3)
        assert client.deliver() == 0  # done: nothing is due again
        record = next(iter(client.runtime.subscriptions.values())).context.table(done).get({"id": "slow/work#" + next(
            c["event_id"] for c in client.runtime.invocations("slow"))})
        assert record is not None and record["status"] == "COMPLETED" and record["result"] is None


def test_a_trigger_name_is_its_own_among_every_kind() -> None:
    app = App("names")
    notes = app.table("notes", partition_key="id", stream=True)
    files = app.bucket("files")

    def sync(event: object, ctx: object) -> None: ...
    app.on_table_change(notes)(sync)
    with pytest.raises(ConfigError, match="a trigger named 'sync' is declared twice"):
        app.on_object_created(files)(sync)


def test_the_outbox_keeps_one_message_per_id_and_recipient_even_sent_at_once(tmp_path: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from stratus.local.services.ses.mailers import OutboxMailer, read_outbox
    mailer = OutboxMailer(tmp_path / "outbox")
    mails = [Mail(to=to, subject="Shipped", text=f"to {to}", sender="shop@x.example", message_id="order-42.shipped")
             for to in ("ann@example.com", "bob@example.com") for _ in range(20)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(mailer.send, mails))
    kept = read_outbox(tmp_path / "outbox")
    assert sorted(m.to for m in kept) == ["ann@example.com", "bob@example.com"]
    assert all(m.body.strip() == f"to {m.to}" for m in kept)
    assert not list((tmp_path / "outbox").glob(".*.tmp"))
    for bad in (".", "a..b", ".a", "x" * 129, "a@b"):
        with pytest.raises(Exception, match="message_id"):
            mailer.send(Mail(to="ann@example.com", subject="x", text="x", sender="shop@x.example", message_id=bad))
