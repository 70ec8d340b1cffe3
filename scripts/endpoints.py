"""Writes a copy of endpoints.yml with another action server URL and tracker database.

Used by scripts/run.sh (ports from the environment) and by the tests (free ports, a temporary
database), so endpoints.yml itself keeps plain defaults that `rasa shell` can use as they are.
"""
import argparse
from pathlib import Path

import yaml


def render(source: Path, action_url: str, tracker_db: str, spool_db: str) -> dict:
    """The endpoints with these addresses; ${...} placeholders (the action server's token) are
    left for Rasa to fill from its environment, so no secret is written to the file."""
    endpoints = yaml.safe_load(source.read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = action_url
    endpoints["tracker_store"]["db"] = tracker_db
    endpoints["tracker_store"]["spool_db"] = spool_db
    return endpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=Path("endpoints.yml"))
    parser.add_argument("--action-url", required=True)
    parser.add_argument("--tracker-db", required=True)
    parser.add_argument("--spool-db", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    endpoints = render(args.source, args.action_url, args.tracker_db, args.spool_db)
    args.out.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
