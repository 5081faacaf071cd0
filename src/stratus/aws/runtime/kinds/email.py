"""The ``Mailer`` port on Amazon SES.

The message is the same RFC 5322 message the local mailers send (``to_mime``), handed to
SES whole. The sender must be an identity SES has verified (on AWS, set up once per
account); a message SES refuses raises ``MailRejected`` with SES's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ....clock import Clock
from ....errors import MailRejected
from ....graph import Email
from ....ports.mailer import WIRE, Mailer
from . import AwsKind, Clients, Statement

MAIL_ACTIONS = ("ses:SendRawEmail",)


class SesMailer(Mailer):
    def __init__(self, client: Any, clock: Clock | None = None, sender: str | None = None) -> None:
        super().__init__(clock)
        if sender is not None:
            self.sender, self.only_sender = sender, True
        self.client = client

    def _deliver(self, msg: EmailMessage, sender: str, to: str, message_id: str | None = None) -> str:
        try:
            res = self.client.send_raw_email(Source=sender, Destinations=[to],
                                             RawMessage={"Data": msg.as_bytes(policy=WIRE)})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise MailRejected(f"SES refused the message to {to}: {error.get('Code')}: {error.get('Message')}") from exc
        except BotoCoreError as exc:
            raise MailRejected(f"SES could not be reached for the message to {to}: {exc}") from exc
        return str(res["MessageId"])


class EmailKind(AwsKind[Email]):
    """The function's environment names the sender; the role may send from that address (or its domain) only."""

    def port(self, decl: Email, name: str, env: Mapping[str, str], clients: Clients) -> Mailer:
        return SesMailer(clients.get("ses"), sender=name)

    def grants(self, decl: Email, arn: str, shared: Mapping[str, str]) -> list[Statement]:
        """``arn`` is the account's SES identity ARN prefix (``arn:aws:ses:<region>:<account>:identity``): SES checks
        the sender's address identity, or its domain's if that is what the account verified. Either way only mail
        from the declared address is allowed."""
        domain = decl.sender.rpartition("@")[2]
        return [{"Effect": "Allow", "Action": list(MAIL_ACTIONS), "Resource": [f"{arn}/{decl.sender}", f"{arn}/{domain}"],
                 "Condition": {"StringEquals": {"ses:FromAddress": decl.sender}}}]


KIND = EmailKind()
