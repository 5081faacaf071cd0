"""stratus: classic AWS serverless architectures in Python, run whole on one machine.

Apps import only from here: declare resources on an ``App``, write handlers
that take typed events and a ``Context``, and let a provider run them.
``stratus.testing`` holds what tests of an app use (an in-process client, a
clock to move); it is not imported here, so a deployed function never loads it.
"""

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
from .events import AuthRequest, Principal, Request, Response, StreamingResponse
from .graph import (
    ApiCache,
    App,
    Bucket,
    Email,
    IdentityPool,
    KeyAttr,
    PasswordPolicy,
    RestApi,
    Table,
    TableCache,
    Throttle,
    UserPool,
)
from .ports import (
    KeyCondition,
    Mail,
    Mailer,
    ObjectInfo,
    ObjectPage,
    ObjectStorePort,
    Page,
    StoredObject,
    TablePort,
)
from .typeschema import JsonSchema

__version__ = "0.1.0"

__all__ = [
    "ApiCache", "App", "AuthRequest", "BadRequest", "Bucket", "ConditionFailed", "ConfigError", "Conflict",
    "Context", "Email", "Forbidden", "HttpError", "IdentityPool", "InvalidItem", "InvalidToken", "JsonSchema", "KeyAttr",
    "KeyCondition", "Mail", "MailRejected", "Mailer", "MethodNotAllowed", "NotFound", "ObjectInfo", "ObjectPage",
    "ObjectStorePort", "Page", "PasswordPolicy", "PayloadTooLarge", "Principal", "Request", "Response", "RestApi",
    "ServiceError", "StoredObject", "StratusError", "StreamingResponse", "Table", "TableCache", "TablePort",
    "Throttle", "TokenRejected", "Unauthorized", "UnsupportedFeature", "UnsupportedMediaType", "UserPool",
    "ValidationError",
]
