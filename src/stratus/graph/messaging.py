"""Messaging: email (SES)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from ..ports.mailer import Mailer
from ..schema import EMAIL
from ._base import Resource, Usable, check_name


@dataclass(eq=False, repr=False)
class Email(Resource, Usable[Mailer]):
    """Sending email (SES) from ``sender``: a handler that declares it in ``uses`` gets ``ctx.mailer``.

    Declared with ``app.email(...)``, which lists its options.

    Locally, mail goes to the data dir's outbox (or ``stratus up --smtp``); on AWS, through SES,
    where ``sender`` (or its domain) must be an identity the account has verified.
    """

    kind: ClassVar[str] = "email"
    name: str
    sender: str

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        if not isinstance(self.sender, str) or not EMAIL.match(self.sender):
            raise ConfigError(f"email {self.name!r}: sender {self.sender!r} is not a plain email address")
