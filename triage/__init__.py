"""Safety triage: decides, for every visitor message, whether it describes a red-flag emergency
now (`emergency`), mentions one in an unclear context (`possible`), or neither (`none`), and
which flags (GUIDE.md). Runs inside the NLU pipeline (components/triage.py); has no Rasa
dependency, so the benchmark and the tests use it directly.

    from triage import assess
    assess("no fever, just a stiff back").as_dict()
    # {'level': 'none', 'flags': [], 'language': 'en'}
"""
from functools import lru_cache

# triage.rules (the flag names) is light; the engine loads spaCy, medspaCy and lingua, so it is
# imported only when first used.


@lru_cache(maxsize=1)
def shared_engine():
    from triage.engine import Engine
    return Engine()


def assess(text: str):
    """The Triage (level, flags, language) of one message."""
    return shared_engine().assess(text)
