"""The ``Mailer`` port: send one email."""

from __future__ import annotations

from dataclasses import dataclass
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
