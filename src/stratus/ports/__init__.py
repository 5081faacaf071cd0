"""Ports: the small interfaces handlers use, implemented by every provider.

Each port takes and returns the project's own types, never an engine's rows or
an SDK's dicts. The contract tests run one suite per port against every
implementation.
"""

from .mailer import Mail, Mailer
from .objects import ObjectInfo, ObjectPage, ObjectStorePort, StoredObject
from .table import KeyCondition, Page, TablePort

__all__ = ["KeyCondition", "Mail", "Mailer", "ObjectInfo", "ObjectPage", "ObjectStorePort", "Page", "StoredObject",
           "TablePort"]
