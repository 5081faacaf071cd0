"""S3's tags: an object's (Put, Get and DeleteObjectTagging; ``x-amz-tagging`` on PUT, copies and multipart
uploads; ``x-amz-tagging-count`` on GET and HEAD) and a bucket's (Put, Get and DeleteBucketTagging), with S3's
limits: 10 tags on an object, 50 on a bucket, keys of up to 128 characters and values of up to 256, each key
once, none under ``aws:``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ....errors import ServiceError
from ...protocols import restxml as X
from .wire_common import S3Base, S3Request

OBJECT_TAGS, BUCKET_TAGS = 10, 50


def _checked(pairs: list[tuple[str, str]], most: int) -> dict[str, str]:
    if len(pairs) > most:
        raise ServiceError("BadRequest" if most == OBJECT_TAGS else "InvalidTag",
                           f"Object tags cannot be greater than {most}" if most == OBJECT_TAGS
                           else f"Bucket tags cannot be greater than {most}")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise ServiceError("InvalidTag", "The TagKey you have provided is invalid" if not 1 <= len(key) <= 128
                               or key.lower().startswith("aws:") else "The TagValue you have provided is invalid")
        if key in tags:
            raise ServiceError("InvalidTag", "Cannot provide multiple Tags with the same key", TagKey=key)
        tags[key] = value
    return tags


def header_tags(value: str) -> dict[str, str]:
    """The tags of an ``x-amz-tagging`` header (``k1=v1&k2=v2``, URL-encoded)."""
    return _checked(parse_qsl(value, keep_blank_values=True), OBJECT_TAGS)


def document_tags(body: bytes, most: int) -> dict[str, str]:
    doc = X.parse(body, "Tagging")
    sets = X.children(doc, "TagSet")
    if len(sets) != 1:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema: one TagSet.")
    pairs = []
    for tag in X.children(sets[0], "Tag"):
        key, value = X.text(tag, "Key"), X.text(tag, "Value")
        if key is None or value is None:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                              "our published schema: each Tag has a Key and a Value.")
        pairs.append((key, value))
    return _checked(pairs, most)


def tags_document(tags: dict[str, str]) -> bytes:
    return X.document("Tagging", [X.el("TagSet", [X.el("Tag", [X.el("Key", k), X.el("Value", v)])
                                                  for k, v in tags.items()])])


class Tags(S3Base):
    async def _object_tagging(self, req: S3Request, receive: Any, send: Any) -> None:
        """Put, Get or DeleteObjectTagging (authorized by the caller), of the current object or ``versionId``."""
        version = req.query.get("versionId")
        if req.method == "GET":
            meta = await self._run(self.store.head, req.bucket, req.key, version)
            hdrs = {"x-amz-version-id": meta.version_id} if meta.version_id != "null" or version else {}
            return await self._reply(send, 200, tags_document(meta.tags), headers=hdrs)
        tags = document_tags(await self._read_small(receive), OBJECT_TAGS) if req.method == "PUT" else {}
        tagged = await self._run(self.store.set_tags, req.bucket, req.key, version, tags)
        hdrs = {"x-amz-version-id": tagged} if tagged != "null" or version else {}
        await self._reply(send, 200 if req.method == "PUT" else 204, headers=hdrs)
