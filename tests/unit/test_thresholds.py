"""config.yml's `thresholds` section: the one place for every confidence threshold. The
pipeline's FallbackClassifier takes its two from it, and a broken section stops the action
server at start with the file and the key."""
import pytest
import yaml
from rasa.shared.utils.io import read_model_configuration

from actions.thresholds import CONFIG, THRESHOLDS, ThresholdError, load_thresholds


def test_the_fallback_classifier_reads_the_same_thresholds():
    [fallback] = [c for c in read_model_configuration(str(CONFIG))["pipeline"]
                  if c["name"] == "FallbackClassifier"]
    assert fallback == {"name": "FallbackClassifier", "threshold": THRESHOLDS["fallback"],
                        "ambiguity_threshold": THRESHOLDS["ambiguity"]}


@pytest.mark.parametrize("change, key", [
    ({"close_gap": None}, "thresholds.close_gap"),
    ({"form_sure": 1.5}, "thresholds.form_sure"),
    ({"fallback": "high"}, "thresholds.fallback"),
    ({"second_question": True}, "thresholds.second_question"),
    ({"fallbak": 0.3}, "thresholds.fallbak"),
])
def test_a_broken_threshold_names_the_file_and_key(tmp_path, change, key):
    section = {**THRESHOLDS, **change}
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"thresholds": {k: v for k, v in section.items()
                                                   if v is not None}}), encoding="utf-8")
    with pytest.raises(ThresholdError, match=rf"^{path}: {key}: "):
        load_thresholds(path)


def test_a_config_without_the_section_is_refused(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("language: en\n", encoding="utf-8")
    with pytest.raises(ThresholdError, match=rf"^{path}: thresholds: missing"):
        load_thresholds(path)
