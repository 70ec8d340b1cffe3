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
# Spanish shares much with Portuguese and Italian, so lingua often gives it only 0.5-0.7: it
# still wins when English is all but ruled out (on the development sets, 26 messages read in
# the wrong language before, 6 after, none of them English).
LIKELY_CONFIDENCE = 0.5
ENGLISH_RULED_OUT = 0.05


@lru_cache(maxsize=1)
def _detector():
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).build()


def detect(text: str) -> str:
    """An ISO 639-1 code ("en", "es", ...); "en" when unsure."""
    if len(text.split()) < MIN_WORDS and text.isascii():
        return "en"
    values = _detector().compute_language_confidence_values(text)
    best = values[0]
    english = next(v.value for v in values if v.language == Language.ENGLISH)
    if best.language == Language.ENGLISH or best.value < LIKELY_CONFIDENCE or (
            best.value < MIN_CONFIDENCE and english > ENGLISH_RULED_OUT):
        return "en"
    return best.language.iso_code_639_1.name.lower()
