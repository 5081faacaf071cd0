"""botocore's errors as the project's, translated once, for every adapter.

An adapter maps the errors its port gives a meaning to (a failed condition, a missing object)
itself; everything else AWS refuses becomes a ``ServiceError`` with AWS's code, message and
status, as the local engines raise it: a handler's ``except`` works the same on both providers.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from ...errors import ServiceError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def service_error(exc: ClientError | BotoCoreError) -> ServiceError:
    """The ``ServiceError`` for a botocore error (one the client never got an answer to is a 503)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        return ServiceError(error_code(exc) or "UnknownError", str(error.get("Message") or exc), int(status))
    return ServiceError(type(exc).__name__, str(exc), 503)
