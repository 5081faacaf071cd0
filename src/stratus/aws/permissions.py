"""Least privilege, derived: the IAM policy a handler needs, from what it declares it uses.

Each port names the AWS actions its adapter calls, and nothing more. A handler's policy
grants those actions on exactly the resources in its ``uses=[...]``, so a handler that
reaches for an undeclared resource fails on AWS as it fails locally. No statement has a
wildcard action; resources are the ARNs the deployment gives each declared resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..app import Bucket, Resource, Route, Table
from ..errors import UnsupportedFeature

# what DynamoTable calls (GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, Query)
TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                 "dynamodb:Query", "dynamodb:UpdateItem")
# the same through DAX, for tables that declare a cache
DAX_ACTIONS = ("dax:BatchGetItem", "dax:DeleteItem", "dax:GetItem", "dax:PutItem", "dax:Query", "dax:UpdateItem")
# what S3Bucket calls: Put/Get/Head (s3:GetObject)/DeleteObject on objects, ListObjectsV2 on the bucket
OBJECT_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
BUCKET_ACTIONS = ("s3:ListBucket",)


def handler_policy(route: Route, arn: Callable[[Resource], str], dax_arn: str | None = None) -> dict[str, Any]:
    """The IAM policy document for the function that serves ``route``.

    ``arn`` gives each declared resource's ARN (a table's, or a bucket's); ``dax_arn`` is the DAX
    cluster's, when the deployment has one.
    """
    statements: list[dict[str, Any]] = []
    through_dax = False
    for resource in route.uses:
        if isinstance(resource, Table):
            if resource.cache is not None and dax_arn is not None:
                # every call on a cached table goes to the cluster, which reaches DynamoDB with its own role
                through_dax = True
            else:
                statements.append({"Effect": "Allow", "Action": list(TABLE_ACTIONS), "Resource": [arn(resource)]})
        elif isinstance(resource, Bucket):
            statements.append({"Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": [f"{arn(resource)}/*"]})
            statements.append({"Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": [arn(resource)]})
        else:
            raise UnsupportedFeature(f"{route.method} {route.path} uses {resource!r}: the AWS provider grants "
                                     "handlers tables and buckets so far")
    if through_dax:
        statements.append({"Effect": "Allow", "Action": list(DAX_ACTIONS), "Resource": [dax_arn]})
    return {"Version": "2012-10-17", "Statement": statements}
