"""A folder copied into a bucket, and kept so (CDK's ``BucketDeployment``, done locally): each file with its
Content-Type and Cache-Control, files gone from the folder deleted from the bucket, and what changed reported so
the distribution in front drops it from its cache.

The folder is copied when the system starts, then looked at every second while it runs (names, sizes and
modification times only); a change copies what differs, by content, again.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from ....errors import ConfigError, ServiceError
from ....graph.edge import cache_control_for
from .model import ObjectStore

MAX_FILES = 10_000
SAFE = "/~!$&'()*+,;=:@"  # what a path keeps as it is: the rest is percent-encoded, as a browser asks for it
MAX_FILE = 100 * 1024 * 1024
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".svg": "image/svg+xml", ".json": "application/json", ".webmanifest": "application/manifest+json",
         ".woff2": "font/woff2", ".wasm": "application/wasm", ".txt": "text/plain"}


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class FolderDeployment:
    """``folder`` copied into ``bucket``; ``changed(paths)`` hears of the keys (as ``/key`` paths) each copy changed."""

    def __init__(self, store: ObjectStore, bucket: str, folder: Path, rules: tuple[tuple[str, str], ...],
                 changed: Callable[[list[str]], None] | None = None) -> None:
        if not folder.is_dir():
            raise ConfigError(f"deployment source {folder} is not a folder")
        self.store, self.bucket, self.folder, self.rules, self.changed = store, bucket, folder, rules, changed
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self.copies = 0

    def files(self) -> list[tuple[str, Path, int, int]]:
        """Every file to copy: its key, path, size and modification time; hidden files and links left out."""
        if not self.folder.is_dir():  # gone or renamed: nothing is copied (and nothing deleted) until it is back
            raise ConfigError(f"deployment source {self.folder} is not a folder")
        found = []

        def fail(exc: OSError) -> None:  # a folder that cannot be read is not an empty one
            raise exc
        for root, dirs, names in os.walk(self.folder, onerror=fail):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d)))
            for name in sorted(names):
                path = Path(root, name)
                if name.startswith(".") or path.is_symlink() or not path.is_file():
                    continue
                st = path.stat()
                if st.st_size > MAX_FILE:
                    raise ConfigError(f"deployment source {path}: {st.st_size:,} bytes; a file is at most {MAX_FILE:,}")
                found.append((path.relative_to(self.folder).as_posix(), path, st.st_size, st.st_mtime_ns))
                if len(found) > MAX_FILES:
                    raise ConfigError(f"deployment source {self.folder}: more than {MAX_FILES:,} files")
        return found

    def sync(self) -> list[str]:
        """Copy what differs and delete what is gone; the paths changed (``/key``)."""
        files = self.files()
        seen = tuple((key, size, mtime) for key, _, size, mtime in files)
        changed = []
        for key, path, _, _ in files:
            data = path.read_bytes()
            ctype, cache = content_type(key), cache_control_for(key, self.rules)
            try:
                meta = self.store.head(self.bucket, key)
                same = (meta.etag.strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest()
                        and meta.content_type == ctype and meta.headers.get("cache-control") == cache)
            except ServiceError:
                same = False
            if not same:
                self.store.put_bytes(self.bucket, key, data, ctype, {"cache-control": cache})
                changed.append("/" + quote(key, safe=SAFE))
        wanted = {key for key, *_ in files}
        after = ""
        while True:
            listing = self.store.list_objects(self.bucket, after=after)
            for meta in listing.objects:
                if meta.key not in wanted:
                    self.store.delete(self.bucket, meta.key)
                    changed.append("/" + quote(meta.key, safe=SAFE))
            if not listing.truncated or listing.last is None:
                break
            after = listing.last
        self.copies += 1
        self._seen = seen  # only once all went through: a copy that failed half-way is tried again
        return changed

    async def watch(self, interval: float = 1.0) -> None:
        """Copy again whenever the folder changes, and report what changed (on the event loop)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            try:
                now = await loop.run_in_executor(None, lambda: tuple((k, s, m) for k, _, s, m in self.files()))
                if now == self._seen:
                    continue
                changed = await loop.run_in_executor(None, self.sync)
            except (OSError, ConfigError, ServiceError):
                continue  # a file half-written, removed meanwhile, too big: the next look tries again
            if changed and self.changed is not None:
                self.changed(changed)
