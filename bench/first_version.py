"""The first version's red-flag detection, for comparison only: an EntityRuler over
bench/first_version_red_flags.yml, where any match made the message an emergency."""
from pathlib import Path

import spacy
import yaml

PATTERNS = Path(__file__).with_name("first_version_red_flags.yml")


def pipeline() -> spacy.Language:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    data = yaml.safe_load(PATTERNS.read_text(encoding="utf-8"))
    ruler.add_patterns([{"label": label, "pattern": p.lower() if isinstance(p, str) else p}
                        for label, patterns in data.items() for p in patterns])
    return nlp
