"""Which language a message is in, offline: lingua ships its models inside the wheel.

Only languages a St. Louis clinic's visitors plausibly write are loaded (memory, and fewer
confusions on short texts). English wins unless another language is clearly ahead: short
English messages ("ok", "no") must never be taken for Spanish.
"""
from functools import lru_cache

from lingua import Language, LanguageDetectorBuilder

LANGUAGES = (Language.ENGLISH, Language.SPANISH, Language.FRENCH, Language.GERMAN,
             Language.PORTUGUESE, Language.ITALIAN, Language.VIETNAMESE, Language.CHINESE,
             Language.ARABIC, Language.RUSSIAN, Language.KOREAN, Language.TAGALOG,
             Language.BOSNIAN, Language.POLISH)
MIN_WORDS = 3
MIN_CONFIDENCE = 0.75


@lru_cache(maxsize=1)
def _detector():
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).build()


def detect(text: str) -> str:
    """An ISO 639-1 code ("en", "es", ...); "en" when unsure."""
    if len(text.split()) < MIN_WORDS and text.isascii():
        return "en"
    best = _detector().compute_language_confidence_values(text)[0]
    if best.language == Language.ENGLISH or best.value < MIN_CONFIDENCE:
        return "en"
    return best.language.iso_code_639_1.name.lower()
