"""A bucket's triggers on AWS: not synthesized yet. They would be S3 event notifications to a function running the
one entry point, filtered by prefix and suffix, with two retries and an SQS queue for what fails; until then
``stratus synth`` refuses an app that declares one, naming it, rather than deploy it without."""

from __future__ import annotations

from typing import Any

from ....errors import UnsupportedFeature
from ....graph import App, ObjectTrigger
from ..synth import StackBuilder, SynthKind


class ObjectTriggerKind(SynthKind[ObjectTrigger]):
    def check(self, decl: ObjectTrigger, app: App) -> None:
        raise UnsupportedFeature(f"app {app.name!r}: trigger {decl.name!r} (the objects {decl.events} in bucket "
                                 f"{decl.bucket.name!r}): triggers run under `stratus up`, and are not synthesized "
                                 "for AWS yet")

    def build(self, b: StackBuilder, decl: ObjectTrigger) -> Any:
        raise UnsupportedFeature(f"trigger {decl.name!r} is not synthesized for AWS yet")


KIND = ObjectTriggerKind()
