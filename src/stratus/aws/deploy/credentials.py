"""Whether this machine has AWS credentials, asked before anything slow runs."""

from __future__ import annotations

from ...errors import StratusError


def check_credentials(profile: str | None = None) -> None:
    """A one-line error, before anything runs, when boto3's chain finds no AWS credentials."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        found = boto3.Session(profile_name=profile).get_credentials()
    except BotoCoreError as exc:  # e.g. a profile that is not configured
        raise StratusError(f"AWS credentials: {exc}") from None
    if found is None:
        raise StratusError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, or "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or pass --profile")
