"""Reads and checks triage/rules.yml; every problem names the file and the key."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple, Union

import yaml

RULES = Path(__file__).with_name("rules.yml")
FLAGS = ("bladder_bowel", "saddle_numbness", "leg_weakness", "major_trauma", "fever",
         "cancer_history", "chest_pain", "meningitis_signs", "self_harm")
HELPERS = ("pain", "weight_loss", "neck_stiffness", "headache", "idiom")
# CHRONIC: long-standing ("for years"), unclear like HISTORICAL except for self-harm.
# PRESENT: a cue that the finding is happening now ("right now", "since this morning", "started
# today"); it outweighs HISTORICAL, CHRONIC and HYPOTHETICAL, never a negation.
CATEGORIES = ("NEGATED_EXISTENCE", "HISTORICAL", "CHRONIC", "HYPOTHETICAL", "FAMILY", "PRESENT")
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
    # Named word lists (`concepts`), and flags found where two of them meet within a few
    # words, in either order (`together`): (flag, first concept, second concept, words between).
    concepts: Dict[str, List[Pattern]] = field(default_factory=dict)
    together: List[Tuple[str, str, str, int]] = field(default_factory=list)
    words_for_self: Set[str] = field(default_factory=set)
    # How visitors write a word -> how the rules spell it ("cant" -> "can't", "rn" -> "right now").
    spellings: Dict[str, str] = field(default_factory=dict)

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
        collect(list(self.concepts.values()))
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
    unknown = set(data) - {"targets", "context", "requires", "words_for_others", "words_for_self",
                           "past_counts", "combined", "max_scope", "concepts", "together",
                           "spellings"}
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
    for_others = _words(path, "words_for_others", data.get("words_for_others"))
    for_self = _words(path, "words_for_self", data.get("words_for_self"))
    concepts = {}
    for name, patterns in _mapping(path, "concepts", data.get("concepts") or {}).items():
        if not isinstance(patterns, list) or not patterns:
            raise RulesError(f"{path}: concepts.{name}: expected a non-empty list")
        concepts[name] = [_pattern(path, f"concepts.{name}[{i}]", p)
                          for i, p in enumerate(patterns)]
    together = []
    for flag, pairs in _mapping(path, "together", data.get("together") or {}).items():
        if flag not in FLAGS + HELPERS or not isinstance(pairs, list):
            raise RulesError(f"{path}: together.{flag}: expected a flag with a list of pairs")
        for i, pair in enumerate(pairs):
            key = f"together.{flag}[{i}]"
            pair = _mapping(path, key, pair)
            names, within = pair.get("concepts"), pair.get("within", 4)
            if set(pair) - {"concepts", "within"} or not isinstance(names, list) or len(names) != 2:
                raise RulesError(f"{path}: {key}: expected `concepts: [first, second]` and "
                                 "`within: words`")
            unknown = [n for n in names if n not in concepts]
            if unknown:
                raise RulesError(f"{path}: {key}: unknown concept(s): "
                                 f"{', '.join(map(str, unknown))}")
            if not isinstance(within, int) or isinstance(within, bool) or not 0 <= within <= 12:
                raise RulesError(f"{path}: {key}: within: expected 0 to 12 words")
            together.append((flag, names[0], names[1], within))
    spellings = {}
    for word, written in _mapping(path, "spellings", data.get("spellings") or {}).items():
        if not isinstance(word, str) or not isinstance(written, str) or not written.strip():
            raise RulesError(f"{path}: spellings.{word}: expected a word and how the rules "
                             "spell it")
        spellings[word.lower()] = written.strip().lower()
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
                 words_for_others=for_others, past_counts=set(past_counts), combined=combined,
                 max_scope=max_scope, concepts=concepts, together=together,
                 words_for_self=for_self, spellings=spellings)


def _words(path: Path, key: str, value: Any) -> Set[str]:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise RulesError(f"{path}: {key}: expected a list of words")
    return {w.lower() for w in value}
