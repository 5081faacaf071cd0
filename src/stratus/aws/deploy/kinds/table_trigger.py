"""A table's triggers on AWS: not synthesized yet. They would be a DynamoDB stream's event source mapping to a
function running the one entry point, with the declared kinds as a filter, retries, and an SQS queue for what
fails; until then ``stratus synth`` refuses an app that declares one, naming it, rather than deploy it without."""

from __future__ import annotations

from typing import Any

from ....errors import UnsupportedFeature
from ....graph import App, TableTrigger
from ..synth import StackBuilder, SynthKind


class TableTriggerKind(SynthKind[TableTrigger]):
    def check(self, decl: TableTrigger, app: App) -> None:
        raise UnsupportedFeature(f"app {app.name!r}: trigger {decl.name!r} (the changes of table "
                                 f"{decl.table.name!r}): triggers run under `stratus up`, and are not synthesized "
                                 "for AWS yet")

    def build(self, b: StackBuilder, decl: TableTrigger) -> Any:
        raise UnsupportedFeature(f"trigger {decl.name!r} is not synthesized for AWS yet")


KIND = TableTriggerKind()
