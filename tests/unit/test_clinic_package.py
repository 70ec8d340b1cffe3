"""clinic/: what the servers share. Its names are the domain's (every custom action and slot of
domain.yml is named once in clinic.names, and nothing else is), and the servers other than the
action server stand on clinic/ alone: none of them imports the action server's package."""
import ast
from pathlib import Path
from typing import Iterator, Optional, Set

import pytest

from clinic import names

ROOT = Path(__file__).resolve().parents[2]


def constants(prefix: str) -> list:
    return [value for name, value in vars(names).items() if name.startswith(prefix)]


def test_every_custom_action_of_the_domain_is_named_once(domain):
    named = constants("ACTION_") + list(names.ASK_ACTIONS.values())
    assert sorted(named) == sorted(domain["actions"])


def test_every_slot_of_the_domain_is_named_once(domain):
    assert sorted(constants("SLOT_")) == sorted(domain["slots"])


def test_the_callback_form_asks_for_its_slots_in_this_order(domain):
    assert domain["forms"][names.CALLBACK_FORM]["required_slots"] == list(
        names.CALLBACK_FORM_SLOTS)


def test_the_callback_outcomes_are_the_values_of_its_slot(domain):
    assert domain["slots"][names.SLOT_CALLBACK_STATUS]["values"] == [
        names.CALLBACK_SUBMITTED, names.CALLBACK_DECLINED, names.CALLBACK_CANCELLED,
        names.CALLBACK_OVER_LIMIT]


def test_the_verdict_intents_and_entities_are_in_the_domain(domain):
    assert {names.INTENT_RATE_ANSWER, names.INTENT_EXPLAIN_VERDICT} <= set(domain["intents"])
    assert {"answer", "verdict", "reason"} <= set(domain["entities"])


def test_each_badge_action_gives_a_badge():
    assert set(names.BADGE_ACTIONS.values()) <= set(names.BADGES)


# The Rasa server (its REST channel, NLU components, entry point and stores), the demo page's
# server and the console, as they are started (scripts/serve.py).
NOT_THE_ACTION_SERVER = ["channels", "components", "stores", "console", "scripts/rasa_server.py",
                         "web/serve.py"]


def project_module(name: str) -> Optional[Path]:
    """The file of a module of this repository ("console.db" -> console/db.py), else None."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported(path: Path) -> Iterator[str]:
    """Every module `path` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def reached_from(start: str) -> Set[str]:
    """The modules of this repository that `start` (a folder or a file) imports, directly or
    through each other."""
    target = ROOT / start
    todo = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    seen_files, modules = set(), set()
    while todo:
        path = todo.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        for name in imported(path):
            found = project_module(name)
            if found is not None:
                modules.add(name)
                todo.append(found)
    return modules


def test_the_walk_finds_what_a_server_imports():
    assert {"clinic.content", "clinic.names", "stores.spooling_sql"} <= reached_from("channels")
    assert "clinic.names" in reached_from("console")
    assert "actions.replies" in reached_from("tests/unit/test_actions.py")


@pytest.mark.parametrize("start", NOT_THE_ACTION_SERVER)
def test_only_the_action_server_imports_the_actions_package(start):
    assert not [m for m in reached_from(start) if m == "actions" or m.startswith("actions.")]
