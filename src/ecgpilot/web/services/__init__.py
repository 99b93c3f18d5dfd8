"""The rules and transactions of the web app, one module per area: :mod:`.studies` (worklist, draft,
identity, signing), :mod:`.upload`, :mod:`.access` (who sees what), :mod:`.care` (tele-expertise,
notifications), :mod:`.sending` (MSSanté), :mod:`.documents` (PDF/CDA/FHIR frozen at signing),
:mod:`.evaluation`, :mod:`.practice`, :mod:`.accounts`, :mod:`.identity`, :mod:`.history`, :mod:`.pilot`,
:mod:`.health`, and what the study page shows (:mod:`.study_view`, :mod:`.tracing`).

Services take a SQLAlchemy session and the acting user, commit each change with its ``StudyEvent`` and
audit entry, and refuse with the exceptions of :mod:`.common` (or ``PermissionError``), leaving the session
as of its last commit (:func:`.common.undone_on_refusal`); they never import the routes,
:mod:`ecgpilot.web.deps` nor FastAPI.
"""
