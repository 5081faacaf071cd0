"""The app graph: what an app declares, as plain data, a module per resource family.

An app module builds an ``App`` at import time and declares its resources and
handlers on it. Declaring does no I/O and touches no engine: the graph is data
that each provider interprets. The local provider (``stratus.local``) runs it on
embedded engines; the AWS provider synthesizes it into CloudFormation.

Every resource has a ``kind``. Each provider keeps a registry keyed by kind
(``stratus.local.kinds``, ``stratus.aws.runtime.kinds``, ``stratus.aws.deploy.kinds``);
a provider without a module for a kind refuses the whole app with
``UnsupportedFeature``, naming it, instead of running half of it.

Handlers name the resources they use (``uses=[todos]``). The local provider
hands a handler only those resources, and the AWS provider derives each
function's least-privilege role from the same list, so a missing declaration
fails the same way in both places.

    auth        UserPool, PasswordPolicy, HostedSignIn, IdentityPool
    data        Table, KeyAttr, TableCache
    storage     Bucket
    api         RestApi, Route, ApiCache, Throttle
    messaging   Email
    edge        Distribution, Behavior, CachePolicy, BucketOrigin, ApiOrigin, HttpOrigin, ErrorResponse,
                BucketDeployment
    triggers    TableTrigger, ObjectTrigger: handlers events call (a table's changes, a bucket's objects)
    app         App, which ties them together
"""

from ._base import Resource, Usable, check_name
from .api import METHODS, PARAM, PARAM_SEGMENT, ApiCache, Handler, RestApi, Route, Throttle
from .app import App
from .auth import HostedSignIn, IdentityPool, PasswordPolicy, UserPool
from .data import KEY_TYPES, KeyAttr, Table, TableCache
from .edge import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    AllExcept,
    ApiOrigin,
    Behavior,
    BucketDeployment,
    BucketOrigin,
    CachePolicy,
    Distribution,
    ErrorResponse,
    HttpOrigin,
)
from .messaging import Email
from .storage import Bucket, bucket_placeholder, placeholder_names
from .triggers import ObjectTrigger, TableTrigger

__all__ = ["AllExcept", "ApiCache", "ApiOrigin", "App", "Behavior", "Bucket", "BucketDeployment", "BucketOrigin",
           "CACHING_DISABLED", "CACHING_OPTIMIZED", "CachePolicy", "Distribution", "Email", "ErrorResponse",
           "Handler", "HostedSignIn", "HttpOrigin", "IdentityPool", "KEY_TYPES", "KeyAttr", "METHODS",
           "ObjectTrigger", "PARAM", "PARAM_SEGMENT", "PasswordPolicy", "Resource", "RestApi", "Route", "Table",
           "TableCache", "TableTrigger", "Throttle", "Usable", "UserPool", "bucket_placeholder", "check_name",
           "placeholder_names"]
