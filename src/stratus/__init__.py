"""stratus: classic AWS serverless architectures in Python, run whole on one machine.

Apps import only from here: declare resources on an ``App``, write handlers
that take typed events and a ``Context``, and let a provider run them.
"""

from .app import ApiCache, App, Bucket, IdentityPool, PasswordPolicy, RestApi, Table, TableCache, Throttle, UserPool
from .context import Context
from .errors import BadRequest, ConditionFailed, Conflict, Forbidden, HttpError, InvalidToken, NotFound, StratusError
from .events import Principal, Request, Response
from .ports.table import KeyCondition, Page

__version__ = "0.1.0"

__all__ = [
    "ApiCache", "App", "BadRequest", "Bucket", "ConditionFailed", "Conflict", "Context", "Forbidden", "HttpError",
    "IdentityPool", "InvalidToken",
    "KeyCondition", "NotFound", "Page", "PasswordPolicy", "Principal", "Request", "Response", "RestApi",
    "StratusError", "Table", "TableCache", "Throttle", "UserPool",
]
