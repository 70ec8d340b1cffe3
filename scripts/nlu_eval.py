"""Scores the trained NLU on a labelled Rasa NLU YAML file, and sweeps FallbackClassifier
thresholds so they can be tuned on the development set (tests/nlu/dev.yml), never on the
held-out test set.

    .venv/bin/python -m scripts.nlu_eval tests/nlu/dev.yml --sweep
"""
import argparse
import asyncio
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


def predicted(parse: Dict[str, Any], threshold: float, ambiguity: float) -> str:
    """The intent the pipeline would return with these FallbackClassifier settings."""
    ranking = [r for r in parse.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
    if not ranking:
        return contract_intent(parse["intent"]["name"])
    top = ranking[0]
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    if top["name"] != "emergency" and (
        top["confidence"] < threshold or top["confidence"] - second < ambiguity
    ):
        return "out_of_scope"
    return top["name"]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--sweep", action="store_true", help="try FallbackClassifier thresholds")
    args = parser.parse_args()
    examples = read_examples(args.data)
    parses = parse_all([t for t, _ in examples], args.model)
    labels = [intent for _, intent in examples]
    guesses = [contract_intent(p["intent"]["name"]) for p in parses]
    print(f"as configured: {score(labels, guesses)} on {len(examples)} examples")
    for (text, want), got in zip(examples, guesses):
        if want != got:
            print(f"  {want:>24} -> {got:<24} {text}")
    if args.sweep:
        for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            for ambiguity in (0.0, 0.05, 0.1):
                result = score(labels, [predicted(p, threshold, ambiguity) for p in parses])
                print(f"threshold {threshold:.2f} ambiguity {ambiguity:.2f}: {result}")


if __name__ == "__main__":
    main()
