"""The clinic assistant's own spaCy pipeline: blank English, a lookup lemmatizer from
spacy-lookups-data, and an EntityRuler whose patterns (body parts, how long the pain has
lasted) live in patterns/*.yml, then one small step that tidies the durations it found.

Rasa's SpacyNLP loads it by name (spacy.load("en_clinic_pipeline")). It is built when loaded
rather than saved to disk, so an edited pattern file takes effect at the next `rasa train`
with no separate build step; components.clinic_spacy makes that edit trigger retraining.
"""
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Union

import spacy
import yaml
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.tokens import Doc, Span

PACKAGE_DIR = Path(__file__).parent
PATTERN_DIR = PACKAGE_DIR / "patterns"
META_PATH = PACKAGE_DIR / "meta.json"
# Red flags are triage/'s job (triage/rules.yml). not_pain_duration marks time phrases that
# are not how long the pain has lasted ("in 2 weeks"): it wins over the shorter duration inside
# them, and TIDY_DURATIONS then drops it (patterns/pain_durations.yml).
DURATION = "pain_duration"
NOT_A_DURATION = "not_pain_duration"
LABELS = ("body_part", DURATION, NOT_A_DURATION)
# Words in front of a duration that do not say how long: "for 3 weeks" -> "3 weeks".
FRAME_WORDS = ("for", "been")
TIDY_DURATIONS = "clinic_tidy_durations"

Pattern = Union[str, List[Dict[str, Any]]]


class PatternFileError(ValueError):
    """A pattern file is malformed; the message names the file and the key."""


def pattern_files() -> List[Path]:
    return sorted(PATTERN_DIR.glob("*.yml"))


def fingerprint() -> str:
    """Hash of everything that shapes the pipeline, so a change to it can force retraining."""
    digest = hashlib.sha256()
    for path in [Path(__file__), META_PATH, *pattern_files()]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _only_text(value: Any) -> bool:
    """Token pattern values are text; YAML reads unquoted no/off/yes/on as true/false."""
    if isinstance(value, dict):
        return all(_only_text(v) for v in value.values())
    if isinstance(value, list):
        return all(_only_text(v) for v in value)
    return isinstance(value, str)


def _check_pattern(path: Path, label: str, index: int, pattern: Any) -> Pattern:
    where = f"{path}: {label}[{index}]"
    if isinstance(pattern, str) and pattern.strip():
        return pattern.strip().lower()
    if isinstance(pattern, list) and pattern and all(isinstance(t, dict) for t in pattern):
        if not _only_text(pattern):
            raise PatternFileError(
                f"{where}: a value is not text; quote words like \"no\" and \"off\" ({pattern!r})"
            )
        return pattern
    raise PatternFileError(
        f"{where}: expected a phrase (text) or a token pattern (a list of mappings), got {pattern!r}"
    )


def read_patterns(path: Path) -> List[Dict[str, Any]]:
    """Reads one pattern file: a mapping of entity label to a list of phrases or token patterns."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PatternFileError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise PatternFileError(f"{path}: expected a mapping of entity label to patterns")
    patterns = []
    for label, entries in data.items():
        if label not in LABELS:
            raise PatternFileError(f"{path}: unknown label {label!r}; known: {', '.join(LABELS)}")
        if not isinstance(entries, list) or not entries:
            raise PatternFileError(f"{path}: {label}: expected a non-empty list of patterns")
        for index, entry in enumerate(entries):
            patterns.append({"label": label, "pattern": _check_pattern(path, label, index, entry)})
    return patterns


def _add_upper_case_exceptions(nlp: Language) -> None:
    """spaCy splits "can't" into "ca" + "n't" but leaves "CAN'T" whole; split both the same
    way so the patterns match a visitor who types in capitals."""
    for text, pieces in list(nlp.tokenizer.rules.items()):
        upper = text.upper()
        if upper != text and upper not in nlp.tokenizer.rules:
            nlp.tokenizer.add_special_case(upper, [{ORTH: p[ORTH].upper()} for p in pieces])


@Language.component(TIDY_DURATIONS)
def tidy_durations(doc: Doc) -> Doc:
    """After the EntityRuler: each pain_duration without its leading FRAME_WORDS, and no
    not_pain_duration (it only kept its words from being read as a duration)."""
    kept = []
    for span in doc.ents:
        if span.label_ == NOT_A_DURATION:
            continue
        if span.label_ == DURATION:
            start = span.start
            while start < span.end - 1 and doc[start].lower_ in FRAME_WORDS:
                start += 1
            span = Span(doc, start, span.end, label=span.label_)
        kept.append(span)
    doc.ents = kept
    return doc


def build() -> Language:
    nlp = spacy.blank("en")
    _add_upper_case_exceptions(nlp)
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    # LOWER makes phrase patterns case-insensitive; overwrite lets a red flag win over a body part.
    ruler = nlp.add_pipe(
        "entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True}
    )
    nlp.initialize()  # loads the English lookup tables from spacy-lookups-data, offline
    for path in pattern_files():
        ruler.add_patterns(read_patterns(path))
    nlp.add_pipe(TIDY_DURATIONS)
    nlp.meta.update(json.loads(META_PATH.read_text(encoding="utf-8")))
    # Rasa treats a pipeline without a path as an unloaded stub and rejects it.
    nlp._path = PACKAGE_DIR
    return nlp


def load(**_overrides: Any) -> Language:
    """Entry point spaCy calls for an installed pipeline package."""
    return build()
