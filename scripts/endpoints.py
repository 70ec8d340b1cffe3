"""endpoints.yml with another action server URL, tracker database and spool file.

The launcher (scripts/serve.py) writes this copy for every start (ports from the environment,
or free ports and temporary files in the tests), so endpoints.yml itself keeps plain defaults
that `rasa shell` can use as they are.
"""
from pathlib import Path

import yaml


def render(source: Path, action_url: str, tracker_db: str, spool_db: str) -> dict:
    """The endpoints with these addresses; ${...} placeholders (the action server's token, and in
    deploy/endpoints.yml the database's and Redis's settings) are left for Rasa to fill from its
    environment, so no secret is written to the file. tracker_db is the SQLite file; a tracker
    store on a database server (dialect postgresql) keeps its own settings."""
    endpoints = yaml.safe_load(source.read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = action_url
    if endpoints["tracker_store"].get("dialect", "sqlite") == "sqlite":
        endpoints["tracker_store"]["db"] = tracker_db
    endpoints["tracker_store"]["spool_db"] = spool_db
    return endpoints
