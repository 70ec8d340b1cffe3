"""How a visitor's message reads: the clauses it is made of, and whether a piece of it asks a
question. Shared by the intent classifier (components/tfidf_intent_classifier.py classifies each
clause of a two-part message) and the actions (which offer a second question, or tell a question
from an answer in the callback form)."""
import re
from typing import List

# "whats", "hows", "wat's": visitors often leave out the apostrophe or misspell the word.
WH_WORD = r"(?:wh?at|how|where|why|who|which)(?:['’]?s)?\b"
# "can't" asks nothing: "can't do mornings" answers the callback form's time question.
AUXILIARY = r"(?:does|do|is|are|can|could|will|would|should)\b(?!['’]t)"
QUESTION_WORDS = re.compile(f"^(?:{WH_WORD}|{AUXILIARY})", re.I)
# After "and", an auxiliary starts a question only with a subject: "and does it hurt", but not
# "my back hurts and is stiff".
SUBJECT = r"\s+(?:i|you|it|we|they|he|she|there|this|that|my|your|the|a|an|cryo\w*)\b"
# Words before the question proper: "ok, how long...", "and does it hurt", "also where are you".
LEADING_FILLER = re.compile(r"^((wait|sorry|ok|okay|oh|um|hey|hi|and|also|plus|but|or|so)\b[\s,.!]*)+",
                            re.I)
# A clause runs to a sentence end (. ? ! ;, kept with it), a comma or a line break, or up to
# a joining word that starts another question: "how much is it | and does it hurt".
CLAUSE = re.compile(r"[^.?!;,\n]+[.?!;]*")
JOINED_QUESTION = re.compile(
    rf"\s+(?=(?:and|also|plus|but|or)\s+(?:{WH_WORD}|{AUXILIARY}{SUBJECT}))", re.I)
MIN_CLAUSE_WORDS = 2


def clauses(text: str) -> List[str]:
    """The message's clauses of two words or more, in order: "my neck is stiff, how much is it?"
    -> ["my neck is stiff", "how much is it?"]."""
    pieces = (piece.strip() for clause in CLAUSE.findall(text or "")
              for piece in JOINED_QUESTION.split(clause) if piece)
    return [piece for piece in pieces if len(piece.split()) >= MIN_CLAUSE_WORDS]


def reads_as_question(text: str) -> bool:
    """A question mark anywhere, or a question word first once fillers are left out."""
    text = (text or "").strip()
    return "?" in text or bool(QUESTION_WORDS.match(LEADING_FILLER.sub("", text)))
