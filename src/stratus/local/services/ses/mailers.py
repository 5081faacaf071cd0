"""Local mail: the ``Mailer`` port as an outbox folder of .eml files, or SMTP.

The outbox is the default so that a fresh machine needs no mail server: each
message is one RFC 5322 file, written to a temporary name, fsynced and renamed,
so a reader (``stratus mail``, a test) never sees half a message. With an SMTP
server configured (``--smtp host:port``) messages go there instead, through a
real SMTP exchange.
"""

from __future__ import annotations

import email.policy
import hashlib
import itertools
import re
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from ....clock import Clock
from ....errors import ConfigError, MailRejected, StratusError
from ....ports.mailer import WIRE, Mailer
from ...infra.files import write_atomic, write_once


class OutboxMailer(Mailer):
    """Writes each message to ``<outbox>/<time>-<sequence>-<id>.eml``; a message with a ``message_id`` of its own
    to ``<outbox>/id-<digest of the id and recipient>.eml``, once: sent again (a handler run twice, even at the same
    moment), it is not written again."""

    def __init__(self, outbox: Path, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.outbox = outbox
        outbox.mkdir(parents=True, exist_ok=True)
        self._sequence = itertools.count(len(list(outbox.glob("*.eml"))))

    def _deliver(self, msg: EmailMessage, sender: str, to: str, message_id: str | None = None) -> str:
        # named by time, then by order sent: two messages in one millisecond (or under a clock that stands still)
        # still list in the order they were sent
        name = f"{int(self.clock.now() * 1000):015d}-{next(self._sequence):09d}-{uuid.uuid4().hex[:12]}.eml"
        if message_id is not None:  # one message per id and recipient: named by them, written once
            digest = hashlib.sha256(f"{msg['Message-ID']}\x00{to.lower()}".encode()).hexdigest()[:32]
            try:
                write_once(self.outbox / f"id-{digest}.eml", msg.as_bytes(policy=WIRE))
            except OSError as exc:
                raise MailRejected(f"the outbox {self.outbox} cannot take the message to {to}: {exc}") from exc
            return str(msg["Message-ID"])
        try:
            write_atomic(self.outbox / name, msg.as_bytes(policy=WIRE))
        except OSError as exc:
            raise MailRejected(f"the outbox {self.outbox} cannot take the message to {to}: {exc}") from exc
        return str(msg["Message-ID"])


class SmtpMailer(Mailer):
    """Sends each message to an SMTP server (``host:port``), with STARTTLS when the server offers it."""

    def __init__(self, address: str, clock: Clock | None = None, timeout: float = 10.0) -> None:
        super().__init__(clock)
        host, _, port = address.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()):
            raise ConfigError(f"--smtp wants host:port, got {address!r}")
        self.host, self.port = host, int(port)
        self.timeout = timeout

    def _deliver(self, msg: EmailMessage, sender: str, to: str, message_id: str | None = None) -> str:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailRejected(f"SMTP server {self.host}:{self.port} did not take the message to {to}: {exc}") from exc
        return str(msg["Message-ID"])


@dataclass(frozen=True)
class OutboxEntry:
    path: Path
    date: str
    to: str
    subject: str
    body: str


def read_outbox(outbox: Path) -> list[OutboxEntry]:
    """The messages in an outbox, oldest first."""
    out = []
    paths = sorted(outbox.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name)) if outbox.is_dir() else []
    for path in paths:  # in the order written (a message kept by its id is named by it, not by its time)
        with open(path, "rb") as f:
            msg = BytesParser(policy=email.policy.default).parse(f)
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        out.append(OutboxEntry(path, str(msg["Date"]), str(msg["To"]), str(msg["Subject"]), body))
    return out


def latest_code(outbox: Path, email: str) -> str:
    """The newest six-digit confirmation code mailed to ``email`` in ``outbox``."""
    for entry in reversed(read_outbox(outbox)):
        if entry.to.lower() == email.lower():
            m = re.search(r"\b(\d{6})\b", entry.body)
            if m:
                return m.group(1)
    raise StratusError(f"no confirmation code for {email} in the outbox")
