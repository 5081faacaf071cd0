"""The endpoints document: how clients find a system's endpoints, ids and names.

``stratus up`` writes it into the data dir (``endpoints.json``), and ``stratus deploy`` writes
the same shape from the deployed stack, so the same clients find everything wherever the app
runs. Each app's entry is built here, by one function both providers call with the facts each
gives of its resources (a user pool's ids and issuer, a bucket's real name, an API's URL):

    {"apps": {"todo": {"apis": {"api": URL}, "api": URL,
                       "user_pools": {"users": {"id": ..., "clients": {...}, "issuer": ...}},
                       "user_pool_id": ..., "user_pool_client_id": ...,
                       "identity_pools": {"identities": ID}, "identity_pool_id": ID,
                       "buckets": {"files": REAL NAME}}}}

An app with global tables lists its regions too, the home region's URLs the same as ``apis``:

    "regions": {"us-east-1": {"apis": {"api": URL}, "api": URL}, "eu-west-1": {...}}

A resource kind says where it is listed (``Resource.endpoints_group``) and which shortcut keys
the first of its kind adds (``Resource.endpoints_first``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .graph import App, Resource


def app_entry(app: App, facts: Callable[[Resource], Any],
              regional_apis: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The app's entry in the endpoints document; ``facts`` gives what a provider knows of each resource (None:
    nothing to list); ``regional_apis`` each region's base URL of each REST API (an app with global tables)."""
    entry: dict[str, Any] = {}
    if regional_apis:
        entry["regions"] = {region: {"apis": apis, **({"api": next(iter(apis.values()))} if apis else {})}
                            for region, apis in regional_apis.items()}
    first: set[str] = set()
    for r in app.resources.values():
        if r.endpoints_group is None:
            continue
        described = facts(r)
        if described is None:
            continue
        entry.setdefault(r.endpoints_group, {})[r.name] = described
        if r.kind not in first:
            first.add(r.kind)
            entry.update(r.endpoints_first(described))
    return entry
