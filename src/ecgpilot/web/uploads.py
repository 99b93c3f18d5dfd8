"""Bounded reading of upload bodies (issue 23 §2).

The routes that take files authenticate first (a FastAPI dependency that raises before the body is
touched: the endpoints declare no body parameter), then call :func:`read_upload`, which

* refuses at once a ``Content-Length`` over the request limit (nothing read);
* streams the body through a counter that stops at the request limit (a chunked body without a
  length, or one that lies about it, is cut there: 413, never spooled in full);
* parses it with Starlette's multipart parser, files spooled to disk beyond 1 MB (never the whole
  body in memory), at most ``max_files`` files and a few small fields;
* refuses a file over ``max_file_bytes``.

The file contents come back as ``(name, bytes)`` pairs (at most the request limit in all) for
:func:`ecgpilot.web.services.upload.group_upload`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ecgpilot.web.services.common import NothingUploaded, UploadRejected
from ecgpilot.web.services.upload import Size

__all__ = ["read_upload", "FORM_OVERHEAD", "upload_openapi"]

FORM_OVERHEAD = 64 * 1024
"""Bytes allowed beyond the files' own limit for the multipart framing and the small form fields."""


def _too_big(total: int | None, limit: int) -> UploadRejected:
    if total is None:   # a body cut at the limit: its size is not known
        return UploadRejected.said("upload_over_limit_unknown", limit=Size(limit))
    return UploadRejected.said("upload_over_limit", total=Size(total), limit=Size(limit))


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise _too_big(None, limit - FORM_OVERHEAD)
        yield chunk


async def read_upload(request: Request, *, max_bytes: int, max_files: int = 20, max_file_bytes: int | None = None,
                      field: str = "files") -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The small text fields and the files (``(name, bytes)``, empty parts dropped) of a multipart body,
    within the limits; :class:`UploadRejected` (413) beyond them, :class:`NothingUploaded` (422) for none."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise NothingUploaded.said("not_multipart", field=field, ctype=ctype or "none")
    limit = max_bytes + FORM_OVERHEAD
    raw_length = request.headers.get("content-length", "")
    if raw_length.isdigit() and int(raw_length) > limit:
        raise _too_big(int(raw_length), max_bytes)
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=max_files, max_fields=20,
                             max_part_size=16 * 1024)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if "files" in str(exc).lower():
            raise UploadRejected.said("too_many_parts", max=max_files, error=exc) from None
        raise NothingUploaded.said("unreadable_form", error=exc) from None
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    per_file = max_file_bytes or max_bytes
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != field:
                    continue
                if value.size is not None and value.size > per_file:
                    raise UploadRejected.said("file_too_big", name=value.filename, size=Size(value.size),
                                              limit=Size(per_file))
                content = await value.read(per_file + 1)
                if value.filename or content:
                    files.append((value.filename or "", content))
            else:
                fields.setdefault(key, str(value))
    finally:
        await form.close()
    return fields, files


def upload_openapi(field: str = "files") -> dict[str, Any]:
    """The request body of an upload route for the OpenAPI document (the route reads the body itself)."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": [field],
        "properties": {field: {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}
