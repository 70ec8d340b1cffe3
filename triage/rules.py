"""Reads and checks triage/rules.yml; every problem names the file and the key."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple, Union

import yaml

RULES = Path(__file__).with_name("rules.yml")
FLAGS = ("bladder_bowel", "saddle_numbness", "leg_weakness", "major_trauma", "fever",
         "cancer_history", "chest_pain", "meningitis_signs", "self_harm")
HELPERS = ("pain", "weight_loss", "neck_stiffness", "headache", "idiom")
CATEGORIES = ("NEGATED_EXISTENCE", "HISTORICAL", "HYPOTHETICAL", "FAMILY")
DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")

Pattern = Union[str, List[Dict[str, Any]]]


class RulesError(ValueError):
    """triage/rules.yml is broken; the message names the file and the key."""


@dataclass
class Rules:
    targets: Dict[str, List[Pattern]]
    context: List[Tuple[str, Pattern, str]]  # (category, phrase or token pattern, direction)
    requires: Dict[str, List[str]]
    words_for_others: Set[str]
    past_counts: Set[str]
    combined: Dict[str, Dict[str, List[str]]]
    max_scope: int

    @property
    def words(self) -> Set[str]:
        """Every word the targets spell out, for fuzzy matching of misspellings."""
        found: Set[str] = set()

        def collect(value: Any) -> None:
            if isinstance(value, str):
                found.update(w for w in value.lower().split() if w.isalpha())
            elif isinstance(value, dict):
                for key, inner in value.items():
                    if key in ("LOWER", "IN", "TEXT") or isinstance(inner, (list, dict)):
                        collect(inner)
            elif isinstance(value, list):
                for inner in value:
                    collect(inner)

        collect(list(self.targets.values()))
        return found


def _mapping(path: Path, key: str, value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{path}: {key}: expected a mapping")
    return value


def _only_text(value: Any) -> bool:
    """Words in token patterns are text: YAML reads unquoted no/off/on/yes as booleans."""
    if isinstance(value, dict):
        return all(isinstance(inner, bool) if key.startswith(("LIKE_", "IS_")) else _only_text(inner)
                   for key, inner in value.items())
    if isinstance(value, list):
        return all(_only_text(inner) for inner in value)
    return isinstance(value, str)


def _pattern(path: Path, key: str, value: Any) -> Pattern:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, list) and value and all(isinstance(t, dict) for t in value):
        if not _only_text(value):
            raise RulesError(f"{path}: {key}: a word is not text; quote words like \"no\" and "
                             f"\"off\" ({value!r})")
        return value
    raise RulesError(f"{path}: {key}: expected a phrase or a token pattern, got {value!r}")


def load(path: Path = RULES) -> Rules:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RulesError(f"{path}: cannot be read: {error}") from error
    data = _mapping(path, "(top level)", data)
    unknown = set(data) - {"targets", "context", "requires", "words_for_others",
                           "past_counts", "combined", "max_scope"}
    if unknown:
        raise RulesError(f"{path}: unknown key(s): {', '.join(sorted(unknown))}")
    targets = {}
    for flag, patterns in _mapping(path, "targets", data.get("targets")).items():
        if flag not in FLAGS + HELPERS:
            raise RulesError(f"{path}: targets.{flag}: unknown flag; known: {', '.join(FLAGS + HELPERS)}")
        if not isinstance(patterns, list) or not patterns:
            raise RulesError(f"{path}: targets.{flag}: expected a non-empty list")
        targets[flag] = [_pattern(path, f"targets.{flag}[{i}]", p) for i, p in enumerate(patterns)]
    missing = set(FLAGS + HELPERS) - set(targets)
    if missing:
        raise RulesError(f"{path}: targets: missing {', '.join(sorted(missing))}")
    context = []
    for category, by_direction in _mapping(path, "context", data.get("context")).items():
        if category not in CATEGORIES:
            raise RulesError(f"{path}: context.{category}: unknown category; known: {', '.join(CATEGORIES)}")
        for direction, literals in _mapping(path, f"context.{category}", by_direction).items():
            key = f"context.{category}.{direction}"
            if direction not in DIRECTIONS or not isinstance(literals, list):
                raise RulesError(f"{path}: {key}: expected one of {', '.join(DIRECTIONS)} with a list")
            for i, literal in enumerate(literals):
                phrase = _pattern(path, f"{key}[{i}]", literal)
                context.append((category, phrase.lower() if isinstance(phrase, str) else phrase,
                                direction))
    requires = {}
    for flag, needed in _mapping(path, "requires", data.get("requires") or {}).items():
        if flag not in FLAGS or not isinstance(needed, list) or not set(needed) <= set(targets):
            raise RulesError(f"{path}: requires.{flag}: expected a flag and a list of targets")
        requires[flag] = needed
    for_others = data.get("words_for_others") or []
    if not isinstance(for_others, list) or not all(isinstance(w, str) for w in for_others):
        raise RulesError(f"{path}: words_for_others: expected a list of words")
    past_counts = data.get("past_counts") or []
    if not isinstance(past_counts, list) or not set(past_counts) <= set(FLAGS):
        raise RulesError(f"{path}: past_counts: expected a list of flags")
    combined = {}
    for flag, parts in _mapping(path, "combined", data.get("combined") or {}).items():
        parts = _mapping(path, f"combined.{flag}", parts)
        if flag not in FLAGS or set(parts) - {"all", "any"} or not all(
                isinstance(v, list) and set(v) <= set(targets) for v in parts.values()):
            raise RulesError(f"{path}: combined.{flag}: expected a flag with `all` and `any` "
                             "lists of targets")
        combined[flag] = {"all": parts.get("all", []), "any": parts.get("any", [])}
    max_scope = data.get("max_scope", 8)
    if not isinstance(max_scope, int) or max_scope < 1:
        raise RulesError(f"{path}: max_scope: expected a whole number of words")
    return Rules(targets=targets, context=context, requires=requires,
                 words_for_others={w.lower() for w in for_others},
                 past_counts=set(past_counts), combined=combined, max_scope=max_scope)
