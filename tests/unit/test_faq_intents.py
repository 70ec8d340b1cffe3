"""One list of FAQ intents, written once: the names under content/answers.yml's `answers:`.
The rules answer exactly those, both outside and in the middle of the callback request, and
every one of them is in the domain; every intent the callback form leaves to the rules has a
rule in the middle of the form. A question added in one place and forgotten in another would
otherwise go unanswered or be taken as a visitor's name."""
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from actions.callback_form import LEFT_TO_RULES, LEFT_TO_RULES_WHEN_SURE
from actions.replies import CONTENT

ROOT = Path(__file__).resolve().parents[2]
FAQ_INTENTS = list(CONTENT.answers)
QUESTIONS = [i for i in FAQ_INTENTS if i != "emergency"]


def rules(name: str) -> List[Dict[str, Any]]:
    return yaml.safe_load((ROOT / "data" / "rules" / name).read_text(encoding="utf-8"))["rules"]


def answering_rules(name: str) -> List[Dict[str, Any]]:
    """The rules of data/rules/<name> that run action_answer_faq."""
    return [r for r in rules(name) if {"action": "action_answer_faq"} in r["steps"]]


def intents_of(rule: Dict[str, Any]) -> List[str]:
    """The intents a rule starts from: one `intent` step or an `or` of them."""
    first = rule["steps"][0]
    if "or" in first:
        return [step["intent"] for step in first["or"]]
    return [first["intent"]]


def test_the_faq_rule_answers_exactly_the_faq_intents():
    [rule] = answering_rules("faq.yml")
    assert "condition" not in rule
    assert rule["steps"][1:] == [{"action": "action_answer_faq"}]
    intents = intents_of(rule)
    assert len(intents) == len(set(intents))
    assert set(intents) == set(QUESTIONS)


def test_the_mid_form_rule_answers_exactly_the_faq_intents_then_goes_on():
    [rule] = answering_rules("callback_form.yml")
    assert rule["condition"] == [{"active_loop": "callback_form"}]
    assert rule["steps"][1:] == [{"action": "action_answer_faq"}, {"action": "callback_form"},
                                 {"active_loop": "callback_form"}]
    intents = intents_of(rule)
    assert len(intents) == len(set(intents))
    assert set(intents) == set(QUESTIONS)


@pytest.mark.parametrize("intent", FAQ_INTENTS)
def test_every_faq_intent_is_in_the_domain(intent, domain):
    assert intent in domain["intents"]


def test_emergency_has_its_own_rules():
    """The one FAQ intent not answered by action_answer_faq."""
    emergency = [r for r in rules("emergency.yml") if intents_of(r) == ["emergency"]]
    assert emergency and all(r["steps"][1] == {"action": "action_emergency"} for r in emergency)


@pytest.mark.parametrize("intent", sorted(LEFT_TO_RULES | LEFT_TO_RULES_WHEN_SURE))
def test_every_intent_the_form_leaves_to_the_rules_has_a_rule_in_the_form(intent):
    mid_form = [
        rule
        for path in sorted((ROOT / "data" / "rules").glob("*.yml"))
        for rule in rules(path.name)
        if {"active_loop": "callback_form"} in rule.get("condition", [])
        and {"intent", "or"} & set(rule["steps"][0]) and intent in intents_of(rule)
    ]
    assert mid_form, f"no rule answers {intent} in the middle of the callback request"
