"""The local object store: S3's domain on files and SQLite.

Blobs are files named by random ids, never by object keys, so no key (``..``,
absolute paths, NUL, anything) can reach outside the blob folder: a key is only
ever a column in SQLite. Metadata (key, size, ETag, content type, user metadata,
checksums) lives in SQLite in WAL mode.

A write streams into a temporary file, computing the MD5 (the ETag) and any
requested checksum on the way, is fsynced and renamed into the blob folder, and
only then committed in one SQLite transaction together with its event
(``ObjectCreated:*`` / ``ObjectRemoved:*``). A small one (up to ``SMALL``) never
touches a file: its bytes go into SQLite (``inline``) in that same transaction,
durable as the row is. A reader therefore sees the old object or the new one,
never half of one; a crash before the commit leaves an orphan blob that the next
start removes. Blobs are immutable: an overwrite writes a new blob, and a reader
holding the old one keeps reading it.

Versions (a versioned bucket's noncurrent ones, and delete markers) are rows of
``versions``; ``objects`` holds each key's current object only, so listings stay
as they were. Each bucket's configurations (CORS, policy, tags, lifecycle rules)
are one JSON column, kept in memory.

Multipart uploads keep each part as a blob; completing concatenates the listed
parts into one new blob, with S3's ETag ``md5(part md5s)-N``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import secrets
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import crc32c
import orjson

from ....clock import Clock
from ....errors import ServiceError
from ....ports.objects import key_problem
from ...infra.sqlite import Busy, SqliteDatabase, Transaction
from . import lifecycle

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000
# S3's rules: 3-63 of a-z 0-9 . -, a letter or digit at each end, no dash beside a dot, and none of the names S3
# keeps for itself (its prefixes xn--, sthree-, amzn-s3-demo-; its suffixes for aliases and other bucket kinds)
_BUCKET = re.compile(r"^(?!xn--|sthree-|amzn-s3-demo-)(?!.*(?:-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$)"
                     r"(?!.*(?:\.-|-\.))[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created REAL NOT NULL, versioning TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS declared (app TEXT, name TEXT, bucket TEXT UNIQUE NOT NULL, PRIMARY KEY (app, name));
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    content_type TEXT NOT NULL, metadata TEXT NOT NULL, checksums TEXT NOT NULL, modified REAL NOT NULL,
    parts INTEGER, extra TEXT NOT NULL, version_id TEXT NOT NULL DEFAULT 'null', seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT, size INTEGER NOT NULL, etag TEXT NOT NULL,
    content_type TEXT NOT NULL, metadata TEXT NOT NULL, checksums TEXT NOT NULL, modified REAL NOT NULL,
    parts INTEGER, extra TEXT NOT NULL, version_id TEXT NOT NULL, seq INTEGER NOT NULL, marker INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, content_type TEXT NOT NULL,
    metadata TEXT NOT NULL, algorithm TEXT, created REAL NOT NULL, headers TEXT NOT NULL,
    completing INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    checksums TEXT NOT NULL, modified REAL NOT NULL, PRIMARY KEY (upload_id, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inline (id TEXT PRIMARY KEY, data BLOB NOT NULL);  -- rowid: appends, half the cost
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    size INTEGER, etag TEXT, at REAL NOT NULL);
-- the events as the one event mechanism reads them (stratus.local.events): by bucket, in order per object
CREATE INDEX IF NOT EXISTS events_by_source ON events ('bucket:' || bucket, seq);
CREATE VIEW IF NOT EXISTS event_log AS SELECT seq, 'bucket:' || bucket AS source, bucket || '/' || key AS part,
    json_object('kind', kind, 'key', key, 'size', size, 'etag', etag) AS body, at FROM events;
"""


_COLUMNS = ("bucket, key, blob, size, etag, content_type, metadata, checksums, modified, parts, extra, version_id, "
            "seq")
# what a declared bucket starts with, here as on AWS: uploads nobody completed are aborted after a week
# a declared bucket starts with the settings the same bucket has when synthesized for AWS (bucket.py there): ACLs
# off, every public access blocked, S3-managed encryption; and uploads nobody finishes are aborted
DECLARED_CONFIG = orjson.dumps({
    "lifecycle": [lifecycle.ABORT_STALE_UPLOADS], "ownershipControls": "BucketOwnerEnforced",
    "publicAccessBlock": {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                            "RestrictPublicBuckets")},
    "encryption": {"alg": "AES256"}}).decode()
TAGS_HEADER = ":tags"  # where an upload in progress keeps the tags it will have (no real header has a colon)
ATTRS_HEADER = ":attrs"  # and the other attributes its object will have (ObjectMeta.attrs)


def upload_attrs(upload: dict[str, Any]) -> dict[str, Any]:
    """The attributes an upload in progress keeps for the object it will make (its ACL, its encryption)."""
    return cast(dict[str, Any], orjson.loads(upload["headers"].get(ATTRS_HEADER, "{}")))
VERSIONING = ("Enabled", "Suspended")  # a bucket's versioning once set; "" while it never was


def salted(mask: bytes, md5: bytes) -> bytes:
    """The digest an object or part under a customer's key shows as its ETag, instead of its bytes' MD5."""
    return hashlib.md5(mask + md5, usedforsecurity=False).digest()


def locked(attrs: Mapping[str, Any], now: float) -> str | None:
    """Why Object Lock keeps a version (its ``attrs``) from deletion now: "hold", or the mode of a retention not
    yet over ("COMPLIANCE", "GOVERNANCE"); None when nothing does."""
    if attrs.get("hold") == "ON":
        return "hold"
    retention = attrs.get("retention")
    if retention and retention["until"] > now:
        return str(retention["mode"])
    return None


class MarkerError(ServiceError):
    """S3's answer about a delete marker: its error, with the headers that say it is one."""

    def __init__(self, code: str, message: str, status: int, version_id: str, **fields: str) -> None:
        super().__init__(code, message, status, **fields)
        self.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": version_id}


def _no_version(key: str, version_id: str) -> ServiceError:
    if not version_id:
        return ServiceError("InvalidArgument", "Version id cannot be the empty string", ArgumentName="versionId",
                            ArgumentValue="")
    return ServiceError("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version_id)


def _new_version_id() -> str:
    return secrets.token_urlsafe(24)  # 32 URL-safe characters, as S3's ids are


def _no_upload(upload_id: str) -> ServiceError:
    return ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                       "upload may have been aborted or completed.", 404, UploadId=upload_id)


def check_key(key: str) -> str:
    """An object key, or S3's error for it (the rule is the port's ``key_problem``)."""
    problem = key_problem(key)
    if problem == "empty":
        raise ServiceError("InvalidArgument", "Object keys must not be empty.")
    if problem == "too long":
        raise ServiceError("KeyTooLongError", "Your key is too long (the limit is 1024 bytes of UTF-8).")
    if problem is not None:
        raise ServiceError("InvalidArgument", "Object keys must not contain control characters or invalid UTF-8.")
    return key


def valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET.match(name)) and ".." not in name and not re.match(r"^\d+\.\d+\.\d+\.\d+$", name)


def check_bucket_name(name: str) -> str:
    if not valid_bucket_name(name):
        raise ServiceError("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)
    return name


CHECKSUMS = ("crc32", "crc32c", "sha1", "sha256")


class _Hasher:
    """One running checksum, in S3's base64 form when done."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._crc = 0
        self._h = hashlib.new(algorithm) if algorithm in ("sha1", "sha256") else None

    def update(self, data: bytes) -> None:
        if self._h is not None:
            self._h.update(data)
        elif self.algorithm == "crc32":
            self._crc = zlib.crc32(data, self._crc)
        else:
            self._crc = crc32c.crc32c(data, self._crc)

    def b64(self) -> str:
        raw = self._h.digest() if self._h is not None else self._crc.to_bytes(4, "big")
        return base64.b64encode(raw).decode()


SMALL = 64 * 1024  # a blob up to this size is kept in SQLite, in the transaction that commits its object
CHECKPOINT_EVERY = 200  # commits made on the event loop between checkpoints (their connection makes none)
CHECKPOINT_BYTES = 4 * 1024 * 1024  # or this many bytes of theirs: about SQLite's own 1000 pages
INLINE = "~"  # the first character of such a blob's id (a file's id is hex)


@dataclass
class Blob:
    """A finished blob not yet committed to any object: a durable file, or (``data``) bytes the commit keeps."""

    id: str
    size: int
    md5: bytes
    checksums: dict[str, str]
    sha256: str | None = None
    data: bytes | None = None


class BlobWriter:
    """Takes bytes, hashing as it goes: kept in memory while they are few (``SMALL``), else streamed to a temporary
    file; ``finish`` makes them a blob, fsynced and renamed into place when it is a file."""

    def __init__(self, store: ObjectStore, algorithms: tuple[str, ...] = (), want_sha256: bool = False) -> None:
        self.store = store
        self.id = secrets.token_hex(16)
        self.tmp = store.tmp / f"{self.id}.part"
        self._buf = bytearray()
        self._f: BinaryIO | None = None
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256() if want_sha256 else None
        self._sums = {a: _Hasher(a) for a in algorithms}
        self.size = 0

    def in_memory(self, more: int = 0) -> bool:
        """Whether the bytes so far, and ``more``, stay in memory (writing them touches no disk)."""
        return self._f is None and self.size + more <= SMALL

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.in_memory(len(data)):
            self._buf += data
        else:
            if self._f is None:
                self._f = open(self.tmp, "wb")  # noqa: SIM115 (closed in finish/abort)
                self._f.write(self._buf)
                self._buf = bytearray()
            self._f.write(data)
        self._md5.update(data)
        if self._sha256 is not None:
            self._sha256.update(data)
        for h in self._sums.values():
            h.update(data)
        self.size += len(data)

    def finish(self) -> Blob:
        sums = {a: h.b64() for a, h in self._sums.items()}
        sha256 = self._sha256.hexdigest() if self._sha256 is not None else None
        if self._f is None:
            return Blob(INLINE + self.id, self.size, self._md5.digest(), sums, sha256, bytes(self._buf))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        path = self.store.blob_path(self.id)
        path.parent.mkdir(exist_ok=True)
        os.replace(self.tmp, path)
        return Blob(self.id, self.size, self._md5.digest(), sums, sha256)

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self.tmp.unlink(missing_ok=True)


@dataclass
class ObjectMeta:
    bucket: str
    key: str
    blob: str
    size: int
    etag: str
    content_type: str
    metadata: dict[str, str]
    checksums: dict[str, str]
    modified: float
    parts: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # Cache-Control, Content-Disposition, ... as stored
    part_sizes: list[int] | None = None  # a multipart object's part sizes, for GET ?partNumber=
    version_id: str = "null"  # S3's version id; "null" in a bucket never versioned (and for writes while suspended)
    marker: bool = False  # a delete marker: a version that says the key was deleted
    latest: bool = True
    tags: dict[str, str] = field(default_factory=dict)  # the object's tags (a TagSet), this version's
    # this version's other attributes, as set when it was written: "acl" (its grants), "sse" (the encryption its
    # writer asked for), "upload" (the multipart upload that made it)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class VersionListing:
    versions: list[ObjectMeta] = field(default_factory=list)  # delete markers too, newest first within a key
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key: str | None = None
    next_version: str | None = None


@dataclass
class Listing:
    objects: list[ObjectMeta] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or prefix returned: where the next page starts after


class ObjectStore:
    def __init__(self, root: Path, clock: Clock) -> None:
        self.root, self.clock = root, clock
        self.blobs, self.tmp = root / "blobs", root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.db = SqliteDatabase(root / "objects.db")
        self._commits_now = self._bytes_now = 0  # commits made on the event loop (commit_now) since a checkpoint
        self._checkpointing = False
        self._configs_lock = threading.Lock()
        self.committed: Callable[[str], None] = lambda bucket: None  # after each commit of a bucket's events
        self.lifecycle_changed = True  # rules set since the last sweep (and at start: sweep at once)
        self._migrate()
        self._configs: dict[str, dict[str, Any]] = {  # each bucket's configurations
            name: orjson.loads(config) for name, config in self.db.conn().execute("SELECT name, config FROM buckets")}
        self._collect_garbage()

    def _migrate(self) -> None:
        """The schema, and the columns a data dir made before versioning lacks."""
        c = self.db.conn()
        if c.execute("SELECT 1 FROM sqlite_master WHERE name='objects'").fetchone():
            for table, column, decl in (("buckets", "versioning", "TEXT NOT NULL DEFAULT ''"),
                                        ("buckets", "config", "TEXT NOT NULL DEFAULT '{}'"),
                                        ("objects", "version_id", "TEXT NOT NULL DEFAULT 'null'"),
                                        ("objects", "seq", "INTEGER NOT NULL DEFAULT 0")):
                if column not in {r[1] for r in c.execute(f"PRAGMA table_info({table})")}:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        c.executescript(_SCHEMA)

    # -- blobs

    def blob_path(self, blob: str) -> Path:
        return self.blobs / blob[:2] / blob

    def writer(self, algorithms: tuple[str, ...] = (), want_sha256: bool = False) -> BlobWriter:
        return BlobWriter(self, algorithms, want_sha256)

    def open_blob(self, blob: str) -> BinaryIO:
        """A blob opened for reading; FileNotFoundError once it is gone (replaced and dropped meanwhile)."""
        if blob.startswith(INLINE):
            row = self.db.conn().execute("SELECT data FROM inline WHERE id=?", (blob,)).fetchone()
            if row is None:
                raise FileNotFoundError(blob)
            return io.BytesIO(row[0])
        return open(self.blob_path(blob), "rb")  # noqa: SIM115 (the caller closes it)

    @staticmethod
    def _keep(c: sqlite3.Connection, blob: Blob) -> None:
        """In a commit's transaction: a small blob's bytes, kept with the row that will name them."""
        if blob.data is not None:
            c.execute("INSERT INTO inline VALUES (?,?)", (blob.id, blob.data))

    def discard(self, blob: Blob) -> None:
        """A blob that no committed row names (its write was refused or failed): its file removed. A small blob's
        bytes are only ever stored in the transaction that commits it, so there is nothing of it to remove."""
        if blob.data is None:
            self._drop_blobs([blob.id])

    def _drop_blobs(self, blobs: list[str]) -> None:
        inline = [b for b in blobs if b.startswith(INLINE)]
        if inline:
            with self.db.write() as c:
                c.executemany("DELETE FROM inline WHERE id=?", [(b,) for b in inline])
        for b in blobs:
            if not b.startswith(INLINE):
                self.blob_path(b).unlink(missing_ok=True)

    def _collect_garbage(self) -> None:
        """Remove what a crash can leave: temporary files, uploads of deleted buckets, and blobs no object or part
        refers to."""
        for f in self.tmp.iterdir():
            f.unlink(missing_ok=True)
        with self.db.write() as w:  # uploads of a bucket deleted just before a crash go as they would have
            w.execute("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket NOT IN "
                      "(SELECT name FROM buckets))")
            w.execute("DELETE FROM uploads WHERE bucket NOT IN (SELECT name FROM buckets)")
            w.execute("DELETE FROM inline WHERE id NOT IN (SELECT blob FROM objects UNION SELECT blob FROM parts UNION "
                      "SELECT blob FROM versions WHERE blob IS NOT NULL)")
        c = self.db.conn()
        live = {r[0] for r in c.execute("SELECT blob FROM objects UNION SELECT blob FROM parts UNION "
                                        "SELECT blob FROM versions WHERE blob IS NOT NULL")}
        for folder in self.blobs.iterdir():
            for f in folder.iterdir():
                if f.name not in live:
                    f.unlink(missing_ok=True)

    # -- buckets

    def create_bucket(self, name: str) -> None:
        check_bucket_name(name)
        try:
            with self.db.write() as c:
                c.execute("INSERT INTO buckets (name, created) VALUES (?,?)", (name, self.clock.now()))
                with self._configs_lock:
                    self._configs[name] = {}
        except sqlite3.IntegrityError:
            raise ServiceError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                              "succeeded and you already own it.", 409, BucketName=name) from None

    def declared_bucket(self, app: str, name: str) -> str:
        """The real name of an app's declared bucket: made once (``<app>-<name>-<random>``), then stable; exists."""
        with self.db.write() as c:
            row = c.execute("SELECT bucket FROM declared WHERE app=? AND name=?", (app, name)).fetchone()
            real = row[0] if row else check_bucket_name(f"{app}-{name}"[:54].strip("-.") + "-" + secrets.token_hex(4))
            if row is None:
                c.execute("INSERT INTO declared VALUES (?,?,?)", (app, name, real))
            made = c.execute("INSERT OR IGNORE INTO buckets (name, created, config) VALUES (?,?,?)",
                             (real, self.clock.now(), DECLARED_CONFIG)).rowcount
            with self._configs_lock:
                self._configs.setdefault(real, orjson.loads(DECLARED_CONFIG) if made else {})
        return real

    def bucket_exists(self, name: str) -> bool:
        return name in self._configs  # every bucket is there, kept with the database: no query on the request path

    def require_bucket(self, name: str) -> None:
        if not self.bucket_exists(name):
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=name)

    def delete_bucket(self, name: str) -> None:
        """S3's DeleteBucket: refused while any object, version or delete marker is in it; multipart uploads in
        progress are not objects, and go with the bucket (their parts too)."""
        self.require_bucket(name)
        with self.db.write() as c:
            if c.execute("SELECT 1 FROM objects WHERE bucket=? UNION ALL SELECT 1 FROM versions WHERE bucket=? LIMIT 1",
                         (name, name)).fetchone():
                raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty.", 409, BucketName=name)
            c.execute("UPDATE uploads SET completing=1 WHERE bucket=?", (name,))  # no part lands in them from now on
            uploads = [r[0] for r in c.execute("SELECT upload_id FROM uploads WHERE bucket=?", (name,))]
            c.execute("DELETE FROM buckets WHERE name=?", (name,))
            with self._configs_lock:
                self._configs.pop(name, None)
        for upload_id in uploads:
            self._end_upload(upload_id)

    def list_buckets(self) -> list[tuple[str, float]]:
        return [(n, t) for n, t in self.db.conn().execute("SELECT name, created FROM buckets ORDER BY name")]

    # -- objects

    def _row(self, row: tuple[Any, ...]) -> ObjectMeta:
        """An object from a row of ``objects`` or ``versions`` (``_COLUMNS``, then for versions its marker flag)."""
        b, k, blob, size, etag, ctype, meta, sums, modified, parts, extra, version_id, _seq, *marker = row
        more = orjson.loads(extra)
        return ObjectMeta(b, k, blob, size, etag, ctype, orjson.loads(meta), orjson.loads(sums), modified, parts,
                          more.get("headers", {}), more.get("part_sizes"), version_id, bool(marker and marker[0]),
                          tags=more.get("tags", {}), attrs=more.get("attrs", {}))

    def open_object(self, bucket: str, key: str, version_id: str | None = None) -> tuple[ObjectMeta, BinaryIO]:
        """The current object (or the version named) and its blob opened for reading, as one consistent pair.

        An overwrite may replace and delete the blob between reading the row and opening the file; the
        row is then read again. Once open, the file stays readable whatever happens to the object.
        """
        while True:
            meta = self.head(bucket, key, version_id)
            try:
                return meta, self.open_blob(meta.blob)
            except FileNotFoundError:
                continue

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectMeta:
        """The current object, or the version named; S3's errors when there is none, or it is a delete marker."""
        if version_id is not None:
            meta = self.version(bucket, key, version_id)
            if meta.marker:
                raise MarkerError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                                  405, version_id, Method="GET", ResourceType="DeleteMarker")
            return meta
        c = self.db.conn()
        row = c.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
        if row is None:
            self.require_bucket(bucket)
            latest = c.execute("SELECT version_id, marker FROM versions WHERE bucket=? AND key=? ORDER BY seq DESC "
                               "LIMIT 1", (bucket, key)).fetchone()
            if latest is not None and latest[1]:
                raise MarkerError("NoSuchKey", "The specified key does not exist.", 404, latest[0], Key=key)
            raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, Key=key)
        return self._row(row)

    def commit(self, bucket: str, key: str, blob: Blob, content_type: str, metadata: dict[str, str], kind: str,
               etag: str | None = None, parts: list[int] | None = None, headers: dict[str, str] | None = None,
               if_none_match: bool = False, if_match: str | None = None,
               tags: dict[str, str] | None = None, attrs: dict[str, Any] | None = None) -> ObjectMeta:
        """Make ``blob`` the object at bucket/key, with its event (and ``tags``), in one transaction.

        ``if_none_match`` (S3's ``If-None-Match: *``) and ``if_match`` (an ETag) make it a conditional
        write, decided inside the same transaction. In a versioned bucket the object it replaces stays as a
        noncurrent version; while versioning is suspended the new object is the ``null`` version, replacing
        the old ``null`` one.
        """
        meta, dropped = self._commit(self.db.write(), bucket, key, blob, content_type, metadata, kind, etag, parts,
                                     headers, if_none_match, if_match, tags, attrs)
        self._drop_blobs(dropped)
        return meta

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> ObjectMeta:
        """Write a small object the platform itself makes (a deployed site's file, an access log), with its event."""
        w = self.writer()
        try:
            w.write(data)
        except BaseException:
            w.abort()
            raise
        return self.commit(bucket, key, w.finish(), content_type, {}, "ObjectCreated:Put", headers=headers)

    def commit_now(self, bucket: str, key: str, blob: Blob, content_type: str, metadata: dict[str, str], kind: str,
                   headers: dict[str, str] | None = None, if_none_match: bool = False, if_match: str | None = None,
                   tags: dict[str, str] | None = None, attrs: dict[str, Any] | None = None
                   ) -> tuple[ObjectMeta, list[str]] | None:
        """``commit`` of a small blob on the calling thread (the event loop) if the database is free this instant,
        else None (nothing done: commit it the usual way). The blobs it replaced are left to the caller to drop,
        and every ``CHECKPOINT_EVERY`` such commits the caller is told to checkpoint (``checkpoint_due``)."""
        try:
            done = self._commit(self.db.write_nowait(), bucket, key, blob, content_type, metadata, kind, None, None,
                                headers, if_none_match, if_match, tags, attrs)
        except Busy:
            return None
        self._commits_now += 1
        self._bytes_now += blob.size
        return done

    def checkpoint_due(self, idle: bool = False) -> bool:
        """Whether the commits made now (``commit_now``, whose connection never checkpoints) call for a checkpoint:
        after ``CHECKPOINT_EVERY`` of them or ``CHECKPOINT_BYTES`` of theirs (as SQLite's own autocheckpoint
        would), or (``idle``) after any, and none already running. If so, the caller runs ``checkpoint``."""
        if self._checkpointing or not self._commits_now or not (
                idle or self._commits_now >= CHECKPOINT_EVERY or self._bytes_now >= CHECKPOINT_BYTES):
            return False
        self._checkpointing, self._commits_now, self._bytes_now = True, 0, 0
        return True

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (off the event loop: it syncs the file)."""
        try:
            self.db.checkpoint()
        finally:
            self._checkpointing = False

    def _commit(self, transaction: Transaction, bucket: str, key: str, blob: Blob, content_type: str,
                metadata: dict[str, str], kind: str, etag: str | None, parts: list[int] | None,
                headers: dict[str, str] | None, if_none_match: bool, if_match: str | None,
                tags: dict[str, str] | None, attrs: dict[str, Any] | None) -> tuple[ObjectMeta, list[str]]:
        sse = (attrs or {}).get("sse") or {}
        if etag is None and sse.get("alg") == "customer":
            # as on S3, the ETag of an object under a customer's key is not its bytes' MD5 (which would let anyone
            # who may list the bucket check a guess at them): the MD5 of it salted, as its parts' (put_part)
            etag = f'"{salted(bytes.fromhex(sse["salt"]), blob.md5).hex()}"'
        meta = ObjectMeta(bucket, key, blob.id, blob.size, etag or f'"{blob.md5.hex()}"', content_type, metadata,
                          blob.checksums, self.clock.now(), len(parts) if parts else None, headers or {}, parts,
                          tags=tags or {}, attrs=attrs or {})
        dropped: list[str] = []
        try:
            with transaction as c:
                state = self._versioning(c, bucket)
                prev = c.execute("SELECT etag FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
                if if_none_match and prev is not None:
                    raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did "
                                      "not hold", 412, Condition="If-None-Match")
                if if_match is not None and (prev is None or prev[0].strip('"') != if_match.strip().strip('"')):
                    if prev is None:
                        raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, Key=key)
                    raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did "
                                      "not hold", 412, Condition="If-Match")
                meta.version_id = _new_version_id() if state == "Enabled" else "null"
                dropped = self._retire(c, bucket, key, state)
                self._keep(c, blob)
                seq = c.execute("INSERT INTO events (bucket, key, kind, size, etag, at) VALUES (?,?,?,?,?,?)",
                                (bucket, key, kind, blob.size, meta.etag, meta.modified)).lastrowid
                c.execute(f"INSERT INTO objects ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (bucket, key, blob.id, blob.size, meta.etag, content_type, orjson.dumps(metadata).decode(),
                           orjson.dumps(blob.checksums).decode(), meta.modified, meta.parts,
                           orjson.dumps({"headers": meta.headers, "part_sizes": parts,
                                         **({"tags": meta.tags} if meta.tags else {}),
                                         **({"attrs": meta.attrs} if meta.attrs else {})}).decode(),
                           meta.version_id, seq))
        except Busy:
            raise  # nothing was done: the caller commits it the usual way, blob and all
        except BaseException:
            self.discard(blob)
            raise
        self.committed(bucket)
        return meta, dropped

    @staticmethod
    def _versioning(c: sqlite3.Connection, bucket: str) -> str:
        row = c.execute("SELECT versioning FROM buckets WHERE name=?", (bucket,)).fetchone()
        if row is None:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=bucket)
        return str(row[0])

    def _retire(self, c: sqlite3.Connection, bucket: str, key: str, state: str) -> list[str]:
        """Take the current object off ``objects`` before a new version (or a delete marker) takes its place: kept
        as a noncurrent version in a versioned bucket, gone otherwise; a new ``null`` version (never versioned,
        or suspended) replaces the old ``null`` one wherever it is. The blobs to drop once committed."""
        dropped = []
        cur = c.execute("SELECT blob, version_id FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
        if cur is not None:
            if state and cur[1] != "null" or state == "Enabled":
                c.execute(f"INSERT INTO versions ({_COLUMNS}, marker) SELECT {_COLUMNS}, 0 FROM objects "
                          "WHERE bucket=? AND key=?", (bucket, key))
            else:
                dropped.append(cur[0])
            c.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key))
        if state == "Suspended":
            dropped += [r[0] for r in c.execute("SELECT blob FROM versions WHERE bucket=? AND key=? AND "
                                                "version_id='null' AND blob IS NOT NULL", (bucket, key))]
            c.execute("DELETE FROM versions WHERE bucket=? AND key=? AND version_id='null'", (bucket, key))
        return dropped

    def delete(self, bucket: str, key: str, expiring: str | None = None) -> ObjectMeta | None:
        """S3's DeleteObject: succeeds whether or not the key exists. In a bucket never versioned the object goes
        (an event only when there was one); in a versioned one a delete marker becomes the latest version (the
        ``null`` one while suspended), which this returns. ``expiring`` (a blob): a lifecycle rule's expiration of
        the object that blob holds, which does nothing if the object has been replaced meanwhile."""
        marker = None
        removed, marked = ("LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated") if expiring \
            else ("ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated")
        with self.db.write() as c:
            state = self._versioning(c, bucket)
            if expiring is not None:
                cur = c.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
                if cur is None or cur[0] != expiring:
                    return None
            if not state:
                prev = c.execute("SELECT blob FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
                if prev:
                    c.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key))
                    c.execute("INSERT INTO events (bucket, key, kind, at) VALUES (?,?,?,?)",
                              (bucket, key, removed, self.clock.now()))
                dropped = [prev[0]] if prev else []
            else:
                dropped = self._retire(c, bucket, key, state)
                now = self.clock.now()
                seq = c.execute("INSERT INTO events (bucket, key, kind, at) VALUES (?,?,?,?)",
                                (bucket, key, marked, now)).lastrowid
                marker = ObjectMeta(bucket, key, "", 0, "", "", {}, {}, now,
                                    version_id=_new_version_id() if state == "Enabled" else "null", marker=True)
                c.execute(f"INSERT INTO versions ({_COLUMNS}, marker) VALUES (?,?,NULL,0,'','','{{}}','{{}}',?,NULL,"
                          "'{}',?,?,1)", (bucket, key, now, marker.version_id, seq))
        self.committed(bucket)
        self._drop_blobs(dropped)
        return marker

    def delete_version(self, bucket: str, key: str, version_id: str, kind: str = "ObjectRemoved:Delete"
                       ) -> ObjectMeta | None:
        """Delete one version for good (S3's DeleteObject with a versionId); the newest version left becomes the
        latest (if it is a delete marker, the key reads as deleted). The version deleted, None if there was
        none (S3 answers that as a success too)."""
        if not version_id:
            raise _no_version(key, version_id)
        with self.db.write() as c:
            self._versioning(c, bucket)
            row = c.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket=? AND key=? AND version_id=?",
                            (bucket, key, version_id)).fetchone()
            table = "objects"
            if row is None:
                row = c.execute(f"SELECT {_COLUMNS}, marker FROM versions WHERE bucket=? AND key=? AND version_id=?",
                                (bucket, key, version_id)).fetchone()
                table = "versions"
            if row is None:
                return None
            gone = self._row(row)
            c.execute(f"DELETE FROM {table} WHERE bucket=? AND key=? AND version_id=?", (bucket, key, version_id))
            c.execute("INSERT INTO events (bucket, key, kind, at) VALUES (?,?,?,?)",
                      (bucket, key, kind, self.clock.now()))
            if not c.execute("SELECT 1 FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone():
                newest = c.execute("SELECT seq, marker FROM versions WHERE bucket=? AND key=? ORDER BY seq DESC "
                                   "LIMIT 1", (bucket, key)).fetchone()
                if newest is not None and not newest[1]:  # an object again: back to the current ones
                    c.execute(f"INSERT INTO objects ({_COLUMNS}) SELECT {_COLUMNS} FROM versions WHERE bucket=? "
                              "AND key=? AND seq=?", (bucket, key, newest[0]))
                    c.execute("DELETE FROM versions WHERE bucket=? AND key=? AND seq=?", (bucket, key, newest[0]))
        self.committed(bucket)
        if gone.blob:
            self._drop_blobs([gone.blob])
        return gone

    # -- a bucket's configurations (CORS, policy, ...)

    def bucket_config(self, bucket: str, name: str) -> Any:
        """The bucket's configuration ``name`` ("cors", "policy", ...) as set, or None; NoSuchBucket if none.
        Read on every request that needs it, so every bucket's are kept in memory (read at start, changed with
        the database: this process is its only writer), and no request waits on the database for them."""
        configs = self._configs.get(bucket)
        if configs is None:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=bucket)
        return configs.get(name)

    def set_bucket_config(self, bucket: str, name: str, value: Any) -> None:
        """Set (or with None, delete) the bucket's configuration ``name``."""
        with self._configs_lock, self.db.write() as c:
            row = c.execute("SELECT config FROM buckets WHERE name=?", (bucket,)).fetchone()
            if row is None:
                raise ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=bucket)
            configs = orjson.loads(row[0])
            if value is None:
                configs.pop(name, None)
            else:
                configs[name] = value
            c.execute("UPDATE buckets SET config=? WHERE name=?", (orjson.dumps(configs).decode(), bucket))
            self._configs[bucket] = configs
        if name == "lifecycle":
            self.lifecycle_changed = True

    # -- lifecycle rules

    def apply_lifecycle(self, now: float) -> dict[str, int]:
        """Carry out every bucket's enabled lifecycle rules that have fallen due at ``now``; how much each did."""
        done = {"expired": 0, "noncurrent": 0, "markers": 0, "aborted": 0}
        for bucket, configs in list(self._configs.items()):
            for rule in configs.get("lifecycle") or []:
                if rule["Status"] == "Enabled":
                    self._apply_rule(bucket, rule, now, done)
        return done

    def _apply_rule(self, bucket: str, rule: dict[str, Any], now: float, done: dict[str, int]) -> None:
        c = self.db.conn()
        low, high = rule["prefix"], rule["prefix"] + "\U0010ffff"
        if rule.get("days") or rule.get("date"):
            for key, blob, size, modified, extra in c.execute(
                    "SELECT key, blob, size, modified, extra FROM objects WHERE bucket=? AND key>=? AND key<?",
                    (bucket, low, high)).fetchall():
                when = lifecycle.due(modified, rule["days"]) if rule.get("days") else rule["date"]
                if now >= when and lifecycle.applies(rule, key, size, orjson.loads(extra).get("tags", {})):
                    if self.delete(bucket, key, expiring=blob) is not None or not self.versioning(bucket):
                        done["expired"] += 1
        if rule.get("noncurrent_days") or rule.get("markers"):
            current = dict(c.execute("SELECT key, modified FROM objects WHERE bucket=? AND key>=? AND key<?",
                                     (bucket, low, high)).fetchall())
            rows = c.execute("SELECT key, version_id, size, modified, extra, marker FROM versions WHERE bucket=? AND "
                             "key>=? AND key<? ORDER BY key, seq DESC", (bucket, low, high)).fetchall()
            newer: dict[str, float] = {}  # per key, when the version just newer than this one was made
            left: dict[str, int] = {}
            for key, _, _, _, _, _ in rows:
                left[key] = left.get(key, 0) + 1
            for key, version_id, size, modified, extra, marker in rows:
                superseded = newer.get(key, current.get(key))
                newer[key] = modified
                if superseded is None:  # the latest version: a delete marker, current
                    if marker and rule.get("markers") and left[key] == 1 and lifecycle.applies(rule, key, 0, {}):
                        self.delete_version(bucket, key, version_id, "LifecycleExpiration:Delete")
                        done["markers"] += 1
                    continue
                more = orjson.loads(extra)
                if rule.get("noncurrent_days") and now >= lifecycle.due(superseded, rule["noncurrent_days"]) \
                        and lifecycle.applies(rule, key, size, more.get("tags", {})) \
                        and not locked(more.get("attrs", {}), now):  # Object Lock outranks lifecycle rules
                    self.delete_version(bucket, key, version_id, "LifecycleExpiration:Delete")
                    done["noncurrent"] += 1
        if rule.get("abort_days"):
            for upload_id, key, created in c.execute(
                    "SELECT upload_id, key, created FROM uploads WHERE bucket=? AND completing=0", (bucket,)).fetchall():
                if key.startswith(rule["prefix"]) and now >= lifecycle.due(created, rule["abort_days"]):
                    try:
                        self.abort(bucket, key, upload_id)
                        done["aborted"] += 1
                    except ServiceError:  # completed or aborted meanwhile
                        pass

    # -- versioning

    def versioning(self, bucket: str) -> str:
        """The bucket's versioning: "Enabled", "Suspended", or "" if it was never turned on."""
        return self._versioning(self.db.conn(), bucket)

    def set_versioning(self, bucket: str, status: str) -> None:
        if status not in VERSIONING:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                              "against our published schema: Status is Enabled or Suspended.")
        with self.db.write() as c:
            self._versioning(c, bucket)
            c.execute("UPDATE buckets SET versioning=? WHERE name=?", (status, bucket))

    def version(self, bucket: str, key: str, version_id: str) -> ObjectMeta:
        """One version of an object (a delete marker included), or S3's error for it."""
        c = self.db.conn()
        row = c.execute(f"SELECT {_COLUMNS} FROM objects WHERE bucket=? AND key=? AND version_id=?",
                        (bucket, key, version_id)).fetchone()
        if row is not None:
            return self._row(row)
        row = c.execute(f"SELECT {_COLUMNS}, marker FROM versions WHERE bucket=? AND key=? AND version_id=?",
                        (bucket, key, version_id)).fetchone()
        if row is None:
            self.require_bucket(bucket)
            raise _no_version(key, version_id)
        meta = self._row(row)
        meta.latest = False
        return meta

    def _concat(self, sources: list[BinaryIO], algorithms: tuple[str, ...] = ()) -> Blob:
        """A new durable blob holding the open sources' bytes, one after another; closes them."""
        w = self.writer(algorithms)
        try:
            for f in sources:
                with f:
                    while chunk := f.read(1024 * 1024):
                        w.write(chunk)
        except BaseException:
            w.abort()
            raise
        return w.finish()

    def copy_range(self, source: BinaryIO, start: int, length: int, algorithms: tuple[str, ...] = ()) -> Blob:
        """A new durable blob of ``length`` bytes of the open ``source`` from ``start`` (an UploadPartCopy)."""
        w = self.writer(algorithms)
        try:
            source.seek(start)
            while length > 0 and (chunk := source.read(min(length, 1024 * 1024))):
                w.write(chunk)
                length -= len(chunk)
        except BaseException:
            w.abort()
            raise
        return w.finish()

    def copy(self, src: ObjectMeta, source: BinaryIO, bucket: str, key: str, content_type: str,
             metadata: dict[str, str], headers: dict[str, str], tags: dict[str, str] | None = None,
             attrs: dict[str, Any] | None = None) -> ObjectMeta:
        """Copy the object ``src`` (``source`` is its blob, opened by ``open_object``) to bucket/key."""
        blob = self._concat([source], tuple(a for a in src.checksums if not src.checksums[a].count("-")))
        return self.commit(bucket, key, blob, content_type, metadata, "ObjectCreated:Copy", headers=headers,
                           tags=tags, attrs=attrs)  # the ETag of the copy's own bytes (and key)

    def set_tags(self, bucket: str, key: str, version_id: str | None, tags: dict[str, str]) -> str:
        """Replace the tags of the current object (or of the version named); its version id."""
        return self._set_extra(bucket, key, version_id, lambda extra: extra.__setitem__("tags", tags))

    def set_attribute(self, bucket: str, key: str, version_id: str | None, name: str, value: Any) -> str:
        """Set one of the attributes (``ObjectMeta.attrs``) of the current object (or the version named)."""
        return self._set_extra(bucket, key, version_id, lambda extra: extra.setdefault("attrs", {}).__setitem__(
            name, value))

    def _set_extra(self, bucket: str, key: str, version_id: str | None, change: Callable[[dict[str, Any]], None]) -> str:
        with self.db.write() as c:
            self._versioning(c, bucket)
            for table in ("objects", "versions"):
                where = "bucket=? AND key=?" + (" AND version_id=?" if version_id is not None else "")
                marker = ", marker" if table == "versions" else ", 0"
                row = c.execute(f"SELECT extra, version_id{marker} FROM {table} WHERE {where}",
                                (bucket, key, *([version_id] if version_id is not None else []))).fetchone()
                if row is not None:
                    if row[2]:
                        raise MarkerError("MethodNotAllowed", "The specified method is not allowed against this "
                                          "resource.", 405, row[1], Method="PUT", ResourceType="DeleteMarker")
                    extra = orjson.loads(row[0])
                    change(extra)
                    c.execute(f"UPDATE {table} SET extra=? WHERE bucket=? AND key=? AND version_id=?",
                              (orjson.dumps(extra).decode(), bucket, key, row[1]))
                    return str(row[1])
                if version_id is None:
                    break  # the current object is in objects, or there is none
        if version_id is not None:
            raise _no_version(key, version_id)
        raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, Key=key)

    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000) -> Listing:
        """Keys (and, with a delimiter, common prefixes) after ``after``, in UTF-8 byte order, S3's order."""
        self.require_bucket(bucket)
        out = Listing()
        if max_keys == 0:
            return out
        c = self.db.conn()
        cursor = max(after, prefix) if after >= prefix else prefix
        inclusive = not after or after < prefix
        skip = ""  # a common prefix already returned: nothing under it is listed again
        if delimiter and after.startswith(prefix) and len(after) > len(prefix) \
                and after.endswith(delimiter) and after.find(delimiter, len(prefix)) == len(after) - len(delimiter):
            skip, cursor, inclusive = after, after + "\U0010ffff", True  # resuming after a common prefix
        while True:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM objects WHERE bucket=? AND key {'>=' if inclusive else '>'} ? ORDER BY key "
                "LIMIT 1001",
                (bucket, cursor)).fetchall()
            if not rows:
                return out
            for row in rows:
                key = row[1]
                if not key.startswith(prefix):
                    return out
                if skip and key.startswith(skip):
                    continue
                if len(out.objects) + len(out.prefixes) == max_keys:
                    out.truncated = True
                    return out
                if delimiter and (i := key.find(delimiter, len(prefix))) >= 0:
                    common = key[: i + len(delimiter)]
                    out.prefixes.append(common)
                    out.last = skip = common
                    cursor, inclusive = common + "\U0010ffff", True  # skip everything under this prefix
                    break
                out.objects.append(self._row(row))
                out.last = key
                cursor, inclusive = key, False
            else:
                if len(rows) < 1001:
                    return out

    def list_versions(self, bucket: str, prefix: str = "", delimiter: str = "", key_marker: str = "",
                      id_marker: str = "", max_keys: int = 1000) -> VersionListing:
        """Every version and delete marker (and, with a delimiter, common prefixes) in S3's order: by key in UTF-8
        byte order, newest first within a key; after ``key_marker`` (and within it, after ``id_marker``)."""
        self.require_bucket(bucket)
        out = VersionListing()
        if max_keys == 0:
            return out
        c = self.db.conn()
        if key_marker < prefix:
            key_marker = id_marker = ""
        if id_marker:
            found = c.execute("SELECT seq FROM objects WHERE bucket=? AND key=? AND version_id=? UNION ALL "
                              "SELECT seq FROM versions WHERE bucket=? AND key=? AND version_id=?",
                              (bucket, key_marker, id_marker) * 2).fetchone()
            if found is None:
                raise ServiceError("InvalidArgument", "Invalid version id specified", ArgumentName="version-id-marker",
                                   ArgumentValue=id_marker)
            cur_key, cur_seq = key_marker, int(found[0])
        elif key_marker:
            cur_key, cur_seq = key_marker, -1  # after every version of the key marker
            if delimiter and key_marker.startswith(prefix) and len(key_marker) > len(prefix) \
                    and key_marker.endswith(delimiter) \
                    and key_marker.find(delimiter, len(prefix)) == len(key_marker) - len(delimiter):
                cur_key = key_marker + "\U0010ffff"  # resuming after a common prefix
        else:
            cur_key, cur_seq = prefix, 2 ** 62
        query = (f"SELECT {_COLUMNS}, 0 FROM objects WHERE bucket=? AND (key > ? OR (key = ? AND seq < ?)) UNION ALL "
                 f"SELECT {_COLUMNS}, marker FROM versions WHERE bucket=? AND (key > ? OR (key = ? AND seq < ?)) "
                 "ORDER BY key, seq DESC LIMIT 1001")
        seen = key_marker if id_marker else None  # the key whose newest version is already behind us
        while True:
            rows = c.execute(query, (bucket, cur_key, cur_key, cur_seq) * 2).fetchall()
            for row in rows:
                key = row[1]
                if not key.startswith(prefix):
                    return out
                if len(out.versions) + len(out.prefixes) == max_keys:
                    out.truncated = True
                    return out
                if delimiter and (i := key.find(delimiter, len(prefix))) >= 0:
                    common = key[: i + len(delimiter)]
                    out.prefixes.append(common)
                    out.next_key, out.next_version = common, None
                    cur_key, cur_seq = common + "\U0010ffff", -1  # nothing under it again
                    break
                meta = self._row(row)
                meta.latest, seen = key != seen, key
                out.versions.append(meta)
                out.next_key, out.next_version = key, meta.version_id
                cur_key, cur_seq = key, row[12]
            else:
                if len(rows) < 1001:
                    return out

    # -- multipart uploads

    def create_upload(self, bucket: str, key: str, content_type: str, metadata: dict[str, str],
                      algorithm: str | None, headers: dict[str, str] | None = None) -> str:
        self.require_bucket(bucket)
        upload_id = secrets.token_urlsafe(48)
        with self.db.write() as c:
            c.execute("INSERT INTO uploads VALUES (?,?,?,?,?,?,?,?,0)",
                      (upload_id, bucket, key, content_type, orjson.dumps(metadata).decode(), algorithm,
                       self.clock.now(), orjson.dumps(headers or {}).decode()))
        return upload_id

    def upload(self, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
        row = self.db.conn().execute("SELECT bucket, key, content_type, metadata, algorithm, created, headers FROM "
                                     "uploads WHERE upload_id=? AND completing=0", (upload_id,)).fetchone()
        if row is None or row[0] != bucket or row[1] != key:
            raise _no_upload(upload_id)
        return {"content_type": row[2], "metadata": orjson.loads(row[3]), "algorithm": row[4], "created": row[5],
                "headers": orjson.loads(row[6])}

    def _claim(self, upload_id: str) -> None:
        """Take an upload for completing or aborting: only one caller ever gets it."""
        with self.db.write() as c:
            if c.execute("UPDATE uploads SET completing=1 WHERE upload_id=? AND completing=0", (upload_id,)).rowcount != 1:
                raise _no_upload(upload_id)

    def _release(self, upload_id: str) -> None:
        with self.db.write() as c:
            c.execute("UPDATE uploads SET completing=0 WHERE upload_id=?", (upload_id,))

    def put_part(self, bucket: str, key: str, upload_id: str, number: int, blob: Blob, mask: bytes | None = None) -> str:
        """A part of an upload; its ETag is its MD5, or (``mask``, under a customer's key) the MD5 of that salted."""
        etag = f'"{(blob.md5 if mask is None else salted(mask, blob.md5)).hex()}"'
        old = None
        try:
            with self.db.write() as c:
                self.upload(bucket, key, upload_id)
                prev = c.execute("SELECT blob FROM parts WHERE upload_id=? AND number=?", (upload_id, number)).fetchone()
                old = prev[0] if prev else None
                self._keep(c, blob)
                c.execute("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?,?)",
                          (upload_id, number, blob.id, blob.size, etag, orjson.dumps(blob.checksums).decode(),
                           self.clock.now()))
        except BaseException:
            self.discard(blob)
            raise
        if old:
            self._drop_blobs([old])
        return etag

    def parts(self, upload_id: str) -> list[dict[str, Any]]:
        rows = self.db.conn().execute("SELECT number, blob, size, etag, checksums, modified FROM parts WHERE upload_id=? "
                                      "ORDER BY number", (upload_id,)).fetchall()
        return [{"number": n, "blob": b, "size": s, "etag": e, "checksums": orjson.loads(cs), "modified": m}
                for n, b, s, e, cs, m in rows]

    def complete(self, bucket: str, key: str, upload_id: str, listed: list[tuple[int, str]]) -> ObjectMeta:
        try:
            up = self.upload(bucket, key, upload_id)
        except ServiceError as missing:  # completed already: S3 answers a repeat with the object it made, while it is
            try:                         # still the key's current object
                done = self.head(bucket, key)
            except ServiceError:
                raise missing from None
            if done.attrs.get("upload") != upload_id:
                raise
            return done
        have = {p["number"]: p for p in self.parts(upload_id)}
        if not listed:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                              "against our published schema: list at least one part.")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order. "
                              "Parts must be ordered by part number.")
        chosen = []
        for i, (n, etag) in enumerate(listed):
            part = have.get(n)
            if part is None or part["etag"].strip('"') != etag.strip('"'):
                self.upload(bucket, key, upload_id)  # completed or aborted meanwhile: NoSuchUpload, as S3 says
                raise ServiceError("InvalidPart", "One or more of the specified parts could not be found. The part may "
                                  "not have been uploaded, or the specified entity tag may not match the part's "
                                  "entity tag.", PartNumber=str(n))
            if part["size"] < MIN_PART and i < len(listed) - 1:
                raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                  "object size.", PartNumber=str(n))
            chosen.append(part)
        self._claim(upload_id)
        try:
            blob = self._concat([self.open_blob(p["blob"]) for p in chosen])  # closed there
        except BaseException:
            self._release(upload_id)
            raise
        digest = hashlib.md5(b"".join(bytes.fromhex(p["etag"].strip('"')) for p in chosen), usedforsecurity=False)
        algo = up["algorithm"]
        if algo and all(algo in p["checksums"] for p in chosen):  # S3's composite checksum: hash of part checksums
            h = _Hasher(algo)
            for p in chosen:
                h.update(base64.b64decode(p["checksums"][algo]))
            blob.checksums = {algo: f"{h.b64()}-{len(chosen)}"}
        headers = dict(up["headers"])
        tags = headers.pop(TAGS_HEADER, None)  # the upload's x-amz-tagging, kept with it until now
        attrs = {**upload_attrs(up), "upload": upload_id}
        headers.pop(ATTRS_HEADER, None)
        try:
            meta = self.commit(bucket, key, blob, up["content_type"], up["metadata"],
                               "ObjectCreated:CompleteMultipartUpload", etag=f'"{digest.hexdigest()}-{len(chosen)}"',
                               parts=[p["size"] for p in chosen], headers=headers,
                               tags=orjson.loads(tags) if tags else None, attrs=attrs)
        except BaseException:
            self._release(upload_id)
            raise
        self._end_upload(upload_id)
        return meta

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self.upload(bucket, key, upload_id)
        self._claim(upload_id)
        self._end_upload(upload_id)

    def _end_upload(self, upload_id: str) -> None:
        with self.db.write() as c:
            blobs = [r[0] for r in c.execute("SELECT blob FROM parts WHERE upload_id=?", (upload_id,))]
            c.execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))
            c.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        self._drop_blobs(blobs)

    def uploads(self, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
        """The bucket's uploads in progress, by key then by upload id (S3's order)."""
        self.require_bucket(bucket)
        rows = self.db.conn().execute("SELECT upload_id, key, created FROM uploads WHERE bucket=? AND completing=0 "
                                      "ORDER BY key, upload_id", (bucket,)).fetchall()
        return [{"upload_id": u, "key": k, "created": t} for u, k, t in rows if k.startswith(prefix)]

    # -- events

    @staticmethod
    def restore_event(c: sqlite3.Connection, seq: int, source: str, part: str, body: bytes, at: float) -> None:
        """Put back event ``seq`` as the event log showed it (``bucket:<name>``, its body), if it was pruned."""
        doc = orjson.loads(body)
        c.execute("INSERT OR IGNORE INTO events (seq, bucket, key, kind, size, etag, at) VALUES (?,?,?,?,?,?,?)",
                  (seq, source.removeprefix("bucket:"), doc["key"], doc["kind"], doc.get("size"), doc.get("etag"), at))

    def events(self, after: int = 0) -> Iterator[dict[str, Any]]:
        for seq, bucket, key, kind, size, etag, at in self.db.conn().execute(
                "SELECT seq, bucket, key, kind, size, etag, at FROM events WHERE seq>? ORDER BY seq", (after,)):
            yield {"seq": seq, "bucket": bucket, "key": key, "kind": kind, "size": size, "etag": etag, "at": at}
