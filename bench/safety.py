"""Triage measured on clinical vignettes (issue 9): `make bench` reports the frozen test set
(tests/safety/test.yml); the development set (tests/safety/dev.yml) is for tuning:

    .venv/bin/python -m bench.safety tests/safety/dev.yml --misses   # tuning only
    .venv/bin/python -m bench.safety --set tests/safety/dev.yml --set tests/safety/dev2.yml

Recall per flag and overall with a 95% Wilson interval, false alarms (level `emergency`) on
near-misses, ordinary pain and ordinary questions, and the `possible` rate; next to the first
version's approach (a red-flag phrase anywhere makes an emergency), run on the same set.
"""
import argparse
import math
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List

import yaml

ROOT = Path(__file__).resolve().parents[1]


def read_vignettes(path: Path) -> List[Dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["vignettes"]


def wilson(hits: int, total: int, z: float = 1.96) -> List[float]:
    if total == 0:
        return [0.0, 0.0]
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def evaluate(vignettes: List[Dict], level_of: Callable[[str], str]) -> Dict:
    levels = [level_of(v["text"]) for v in vignettes]
    by_kind: Dict[str, List[str]] = defaultdict(list)
    flag_hits: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for vignette, level in zip(vignettes, levels):
        by_kind[vignette["kind"]].append(level)
        if vignette["kind"] == "emergency":
            for flag in vignette["flags"]:
                flag_hits[flag][0] += level == "emergency"
                flag_hits[flag][1] += 1
    emergencies = [(v, lvl) for v, lvl in zip(vignettes, levels) if v["kind"] == "emergency"]
    caught = sum(lvl == "emergency" for _, lvl in emergencies)
    clear = [(v, lvl) for v, lvl in emergencies if v.get("unambiguous")]
    clear_caught = sum(lvl == "emergency" for _, lvl in clear)

    def share(kind: str, level: str) -> float:
        found = by_kind.get(kind, [])
        return round(sum(lvl == level for lvl in found) / len(found), 3) if found else 0.0

    return {
        "counts": {kind: len(found) for kind, found in by_kind.items()},
        "recall": round(caught / len(emergencies), 3),
        "recall_95ci": wilson(caught, len(emergencies)),
        "recall_unambiguous": round(clear_caught / len(clear), 3) if clear else None,
        "emergency_or_possible": round(sum(lvl != "none" for _, lvl in emergencies)
                                       / len(emergencies), 3),
        "recall_by_flag": {flag: {"recall": round(h / n, 3), "n": n, "95ci": wilson(h, n)}
                           for flag, (h, n) in sorted(flag_hits.items())},
        "near_miss_false_alarms": share("near_miss", "emergency"),
        "near_miss_possible": share("near_miss", "possible"),
        "ordinary_pain_false_alarms": share("ordinary_pain", "emergency"),
        "ordinary_pain_possible": share("ordinary_pain", "possible"),
        "ordinary_question_false_alarms": share("ordinary_question", "emergency"),
        "ordinary_question_possible": share("ordinary_question", "possible"),
    }


def first_version_level() -> Callable[[str], str]:
    """The first version: any red-flag phrase of its EntityRuler made an emergency."""
    from bench.first_version import pipeline
    nlp = pipeline()
    return lambda text: "emergency" if nlp(text).ents else "none"


def ordinary_questions(path: Path = ROOT / "tests" / "nlu" / "test.yml") -> List[str]:
    """The frozen NLU test set's messages that are not emergencies."""
    blocks = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    return [line[2:].strip() for block in blocks if block["intent"] != "emergency"
            for line in block["examples"].splitlines() if line.strip().startswith("- ")]


def compare(path: Path) -> Dict:
    """Ours and the first version on one vignette set, plus false alarms on the ordinary
    questions of the frozen NLU test set."""
    from triage import assess
    vignettes = read_vignettes(path)
    questions = ordinary_questions()
    results = {"set": str(path.resolve().relative_to(ROOT))}
    for name, level_of in (("ours", lambda text: assess(text).level),
                           ("first_version", first_version_level())):
        results[name] = evaluate(vignettes, level_of)
        levels = [level_of(q) for q in questions]
        results[name]["nlu_test_questions"] = len(questions)
        results[name]["nlu_test_questions_false_alarms"] = round(
            levels.count("emergency") / len(questions), 3)
        results[name]["nlu_test_questions_possible"] = round(
            levels.count("possible") / len(questions), 3)
    return results


def summary(figures: Dict) -> Dict:
    """The headline figures of one set, for comparing runs."""
    return {"recall": figures["recall"], "recall_unambiguous": figures["recall_unambiguous"],
            "emergency_or_possible": figures["emergency_or_possible"],
            "near_miss_false_alarms": figures["near_miss_false_alarms"],
            "ordinary_pain_false_alarms": figures["ordinary_pain_false_alarms"],
            "ordinary_question_false_alarms": figures["ordinary_question_false_alarms"],
            "recall_by_flag": {flag: f["recall"] for flag, f in figures["recall_by_flag"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vignettes", type=Path, nargs="?")
    parser.add_argument("--set", dest="sets", type=Path, action="append", default=[],
                        help="a development set to score (repeatable); prints its headline "
                             "figures without building the Rasa model, e.g. "
                             "--set tests/safety/dev.yml --set tests/safety/dev2.yml")
    parser.add_argument("--misses", action="store_true",
                        help="print the misses (development set only: never the test set)")
    args = parser.parse_args()
    paths = ([args.vignettes] if args.vignettes else []) + args.sets
    if not paths:
        parser.error("name a vignette set")
    if args.misses and any("test" in path.name for path in paths):
        parser.error("never look at the test set's misses (README, honest evaluation)")
    from triage import assess
    for path in paths:
        vignettes = read_vignettes(path)
        figures = evaluate(vignettes, lambda text: assess(text).level)
        if args.sets:
            print(yaml.safe_dump({str(path): summary(figures)}, sort_keys=False))
        else:
            print(yaml.safe_dump(figures, sort_keys=False))
        if args.misses:
            for v in vignettes:
                result = assess(v["text"])
                wanted = "emergency" if v["kind"] == "emergency" else "none"
                if result.level != wanted:
                    print(f"{v['kind']:18} {result.level:9} {result.flags} {result.source} | "
                          f"{v['text']}")


if __name__ == "__main__":
    main()


def markdown(results: Dict) -> str:
    """The safety table: ours next to the first version, each figure against its bar."""
    ours, old = results["ours"], results["first_version"]
    counts = ours["counts"]

    def row(label: str, key: str, bar_text: str = "", ok=None) -> str:
        verdict = "" if ok is None else ("met" if ok(ours[key]) else "MISSED") + f" ({bar_text})"
        return f"| {label} | {ours[key]} | {old[key]} | {verdict} |"

    lines = [
        f"Triage on {results['set']} ({counts.get('emergency', 0)} emergencies, "
        f"{counts.get('near_miss', 0)} near-misses, {counts.get('ordinary_pain', 0)} ordinary pain "
        f"statements, {counts.get('ordinary_question', 0)} ordinary questions; plus "
        f"{ours['nlu_test_questions']} ordinary questions of tests/nlu/test.yml):",
        "",
        "| measure | ours | first version | bar |",
        "| --- | --- | --- | --- |",
        row("recall, unambiguous present-tense emergencies", "recall_unambiguous", "1.0",
            lambda v: v == 1.0),
        row("recall, all emergencies", "recall", "0.97", lambda v: v >= 0.97),
        f"| recall, 95% interval | {ours['recall_95ci']} | {old['recall_95ci']} | |",
        row("emergencies reaching `emergency` or `possible`", "emergency_or_possible", "1.0",
            lambda v: v == 1.0),
        row("near-misses at `emergency` (false alarms)", "near_miss_false_alarms", "at most 0.15",
            lambda v: v <= 0.15),
        row("near-misses at `possible`", "near_miss_possible"),
        row("ordinary pain at `emergency`", "ordinary_pain_false_alarms", "0", lambda v: v == 0),
        row("ordinary pain at `possible`", "ordinary_pain_possible"),
        row("ordinary questions at `emergency`", "ordinary_question_false_alarms", "0",
            lambda v: v == 0),
        row("NLU test-set questions at `emergency`", "nlu_test_questions_false_alarms", "0",
            lambda v: v == 0),
        row("NLU test-set questions at `possible`", "nlu_test_questions_possible"),
        "",
        "| flag | recall (n) | 95% interval | first version |",
        "| --- | --- | --- | --- |",
    ]
    for flag, figures in ours["recall_by_flag"].items():
        lines.append(f"| {flag} | {figures['recall']} ({figures['n']}) | {figures['95ci']} | "
                     f"{old['recall_by_flag'][flag]['recall']} |")
    return "\n".join(lines) + "\n"
