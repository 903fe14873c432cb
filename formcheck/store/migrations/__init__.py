"""The Alembic environment (env.py) and revisions (versions/), shipped with the package; run by store.migrate."""
