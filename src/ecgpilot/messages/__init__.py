"""The one FR/EN message catalogue: every text ecgpilot shows or writes, one TOML file per language
(``fr.toml``, ``en.toml``, same key tree, one section per area: web, reading, analysis, pdf, quality,
tracing, pilot, ins, compare, store), read with the standard library (tomllib, importlib.resources) on first use and cached.

Keys are dotted paths (``"web.login"``, ``"quality.reason.flat"``). A missing key or language raises
:class:`MissingTextError` naming the key and the languages that have it; callers never fall back
silently (the web page alone falls back to French, with a logged warning: ``ecgpilot.web.i18n.t``).
Imports nothing from ecgpilot but :mod:`ecgpilot.errors`; any module may import it. See docs/i18n.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ecgpilot.errors import ConfigError

__all__ = ["LANGS", "MissingTextError", "check_lang", "lang_or_en", "catalogue", "text", "section", "has", "Bilingual"]

#: The languages of the catalogue, the reference (French) first; each has its ``<lang>.toml``.
LANGS: tuple[str, ...] = ("fr", "en")


class MissingTextError(ConfigError):
    """A text key (or a whole language) is absent from the catalogue."""


def check_lang(lang: str) -> str:
    """``lang`` itself when the catalogue has it, else a :class:`~ecgpilot.errors.ConfigError`."""
    if lang not in LANGS:
        raise ConfigError(f"Unknown language {lang!r}; accepted: {', '.join(LANGS)}.")
    return lang


def lang_or_en(lang: str) -> str:
    """``lang`` when the catalogue has it, else English: for code that has always said its French text for
    ``fr`` only and English for any other language (the web services' refusals and history)."""
    return lang if lang in LANGS else "en"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> Mapping[str, Any]:
    """The whole key tree of ``lang`` (read once from the package's ``<lang>.toml``)."""
    check_lang(lang)
    raw = resources.files(__package__).joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return MappingProxyType(tomllib.loads(raw))


def _find(key: str, lang: str) -> Any:
    node: Any = catalogue(lang)
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def has(key: str, lang: str = "fr") -> bool:
    """Whether ``key`` names a text (or a section) in ``lang``."""
    return _find(key, lang) is not None


def _missing(key: str, lang: str) -> MissingTextError:
    having = [lg for lg in LANGS if lg != lang and _find(key, lg) is not None]
    where = f"only in {', '.join(having)}" if having else "in no language"
    return MissingTextError(f"No text {key!r} in {lang!r} (the key is {where}); "
                            f"add it to src/ecgpilot/messages/{lang}.toml (docs/i18n.md).")


def text(key: str, lang: str, /, **fields: Any) -> str:
    """The text ``key`` in ``lang``, formatted with ``fields`` when given (``str.format``; ``key`` and
    ``lang`` are positional, so that a text may have fields named ``key`` or ``lang``)."""
    node = _find(key, lang)
    if not isinstance(node, str):
        if node is not None:
            raise MissingTextError(f"{key!r} is a section of the catalogue, not a text; "
                                   f"its keys: {', '.join(node)}.")
        raise _missing(key, lang)
    return node.format(**fields) if fields else node


def section(key: str, lang: str) -> Mapping[str, Any]:
    """The sub-tree ``key`` in ``lang`` (read-only), e.g. ``section("pdf", "en")["levels"]["soon"]``."""
    node = _find(key, lang)
    if not isinstance(node, Mapping):
        if node is not None:
            raise MissingTextError(f"{key!r} is a text of the catalogue, not a section.")
        raise _missing(key, lang)
    return MappingProxyType(dict(node))


class Bilingual(Mapping[str, Mapping[str, str]]):
    """A read-only view of a catalogue section as ``{key: {"fr": …, "en": …}}`` (for the templates and
    callers that pick the language themselves); nothing is read before the first access."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def _keys(self) -> list[str]:
        return [k for k, v in section(self._prefix, LANGS[0]).items() if isinstance(v, str)]

    def __getitem__(self, key: str) -> Mapping[str, str]:
        if not isinstance(_find(f"{self._prefix}.{key}", LANGS[0]), str):
            raise KeyError(key)
        return MappingProxyType({lg: text(f"{self._prefix}.{key}", lg) for lg in LANGS})

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and isinstance(_find(f"{self._prefix}.{key}", LANGS[0]), str)

    def __repr__(self) -> str:
        return f"Bilingual({self._prefix!r})"
