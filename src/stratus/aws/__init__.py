"""The AWS provider, in two halves that never meet on Lambda:

- ``runtime``: what every function runs, shipped in the Lambda asset: the one entry point and the
  port adapters over boto3 (each kind's module also names the IAM actions its adapter calls);
- ``deploy``: what builds and ships it, never shipped: synthesis (a module per kind), the asset's
  bundling (an allowlist), and deployment with the CDK CLI.

Adapters take their boto3 client by injection and do nothing at import time, so a Lambda cold
start pays only for what a handler actually uses.
"""

AWS_EXTRA = "pip install 'stratus[aws]' (from a checkout: pip install -e '.[aws]')"  # what brings the AWS pieces
