"""A bucket's triggers on AWS: a function running the one entry point (``STRATUS_TRIGGER``), called by the bucket's
event notifications (created or removed objects, filtered by the declared prefix and suffix), asynchronously: tried
as declared (three times by default, at most three: Lambda's most), what still fails sent to an SQS queue of its
own. The queue feeds the same function through an event source mapping that is off: turning it on sends the
dead letters again (the redrive on AWS), and the entry point takes each back as the notification it was."""

from __future__ import annotations

from typing import Any

from ....errors import UnsupportedFeature
from ....graph import App, ObjectTrigger
from ..functions import handler_function
from ..synth import StackBuilder, SynthKind
from .table_trigger import failure_queue


class ObjectTriggerKind(SynthKind[ObjectTrigger]):
    def check(self, decl: ObjectTrigger, app: App) -> None:
        if decl.max_attempts is None or decl.max_attempts > 3:
            raise UnsupportedFeature(f"trigger {decl.name!r}: max_attempts={decl.max_attempts}; Lambda tries an S3 "
                                     "notification at most 3 times (two retries)")

    def build(self, b: StackBuilder, decl: ObjectTrigger) -> Any:
        name = b.id(decl)
        fn = handler_function(b, name, decl.uses, {"STRATUS_TRIGGER": decl.name}, decl.timeout,
                              f"trigger {decl.name}: what the handler declares it uses",
                              f"{b.graph.name}: objects {decl.events} in bucket {decl.bucket.name} ({decl.name})",
                              {decl.bucket: decl.writes} if decl.writes else None)
        assert decl.max_attempts is not None
        failed = failure_queue(b, name)
        fn.configure_async_invoke(retry_attempts=decl.max_attempts - 1, max_event_age=b.cdk.Duration.hours(6),
                                  on_failure=b.cdk.aws_lambda_destinations.SqsDestination(failed))
        fn.add_event_source(b.events_.SqsEventSource(failed, enabled=False, batch_size=10,
                                                     report_batch_item_failures=True))
        s3 = b.s3
        event = s3.EventType.OBJECT_CREATED if decl.events == "created" else s3.EventType.OBJECT_REMOVED
        filters = [s3.NotificationKeyFilter(prefix=decl.prefix or None, suffix=decl.suffix or None)] \
            if decl.prefix or decl.suffix else []
        b.construct(decl.bucket).add_event_notification(event, b.s3n.LambdaDestination(fn), *filters)
        return fn


KIND = ObjectTriggerKind()
