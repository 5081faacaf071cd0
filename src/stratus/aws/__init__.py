"""The AWS provider: adapters from the ports to AWS services over boto3, the Lambda entry
point, synthesis to CloudFormation and deployment.

Adapters take their boto3 client by injection and do nothing at import time, so
a Lambda cold start pays only for what a handler actually uses.
"""

AWS_EXTRA = "pip install 'stratus[aws]' (from a checkout: pip install -e '.[aws]')"  # what brings the AWS pieces
