"""SpacyNLP for the project's own spaCy pipeline (nlp/en_clinic_pipeline).

Rasa fingerprints SpacyNLP by the model name alone, so an edited pattern file would not retrain
the model. This subclass keeps the class name Rasa's spaCy components look for ("SpacyNLP") and
adds the pipeline's content hash to both the training fingerprint and the model name that the
downstream components (tokenizer, entity extractor) are fingerprinted with.
"""
import importlib
from typing import Any, Dict, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils


def pipeline_fingerprint(model_name: Optional[Text]) -> Optional[Text]:
    """The package's own content hash, for pipelines that offer one (ours does)."""
    if not model_name:
        return None
    try:
        module = importlib.import_module(model_name)
    except ImportError:
        return None  # SpacyNLP.load_model reports the missing pipeline with its own message
    fingerprint = getattr(module, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else None


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.MODEL_LOADER,
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
    ],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(spacy_utils.SpacyNLP):
    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        return pipeline_fingerprint(config.get("model"))

    @staticmethod
    def load_model(spacy_model_name: Text) -> spacy_utils.SpacyModel:
        loaded = spacy_utils.SpacyNLP.load_model(spacy_model_name)
        version = pipeline_fingerprint(spacy_model_name)
        name = f"{spacy_model_name}@{version}" if version else spacy_model_name
        return spacy_utils.SpacyModel(model=loaded.model, model_name=name)
