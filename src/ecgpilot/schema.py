"""Typed models of the documents ecgpilot produces: the analysis (``ecgpilot.analysis/2``) and the reading.

The pipeline builds plain dicts (pure functions, no dependency on pydantic); these pydantic models
are their contract, used by the web API (``response_model``), by tests (every document produced on
real files validates) and to generate the JSON Schema published in ``docs/analysis.schema.json``::

    python -m ecgpilot.schema > docs/analysis.schema.json

Fields are only ever added within a schema version (``docs/analysis-schema.md``); objects whose keys
are open by nature (a device's own measurements, a file's extra header fields) are typed as mappings.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnalysisDocument", "Reading", "AnalysisWithReading", "Draft", "DraftStatement", "Report",
           "report_json_schema", "validate_analysis", "validate_reading",
           "json_schema"]

Level = Literal["normal", "routine", "soon", "repeat_now", "emergency"]


class _Closed(BaseModel):
    """A model whose keys are all known: an unknown key is an error (a contract change)."""

    model_config = ConfigDict(extra="forbid")


class FileInfo(_Closed):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format: str


class Source(_Closed):
    format: str
    path: str | None = None
    manufacturer: str | None = None
    device: str | None = None
    description: str | None = None
    device_measurements: dict[str, Any] = Field(default_factory=dict)
    device_statements: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class Patient(_Closed):
    patient_id: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    birth_date: str | None = None
    sex: Literal["M", "F", "U"] | None = None
    age_years: float | None = Field(default=None, ge=0, le=130)
    height_cm: float | None = None
    weight_kg: float | None = None


class RecordSummary(_Closed):
    format: str
    fs: float = Field(gt=0)
    n_samples: int = Field(ge=0)
    duration_s: float = Field(ge=0)
    leads: list[str]
    units: Literal["uV"]
    start_time: str | None = None
    source: Source
    patient: Patient


class QualityReason(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    lead: str | None = None
    severity: Literal["warning", "critical"]
    message_fr: str
    message_en: str


class LeadQuality(BaseModel):
    model_config = ConfigDict(extra="allow")
    flat: bool
    saturated: bool
    usable: bool


class Quality(BaseModel):
    model_config = ConfigDict(extra="allow")
    verdict: Literal["good", "usable", "not_interpretable"]
    interpretable: bool
    reasons: list[QualityReason]
    leads: dict[str, LeadQuality]
    critical_leads: list[str] = Field(default_factory=list)
    message_fr: str | None = None
    message_en: str | None = None


class MedianBeatInfo(_Closed):
    fs: float
    n_beats_averaged: int
    onset_ms: dict[Literal["p_on", "p_off", "qrs_on", "qrs_off", "t_off"], float | None]


class LeadValues(_Closed):
    """One lead of the per-lead matrix (µV and ms, against the PR segment; see ``signal.leadmatrix``)."""

    p_pos_uv: float | None
    p_neg_uv: float | None
    q_uv: float | None
    q_ms: float | None
    r_uv: float | None
    r_ms: float | None
    s_uv: float | None
    s_ms: float | None
    rp_uv: float | None
    rp_ms: float | None
    qrs_pp_uv: float | None
    r_peak_time_ms: float | None
    r_notched: bool | None
    st_j_uv: float | None
    st_60_uv: float | None
    st_80_uv: float | None
    t_pos_uv: float | None
    t_neg_uv: float | None
    pr_seg_uv: float | None


class LeadMatrix(_Closed):
    baseline: Literal["pr_segment"]
    points_ms: dict[Literal["qrs_on", "j", "j60", "j80", "t_off"], float | None]
    beats_s: list[float]
    leads: dict[str, LeadValues]


class Rhythm(BaseModel):
    """The rhythm read from the tracing (``signal.rhythm``); new keys may be added."""

    model_config = ConfigDict(extra="allow")
    n_qrs: int
    rhythm_guess: str | None = None
    rhythm_evidence: list[str] = Field(default_factory=list)
    av_relation: str | None = None


class Ectopy(_Closed):
    """Beats classed from the tracing (``signal.ectopy``): ventricular (V) and supraventricular premature (S)."""

    n_classified: int = Field(ge=0)
    n_v: int = Field(ge=0)
    n_s: int = Field(ge=0)
    v_s: list[float]
    s_s: list[float]
    s_assessed: bool
    n_v_timed: int | None = Field(default=None, ge=0)
    v_timed_s: list[float] | None = None


class Measurements(BaseModel):
    model_config = ConfigDict(extra="allow")
    heart_rate_bpm: float | None
    rr_ms: float | None
    rr_sd_ms: float | None
    n_beats: int
    beats_s: list[float]
    p_duration_ms: float | None
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None
    qtc_ms: float | None
    qtc_formula: Literal["fridericia", "bazett"]
    p_axis_deg: float | None = Field(ge=-180, le=180)
    qrs_axis_deg: float | None = Field(ge=-180, le=180)
    t_axis_deg: float | None = Field(ge=-180, le=180)
    pacing_spikes: bool | None
    median_beat: MedianBeatInfo | None
    qt_reliable: bool
    t_end_spread_ms: float | None
    lead_matrix: LeadMatrix | None = None
    rhythm: Rhythm | None = None
    ectopy: Ectopy | None = None


class AIStatement(_Closed):
    code: str
    task: str
    description: str
    probability: float = Field(ge=0, le=1)
    calibrated_probability: float | None = Field(default=None, ge=0, le=1)
    present: bool
    threshold: float | None  # None: the statement has no operating point (not proposed)


class AIInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    fs: float
    leads_used: list[str]
    leads_missing: list[str]


class AIReading(_Closed):
    model_version: str
    model_sha256: str
    statements: list[AIStatement]
    input: AIInput


class AIError(_Closed):
    error: str


class AnalysisDocument(_Closed):
    """``ecgpilot analyze --json`` without the reading (``analysis.analyze_record``)."""

    schema_: Literal["ecgpilot.analysis/2"] = Field(alias="schema")
    ecgpilot_version: str
    file: FileInfo | None
    record: RecordSummary
    quality: Quality
    measurements: Measurements | None
    ai: AIReading | AIError | None


class Evidence(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: Literal["measurement", "ai", "quality", "patient", "rule"]
    text: str
    name: str | None = None
    code: str | None = None
    value: float | bool | str | None = None


class Statement(_Closed):
    id: str
    category: str
    text: str
    confidence: float | None = Field(default=None, ge=0, le=1)
    source: str
    evidence: list[Evidence]
    leads: list[str]
    urgency: Level
    rule: str
    citation: str
    status: Literal["finding", "ai_only"]


class AlsoConsidered(_Closed):
    """An AI statement below its operating point, listed with its probability, never a finding."""

    code: str
    statement_id: str
    text: str
    probability: float = Field(ge=0, le=1)
    threshold: float | None


class UrgencyReason(_Closed):
    statement_id: str
    text: str


class Urgency(_Closed):
    level: Level
    reasons: list[UrgencyReason]
    text: str


class ReadingPatient(_Closed):
    sex: Literal["M", "F", "U"] | None
    age_years: float | None
    adult_criteria: bool


class Reading(_Closed):
    """The GP's reading (``interpret.interpret``): statements with evidence, urgency, summary."""

    rules_version: str
    lang: Literal["fr", "en"]
    statements: list[Statement]
    also_considered: list[AlsoConsidered]
    urgency: Urgency
    patient: ReadingPatient
    summary: str


class AnalysisWithReading(AnalysisDocument):
    """``ecgpilot analyze --json``: the analysis document and its ``reading`` block."""

    reading: Reading


class _Open(BaseModel):
    """Guaranteed fields; a later version may add others (kept as they are)."""

    model_config = ConfigDict(extra="allow")


class DraftStatement(_Open):
    """A statement of the draft: the AI's proposal (``origin`` ai), the doctor's own text or a cardiologist's adopted one, and the decision."""

    id: str
    origin: Literal["ai", "doctor", "cardiologist"]
    text: str
    ai_text: str | None = None
    decision: Literal["pending", "confirmed", "edited", "rejected"]


class DraftUrgency(_Open):
    level: Level | None = None
    ai_level: Level | None = None
    decision: str | None = None


class Draft(_Open):
    """The doctor's working decisions on a study (what gets signed)."""

    statements: list[DraftStatement]
    urgency: DraftUrgency | None = None


class ReportPatient(_Open):
    family_name: str | None = None
    given_names: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    ins: str | None = None
    ins_status: str | None = None
    pseudonymised: bool | None = None


class Report(_Open):
    """A report's content: frozen at signing (its SHA-256 is in the audit trail), or the draft's preview."""

    study_id: int
    version: int | None
    statements: list[str] = Field(..., description="the kept statements' texts, as signed")
    decisions: list[DraftStatement]
    urgency: Level | None = Field(..., description="the doctor's urgency")
    ai_urgency: Level | None = Field(..., description="the AI's proposal, kept apart")
    doctor: str | None
    doctor_email: str | None = None
    doctor_rpps: str | None
    practice: str | None
    signed_at: str | None
    patient: ReportPatient
    file_sha256: str | None
    model_version: str | None
    rules_version: str | None


def validate_analysis(doc: dict[str, Any]) -> AnalysisDocument:
    """The analysis document as a model; raises :class:`pydantic.ValidationError` naming each bad field."""
    model = AnalysisWithReading if "reading" in doc else AnalysisDocument
    return model.model_validate(doc)


def validate_reading(reading: dict[str, Any]) -> Reading:
    """The reading as a model; raises :class:`pydantic.ValidationError` naming each bad field."""
    return Reading.model_validate(reading)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``ecgpilot analyze --json`` (analysis and reading)."""
    schema = AnalysisWithReading.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ecgpilot.example/schema/ecgpilot.analysis-2.json"
    return schema


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a report's content (the API's ``reports[].content``, the signed version)."""
    schema = Report.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ecgpilot.example/schema/ecgpilot.report-1.json"
    return schema


def main(argv: list[str] | None = None) -> None:
    """Print a JSON Schema: ``python -m ecgpilot.schema > docs/analysis.schema.json``,
    ``python -m ecgpilot.schema report > docs/report.schema.json``."""
    import sys

    which = (argv if argv is not None else sys.argv[1:]) or ["analysis"]
    schema = report_json_schema() if which[0] == "report" else json_schema()
    print(json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
