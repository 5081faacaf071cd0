"""A table's triggers on AWS: a function running the one entry point (``STRATUS_TRIGGER``), fed by the table's
DynamoDB stream through an event source mapping: from the stream's end (as a new trigger starts locally), with the
declared kinds as a filter, the first failing record of a batch reported (so one item's changes stay in order),
batches halved on an error, retried as declared (until the record's 24 hours by default), and what still fails
sent to an SQS queue of its own, encrypted and kept 14 days."""

from __future__ import annotations

from typing import Any

from ....graph import TableTrigger
from ..functions import handler_function
from ..synth import StackBuilder, SynthKind

BATCH_SIZE = 10
FAILED_KEPT_DAYS = 14  # an SQS queue's longest retention


def failure_queue(b: StackBuilder, name: str) -> Any:
    """The queue a trigger's failures go to: encrypted by SQS, TLS only, kept as long as SQS keeps anything."""
    return b.sqs.Queue(b.stack, f"{name}-failed", encryption=b.sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                       retention_period=b.cdk.Duration.days(FAILED_KEPT_DAYS))


class TableTriggerKind(SynthKind[TableTrigger]):
    def build(self, b: StackBuilder, decl: TableTrigger) -> Any:
        name = b.id(decl)
        fn = handler_function(b, name, decl.uses, {"STRATUS_TRIGGER": decl.name}, decl.timeout,
                              f"trigger {decl.name}: what the handler declares it uses",
                              f"{b.graph.name}: the changes of table {decl.table.name} ({decl.name})")
        lambda_, sources = b.lambda_, b.events_
        retries = {} if decl.max_attempts is None else {"retry_attempts": decl.max_attempts - 1}
        fn.add_event_source(sources.DynamoEventSource(
            b.construct(decl.table), starting_position=lambda_.StartingPosition.LATEST, batch_size=BATCH_SIZE,
            bisect_batch_on_error=True, report_batch_item_failures=True,
            on_failure=sources.SqsDlq(failure_queue(b, name)),
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.or_(*sorted(decl.kinds))})],
            **retries))
        return fn


KIND = TableTriggerKind()
