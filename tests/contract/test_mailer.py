"""The Mailer port's contract, against the outbox, a real SMTP exchange, and SES (on moto).

Each implementation must deliver what was sent (to, subject, text, html) and return a message id;
one it cannot deliver raises ``MailRejected``.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.errors import MailRejected
from stratus.ports.mailer import Mail
from tests.conftest import aws_mock

Delivered = dict[str, str | None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["outbox", "smtp", "ses"])
def mailer(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """(mailer, delivered) where delivered() lists what reached the other side."""
    if request.param == "outbox":
        from stratus.local.services.ses.mailers import OutboxMailer, read_outbox
        yield OutboxMailer(tmp_path / "outbox"), lambda: [
            {"to": e.to, "subject": e.subject, "text": e.body.strip(), "html": _html(e.path.read_bytes())}
            for e in read_outbox(tmp_path / "outbox")]
    elif request.param == "smtp":
        from aiosmtpd.controller import Controller

        from stratus.local.services.ses.mailers import SmtpMailer
        got: list[bytes] = []

        class Sink:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
                got.append(envelope.content)
                return "250 OK"
        port = _free_port()
        ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
        ctl.start()
        try:
            yield SmtpMailer(f"127.0.0.1:{port}"), lambda: [_parsed(raw) for raw in got]
        finally:
            ctl.stop()
    else:
        import boto3
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        from stratus.aws.runtime.kinds.email import SesMailer
        with aws_mock(monkeypatch):
            ses = boto3.client("ses", region_name="us-east-1")
            for sender in ("no-reply@stratus.local", "hello@example.com"):  # verified once, as an operator does
                ses.verify_email_identity(EmailAddress=sender)
            backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
            yield SesMailer(ses), lambda: [_parsed(m.raw_data.encode()) for m in backend.sent_messages]


def _html(raw: bytes) -> str | None:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    return part.get_content().replace("\r\n", "\n").strip() if part is not None else None


def _parsed(raw: bytes) -> Delivered:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return {"to": str(msg["To"]), "subject": str(msg["Subject"]),
            "text": text.get_content().replace("\r\n", "\n").strip(), "html": _html(raw)}


def test_a_message_is_delivered_whole(mailer: tuple[Any, Any]) -> None:
    send, delivered = mailer
    mid = send.send(Mail(to="ann@example.com", subject="Welcome, ann", text="Hello there.\nSecond line.",
                         html="<p>Hello there.</p>"))
    assert isinstance(mid, str) and mid
    (got,) = delivered()
    assert got["to"] == "ann@example.com" and got["subject"] == "Welcome, ann"
    assert got["text"] == "Hello there.\nSecond line." and got["html"] == "<p>Hello there.</p>"


def test_messages_arrive_one_each(mailer: tuple[Any, Any]) -> None:
    send, delivered = mailer
    ids = {send.send(Mail(to=f"u{i}@example.com", subject=f"s{i}", text=f"t{i}")) for i in range(3)}
    assert len(ids) == 3
    assert sorted(m["to"] for m in delivered()) == ["u0@example.com", "u1@example.com", "u2@example.com"]


def test_an_undeliverable_message_is_mail_rejected(mailer: tuple[Any, Any], tmp_path: Path) -> None:
    send, _ = mailer
    kind = type(send).__name__
    if kind == "OutboxMailer":  # the outbox refuses only when it cannot write: make the folder a file
        from stratus.local.services.ses.mailers import OutboxMailer
        send = OutboxMailer(tmp_path / "blocked")
        (tmp_path / "blocked").rmdir()
        (tmp_path / "blocked").write_text("not a folder")
    elif kind == "SmtpMailer":
        from stratus.local.services.ses.mailers import SmtpMailer
        send = SmtpMailer(f"127.0.0.1:{_free_port()}")  # nobody listens there
    with pytest.raises(MailRejected):
        send.send(Mail(to="x@example.com", subject="s", text="t", sender="unverified@elsewhere.example"))


@pytest.mark.parametrize("mail", [
    Mail(to="victim@example.com\nBcc: everyone@example.com", subject="s", text="t"),
    Mail(to="a@example.com", subject="hi\r\nBcc: everyone@example.com", text="t"),
    Mail(to="a@example.com", subject="s", text="t", sender="Mallory <m@example.com>"),
    Mail(to="not an address", subject="s", text="t"),
    Mail(to="a@example.com", subject="one\u2028two", text="t"),
    Mail(to="a@example.com", subject="one\x85two", text="t"),
])
def test_what_a_header_could_be_split_with_is_refused_unsent(mailer: tuple[Any, Any], mail: Mail) -> None:
    """Every implementation checks the same way, before anything leaves: no header injection, whatever the transport."""
    send, delivered = mailer
    with pytest.raises(MailRejected):
        send.send(mail)
    assert delivered() == []


def test_a_declared_senders_mailer_sends_from_it_only(mailer: tuple[Any, Any]) -> None:
    """An Email's mailer (``with_sender``) sends from its sender unless told otherwise, and refuses another sender
    on every implementation, as SES refuses it on AWS (the function's role allows the declared sender only)."""
    send, delivered = mailer
    declared = send.with_sender("hello@example.com")
    with pytest.raises(MailRejected, match="sends from hello@example.com only"):
        declared.send(Mail(to="a@example.com", subject="s", text="t", sender="ceo@bank.example"))
    declared.send(Mail(to="a@example.com", subject="s", text="t"))
    (got,) = delivered()
    assert got["to"] == "a@example.com"
