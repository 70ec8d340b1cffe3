"""The project's spaCy pipeline (nlp/en_clinic_pipeline): it loads offline, its EntityRuler finds
body parts, red-flag symptoms and self-harm, its pattern files are validated, and a changed
pattern file changes the fingerprint Rasa retrains on."""
import shutil
import socket

import pytest
import spacy

import en_clinic_pipeline
from components.clinic_spacy import SpacyNLP
from en_clinic_pipeline import PatternFileError, fingerprint, read_patterns



@pytest.fixture(scope="module")
def nlp():
    return spacy.load("en_clinic_pipeline")


def found(nlp, text, label):
    return [e.text for e in nlp(text).ents if e.label_ == label]


def test_loads_offline_by_name(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    nlp = spacy.load("en_clinic_pipeline")
    assert nlp.pipe_names == ["lemmatizer", "entity_ruler"]
    assert nlp.meta["name"] == "clinic_pipeline" and nlp.path is not None
    assert [t.lemma_ for t in nlp("my legs were aching")][1:] == ["leg", "be", "ache"]


@pytest.mark.parametrize("text, part", [
    ("my lower back", "lower back"), ("neck", "neck"), ("back pain", "back pain"),
    ("it's my NECK", "NECK"), ("my back hurts", "my back"), ("pain in my shoulder blade", "shoulder blade"),
])
def test_body_part_found(nlp, text, part):
    assert part in found(nlp, text, "body_part")


@pytest.mark.parametrize("text", ["call me back", "can you get back to me", "I'll come back later"])
def test_back_as_a_direction_is_no_body_part(nlp, text):
    assert found(nlp, text, "body_part") == []


RED_FLAGS = [
    # loss of bladder or bowel control
    "I can't control my bladder", "i cant control my bowels", "I cannot hold my pee",
    "I can not control my bladder", "I lost control of my bladder", "I've lost bladder control",
    "loss of bowel control", "I can't pee", "trouble peeing since my back went out",
    "I wet myself this morning", "I peed myself", "I'm incontinent since yesterday",
    "I Can't control my bladder",
    "I CAN'T CONTROL MY BLADDER",
    "I CANT HOLD MY PEE",
    "I have no control over my bowels",
    "I'm unable to control my bladder",
    "I can't feel when I need to pee",
    # saddle / groin numbness
    "my groin is numb", "numbness in my groin", "saddle numbness", "tingling in my butt",
    "I can't feel my private parts",
    "no feeling in my groin",
    "numb between my legs",
    "I can't feel anything when I wipe",
    # weakness in both legs, getting worse
    "both my legs are weak", "weakness in both legs", "my legs keep giving out",
    "my leg is getting weaker", "my legs went numb", "I can't walk",
    "I can't lift my foot",
    # major trauma
    "I was in a car accident yesterday", "I was hit by a car", "I fell down the stairs",
    "car crash last week", "after a bad fall",
    "I fell off a ladder",
    "I fell off the roof",
    "I was rear-ended and now my back hurts",
    # fever
    "back pain and a fever", "I'm running a fever", "I have a high temperature", "chills and back pain",
    # cancer history, weight loss
    "I had breast cancer", "history of cancer", "I had chemo last year", "unexplained weight loss",
    "I've lost weight without trying",
    "I'm losing weight for no reason",
    # chest pain, shortness of breath
    "chest pain", "pain in my chest", "I'm short of breath", "shortness of breath", "I can't breathe",
    "difficulty breathing",
    "my chest hurts",
    "tightness in my chest",
    # severe headache, stiff neck, fever
    "severe headache and a stiff neck", "stiff neck and fever", "stiff neck and headache",
    "worst headache of my life",
]


@pytest.mark.parametrize("text", RED_FLAGS)
def test_red_flag_found(nlp, text):
    assert found(nlp, text, "red_flag")
    assert not found(nlp, text, "self_harm")


@pytest.mark.parametrize("text", [
    "I want to kill myself", "I've been thinking about suicide", "I want to die",
    "I don't want to live anymore", "I've been hurting myself", "I'm better off dead",
    "I want to end my life", "thinking of self-harm", "I don't want to be here anymore",
    "the pain makes me want to die", "I feel suicidal",
    "I feel like ending it all",
])
def test_self_harm_found(nlp, text):
    assert found(nlp, text, "self_harm")


@pytest.mark.parametrize("text", [
    "does it hurt", "my back is killing me", "how much is it", "I don't want to be on pills",
    "can I feel the cold", "can you call me back", "is it safe if I have diabetes",
    "I'm dying to try it", "how long is a session", "do you take insurance",
    "I can't stand the pain", "I hurt myself lifting a box",
])
def test_ordinary_questions_are_no_emergency(nlp, text):
    assert found(nlp, text, "red_flag") == [] and found(nlp, text, "self_harm") == []


@pytest.mark.parametrize("text, where", [
    ("red_flag: [fever\n", "not valid YAML"),
    ("red_flag:\n  - [{LOWER: {IN: [no, zero]}}, {LOWER: control}]\n", "quote words like"),
    ("- fever\n- chills\n", "expected a mapping"),
    ("red_flags:\n  - fever\n", "unknown label 'red_flags'"),
    ("red_flag: []\n", "red_flag: expected a non-empty list"),
    ("self_harm:\n", "self_harm: expected a non-empty list"),
    ("red_flag:\n  - fever\n  - 42\n", "red_flag[1]"),
    ("body_part:\n  - neck\n  - '  '\n", "body_part[1]"),
    ("red_flag:\n  - [LOWER, fever]\n", "red_flag[0]"),
    ("red_flag:\n  - []\n", "red_flag[0]"),
])
def test_bad_pattern_file_names_file_and_label(tmp_path, text, where):
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PatternFileError) as error:
        read_patterns(path)
    assert f"{path}: " in str(error.value) and where in str(error.value)


def test_read_patterns_lowercases_phrases(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("body_part:\n  - ' Lower Back '\n  - [{LOWER: hip}]\n", encoding="utf-8")
    assert read_patterns(path) == [{"label": "body_part", "pattern": "lower back"},
                                   {"label": "body_part", "pattern": [{"LOWER": "hip"}]}]


@pytest.fixture
def pattern_copy(tmp_path, monkeypatch):
    directory = shutil.copytree(en_clinic_pipeline.PATTERN_DIR, tmp_path / "patterns")
    monkeypatch.setattr(en_clinic_pipeline, "PATTERN_DIR", directory)
    return directory


def test_fingerprint_follows_the_pattern_files(pattern_copy):
    before = fingerprint()
    assert before == fingerprint() and SpacyNLP.fingerprint_addon({"model": "en_clinic_pipeline"}) == before
    path = pattern_copy / "red_flags.yml"
    path.write_text(path.read_text(encoding="utf-8") + "  - sciatica in both legs\n", encoding="utf-8")
    edited = fingerprint()
    assert edited != before
    assert SpacyNLP.fingerprint_addon({"model": "en_clinic_pipeline"}) == edited
    (pattern_copy / "extra.yml").write_text("body_part:\n  - hip\n", encoding="utf-8")
    assert fingerprint() not in (before, edited)


def test_edited_patterns_take_effect_at_the_next_load(pattern_copy):
    (pattern_copy / "extra.yml").write_text("red_flag:\n  - sciatica in both legs\n", encoding="utf-8")
    nlp = spacy.load("en_clinic_pipeline")
    assert [e.label_ for e in nlp("sciatica in both legs").ents] == ["red_flag"]


def test_fingerprint_addon_for_other_models():
    assert SpacyNLP.fingerprint_addon({"model": "no_such_spacy_pipeline"}) is None
    assert SpacyNLP.fingerprint_addon({}) is None


def test_rasa_model_name_carries_the_fingerprint():
    loaded = SpacyNLP.load_model("en_clinic_pipeline")
    assert loaded.model_name == f"en_clinic_pipeline@{fingerprint()}"
    assert loaded.model.pipe_names == ["lemmatizer", "entity_ruler"]
