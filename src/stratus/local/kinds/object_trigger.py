"""A bucket's object events, locally: a subscription of the object store's event log that hands each event of the
bucket, under the trigger's prefix and with its suffix, to the handler."""

from __future__ import annotations

import uuid
from typing import Any

from ...events import ObjectCreated, ObjectRemoved
from ...graph import ObjectTrigger
from ..events.delivery import Subscription
from ..runtime import AppEngines
from .table_trigger import TriggerKind

_IDS = uuid.UUID("2a4f0e4c-5d7b-4d8e-b1f3-0c6e9a7d5b22")  # the namespace event ids are made in


class ObjectTriggerKind(TriggerKind[ObjectTrigger]):
    def build(self, app: AppEngines, decl: ObjectTrigger) -> Subscription:
        real = app.engine(decl.bucket, f"trigger {decl.name!r}: its bucket")
        family = "ObjectCreated:" if decl.events == "created" else "ObjectRemoved:"

        def accepts(body: dict[str, Any]) -> bool:
            key = body["key"]
            return body["kind"].startswith(family) and key.startswith(decl.prefix) and key.endswith(decl.suffix)

        def decode(seq: int, body: dict[str, Any], at: float) -> ObjectCreated | ObjectRemoved:
            sequencer, event_id = f"{seq:016X}", str(uuid.uuid5(_IDS, f"{real}/{seq}"))
            if decl.events == "created":
                return ObjectCreated(decl.bucket.name, body["key"], body["size"] or 0, (body["etag"] or "").strip('"'),
                                     body["kind"], sequencer, at, event_id)
            return ObjectRemoved(decl.bucket.name, body["key"], body["kind"], sequencer, at, event_id)
        return self.subscribe(app, decl, app.runtime.services.object_events, f"bucket:{real}", accepts, decode)


KIND = ObjectTriggerKind()
