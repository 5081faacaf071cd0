"""The AWS provider: adapters from the ports to AWS services over boto3, the Lambda entry
point, synthesis to CloudFormation and deployment.

Adapters take their boto3 client by injection and do nothing at import time, so
a Lambda cold start pays only for what a handler actually uses.
"""

from ..errors import StratusError

AWS_EXTRA = "pip install 'stratus[aws]' (from a checkout: pip install -e '.[aws]')"  # what brings the AWS pieces


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
