"""MyTodoList: a mobile backend.

A user signs up to the ``users`` pool and calls the REST API with their access
token. Every todo is stored under its owner's ``sub`` as partition key, so a
user can only ever read, list, change or delete their own todos: another
user's todo id simply is not found.

Files (attachments, photos) do not go through the API: the client trades its ID
token at the ``identities`` pool for temporary AWS credentials and talks to the
``files`` bucket directly, confined by the role policy below to its own folder,
``<identity id>/``. No long-lived credential ever ships in the app.

Reads dominate, so both caches are on, and no handler knows it:
- the table has a DAX-style cache. Its item cache is write-through, so reading a
  todo after changing it is always current. Its query cache is not invalidated by
  writes (DAX's rule), so the list query carries the user's *list version* in its
  sort-key condition: every write bumps the version (an item, so write-through),
  which moves the list to a new query-cache key; old keys age out by TTL.
- the API has a stage cache keyed by caller, path and declared query parameters;
  each write route declares the cached paths it makes stale (``invalidates``), and
  the local gateway drops just that caller's entries for them. API Gateway cannot
  drop one caller's entries, so on AWS a cached read lives out its TTL (300 s);
  ``stratus synth`` names the routes this affects.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from stratus import (
    ApiCache,
    App,
    AuthRequest,
    BadRequest,
    ConditionFailed,
    Conflict,
    Context,
    KeyCondition,
    NotFound,
    Response,
    TableCache,
)

app = App("todo")
users = app.user_pool("users")
todos = app.table("todos", partition_key="owner", sort_key="id", cache=TableCache())
lists = app.table("list-versions", partition_key="owner", cache=TableCache())
api = app.rest_api("api", authorizer=users, title="MyTodoList", cache=ApiCache(ttl=300))
files = app.bucket("files")
identities = app.identity_pool("identities", user_pool=users, authenticated_policy={
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{files.arn}/${{cognito-identity.amazonaws.com:sub}}/*"]},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": files.arn,
         "Condition": {"StringLike": {"s3:prefix": ["${cognito-identity.amazonaws.com:sub}/*"]}}},
    ],
})

FIELDS: dict[str, Any] = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "notes": {"type": "string", "maxLength": 4000},
    "done": {"type": "boolean"},
    "due": {"type": ["string", "null"], "format": "date", "description": "YYYY-MM-DD, or null for none"},
    "tags": {"type": "array", "maxItems": 20, "uniqueItems": True,
             "items": {"type": "string", "minLength": 1, "maxLength": 40}},
}
NEW_TODO = {"type": "object", "additionalProperties": False, "required": ["title"], "properties": FIELDS}
TODO_CHANGES = {"type": "object", "additionalProperties": False, "properties": FIELDS}
LIST_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    "next_token": {"type": "string", "maxLength": 2048},
    "done": {"type": "boolean"},
}
_ID = re.compile(r"^[0-9a-f]{24}$")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(t: float) -> str:
    """Time-ordered ids (microseconds, then randomness), so a user's list comes back oldest first."""
    return f"{int(t * 1_000_000):013x}{secrets.token_hex(6)[:11]}"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "owner"}


def _bump_list(req: AuthRequest, ctx: Context) -> None:
    """A new list version for the caller: their next list query is a new query-cache key.

    A compare-and-set counter, so two writes never share a version (the clock may not move).
    """
    table, key = ctx.table(lists), {"owner": req.user.sub}
    while True:
        current = (table.get(key, consistent=True) or {}).get("v")
        try:
            table.put({**key, "v": (current or 0) + 1}, expect={"v": current})
            return
        except ConditionFailed:
            continue


def _key(req: AuthRequest) -> dict[str, str]:
    todo_id = req.path_params["id"]
    if not _ID.match(todo_id):
        raise NotFound(f"todo {todo_id} not found")
    return {"owner": req.user.sub, "id": todo_id}


@api.post("/todos", body=NEW_TODO, uses=[todos, lists], status=201, invalidates=["/todos"])
def create_todo(req: AuthRequest, ctx: Context) -> Response:
    """Create a todo."""
    now = ctx.now()
    item = {"owner": req.user.sub, "id": _new_id(now), "title": req.json["title"], "notes": req.json.get("notes", ""),
            "done": req.json.get("done", False), "due": req.json.get("due"), "tags": req.json.get("tags", []),
            "created_at": _iso(now), "updated_at": _iso(now), "version": 1}
    ctx.table(todos).put(item, if_absent=True)
    _bump_list(req, ctx)
    return Response(201, _public(item), {"location": f"{req.base_url}/todos/{item['id']}"})


@api.get("/todos", query=LIST_QUERY, uses=[todos, lists])
def list_todos(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    """List the caller's todos, oldest first, a page at a time."""
    where = {"done": req.query["done"]} if "done" in req.query else None
    version = (ctx.table(lists).get({"owner": req.user.sub}) or {"v": 0})["v"]
    # every id is lowercase hex, so this condition selects them all; it differs per list version
    page = ctx.table(todos).query(req.user.sub, sort=KeyCondition.lt(f"~{version}"), where=where,
                                  limit=req.query.get("limit", 20), next_token=req.query.get("next_token"))
    return {"items": [_public(i) for i in page.items], "next_token": page.next_token}


@api.get("/todos/{id}", uses=[todos])
def get_todo(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    """Read one todo."""
    item = ctx.table(todos).get(_key(req))
    if item is None:
        raise NotFound(f"todo {req.path_params['id']} not found")
    return _public(item)


@api.patch("/todos/{id}", body=TODO_CHANGES, uses=[todos, lists], invalidates=["/todos", "/todos/{id}"])
def update_todo(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    """Change any of title, notes, done, due and tags."""
    key, table = _key(req), ctx.table(todos)
    if not req.json:
        raise BadRequest("nothing to update: send at least one of " + ", ".join(FIELDS))
    current = table.get(key)
    if current is None:
        raise NotFound(f"todo {key['id']} not found")
    changes = {**req.json, "updated_at": _iso(ctx.now()), "version": current["version"] + 1}
    try:  # optimistic concurrency: the write only lands on the version just read
        new = table.update(key, changes, expect={"version": current["version"]})
    except ConditionFailed:
        raise Conflict(f"todo {key['id']} was changed or deleted meanwhile; read it again") from None
    _bump_list(req, ctx)
    return _public(new)


@api.delete("/todos/{id}", uses=[todos, lists], status=204, invalidates=["/todos", "/todos/{id}"])
def delete_todo(req: AuthRequest, ctx: Context) -> None:
    """Delete one todo."""
    try:
        ctx.table(todos).delete(_key(req), if_exists=True)
    except ConditionFailed:
        raise NotFound(f"todo {req.path_params['id']} not found") from None
    _bump_list(req, ctx)
