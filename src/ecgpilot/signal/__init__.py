"""Signal processing: filters, beat detection, quality, delineation and measurements.

All functions here are pure (arrays or :class:`~ecgpilot.record.ECGRecord` in, numbers out).
"""

from ecgpilot.signal.beats import detect_beats, record_beats
from ecgpilot.signal.measure import measure
from ecgpilot.signal.quality import assess_quality, require_interpretable

__all__ = ["detect_beats", "record_beats", "measure", "assess_quality", "require_interpretable"]
