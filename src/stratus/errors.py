"""One error tree for the whole project.

    StratusError
    ├── ConfigError            an app graph or a command line that cannot work
    │   └── UnsupportedFeature a declared feature this provider does not implement
    ├── ConditionFailed        a conditional table write whose condition did not hold
    ├── InvalidToken           a pagination (or other opaque) token that is not ours
    ├── InvalidItem            an item a table cannot store (missing or mistyped key, too big)
    ├── MailRejected           a message the mail service would not take or could not deliver
    ├── TokenRejected          a JWT that does not verify (the message is safe to show the caller)
    ├── ServiceError           an AWS service's refusal: code, message, status (and fields); each wire
    │                          protocol renders it its own way (S3's XML, AWS JSON's __type), and an
    │                          adapter raises it for a provider error the port has no meaning for
    └── HttpError              anything that answers an HTTP client; carries its status
        ├── BadRequest (400) ── ValidationError (400, names the bad fields)
        ├── Unauthorized (401)
        ├── Forbidden (403)
        ├── NotFound (404)
        ├── MethodNotAllowed (405)
        ├── Conflict (409)
        ├── PayloadTooLarge (413)
        └── UnsupportedMediaType (415)

Adapters translate foreign errors (sqlite3, botocore, jwt) into this tree once,
at the boundary, with ``raise ... from exc``: a handler's ``except`` behaves the same
whichever provider runs it.
"""

from __future__ import annotations


class StratusError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(StratusError):
    """An app graph, a setting or a command line that cannot work."""


class UnsupportedFeature(ConfigError):
    """A declared feature the chosen provider does not implement; the message names it."""


class ConditionFailed(StratusError):
    """A conditional write found the item not in the expected state."""


class InvalidToken(StratusError):
    """An opaque token (e.g. a pagination token) that was not issued for this request."""


class InvalidItem(StratusError):
    """An item a table cannot store: a missing or mistyped key, a value JSON cannot hold, over 400 KB."""


class MailRejected(StratusError):
    """A message the mail service refused or could not deliver; the message says why."""


class TokenRejected(StratusError):
    """A token (a JWT) that was refused; the message says why and is safe to show the caller."""


class ServiceError(StratusError):
    """An AWS service's error: ``code`` as the service names it (``NoSuchKey``, ``NotAuthorizedException``),
    a ``message`` for the caller, the HTTP ``status``, and ``fields`` some protocols add (S3's ``Key``, ...)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.fields = code, message, status, fields


class HttpError(StratusError):
    """An error that answers an HTTP client with ``status`` and a JSON message."""

    status = 500

    def __init__(self, message: str, *, status: int | None = None, headers: dict[str, str] | None = None,
                 details: object = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {"message": self.message}
        if self.details is not None:
            out["errors"] = self.details
        return out


class BadRequest(HttpError):
    status = 400


class ValidationError(BadRequest):
    """A request whose body or parameters break the declared schema; ``details`` lists each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid request: " + "; ".join(problems), details=problems)
        self.problems = problems


class Unauthorized(HttpError):
    status = 401


class Forbidden(HttpError):
    status = 403


class NotFound(HttpError):
    status = 404


class MethodNotAllowed(HttpError):
    status = 405


class Conflict(HttpError):
    status = 409


class PayloadTooLarge(HttpError):
    status = 413


class UnsupportedMediaType(HttpError):
    status = 415
