"""Shared test helpers: trackers built from the JSON fixtures in tests/data/trackers, the real
domain, and a runner for (sync or async) custom actions that returns what they sent and did."""
import asyncio
import inspect
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]
TRACKERS = ROOT / "tests" / "data" / "trackers"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def load_tracker(
    fixture: str,
    *,
    text: Optional[str] = None,
    intent: Optional[str] = None,
    confidence: float = 0.95,
    ranking: Optional[List[Dict[str, Any]]] = None,
    entities: Iterable[Tuple[str, str]] = (),
    slots: Optional[Dict[str, Any]] = None,
    triage: Optional[Dict[str, Any]] = None,
    clauses: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    """tests/data/trackers/<fixture>.json as a Tracker, with the latest message and slots
    overridden. `entities` are (entity, value) pairs; `triage` is what components/triage.py
    puts in the parse data, `clauses` what the intent classifier does for a message of several
    clauses; the last user event is kept in step."""
    state = json.loads((TRACKERS / f"{fixture}.json").read_text(encoding="utf-8"))
    message = state["latest_message"]
    if text is not None:
        message["text"] = text
    if intent is not None:
        message["intent"] = {"name": intent, "confidence": confidence}
        message["intent_ranking"] = [dict(message["intent"])]
    if ranking is not None:
        message["intent_ranking"] = ranking
    entities = list(entities)
    if entities:
        message["entities"] = []
        for entity, value in entities:
            start = max(message["text"].find(value), 0)
            message["entities"].append(
                {"entity": entity, "value": value, "start": start, "end": start + len(value),
                 "extractor": "SpacyEntityExtractor"}
            )
    if clauses is not None:
        message["clauses"] = clauses
    if triage is not None:
        message["triage"] = {"level": "none", "flags": [], "language": "en", **triage}
    state["slots"].update(slots or {})
    user_event = state["events"][-1]
    assert user_event["event"] == "user", f"{fixture}.json must end with the user's message"
    user_event["text"] = message["text"]
    user_event["parse_data"] = {
        key: message[key] for key in ("text", "intent", "intent_ranking", "entities", "triage",
                                          "clauses")
        if key in message
    }
    return Tracker.from_dict(state)


def run_action(
    action: Action, tracker: Tracker, domain: Optional[Dict[str, Any]] = None
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Runs the action as rasa_sdk's executor does; returns (dispatcher.messages, events)."""
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, DOMAIN if domain is None else domain)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return dispatcher.messages, result


@pytest.fixture
def make_tracker():
    return load_tracker


@pytest.fixture(name="run_action")
def run_action_fixture():
    return run_action


@pytest.fixture
def domain() -> Dict[str, Any]:
    return DOMAIN
