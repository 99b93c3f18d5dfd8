"""The rule registry: every criterion is one :class:`~ecgpilot.interpret.rules.base.Rule`, run in
this order (later rules may read earlier findings). ``docs/rules.md`` lists them with their sources."""

from __future__ import annotations

from ecgpilot.interpret.rules.base import Rule
from ecgpilot.interpret.rules.conduction import CONDUCTION_RULES
from ecgpilot.interpret.rules.ischaemia import ISCHAEMIA_RULES
from ecgpilot.interpret.rules.other import OTHER_RULES
from ecgpilot.interpret.rules.rhythm import RHYTHM_RULES
from ecgpilot.interpret.rules.voltage import VOLTAGE_RULES

__all__ = ["RULES", "Rule"]

#: Every rule, in run order: rhythm and rate, conduction, voltage, ischaemia, axis/QT/other AI.
RULES: tuple[Rule, ...] = RHYTHM_RULES + CONDUCTION_RULES + VOLTAGE_RULES + ISCHAEMIA_RULES + OTHER_RULES
