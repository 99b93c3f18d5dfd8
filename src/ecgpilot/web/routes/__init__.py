"""HTTP only: each module parses a request, calls :mod:`ecgpilot.web.services`, and renders a page or
serialises JSON. Request-level dependencies come from :mod:`ecgpilot.web.deps`. Only
:mod:`ecgpilot.web.app` imports these modules (to include their routers)."""
