"""Scores the trained NLU on a labelled Rasa NLU YAML file (accuracy, and how many replies are
right, clarified, fell back or wrong), and sweeps the thresholds of config.yml's `thresholds`
section so they can be tuned on the development set (tests/nlu/dev.yml), never on the test set.
The sweep replays Rasa's own FallbackClassifier and the clarification of actions/fallback.py, so
it scores exactly what the running assistant does.

    .venv/bin/python -m scripts.nlu_eval tests/nlu/dev.yml --sweep
    .venv/bin/python -m scripts.nlu_eval tests/nlu/dev.yml --two-part tests/nlu/two_part_dev.yml
"""
import argparse
import asyncio
import itertools
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "clinic.tar.gz"


def read_examples(path: Path) -> List[Tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (line[2:].strip(), block["intent"])
        for block in data["nlu"]
        if "intent" in block
        for line in block["examples"].splitlines()
        if line.startswith("- ")
    ]


def same_phrasing(text: str) -> str:
    """The text as the classifier sees it, for spotting test phrasing that is in training data:
    case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^\w\s]|_", " ", text.lower()).split())


def contract_intent(name: str) -> str:
    """GUIDE.md: out_of_scope may also come out as nlu_fallback."""
    return "out_of_scope" if name == "nlu_fallback" else name


def parse_all(texts: List[str], model: Path = MODEL) -> List[Dict[str, Any]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message

    agent = Agent.load(str(model))

    async def parse() -> List[Dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(parse())


def before_fallback(parse: Dict[str, Any]) -> Dict[str, Any]:
    """The parse as the FallbackClassifier received it: its own nlu_fallback entry removed."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    intent = ranking[0] if ranking else parse["intent"]
    return {**parse, "intent": intent, "intent_ranking": ranking}


def refallback(parse: Dict[str, Any], fallback: float, ambiguity: float) -> Dict[str, Any]:
    """The parse Rasa's own FallbackClassifier would give with these thresholds (the pipeline's
    last step; emergencies from triage carry confidence 1.0 and pass like any other intent)."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
    from rasa.shared.nlu.training_data.message import Message

    parse = before_fallback(parse)
    classifier = FallbackClassifier(
        {**FallbackClassifier.get_default_config(), "threshold": fallback,
         "ambiguity_threshold": ambiguity})
    message = Message(data={INTENT: dict(parse["intent"]),
                            INTENT_RANKING_KEY: [dict(r) for r in parse["intent_ranking"]]})
    classifier.process([message])
    return {**parse, "intent": message.get(INTENT), "intent_ranking": message.get(INTENT_RANKING_KEY)}


def outcome(parse: Dict[str, Any], label: str, thresholds: Dict[str, float]) -> str:
    """What the visitor gets: "right" (the labelled intent; nlu_fallback counts as out_of_scope),
    "clarified" (unclear, and two guesses offered as buttons, actions/fallback.py), "fell_back"
    (unclear, the what-I-can-help-with reply) or "wrong" (a confident wrong answer)."""
    from actions.fallback import close_guesses

    name = parse["intent"]["name"]
    if contract_intent(name) == label:
        return "right"
    if name != "nlu_fallback":
        return "wrong"
    return "clarified" if close_guesses(parse["intent_ranking"], thresholds) else "fell_back"


def score(labels: List[str], guesses: List[str]) -> Dict[str, float]:
    """Intent accuracy, macro-F1 over the labelled intents, and emergency recall."""
    from sklearn.metrics import f1_score

    pairs = list(zip(labels, guesses))
    emergencies = [g for want, g in pairs if want == "emergency"]
    return {
        "accuracy": sum(w == g for w, g in pairs) / len(pairs),
        "macro_f1": f1_score(labels, guesses, labels=sorted(set(labels)), average="macro"),
        "emergency_recall": sum(g == "emergency" for g in emergencies) / max(len(emergencies), 1),
        "examples": len(pairs),
    }


def outcomes(parses: List[Dict[str, Any]], labels: List[str],
             thresholds: Dict[str, float]) -> Dict[str, float]:
    """Shares of right, clarified, fell-back and wrong replies."""
    counts = {"right": 0, "clarified": 0, "fell_back": 0, "wrong": 0}
    for parse, label in zip(parses, labels):
        counts[outcome(parse, label, thresholds)] += 1
    return {kind: round(n / len(labels), 4) for kind, n in counts.items()}


def read_two_part(path: Path) -> List[Tuple[str, str, str]]:
    """(text, first, second) triples from a two-part set (tests/nlu/two_part_dev.yml)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(m["text"], m["first"], m["second"]) for m in data["messages"]]


def reply_buttons(parse: Dict[str, Any]) -> List[str]:
    """The intents the assistant's reply to this parse offers as buttons, from the actions that
    answer a question or a description of pain, run as the action server runs them."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.answer_faq import ActionAnswerFaq
    from actions.chat import ActionChatReply
    from actions.replies import QUESTION_INTENTS

    name = parse["intent"]["name"]
    action = ActionAnswerFaq() if name in QUESTION_INTENTS else \
        ActionChatReply() if name == "describe_pain" else None
    if action is None:
        return []
    tracker = Tracker("eval", {}, parse, [], False, None, {}, None)
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, tracker, {})
    return [b["payload"].lstrip("/") for m in dispatcher.messages for b in m.get("buttons") or []
            if (b.get("payload") or "").startswith("/")]


def two_part_outcomes(parses: List[Dict[str, Any]], parts: List[Tuple[str, str, str]],
                      thresholds: Dict[str, float]) -> Dict[str, float]:
    """On two-part messages: how often one part is answered and the other is answered too or
    offered as a button ("both"), how often the part to answer first is the one answered
    ("first": the question asked first, or the question asked with a description of pain), and
    how often a second question is offered that the message did not ask ("stray"). The
    thresholds are set in the running actions' THRESHOLDS for it."""
    from actions.replies import questions_besides
    from actions.thresholds import THRESHOLDS

    saved = dict(THRESHOLDS)
    THRESHOLDS.update(thresholds)
    try:
        both = stray = answered_first = 0
        for parse, (_, first, second) in zip(parses, parts):
            name = parse["intent"]["name"]
            answered_first += name == (second if first == "describe_pain" else first)
            other = {first: second, second: first}.get(name)
            # A question asked with a description of pain is answered as the question (the
            # training data's rule): that is both parts.
            if other and (other == "describe_pain" or other in reply_buttons(parse)):
                both += 1
            stray += offers_second(parse) and any(
                q not in (first, second) for q in questions_besides(parse, name))
    finally:
        THRESHOLDS.update(saved)
    return {"both": round(both / len(parts), 4), "first": round(answered_first / len(parts), 4),
            "stray_second": round(stray / len(parts), 4)}


def offers_second(parse: Dict[str, Any]) -> bool:
    """Whether the reply to this parse can offer a second question: an answer, a greeting, a
    yes or the pain reply (not a fallback, an emergency or the callback form)."""
    from actions.chat import TOPICS
    from actions.replies import QUESTION_INTENTS

    return parse["intent"]["name"] in QUESTION_INTENTS + tuple(TOPICS)


def stray_rate(parses: List[Dict[str, Any]], thresholds: Dict[str, float]) -> float:
    """On one-part messages: how often a second question is offered at all."""
    from actions.replies import questions_besides

    return round(sum(offers_second(p) and bool(questions_besides(p, p["intent"]["name"],
                                                                 thresholds))
                     for p in parses) / len(parses), 4)


def main() -> None:
    from actions.thresholds import THRESHOLDS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--sweep", action="store_true",
                        help="try other fallback and clarification thresholds")
    parser.add_argument("--two-part", type=Path, metavar="SET",
                        help="also score the offer of a message's second part on this two-part "
                             "set (tests/nlu/two_part_dev.yml) for several clause_question values")
    args = parser.parse_args()
    if args.two_part:
        two_part(args.data, args.two_part, args.model)
        return
    examples = read_examples(args.data)
    parses = parse_all([t for t, _ in examples], args.model)
    labels = [intent for _, intent in examples]
    guesses = [contract_intent(p["intent"]["name"]) for p in parses]
    print(f"as configured: {score(labels, guesses)} {outcomes(parses, labels, THRESHOLDS)} "
          f"on {len(examples)} examples")
    for (text, want), got in zip(examples, guesses):
        if want != got:
            print(f"  {want:>24} -> {got:<24} {text}")
    if args.sweep:
        for fallback in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5):
            for ambiguity in (0.0, 0.05):
                swept = [refallback(p, fallback, ambiguity) for p in parses]
                accuracy = score(labels, [contract_intent(p["intent"]["name"]) for p in swept])
                for second, gap in itertools.product((0.05, 0.1, 0.15), (0.2, 0.3, 0.4)):
                    thresholds = {**THRESHOLDS, "fallback": fallback, "ambiguity": ambiguity,
                                  "close_second": second, "close_gap": gap}
                    print(f"fallback {fallback:.2f} ambiguity {ambiguity:.2f} close_second "
                          f"{second:.2f} close_gap {gap:.2f}: accuracy {accuracy['accuracy']:.3f} "
                          f"{outcomes(swept, labels, thresholds)}")


def two_part(one_part: Path, two_part_set: Path, model: Path) -> None:
    from actions.thresholds import THRESHOLDS

    examples, parts = read_examples(one_part), read_two_part(two_part_set)
    parses = parse_all([t for t, _ in examples] + [t for t, _, _ in parts], model)
    singles, doubles = parses[:len(examples)], parses[len(examples):]
    for second in (0.1, 0.2, 0.3):
        for clause in (0.4, 0.5, 0.6, 0.7, 0.8, 1.01):
            thresholds = {**THRESHOLDS, "second_question": second, "clause_question": clause}
            print(f"second_question {second:.2f} clause_question {clause:.2f}: "
                  f"{two_part_outcomes(doubles, parts, thresholds)} stray on "
                  f"{one_part.name}: {stray_rate(singles, thresholds)}")


if __name__ == "__main__":
    main()
