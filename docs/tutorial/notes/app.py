"""Notes: each signed-in user keeps notes, and a text for each. docs/guide.md builds it step by step."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from stratus import App, AuthRequest, BadRequest, Context, NotFound, Request, Response

app = App("notes")
users = app.user_pool("users")               # a Cognito user pool: sign-up with an email address
api = app.rest_api("api", authorizer=users)  # an API Gateway REST API; its authorizer takes users' tokens


@api.get("/health", public=True)
def health(req: Request, ctx: Context) -> dict[str, str]:
    """Say the service is up; anyone may ask."""
    return {"status": "ok"}


@api.get("/me")
def me(req: AuthRequest, ctx: Context) -> dict[str, str]:
    """Who the caller is: their id in the user pool."""
    return {"sub": req.user.sub}


notes = app.table("notes", partition_key="owner", sort_key="id")  # a DynamoDB table


@dataclass
class NewNote:
    title: Annotated[str, {"minLength": 1, "maxLength": 200}]


@api.post("/notes", body=NewNote, status=201, uses=[notes])
def create_note(req: AuthRequest, ctx: Context) -> dict[str, str]:
    """Create a note."""
    new: NewNote = req.data
    note = {"id": secrets.token_hex(8), "title": new.title}
    ctx.table(notes).put({"owner": req.user.sub, **note}, if_absent=True)
    return note


@api.get("/notes", uses=[notes])
def list_notes(req: AuthRequest, ctx: Context) -> list[dict[str, str]]:
    """The caller's notes (the first 100)."""
    page = ctx.table(notes).query(req.user.sub, limit=100)
    return [{"id": item["id"], "title": item["title"]} for item in page.items]


texts = app.bucket("texts")  # an S3 bucket


def text_key(req: AuthRequest, ctx: Context) -> str:
    """Where the text of the caller's note named in the path is kept; NotFound if they have no such note."""
    note_id = req.path_params["id"]
    if ctx.table(notes).get({"owner": req.user.sub, "id": note_id}) is None:
        raise NotFound(f"note {note_id} not found")
    return f"{req.user.sub}/{note_id}.txt"


@api.put("/notes/{id}/text", status=204, uses=[notes, texts])
def put_text(req: AuthRequest, ctx: Context) -> None:
    """Keep the request's body, UTF-8 text, as the note's text."""
    try:
        req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("a note's text is UTF-8") from None
    ctx.bucket(texts).put(text_key(req, ctx), req.body, content_type="text/plain; charset=utf-8")


@api.get("/notes/{id}/text", uses=[notes, texts])
def get_text(req: AuthRequest, ctx: Context) -> Response:
    """The note's text."""
    stored = ctx.bucket(texts).get(text_key(req, ctx))
    if stored is None:
        raise NotFound("the note has no text yet")
    return Response(200, stored.data, {"content-type": stored.info.content_type})
