"""Email, locally: the system's mailer (the outbox folder, or ``--smtp``), sending from the declared sender."""

from __future__ import annotations

from ...graph import Email
from ...ports.mailer import Mailer
from ..runtime import AppEngines, LocalKind


class EmailKind(LocalKind[Email, Mailer]):
    def build(self, app: AppEngines, decl: Email) -> Mailer:
        return app.runtime.mailer.with_sender(decl.sender)

    def port(self, app: AppEngines, decl: Email, engine: Mailer) -> Mailer:
        return engine


KIND = EmailKind()
