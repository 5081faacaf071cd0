"""The AWS provider: adapters from the ports to AWS services over boto3.

Adapters take their boto3 client by injection and do nothing at import time, so
a Lambda cold start pays only for what a handler actually uses.
"""
