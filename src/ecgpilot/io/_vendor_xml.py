"""Small helpers shared by the vendor XML readers (GE MUSE, Philips Sierra)."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from pathlib import Path

from lxml import etree

from ecgpilot.errors import CorruptFileError
from ecgpilot.io._limits import MAX_XML_BYTES, check_size

__all__ = ["xml_root_name", "parse_xml", "decode_base64", "local_name", "to_float"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Declarations, processing instructions, comments and a DOCTYPE (with an optional
# internal subset) may come before the root element.
_PROLOG = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>)", re.S)
_ROOT = re.compile(r"\s*<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def _decode_head(head: bytes) -> str:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore")
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return head.decode("utf-16-be", errors="ignore")
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return head.decode("utf-16-le", errors="ignore")
    return head.decode("latin-1")


def xml_root_name(head: bytes) -> str | None:
    """Local name of the root element of the XML document starting with ``head``.

    Handles UTF-8 / UTF-16 (with or without BOM), the XML declaration, comments and
    a DOCTYPE. Returns ``None`` when ``head`` does not look like XML.
    """
    text = _decode_head(head)
    pos = 0
    while True:
        m = _PROLOG.match(text, pos)
        if m is None:
            break
        pos = m.end()
    m = _ROOT.match(text, pos)
    return m.group(2) if m else None


def parse_xml(path: Path) -> etree._Element:
    """Parse an XML file safely (no DTD loading, no entities, no network).

    Raises :class:`CorruptFileError` naming the file and the parser's complaint, and
    :class:`~ecgpilot.errors.ReadError` for a file beyond :data:`MAX_XML_BYTES`.
    """
    check_size(path, MAX_XML_BYTES, "XML document")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
    )
    try:
        return etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise CorruptFileError(
            f"{path.name!r} is not well-formed XML ({exc}); the file is truncated or damaged."
        ) from exc


def local_name(element: etree._Element) -> str:
    """Tag of ``element`` without its namespace."""
    return etree.QName(element).localname


def decode_base64(text: str | None, what: str) -> bytes:
    """Strictly decode base64 ``text`` (whitespace allowed); ``what`` names it in errors."""
    if text is None or not text.strip():
        raise CorruptFileError(f"{what} is empty: the file holds no waveform samples.")
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CorruptFileError(f"{what} is not valid base64 ({exc}); the file is damaged.") from exc


def to_float(text: str | None) -> float | None:
    """``float(text)``, or ``None`` for missing / empty / non-numeric text ('Failed', '---')."""
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None
