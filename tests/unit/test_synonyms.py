"""components/synonyms.py and content/synonyms.yml: variants become the clinic's word for the
intent classifier only, whole words only; the table is saved with the model; a broken file is
refused with its name and key; an edit changes the training fingerprint."""
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.content import ContentError
from components.synonyms import NORMALISED_TEXT, SynonymNormaliser, load_synonyms, normaliser

TABLE = """version: 1
synonyms:
  cryotherapy: [cryo, cyro]
  electric muscle stimulation: [e-stim, tens, tens unit]
  copay: [co-pay, co pay]
"""


@pytest.fixture
def synonyms_file(tmp_path):
    path = tmp_path / "synonyms.yml"
    path.write_text(TABLE, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, expected", [
    ("does Cryo hurt?", "does cryotherapy hurt?"),
    ("CYRO for my neck", "cryotherapy for my neck"),
    ("e-stim or a TENS  unit?", "electric muscle stimulation or a electric muscle stimulation?"),
    ("what's the co   pay", "what's the copay"),
    ("cryogenic storage", "cryogenic storage"),        # part of a word: left alone
    ("tense shoulders", "tense shoulders"),
    ("cryotherapy", "cryotherapy"),
])
def test_variants_become_the_clinics_word(synonyms_file, text, expected):
    assert normaliser(load_synonyms(synonyms_file))(text) == expected


def test_the_shipped_file_loads_and_normalises():
    assert normaliser(load_synonyms())("is e-stim covered by my co-pay?") == (
        "is electric muscle stimulation covered by my copay?")


@pytest.mark.parametrize("body, key", [
    ("version: 1\nsynonyms: [cryo]\n", "synonyms:"),
    ("version: 1\nsynonyms:\n  cryotherapy: cryo\n", "synonyms.cryotherapy:"),
    ("version: 1\nsynonyms:\n  cryotherapy: [cryo]\n  cold: [Cryo]\n", "synonyms.cold:"),
    ("version: 1\nsynonyms:\n  cryotherapy: [Cryotherapy]\n", "synonyms.cryotherapy:"),
    ("version: 1\nsynonyms:\n  cryotherapy: [cryo, '']\n", "synonyms.cryotherapy:"),
    ("synonyms: {cryotherapy: [cryo\n", "cannot be read as YAML"),
])
def test_a_broken_file_is_refused_naming_the_file_and_key(tmp_path, body, key):
    path = tmp_path / "synonyms.yml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load_synonyms(path)
    assert str(error.value).startswith(f"{path}: ") and key in str(error.value)


def test_the_model_keeps_its_table_and_the_visitors_words(tmp_path, synonyms_file):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    context = ExecutionContext(GraphSchema({}), "test")
    resource = Resource("synonyms")
    config = {"file": str(synonyms_file)}
    SynonymNormaliser.create(config, storage, resource, context).train(TrainingData())
    synonyms_file.write_text("version: 1\nsynonyms:\n  ice: [cryo]\n", encoding="utf-8")

    loaded = SynonymNormaliser.load(config, storage, resource, context)
    example = Message(data={TEXT: "cyro prices", INTENT: "ask_cost"})
    loaded.process_training_data(TrainingData(training_examples=[example]))
    [message] = loaded.process([Message(data={TEXT: "Is cryo safe?"})])
    assert example.get(NORMALISED_TEXT) == "cryotherapy prices"
    assert message.get(NORMALISED_TEXT) == "Is cryotherapy safe?"
    assert message.get(TEXT) == "Is cryo safe?"


def test_an_edit_changes_the_training_fingerprint(synonyms_file):
    config = {"file": str(synonyms_file)}
    before = SynonymNormaliser.fingerprint_addon(config)
    synonyms_file.write_text(TABLE + "  insurance: [insurence]\n", encoding="utf-8")
    assert SynonymNormaliser.fingerprint_addon(config) != before
