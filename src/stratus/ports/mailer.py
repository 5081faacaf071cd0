"""The ``Mailer`` port: send one email.

``Mailer`` is a base class: ``send`` checks the message once for every implementation
(plain addresses, a one-line subject: nothing a mail header could be split or forged
with), builds the one RFC 5322 message every mailer sends (``to_mime``), and hands it
to ``_deliver``, which an implementation fills in (the outbox, SMTP, SES).
"""

from __future__ import annotations

import copy
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import EmailMessage

from ..clock import Clock, SystemClock
from ..errors import MailRejected
from ..schema import EMAIL

DEFAULT_SENDER = "no-reply@stratus.local"
MESSAGE_ID = re.compile(r"(?=.{1,128}\Z)[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")  # dot-atom text
# a host, then printable ASCII but space, ',', '<' and '>' (List-Unsubscribe lists URLs in <>, comma-separated)
UNSUBSCRIBE = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?][\x21-\x2b\x2d-\x3b\x3d\x3f-\x7e]*)?")
# how every mailer writes a message: lines up to RFC 5322's 998 characters, so a long header (an unsubscribe
# URL) stays one plain line instead of being folded into encoded words, which List-Unsubscribe may not hold
WIRE = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Mail:
    """One email, for ``ctx.mailer.send(Mail(...))``.

    - ``to``: the recipient, one plain email address.
    - ``subject``: one line of text.
    - ``text``: the plain-text body.
    - ``sender``: the address it is from; None (the default): the declared ``Email``'s ``sender``, the only
      one a declared ``Email``'s mailer sends from.
    - ``html``: an HTML body, sent as an alternative to ``text``; default None.
    - ``message_id``: a name for this message that a retry would give it again (``f"welcome-{event.event_id}"``):
      1-128 of letters, digits, ``_`` and ``-``, in parts joined by single dots. It becomes the ``Message-ID``
      (``<name@sender's domain>``; SES puts its own in its place), and the local outbox keeps one message per id
      and recipient, so a handler run twice mails once. SMTP servers and SES take each message they are given;
      there, a crash between sending and recording it may repeat a mail. None (the default): a new id for each
      message.
    - ``unsubscribe``: an HTTPS URL that unsubscribes the recipient when POSTed to (RFC 8058's one-click
      unsubscribe, which large mailbox providers ask of bulk senders): sent as ``List-Unsubscribe`` and
      ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; default None.
    """

    to: str
    subject: str
    text: str
    sender: str | None = None  # None: the mailer's own sender (a declared Email's)
    html: str | None = None
    message_id: str | None = None
    unsubscribe: str | None = None


class Mailer:
    """Sends email: ``ctx.mailer`` (or ``ctx.use(email)``) for a declared ``Email`` (SES on AWS)."""

    def __init__(self, clock: Clock | None = None, sender: str = DEFAULT_SENDER, *, only_sender: bool = False) -> None:
        self.clock = clock or SystemClock()
        self.sender = sender
        self.only_sender = only_sender  # a declared Email's mailer sends from its sender and no other

    def send(self, mail: Mail) -> str:
        """Send ``mail``; its message id (SES's SendRawEmail on AWS; locally the outbox or SMTP).

        - ``mail``: a ``Mail``. Addresses must be plain email addresses and the subject one line; a mail
          that cannot be sent as it is, or that the service refuses, is ``MailRejected``.
        """
        sender = mail.sender or self.sender
        if self.only_sender and sender != self.sender:
            raise MailRejected(f"this mailer sends from {self.sender} only, not {sender!r} (the declared Email's sender, "
                               "as its role on AWS allows)")
        for role, address in (("recipient", mail.to), ("sender", sender)):
            if not isinstance(address, str) or not EMAIL.match(address):
                raise MailRejected(f"the {role} {address!r} is not a plain email address")
        if (not isinstance(mail.subject, str) or len(mail.subject.splitlines()) > 1
                or any(not c.isprintable() for c in mail.subject)):
            raise MailRejected("the subject must be one line of text without control characters")
        if not isinstance(mail.text, str) or not (mail.html is None or isinstance(mail.html, str)):
            raise MailRejected("the text (and html) of a mail must be strings")
        if mail.unsubscribe is not None and (not isinstance(mail.unsubscribe, str) or len(mail.unsubscribe) > 900
                                             or not UNSUBSCRIBE.fullmatch(mail.unsubscribe)):
            raise MailRejected("unsubscribe must be one https:// URL with a host, of printable ASCII without spaces, "
                               "commas or <>, at most 900 characters")
        if mail.message_id is not None and (not isinstance(mail.message_id, str)
                                            or not MESSAGE_ID.fullmatch(mail.message_id)):
            raise MailRejected("a message_id is 1-128 of letters, digits, '_' and '-', in parts joined by single dots")
        try:
            msg = to_mime(mail, sender, self.clock.now())
        except ValueError as exc:  # anything else the email library will not put in a message
            raise MailRejected(f"the mail to {mail.to} cannot be written as a message: {exc}") from exc
        return self._deliver(msg, sender, mail.to, mail.message_id)

    def with_sender(self, sender: str) -> Mailer:
        """This mailer, sending from ``sender`` only (a declared Email's sender)."""
        other = copy.copy(self)
        other.sender, other.only_sender = sender, True
        return other

    def _deliver(self, msg: EmailMessage, sender: str, to: str, message_id: str | None = None) -> str:
        """Send the checked message; its id (or the service's). ``message_id``: the mail's own, when it has one (a
        mailer that can keeps one message per id)."""
        raise NotImplementedError


def to_mime(mail: Mail, sender: str, when: float) -> EmailMessage:
    """The RFC 5322 message every mailer sends for ``mail``: text, and HTML as an alternative if given."""
    msg = EmailMessage(policy=WIRE.clone(linesep="\n"))  # (smtplib sends it with CRLF)
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.formatdate(when, usegmt=True)
    domain = sender.rpartition("@")[2]
    msg["Message-ID"] = f"<{mail.message_id}@{domain}>" if mail.message_id else email.utils.make_msgid(domain=domain)
    if mail.unsubscribe is not None:
        msg["List-Unsubscribe"] = f"<{mail.unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg
