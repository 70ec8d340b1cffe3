"""Realistic conversation paths (ten messages each) for our bot and for the starter bot."""
from typing import List

OURS = [
    # FAQ questions, as a visitor reads down the answers.
    ["hi", "what is cryotherapy", "how does it work", "does it hurt", "tell me more",
     "do you use a chamber or ice packs", "is it fda approved", "is there any research",
     "who should not have it", "thanks, bye"],
    # A few questions, then the callback form, with a wrong number first.
    ["hello", "how much does it cost", "what happens at the first visit",
     "i want to book an appointment", "yes", "Pat Lee", "555", "314-555-0199",
     "weekday mornings", "yes"],
    # Fallbacks and out of scope, then a person.
    ["asdfgh", "cold", "can you recommend a pizza place", "do you freeze warts",
     "where are you located", "what other treatments do you have", "will it help my neck",
     "are you a bot", "i want to talk to a person", "no thanks"],
]

STARTER = [
    ["hi", "I am sad", "yes", "great", "are you a bot?", "hello", "I am feeling very good",
     "bye", "hey", "goodbye"],
    ["hello there", "very sad", "no", "I am amazing", "am I talking to a human?", "good morning",
     "unhappy", "yes", "perfect", "see you later"],
]


def script(paths: List[List[str]], index: int) -> List[str]:
    return paths[index % len(paths)]
