"""What visitors get, over the REST channel with the real servers, for the two most natural
openings: a plain statement of everyday pain (tests/nlu/pain_statements.yml) and a request for a
callback or a visit (tests/nlu/booking_requests.yml). Both sets are frozen test sets: only
totals are reported, never the messages that missed.

A pain statement gets "the pain reply" when the assistant's whole answer is the describe_pain
message (as it reads with any body part named, or none); a request starts the booking flow when
the answer offers the callback request (the phone number first, then "Would you like that?";
asking for a person does the same).
"""
import secrets
from pathlib import Path
from typing import Dict, List

import requests

from clinic.content import load_content
from clinic.names import BODY_PART_NAMES
from scripts.nlu_eval import ROOT, read_examples

PAIN_STATEMENTS = ROOT / "tests" / "nlu" / "pain_statements.yml"
BOOKING_REQUESTS = ROOT / "tests" / "nlu" / "booking_requests.yml"


def first_replies(webhook: str, texts: List[str]) -> List[List[Dict]]:
    """The bot's messages in answer to each text, each the opening of a new conversation."""
    with requests.Session() as session:
        replies = []
        for text in texts:
            answer = session.post(webhook, json={"sender": secrets.token_hex(16), "message": text},
                                  timeout=60)
            answer.raise_for_status()
            replies.append(answer.json())
        return replies


def share(hits: List[bool]) -> float:
    return round(sum(hits) / len(hits), 4) if hits else 0.0


def texts_of(reply: List[Dict]) -> List[str]:
    return [m.get("text") or "" for m in reply]


def is_emergency(reply: List[Dict]) -> bool:
    """The emergency reply is marked for the widget (actions/emergency.py)."""
    return any((m.get("custom") or {}).get("kind") == "emergency" for m in reply)


def measure(webhook: str) -> Dict[str, Dict[str, float]]:
    content = load_content()
    messages = content.messages
    pain_replies = [[content.message("describe_pain", name)]
                    for name in {None} | {name for _, name in BODY_PART_NAMES}]
    pain = first_replies(webhook, [t for t, _ in read_examples(PAIN_STATEMENTS)])
    booking = first_replies(webhook, [t for t, _ in read_examples(BOOKING_REQUESTS)])
    return {
        "pain_statements": {
            "examples": len(pain),
            "pain_reply": share([texts_of(r) in pain_replies for r in pain]),
            "emergency_reply": share([is_emergency(r) for r in pain]),
            "safety_line": share([any("911" in t for t in texts_of(r)) for r in pain]),
        },
        "booking_requests": {
            "examples": len(booking),
            "booking_flow": share([messages["offer_callback"] in texts_of(r) for r in booking]),
        },
    }


def markdown(results: Dict[str, Dict[str, float]]) -> str:
    pain, booking = results["pain_statements"], results["booking_requests"]
    met = {True: "met", False: "MISSED"}
    return "\n".join([
        f"Visitors' own openings, over REST ({Path(PAIN_STATEMENTS).name}: {pain['examples']} "
        f"plain pain statements; {Path(BOOKING_REQUESTS).name}: {booking['examples']} requests):",
        "",
        "| measure | ours | bar |",
        "| --- | --- | --- |",
        f"| pain statements given the pain reply | {pain['pain_reply']} | "
        f"{met[pain['pain_reply'] >= 0.95]} (at least 0.95) |",
        f"| pain statements given the emergency reply | {pain['emergency_reply']} | "
        f"{met[pain['emergency_reply'] == 0]} (0) |",
        f"| pain statements with a 911 line | {pain['safety_line']} | |",
        f"| requests that start the booking flow | {booking['booking_flow']} | "
        f"{met[booking['booking_flow'] >= 0.95]} (at least 0.95) |",
        "",
    ])
