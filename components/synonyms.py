"""Visitors' words for the same thing ("cryo", "e-stim", "co-pay"), made one before the intent
classifier reads them: content/synonyms.yml, which a clinic's editor extends.

The rewritten text goes into the message's `normalised_text`, read by the intent classifier
only: the visitor's own words stay in `text`, for triage, the form and the transcript. The table
is saved with the model, so a deployed model keeps the synonyms it was trained with; the file's
hash is part of the training fingerprint, so an edit retrains the model.
"""
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.content import CONTENT_DIR, ContentError

NORMALISED_TEXT = "normalised_text"
TABLE_FILE = "synonyms.json"


def synonyms_path(config: Dict[Text, Any]) -> Path:
    return Path(config.get("file") or CONTENT_DIR / "synonyms.yml")


def load_synonyms(path: Path = CONTENT_DIR / "synonyms.yml") -> Dict[Text, Text]:
    """{variant: canonical}, lower case; a broken file is an error naming the file and key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ContentError(f"{path}: cannot be read as YAML: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("synonyms"), dict):
        raise ContentError(f"{path}: synonyms: expected a mapping of word: [other ways]")
    table: Dict[Text, Text] = {}
    for canonical, variants in raw["synonyms"].items():
        key = f"synonyms.{canonical}"
        if not isinstance(canonical, str) or not canonical.strip():
            raise ContentError(f"{path}: {key}: the word must be text")
        if not isinstance(variants, list) or not variants:
            raise ContentError(f"{path}: {key}: expected a list in square brackets")
        for variant in variants:
            if not isinstance(variant, str) or not variant.strip():
                raise ContentError(f"{path}: {key}: {variant!r} is not a word")
            word = " ".join(variant.lower().split())
            if word == canonical.lower():
                raise ContentError(f"{path}: {key}: lists the word itself")
            if word in table:
                raise ContentError(f"{path}: {key}: {variant!r} is already listed under "
                                   f"{table[word]!r}")
            table[word] = " ".join(canonical.split())
    return table


def normaliser(table: Dict[Text, Text]):
    """A function rewriting every whole-word variant (longest first) to its canonical word."""
    if not table:
        return lambda text: text
    variants = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(r"\s+".join(map(re.escape, v.split())) for v in variants) + r")(?!\w)",
        re.IGNORECASE,
    )
    return lambda text: pattern.sub(lambda m: table[" ".join(m.group(0).lower().split())], text)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SynonymNormaliser(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"file": None}  # None: synonyms.yml in the content folder

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        path = synonyms_path(config)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    def __init__(self, config, model_storage: ModelStorage, resource: Resource,
                 table: Optional[Dict[Text, Text]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._table = table or {}
        self._normalise = normaliser(self._table)

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls({**cls.get_default_config(), **config}, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        table = load_synonyms(synonyms_path(self._config))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / TABLE_FILE).write_text(json.dumps(table, sort_keys=True), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs: Any):
        try:
            with model_storage.read_from(resource) as directory:
                table = json.loads((directory / TABLE_FILE).read_text(encoding="utf-8"))
        except ValueError:  # nothing trained: leave messages alone
            table = {}
        return cls({**cls.get_default_config(), **config}, model_storage, resource, table)

    def _mark(self, messages: List[Message]) -> None:
        for message in messages:
            if message.get(TEXT):
                message.set(NORMALISED_TEXT, self._normalise(message.get(TEXT)))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Rasa loads this component from what train() saved, so the examples are rewritten
        # with exactly the table the deployed model uses.
        self._mark(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._mark(messages)
        return messages
