"""MyBlog.com: a public blog, its subscribers' mail, its authors' photos, in two regions.

Readers need no account: they list posts (newest first, a page at a time), read one by its slug, and subscribe
with an email address. Subscribing stores the address in ``subscribers``, whose change stream calls
``welcome``: one welcome mail per subscriber, even when the event comes twice (``@idempotent``, and the mail's
Message-ID is the event's, so the outbox keeps one). The mail's unsubscribe link carries a random token kept with
the address: nobody can make a working link for someone else's address.

Authors sign in to the ``authors`` pool (members of its ``authors`` group) to write, edit and delete posts, and
ask for a form that uploads one photo straight from their browser to the ``photos`` bucket (a presigned POST: an
image, at most 10 MB, for 5 minutes). Each upload under ``uploads/`` calls ``make_thumbnail``: at most 320 px on
the long side, turned as its EXIF orientation says, every bit of metadata (GPS included) left out, written under
``thumbnails/``. A file that is no image, a truncated one, an animation or a decompression bomb fails with its
reason and ends as a dead letter; nothing else waits for it.

``posts`` is a global table (us-east-1 and eu-west-1): the API is served in both regions, each reading and
writing its own replica, and a write in one reaches the other within moments; of two writes to one post the later
wins in both. It holds two kinds of item: each post whole (``post#<slug>``), and its summary in the ``feed``
partition, sorted by creation time, which the list reads newest first. The public reads go through the API's
stage cache (30 seconds): a post just edited may show its old text that long.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import secrets
import uuid
from typing import Any
from urllib.parse import quote

from stratus import (
    ApiCache,
    ApiOrigin,
    App,
    AuthRequest,
    BadRequest,
    Behavior,
    BucketOrigin,
    CachePolicy,
    ConditionFailed,
    Conflict,
    Context,
    ErrorResponse,
    Forbidden,
    Mail,
    NotFound,
    ObjectCreated,
    Request,
    Response,
    TableChange,
    idempotent,
)

app = App("blog")
authors = app.user_pool("authors", groups=("authors",))
posts = app.table("posts", partition_key="pk", sort_key="sk", regions=("us-east-1", "eu-west-1"))
subscribers = app.table("subscribers", partition_key="email", stream=True)
welcomed = app.table("welcomed", partition_key="id")  # the welcome mail's idempotency records
photos = app.bucket("photos")
mail = app.email("mail", sender="hello@myblog.example")
api = app.rest_api("api", authorizer=authors, title="MyBlog.com", cache=ApiCache(ttl=30))
site = app.bucket("site")  # the site's pages, private: only the distribution reads them
logs = app.bucket("logs")  # the distribution's access logs
edge = app.distribution(
    "site",
    default=Behavior(BucketOrigin(site)),  # pages and assets: as long as each file's Cache-Control says
    behaviors=[
        # the API under /api/* (the prefix taken off): answers kept 5 s unless they say otherwise, per query and
        # per caller (an author's Authorization is in the key, so no one is served another's answer)
        Behavior(ApiOrigin(api, strip="/api"), path="/api/*", methods="all",
                 cache=CachePolicy(min_ttl=0, default_ttl=5, max_ttl=60, headers=("Authorization",),
                                   query_strings="all")),
        Behavior(BucketOrigin(photos), path="/thumbnails/*"),  # thumbnails never change: a new photo, a new name
    ],
    default_root_object="index.html",
    # a missing page: the bucket says 403 (the edge may not list it) or 404; viewers get the site's own page
    error_responses=[ErrorResponse(403, "/404.html", 404), ErrorResponse(404, "/404.html", 404)],
    logs=logs, logs_prefix="edge/")
app.deploy_folder("site", bucket=site, source="site", distribution=edge)

FEED = "feed"
MAX_PHOTO = 10 * 1024 * 1024
THUMBNAIL = 320
MAX_PIXELS = 50_000_000  # a bigger image is refused before it is decoded (a decompression bomb)
MAX_DECODED_BYTES = 48_000_000  # what one image may take decoded (16 M RGB pixels; a JPEG after draft)
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?")  # whole: fullmatch
EMAIL = {"type": "string", "format": "email", "maxLength": 254}
POST_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "body": {"type": "string", "maxLength": 100_000},
    "photo": {"type": ["string", "null"], "maxLength": 300, "pattern": "^thumbnails/[A-Za-z0-9/_.-]+$",
              "description": "a thumbnail's key in the photos bucket, or null"},
}
NEW_POST = {"type": "object", "additionalProperties": False, "required": ["title", "body"], "properties": POST_FIELDS}
POST_CHANGES = {"type": "object", "additionalProperties": False, "properties": POST_FIELDS}
LIST_QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
              "next_token": {"type": "string", "maxLength": 2048}}
UNSUBSCRIBE_QUERY = {"email": EMAIL, "token": {"type": "string", "minLength": 1, "maxLength": 100}}


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _slug(title: str) -> str:
    """The title's words and 48 random bits: unique even when two regions take a post of one title at once (each
    region checks only its own replica, and the later write would take the other's post over)."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")
    return f"{words or 'post'}-{secrets.token_hex(6)}"


def _summary(post: dict[str, Any]) -> dict[str, Any]:
    return {"pk": FEED, "sk": f"{post['created_at']}#{post['slug']}", "slug": post["slug"], "title": post["title"],
            "excerpt": post["body"][:200], "author": post["author"], "created_at": post["created_at"],
            "photo": post.get("photo")}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


def _key(slug: str) -> dict[str, str]:
    """A post's item key (the post whole; its summary is in the feed partition)."""
    return {"pk": f"post#{slug}", "sk": "post"}


def _post(req: Request, ctx: Context, consistent: bool = False) -> dict[str, Any]:
    """The post the path's slug names; 404 when there is none."""
    slug = req.path_params["slug"]
    post = ctx.table(posts).get(_key(slug), consistent=consistent) if SLUG.fullmatch(slug) else None
    if post is None:
        raise NotFound(f"no post {slug!r}")
    return post


# -- readers

@api.get("/posts", public=True, query=LIST_QUERY, uses=[posts])
def list_posts(req: Request, ctx: Context) -> dict[str, Any]:
    """The posts, newest first, a page at a time."""
    table = ctx.table(posts)
    page = table.query(FEED, forward=False, limit=req.query.get("limit", 10), next_token=req.query.get("next_token"))
    # each summary as its post now is in this region: a summary whose post is gone (deleted here, while an edit
    # in the other region wrote the summary again) is left out, and the title is the post's own
    found = table.batch_get([_key(i["slug"]) for i in page.items]) if page.items else []
    return {"posts": [_public(_summary(p)) for p, i in zip(found, page.items, strict=True)
                      if p is not None and p["created_at"] == i["created_at"]],  # (not a later post of that slug)
            "next_token": page.next_token}


@api.get("/posts/{slug}", public=True, uses=[posts])
def get_post(req: Request, ctx: Context) -> dict[str, Any]:
    """One post, whole."""
    return _public(_post(req, ctx))


@api.post("/subscribe", public=True, body={"type": "object", "additionalProperties": False, "required": ["email"],
                                            "properties": {"email": EMAIL}}, uses=[subscribers], status=202)
def subscribe(req: Request, ctx: Context) -> dict[str, Any]:
    """Subscribe an address: a welcome mail comes, with a link to unsubscribe. Subscribing again changes nothing."""
    email = req.json["email"].lower()
    try:
        ctx.table(subscribers).put({"email": email, "token": secrets.token_urlsafe(32), "subscribed_at": _iso(ctx.now()),
                                    "unsubscribe_url": f"{req.base_url}/unsubscribe"}, if_absent=True)
    except ConditionFailed:
        pass  # subscribed already: the same answer, so nobody learns who is
    return {"subscribed": email}


def _subscriber(req: Request, ctx: Context) -> dict[str, Any]:
    """The subscriber the link names, if its token is theirs (compared in constant time); else 403."""
    email, token = req.query.get("email", "").lower(), req.query.get("token", "")
    found = ctx.table(subscribers).get({"email": email}, consistent=True) if email and token else None
    if found is None or not secrets.compare_digest(found["token"].encode(), token.encode()):
        raise Forbidden("this unsubscribe link is not valid")
    return found


def _page(title: str, body: str) -> Response:
    return Response(200, f"<!doctype html><meta charset=utf-8><title>{title}</title>{body}",
                    {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"})


@api.get("/unsubscribe", public=True, query=UNSUBSCRIBE_QUERY, uses=[subscribers], cache=False)
def unsubscribe_page(req: Request, ctx: Context) -> Response:
    """The page the mail's link opens: a button that unsubscribes. A GET changes nothing, so a mail scanner that
    follows links unsubscribes nobody."""
    email = _subscriber(req, ctx)["email"]
    action = html.escape(f"?email={quote(email)}&token={quote(req.query['token'])}")
    return _page("Unsubscribe", f"<p>Stop mail from MyBlog.com to {html.escape(email)}?</p>"
                                f"<form method=post action=\"{action}\"><button>Unsubscribe</button></form>")


@api.post("/unsubscribe", public=True, query=UNSUBSCRIBE_QUERY, uses=[subscribers])
def unsubscribe(req: Request, ctx: Context) -> Response:
    """Unsubscribe (the page's button, or a mail client's one-click unsubscribe): the token is the address's own."""
    found = _subscriber(req, ctx)
    try:
        ctx.table(subscribers).delete({"email": found["email"]}, expect={"token": found["token"]})
    except ConditionFailed:
        pass  # unsubscribed meanwhile (and perhaps subscribed anew, with a new token)
    return _page("Unsubscribed", f"<p>{html.escape(found['email'])} will get no more mail from MyBlog.com.</p>")


@app.on_table_change(subscribers, kinds={"INSERT"}, uses=[welcomed, mail], timeout=10)
@idempotent(welcomed)
def welcome(change: TableChange, ctx: Context) -> None:
    """One welcome mail per new subscriber."""
    sub = change.new_image or {}
    link = f"{sub['unsubscribe_url']}?email={quote(sub['email'])}&token={quote(sub['token'])}"
    ctx.mailer.send(Mail(
        to=sub["email"], subject="Welcome to MyBlog.com", message_id=f"welcome.{change.event_id}", unsubscribe=link,
        text=f"Thanks for subscribing to MyBlog.com.\n\nTo stop these mails: {link}\n",
        html=f"<p>Thanks for subscribing to <b>MyBlog.com</b>.</p>"
             f"<p><a href=\"{html.escape(link)}\">Unsubscribe</a></p>"))


# -- authors

def _author(req: AuthRequest) -> str:
    """Who wrote a post, as readers see it: the pool's user name (an access token carries no email)."""
    return str(req.user.claims.get("username") or req.user.sub)


@api.post("/posts", body=NEW_POST, uses=[posts], status=201, requires_group="authors", invalidates=["/posts"])
def create_post(req: AuthRequest, ctx: Context) -> Response:
    """Write a post (authors)."""
    now, body = ctx.now(), req.json
    slug = _slug(body["title"])
    post = {**_key(slug), "slug": slug, "title": body["title"], "body": body["body"],
            "photo": body.get("photo"), "author": _author(req), "author_sub": req.user.sub, "created_at": _iso(now),
            "updated_at": _iso(now)}
    try:
        ctx.table(posts).put(post, if_absent=True)
    except ConditionFailed:
        raise Conflict(f"a post {slug!r} exists; choose another slug") from None
    ctx.table(posts).put(_summary(post))
    return Response(201, _public(post), {"location": f"{req.base_url}/posts/{slug}"})


def _own(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    post = _post(req, ctx, consistent=True)
    if post["author_sub"] != req.user.sub:
        raise Forbidden(f"post {post['slug']!r} is another author's")
    return post


@api.patch("/posts/{slug}", body=POST_CHANGES, uses=[posts], requires_group="authors",
           invalidates=["/posts", "/posts/{slug}"])
def edit_post(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    """Change a post's title, body or photo (its author)."""
    if not req.json:
        raise BadRequest("nothing to change: send at least one of " + ", ".join(POST_FIELDS))
    post = _own(req, ctx)
    new = {**post, **req.json, "updated_at": _iso(ctx.now())}
    try:
        ctx.table(posts).put(new, expect={"updated_at": post["updated_at"]})
    except ConditionFailed:
        raise Conflict(f"post {post['slug']!r} was changed meanwhile; read it again") from None
    ctx.table(posts).put(_summary(new))
    return _public(new)


@api.delete("/posts/{slug}", uses=[posts], status=204, requires_group="authors",
            invalidates=["/posts", "/posts/{slug}"])
def delete_post(req: AuthRequest, ctx: Context) -> None:
    """Delete a post (its author)."""
    post = _own(req, ctx)
    ctx.table(posts).delete({"pk": FEED, "sk": f"{post['created_at']}#{post['slug']}"})
    ctx.table(posts).delete(_key(post["slug"]))


@api.post("/photos", uses=[photos], status=201, requires_group="authors")
def upload_photo(req: AuthRequest, ctx: Context) -> dict[str, Any]:
    """A form to upload one photo from the browser straight to the bucket: an image of at most 10 MB, within 5
    minutes. Its thumbnail appears at ``thumbnail`` soon after."""
    name = uuid.uuid4().hex
    form = ctx.bucket(photos).presigned_post(f"uploads/{req.user.sub}/{name}", max_bytes=MAX_PHOTO,
                                             content_type_prefix="image/", expires=300)
    return {"url": form.url, "fields": form.fields, "key": f"uploads/{req.user.sub}/{name}",
            "thumbnail": f"thumbnails/{req.user.sub}/{name}.jpg"}


# -- thumbnails

class NotAnImage(ValueError):
    """An upload that cannot be made a thumbnail; its message says why."""


def thumbnail(data: bytes) -> bytes:
    """A JPEG at most ``THUMBNAIL`` px on its long side, turned upright as the EXIF orientation says, transparency
    on white, with no metadata at all (no EXIF, so no GPS). Memory is bounded before anything is decoded: a
    baseline JPEG decodes at a fraction of its size (``draft``), so it may have up to ``MAX_PIXELS``; what is then
    decoded (any image, a JPEG after ``draft``) may take at most ``MAX_DECODED_BYTES``; an animation is refused."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG", "WEBP", "GIF")) as im:
            if im.width * im.height > MAX_PIXELS:
                raise NotAnImage(f"{im.width}x{im.height} pixels is more than {MAX_PIXELS:,}")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                raise NotAnImage(f"an animated {im.format} ({frames} frames)")
            if not (im.format == "JPEG" and im.info.get("progressive")):  # a progressive one decodes whole
                im.draft("RGB", (THUMBNAIL * 2, THUMBNAIL * 2))  # a JPEG: 1/2 to 1/8 of its size
            per_pixel = 8 if im.mode.startswith("I") else len(im.getbands())  # 16-bit: converted through 32-bit
            if im.width * im.height * per_pixel > MAX_DECODED_BYTES:
                raise NotAnImage(f"{im.width}x{im.height} {im.mode} pixels would take more than "
                                 f"{MAX_DECODED_BYTES // 1_000_000} MB to decode")
            orientation = im.getexif().get(0x0112)
            small: Image.Image = im
            if im.mode.startswith("I;16"):
                small = im.convert("I").point(lambda v: v / 256).convert("L")
            small.thumbnail((THUMBNAIL, THUMBNAIL))  # in place, and before the turn (which copies what it turns)
            if orientation:
                small.getexif()[0x0112] = orientation
                small = ImageOps.exif_transpose(small)
            if small.mode in ("RGBA", "LA", "PA") or "transparency" in small.info:
                rgba = small.convert("RGBA")
                small = Image.new("RGB", rgba.size, (255, 255, 255))
                small.paste(rgba, mask=rgba.getchannel("A"))
            out = io.BytesIO()
            small.convert("RGB").save(out, "JPEG", quality=85)  # no exif= : nothing of it is kept
            return out.getvalue()
    except (NotAnImage, MemoryError):
        raise
    except Image.DecompressionBombError as exc:
        raise NotAnImage(f"a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise NotAnImage("not an image (JPEG, PNG, WebP or GIF)") from None
    except Exception as exc:  # truncated or corrupt data, whatever the decoder says of it
        raise NotAnImage(f"a damaged image: {type(exc).__name__}: {exc}") from None


@app.on_object_created(photos, prefix="uploads/", uses=[photos], writes=["thumbnails/"], timeout=30)
def make_thumbnail(event: ObjectCreated, ctx: Context) -> None:
    """The thumbnail of each uploaded photo."""
    bucket = ctx.bucket(photos)
    info = bucket.head(event.key)
    if info is not None and info.size > MAX_PHOTO:  # (written by someone other than the form, which caps it)
        raise NotAnImage(f"{info.size:,} bytes is more than {MAX_PHOTO:,}")
    found = bucket.get(event.key) if info is not None else None
    if found is None:  # deleted since
        return
    bucket.put("thumbnails/" + event.key.removeprefix("uploads/") + ".jpg", thumbnail(found.data),
               content_type="image/jpeg")
