"""Ports: the small interfaces handlers use, implemented by every provider.

Each is a base class whose public methods check their arguments once; an
implementation fills in a few ``_hooks``.

Each port takes and returns the project's own types, never an engine's rows or
an SDK's dicts. The contract tests run one suite per port against every
implementation.
"""

from .mailer import Mail, Mailer
from .objects import ObjectInfo, ObjectPage, ObjectStorePort, PresignedPost, StoredObject
from .table import KeyCondition, Page, TablePort

__all__ = ["KeyCondition", "Mail", "Mailer", "ObjectInfo", "ObjectPage", "ObjectStorePort", "Page", "PresignedPost",
           "StoredObject",
           "TablePort"]
