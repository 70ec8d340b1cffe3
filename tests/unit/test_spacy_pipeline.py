"""The project's spaCy pipeline (nlp/en_clinic_pipeline): it loads offline, its EntityRuler finds
body parts and how long the pain has lasted (never a time that says something else), its
pattern files are validated, and a changed pattern file changes the fingerprint Rasa retrains
on."""
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
    assert nlp.pipe_names == ["lemmatizer", "entity_ruler", "clinic_tidy_durations"]
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


# How long it has hurt: the words that say how long, without a leading "for" or "been".
@pytest.mark.parametrize("text, duration", [
    ("my lower back has hurt for 3 weeks", "3 weeks"),
    ("it has hurt since last tuesday", "since last tuesday"),
    ("neck pain for a couple of months", "a couple of months"),
    ("two days now", "two days"),
    ("back pain for years", "years"),
    ("my neck has been stiff since yesterday", "since yesterday"),
    ("my neck hurt all week", "all week"),
    ("sore for ages", "ages"),
    ("back pain 3 wks", "3 wks"),
    ("6 mnths of neck pain", "6 mnths"),
    ("my shoulder has been sore a few days", "a few days"),
    ("For 3 Weeks NOW my back aches", "3 Weeks"),
    ("it's been about a month", "about a month"),
    ("it's been a week", "a week"),
    ("for the past few days", "the past few days"),
    ("the past year's been bad for my back", "the past year"),
    ("my neck, the last week’s gotten worse", "the last week"),
    ("for the last 2 weeks my back", "the last 2 weeks"),
    ("for a week and a half", "a week and a half"),
    ("hurt my back 2 weeks ago", "2 weeks ago"),
    ("since 3 weeks I have neck pain", "since 3 weeks"),
    ("stiff since this morning", "since this morning"),
    ("aching since march", "since march"),
    ("since 2019", "since 2019"),
    ("for 3weeks", "3weeks"),
    ("2-3 weeks of back pain", "2-3 weeks"),
    ("for a while", "a while"),
    ("for a long time", "a long time"),
    ("every day for 2 weeks", "2 weeks"),
    ("the whole week", "the whole week"),
])
def test_pain_duration_found(nlp, text, duration):
    assert found(nlp, text, "pain_duration") == [duration]


@pytest.mark.parametrize("text", [
    "call me at 3", "3 sessions", "$40", "how much is it, $40 a month?", "I go twice a week",
    "3 days a week at the gym", "can I come in 2 weeks", "within a few days",
    "for the next 2 weeks", "I'm 45 years old and my back hurts", "my 3-year-old son",
    "6 months pregnant with back pain", "since the car accident my back hurts",
    "pulled something in my neck at the gym yesterday", "how many sessions per week",
    "my back is sore, I've been at 40 hours a week on my feet",
    "can I move the time for last week's appointment", "my neck hurt after the past year's work",
])
def test_other_times_and_numbers_are_no_duration(nlp, text):
    assert found(nlp, text, "pain_duration") == []


def test_guard_phrases_never_reach_rasa(nlp):
    """not_pain_duration only keeps its words from being read as a duration: it is dropped."""
    assert [(e.text, e.label_) for e in nlp("in 2 weeks, my lower back for 3 weeks").ents] == [
        ("lower back", "body_part"), ("3 weeks", "pain_duration")]


@pytest.mark.parametrize("text, where", [
    ("body_part: [neck\n", "not valid YAML"),
    ("body_part:\n  - [{LOWER: {IN: [no, off]}}, {LOWER: back}]\n", "quote words like"),
    ("- neck\n- back\n", "expected a mapping"),
    ("red_flag:\n  - fever\n", "unknown label 'red_flag'"),
    ("body_part: []\n", "body_part: expected a non-empty list"),
    ("body_part:\n", "body_part: expected a non-empty list"),
    ("body_part:\n  - neck\n  - 42\n", "body_part[1]"),
    ("body_part:\n  - neck\n  - '  '\n", "body_part[1]"),
    ("body_part:\n  - [LOWER, neck]\n", "body_part[0]"),
    ("body_part:\n  - []\n", "body_part[0]"),
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
    path = pattern_copy / "body_parts.yml"
    path.write_text(path.read_text(encoding="utf-8") + "  - tailbone area\n", encoding="utf-8")
    edited = fingerprint()
    assert edited != before
    assert SpacyNLP.fingerprint_addon({"model": "en_clinic_pipeline"}) == edited
    (pattern_copy / "extra.yml").write_text("body_part:\n  - hipbone\n", encoding="utf-8")
    assert fingerprint() not in (before, edited)


def test_edited_patterns_take_effect_at_the_next_load(pattern_copy):
    (pattern_copy / "extra.yml").write_text("body_part:\n  - coccyx region\n", encoding="utf-8")
    nlp = spacy.load("en_clinic_pipeline")
    assert [(e.text, e.label_) for e in nlp("pain in the coccyx region").ents] == [
        ("coccyx region", "body_part")]


def test_fingerprint_addon_for_other_models():
    assert SpacyNLP.fingerprint_addon({"model": "no_such_spacy_pipeline"}) is None
    assert SpacyNLP.fingerprint_addon({}) is None


def test_rasa_model_name_carries_the_fingerprint():
    loaded = SpacyNLP.load_model("en_clinic_pipeline")
    assert loaded.model_name == f"en_clinic_pipeline@{fingerprint()}"
    assert loaded.model.pipe_names == ["lemmatizer", "entity_ruler", "clinic_tidy_durations"]
