"""triage/: each context rule, fuzzy spelling, the flag rules, languages and the rules file's
checks. The measured figures on whole vignette sets are in `make bench` (bench/safety.py);
tests/nlu/test_safety_bars.py holds the frozen test set to its bars."""
import pytest

from triage import assess
from triage.rules import RulesError, load


def level(text):
    return assess(text).level


@pytest.mark.parametrize("text, flag", [
    ("I lost control of my bladder this morning", "bladder_bowel"),
    ("numbness in my groin since yesterday", "saddle_numbness"),
    ("both my legs are getting weaker", "leg_weakness"),
    ("I was hit by a car an hour ago and my back hurts", "major_trauma"),
    ("fever and terrible back pain since last night", "fever"),
    ("I had breast cancer and now I have a new pain in my back", "cancer_history"),
    ("crushing chest pain right now", "chest_pain"),
    ("stiff neck, high fever and a headache", "meningitis_signs"),
    ("I want to end my life", "self_harm"),
])
def test_a_red_flag_present_now_is_an_emergency(text, flag):
    result = assess(text)
    assert result.level == "emergency" and flag in result.flags


@pytest.mark.parametrize("text", [
    "no fever, just a stiff lower back",                       # negated
    "I don't have any numbness in my groin",                   # negated, contraction
    "the fever went away two days ago, the back ache stayed",  # resolved
])
def test_a_negated_red_flag_counts_for_nothing(text):
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "I had a car accident years ago, now my neck is just stiff",    # history
    "my dad had cancer",                                            # another person's past
    "what if I get chest pain during the session?",                 # hypothetical
    "can cryotherapy cause numbness in the groin?",                 # a question about a topic
    "could the cold bring a fever down?",
])
def test_an_unclear_red_flag_is_possible(text):
    assert level(text) == "possible"


def test_the_person_written_about_counts_now():
    assert level("my husband can't control his bladder since this morning") == "emergency"


def test_a_cancer_history_needs_pain_or_weight_loss_now():
    assert level("I had colon cancer ten years ago") == "possible"
    assert level("I had colon cancer ten years ago and my back started hurting") == "emergency"
    assert level("lost 20 pounds without trying and my back aches") == "emergency"
    assert level("lost 20 pounds on purpose with diet, back aches a bit") != "emergency"


def test_a_fever_needs_pain_a_stiff_neck_or_a_headache():
    assert level("I think I have a fever") == "possible"
    assert level("I think I have a fever and my back hurts") == "emergency"


@pytest.mark.parametrize("text", [
    "I'm not suicidal, just fed up",
    "years ago I had suicidal thoughts, I'm well now",
])
def test_self_harm_is_never_ignored(text):
    assert level(text) == "possible"


def test_self_harm_in_any_mood_is_an_emergency():
    assert level("everyone would be better off without me") == "emergency"


@pytest.mark.parametrize("text", [
    "incontinance since this morning", "cant controll my blader", "numbnes in my groin today",
])
def test_misspelled_red_flags_are_caught(text):
    assert level(text) == "emergency"


@pytest.mark.parametrize("text", [
    "my back hurts", "my lower back hurts", "my neck hurts", "I hurt my back lifting a box",
    "this pain is killing me", "worst back pain of my life, 10/10 for weeks",
    "I'm dying to try cryotherapy", "sciatica down my left leg", "how much does it cost",
    "my legs are dead after leg day", "I can't walk my dog as far as I used to",
])
def test_ordinary_pain_and_questions_are_not_emergencies(text):
    assert level(text) != "emergency"


@pytest.mark.parametrize("text, language", [
    ("no puedo controlar la orina desde ayer", "es"),
    ("tengo fiebre y me duele mucho la espalda", "es"),
    ("J'ai mal au dos depuis trois semaines", "fr"),
    ("ok", "en"), ("no", "en"), ("my back hurts", "en"),
])
def test_language(text, language):
    assert assess(text).language == language


def test_spanish_red_flags_are_caught():
    assert level("no puedo controlar la orina desde ayer") == "emergency"
    assert level("tengo fiebre y me duele mucho la espalda") == "emergency"
    assert level("quiero quitarme la vida") == "emergency"
    assert level("no tengo fiebre, solo dolor de espalda") == "none"


@pytest.mark.parametrize("text, where", [
    ("targets: []\n", "targets: expected a mapping"),
    ("targets:\n  fevers: [x]\n", "targets.fevers: unknown flag"),
    ("targets:\n  fever: [[{LOWER: {IN: [no, off]}}]]\n", "targets.fever[0]: a word is not text"),
    ("context: {}\nwhatever: 1\n", "unknown key(s): whatever"),
])
def test_a_broken_rules_file_names_the_file_and_key(tmp_path, text, where):
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load(path)
    assert str(path) in str(error.value) and where in str(error.value)


# Round 2 (issue 9): each new context rule, the wildcard change and the self-harm model.

def test_a_wildcard_in_a_phrase_never_swallows_a_negation():
    # "thighs ... numbness" would otherwise match across the "no" that negates it.
    assert level("horseback riding made my inner thighs sore, no numbness") == "none"


@pytest.mark.parametrize("text", [
    "my legs go numb if I sit cross-legged",                         # position
    "my butt goes numb when I sit too long at work",
    "My butt goes numb after a long movie",
    "my legs went numb from sitting on the floor, fine now",
    "I leak a little when I sneeze, my back is sore",                # sneezing
    "I laughed so hard I couldn't breathe",                          # laughing
    "I get short of breath when I run, that's normal for me",        # exertion, "normal for me"
    "I have no bladder control issues, just back pain",              # a saying, not a symptom
    "It's 100 degrees outside and my back is sore from the yardwork",
    "World Cup fever in our house, neck stiff from the couch",
    "I feel like I've been hit by a bus, my back is so sore",
])
def test_everyday_causes_and_sayings_are_no_emergency(text):
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "I'm losing weight with my trainer and my back aches",           # dieting on purpose
    "my chest of drawers fell over and I hurt my back",
])
def test_a_red_flag_word_in_an_everyday_sense_is_no_emergency(text):
    assert level(text) != "emergency"


def test_a_forward_denial_of_self_harm_still_offers_988():
    result = assess("The pain makes me grumpy but I'm nowhere near wanting to hurt myself")
    assert result.level == "possible" and result.flags == ["self_harm"]


@pytest.mark.parametrize("text", [
    "I have a fever and I can't move because of the back pain",     # "can't move" negates no pain
    "now even my walker isn't enough because my legs get weaker by the hour",
    "bowels not working right, can't feel when I need to go, back is bad",
    "I can't stand up without my legs giving way",
    "He perdido 10 kilos sin hacer dieta y tengo dolor de espalda",   # "sin hacer dieta"
    "fell off scaffolding at work, back in bad shape",               # "back in" is no past here
    "what is this numbness between my legs since yesterday?",        # "what is this" asks now
    "My dad is febrile and complaining of back pain",                 # "complaining": about him
    "Tengo 38.5 de temperatura y la espalda me está matando",         # Spanish pain words
])
def test_a_negation_word_that_negates_no_symptom_leaves_the_emergency(text):
    assert level(text) == "emergency"


@pytest.mark.parametrize("text", [
    "back in college I had a car accident, my neck is stiff now",    # past
    "I've leaked a little since I had kids",                         # long-standing
    "Does back pain affect bladder control?",                        # a topic question
    "What is saddle numbness?",
    "Does the cold make it hard to breathe?",
])
def test_round_two_unclear_contexts_are_possible(text):
    assert level(text) == "possible"


@pytest.mark.parametrize("text", [
    "I'm such a burden on everyone, tonight I'll take care of it for good",
    "everyone would be better if I took care of it tonight",
    "I've written the letters and I'm ready to go tonight",
])
def test_self_harm_in_words_no_rule_lists_is_an_emergency_with_988_first(text):
    result = assess(text)
    assert result.level == "emergency" and result.flags == ["self_harm"]
    assert result.source == "scorer"


@pytest.mark.parametrize("text", [
    "I've got the pills counted out for tonight",    # less sure: 988 offered, not the hard stop
    "goodbye and take care of yourself",             # everyday chat is never the hard stop
    "I have been thinking about it and I am ready. Please schedule me.",
])
def test_a_less_sure_self_harm_reading_offers_988_without_the_hard_stop(text):
    result = assess(text)
    assert result.level == "possible" and result.flags == ["self_harm"]


@pytest.mark.parametrize("text", [
    "I'm going to drive off a cliff",
    "there's no reason for me to be here anymore",
    "my daughter says she wants to die",
    "I took a bunch of pills an hour ago",
    "been thinking of ending it since the injections stopped working",
    "some nights I want to use the gun on myself",
])
def test_round_two_self_harm_phrases_are_emergencies(text):
    result = assess(text)
    assert result.level == "emergency" and "self_harm" in result.flags


def test_a_self_harm_phrase_the_rules_read_is_left_to_the_rules():
    # "I'm not suicidal" is read (negated) by the rules: 988 offered, not the hard stop.
    assert assess("I'm not suicidal, just frustrated").level == "possible"
