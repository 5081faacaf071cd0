"""Email on AWS: SES. Nothing is created: the sender (or its domain) must be an identity the account has
verified once; a function using it may send from the declared address only."""

from __future__ import annotations

from typing import Any

from ....graph import Email
from ..synth import Binding, StackBuilder, SynthKind


class EmailKind(SynthKind[Email]):
    def build(self, b: StackBuilder, decl: Email) -> Any:
        """The account's SES identity ARN prefix, which the runtime's grants complete with the sender and its domain."""
        aws = b.cdk.Aws
        return b.cdk.Fn.join("", ["arn:", aws.PARTITION, ":ses:", aws.REGION, ":", aws.ACCOUNT_ID, ":identity"])

    def bind(self, b: StackBuilder, decl: Email, built: Any) -> Binding:
        return Binding(decl.sender, built)


KIND = EmailKind()
