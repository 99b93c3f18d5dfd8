"""The pilot's evaluation: protocol and randomisation, ECG volume, 30-day care pathway, costs, dataset, plots.

Statistics are pure functions (pandas/statsmodels/scipy in, numbers out); database and file I/O stay in
:mod:`ecgpilot.pilot.service`, :mod:`ecgpilot.pilot.dataset` and :mod:`ecgpilot.pilot.cli`.
Imports: ``store``, ``audit``, ``errors`` only from ecgpilot (never ``web``).
"""
