"""The ``Mailer`` port on Amazon SES.

The message is the same RFC 5322 message the local mailers send (``to_mime``), handed to
SES whole. The sender must be an identity SES has verified (on AWS, set up once per
account); a message SES refuses raises ``MailRejected`` with SES's reason.
"""

from __future__ import annotations

import email.policy
import time
from typing import Any

from botocore.exceptions import ClientError

from ..errors import MailRejected
from ..ports.mailer import Mail, to_mime


class SesMailer:
    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, mail: Mail) -> str:
        raw = to_mime(mail, time.time()).as_bytes(policy=email.policy.SMTP)
        try:
            res = self.client.send_raw_email(Source=mail.sender, Destinations=[mail.to], RawMessage={"Data": raw})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise MailRejected(f"SES refused the message to {mail.to}: {error.get('Code')}: {error.get('Message')}") from exc
        return str(res["MessageId"])
