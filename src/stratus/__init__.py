"""stratus: classic AWS serverless architectures in Python, run whole on one machine.

Apps import only from here: declare resources on an ``App``, write handlers
that take typed events and a ``Context``, and let a provider run them.
``stratus.testing`` holds what tests of an app use (an in-process client, a
clock to move); it is not imported here, so a deployed function never loads it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing itself is not imported: `import stratus` stays cheap, and the command defers Ctrl-C
if TYPE_CHECKING:  # sooner (type checkers read this block by its name)
    from typing import Any

    from .context import Context
    from .errors import (
        BadRequest,
        ConditionFailed,
        ConfigError,
        Conflict,
        Forbidden,
        HttpError,
        InvalidItem,
        InvalidToken,
        MailRejected,
        MethodNotAllowed,
        NotFound,
        PayloadTooLarge,
        ServiceError,
        StratusError,
        TokenRejected,
        Unauthorized,
        UnsupportedFeature,
        UnsupportedMediaType,
        ValidationError,
    )
    from .events import (
        AuthRequest,
        ObjectCreated,
        ObjectRemoved,
        Principal,
        Request,
        Response,
        StreamingResponse,
        TableChange,
    )
    from .graph import (
        CACHING_DISABLED,
        CACHING_OPTIMIZED,
        AllExcept,
        ApiCache,
        ApiOrigin,
        App,
        Behavior,
        Bucket,
        BucketOrigin,
        CachePolicy,
        Distribution,
        Email,
        ErrorResponse,
        HostedSignIn,
        HttpOrigin,
        IdentityPool,
        KeyAttr,
        PasswordPolicy,
        RestApi,
        Table,
        TableCache,
        Throttle,
        UserPool,
    )
    from .idempotency import IdempotencyInProgress, idempotent
    from .ports import (
        KeyCondition,
        Mail,
        Mailer,
        ObjectInfo,
        ObjectPage,
        ObjectStorePort,
        Page,
        PresignedPost,
        StoredObject,
        TablePort,
    )
    from .typeschema import JsonSchema

# each name is imported from its module when first used: ``import stratus`` itself loads nothing, so the
# command starts at once (and notes a Ctrl-C from its first moment), and a function loads only what it uses
_HOME: dict[str, str] = {name: module for module, names in (
    ("context", ("Context",)),
    ("errors", ("BadRequest", "ConditionFailed", "ConfigError", "Conflict", "Forbidden", "HttpError", "InvalidItem",
               "InvalidToken", "MailRejected", "MethodNotAllowed", "NotFound", "PayloadTooLarge", "ServiceError",
               "StratusError", "TokenRejected", "Unauthorized", "UnsupportedFeature", "UnsupportedMediaType",
               "ValidationError")),
    ("events", ("AuthRequest", "ObjectCreated", "ObjectRemoved", "Principal", "Request", "Response",
                "StreamingResponse", "TableChange")),
    ("idempotency", ("IdempotencyInProgress", "idempotent")),
    ("graph", ("AllExcept", "ApiCache", "ApiOrigin", "App", "Behavior", "Bucket", "BucketOrigin", "CACHING_DISABLED",
               "CACHING_OPTIMIZED", "CachePolicy", "Distribution", "Email", "ErrorResponse", "HostedSignIn",
               "HttpOrigin", "IdentityPool", "KeyAttr", "PasswordPolicy", "RestApi",
               "Table", "TableCache", "Throttle", "UserPool")),
    ("ports", ("KeyCondition", "Mail", "Mailer", "ObjectInfo", "ObjectPage", "ObjectStorePort", "Page",
               "PresignedPost", "StoredObject", "TablePort")),
    ("typeschema", ("JsonSchema",)),
) for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'stratus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *(n for n in globals() if n.startswith("_"))})


__version__ = "0.1.0"

__all__ = [
    "AllExcept", "ApiCache", "ApiOrigin", "App", "AuthRequest", "BadRequest", "Behavior", "Bucket", "BucketOrigin",
    "CACHING_DISABLED", "CACHING_OPTIMIZED", "CachePolicy", "ConditionFailed", "ConfigError", "Conflict", "Context",
    "Distribution", "Email", "ErrorResponse", "Forbidden", "HostedSignIn", "HttpError", "HttpOrigin",
    "IdempotencyInProgress", "IdentityPool", "InvalidItem", "InvalidToken", "JsonSchema", "KeyAttr", "KeyCondition",
    "Mail", "MailRejected", "Mailer", "MethodNotAllowed", "NotFound", "ObjectCreated", "ObjectInfo", "ObjectPage",
    "ObjectRemoved", "ObjectStorePort", "Page", "PasswordPolicy", "PayloadTooLarge", "PresignedPost", "Principal",
    "Request", "Response", "RestApi", "ServiceError", "StoredObject", "StratusError", "StreamingResponse", "Table",
    "TableCache", "TableChange", "TablePort", "Throttle", "TokenRejected", "Unauthorized", "UnsupportedFeature",
    "UnsupportedMediaType", "UserPool", "ValidationError", "idempotent",
]
