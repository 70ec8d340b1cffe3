"""The confidence thresholds of config.yml's `thresholds` section, for the actions that read the
NLU's confidence and for scripts/nlu_eval.py, which tunes them: one place for all of them."""
from pathlib import Path
from typing import Dict

import yaml

CONFIG = Path(__file__).resolve().parents[1] / "config.yml"
NAMES = ("fallback", "ambiguity", "close_second", "close_gap", "second_question",
         "clause_question", "first_asked_clause", "form_sure", "form_question", "form_question_like")


class ThresholdError(ValueError):
    """config.yml's thresholds are missing or not numbers between 0 and 1."""


def load_thresholds(path: Path = CONFIG) -> Dict[str, float]:
    try:
        section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("thresholds")
    except (OSError, yaml.YAMLError) as error:
        raise ThresholdError(f"{path}: cannot be read: {error}") from error
    if not isinstance(section, dict):
        raise ThresholdError(f"{path}: thresholds: missing; expected {', '.join(NAMES)}")
    for name in NAMES:
        value = section.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ThresholdError(f"{path}: thresholds.{name}: expected a number from 0 to 1, "
                                 f"found {value!r}")
    unknown = sorted(set(section) - set(NAMES))
    if unknown:
        raise ThresholdError(f"{path}: thresholds.{unknown[0]}: unknown; expected {', '.join(NAMES)}")
    return {name: float(section[name]) for name in NAMES}


THRESHOLDS = load_thresholds()
