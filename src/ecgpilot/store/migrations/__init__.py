"""Alembic migrations of the app's database (env, script template, ``versions/``), shipped in the package.

:mod:`ecgpilot.store.migrate` runs them without any ``alembic.ini``; ``alembic.ini`` here serves the
``alembic`` command line of contributors (docs/operations.md: how to add a revision).
"""
