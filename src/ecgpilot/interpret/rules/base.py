"""A rule: one named criterion with its source, a pure function of the context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ecgpilot.interpret.context import Context, Finding

__all__ = ["Rule", "RuleFunc"]

#: A rule's function: the context and the findings of the rules run before it → new findings.
RuleFunc = Callable[[Context, Mapping[str, Finding]], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """``id`` names the criterion, ``citation`` its source (guideline, year); ``func`` proposes
    findings. Rules run in the order of :data:`ecgpilot.interpret.rules.RULES`; a rule may read
    the findings of earlier ones (e.g. Sgarbossa reads the bundle branch block)."""

    id: str
    citation: str
    func: RuleFunc

    def __call__(self, ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
        out = self.func(ctx, found)
        for f in out:
            f.rule = self.id
            f.citation = self.citation
        return out


def finding(sid: str, **kw: object) -> Finding:
    """A finding whose rule and citation the :class:`Rule` fills in."""
    return Finding(id=sid, rule="", citation="", **kw)  # type: ignore[arg-type]
