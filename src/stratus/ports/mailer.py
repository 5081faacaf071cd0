"""The ``Mailer`` port: send one email."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    sender: str = "no-reply@stratus.local"
    html: str | None = None


class Mailer(Protocol):
    def send(self, mail: Mail) -> str:
        """Deliver ``mail``; return a message id."""
        ...


def to_mime(mail: Mail, when: float) -> EmailMessage:
    """The RFC 5322 message every mailer sends for ``mail``: text, and HTML as an alternative if given."""
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.formatdate(when, usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=mail.sender.rpartition("@")[2] or "stratus.local")
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg
