"""triage/: each context rule, fuzzy spelling, the flag rules, languages and the rules file's
checks. The measured figures on whole vignette sets are in `make bench` (bench/safety.py);
tests/nlu/test_safety_bars.py holds the frozen test set to its bars."""
import pytest

from triage import assess, shared_engine
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
    # Round 4's review: everyday sentences with the words of its new phrases
    "I'm going to wear loose pants to my first appointment",
    "I went shopping for new pants because my back hurts in jeans",
    "my pants keep getting tighter and my back hurts",
    "my clothes keep getting dirty at work and my back aches",
    "I had to give away my dog because my back can't handle the walks anymore",
    "I finished radiation in 2015, any issues with ice packs on my back?",
    "the cat came off the tree and I hurt my back catching her",
])
def test_ordinary_pain_and_questions_are_not_emergencies(text):
    assert level(text) != "emergency"


@pytest.mark.parametrize("text, expected", [
    # 2026-12-02, from new NLU training data: a saying, Raynaud's, a misspelled "a real person"
    ("honestly I've hit a wall with the stretches, what else do you offer?", "none"),
    ("my car hit a wall this morning and now my neck and back are screaming", "emergency"),
    ("my fingers go blue in the cold, can I still use ice packs on my neck?", "none"),
    ("his lips have gone blue and he is gasping", "emergency"),
    ("i wnt a reel live persn to tlk to", "none"),
])
def test_everyday_words_of_new_training_data(text, expected):
    assert level(text) == expected


@pytest.mark.parametrize("text, language", [
    ("no puedo controlar la orina desde ayer", "es"),
    ("tengo fiebre y me duele mucho la espalda", "es"),
    ("J'ai mal au dos depuis trois semaines", "fr"),
    ("ok", "en"), ("no", "en"), ("my back hurts", "en"),
    # Spanish at 0.6-0.7 (Portuguese and Italian take the rest), English all but ruled out
    ("me duele el cuello cuando me levanto de la cama", "es"),
    ("ya no aguanto este dolor de espalda", "es"),
    ("ok sounds good to me", "en"), ("no thanks, bye", "en"),
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
    "I've got the pills counted out for tonight",
    "I'm such a burden on everyone, tonight I'll take care of it for good",
    "everyone would be better if I took care of it tonight",
    "I've written the letters and I'm ready to go tonight",
])
def test_self_harm_in_words_no_rule_lists_is_an_emergency_with_988_first(text):
    result = assess(text)
    assert result.level == "emergency" and result.flags == ["self_harm"]
    assert result.source == "scorer"


def test_a_sure_score_and_the_flag_model_together_make_an_emergency_and_name_its_flag():
    # "run down by a pickup" is in no rule: the scorer is sure, and the flag model says trauma.
    result = assess("my uncle got run down by a pickup in the parking lot an hour ago, "
                    "his back hurts")
    assert (result.level, result.flags, result.source) == ("emergency", ["major_trauma"], "scorer")


def test_a_sure_score_on_a_short_message_is_only_possible():
    # "and?" scores like an emergency (0.91): two words say too little to send anyone to 911.
    result = assess("and?")
    assert (result.level, result.flags, result.source) == ("possible", [], "scorer")


def test_a_sure_score_needs_five_words_and_a_flag_model_that_agrees(monkeypatch):
    engine = shared_engine()
    text = "my uncle got run down by a pickup in the parking lot an hour ago, his back hurts"
    monkeypatch.setattr(engine.scorer, "flag", lambda _: ("major_trauma", 0.59))
    assert (engine.assess(text).level, engine.assess(text).flags) == ("possible", [])
    monkeypatch.setattr(engine.scorer, "flag", lambda _: ("none", 0.9))
    assert engine.assess(text).level == "possible"
    monkeypatch.setattr(engine.scorer, "flag", lambda _: ("major_trauma", 0.6))
    assert engine.assess(text).flags == ["major_trauma"]
    assert engine._scorer_flag("run down by a pickup", 4) is None  # four words: too few


def test_no_everyday_message_of_the_nlu_data_is_an_emergency():
    """The scorer's emergencies were chosen on these (2,500 messages, every intent but
    emergency): none may reach 911, however the models are retrained."""
    import glob
    import re
    import yaml
    texts = []
    for path in glob.glob("data/nlu/*.yml"):
        for item in yaml.safe_load(open(path, encoding="utf-8")).get("nlu", []):
            if "examples" in item and item.get("intent") != "emergency":
                texts += [re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip()[2:])
                          for line in item["examples"].splitlines() if line.strip()]
    assert len(texts) > 2000
    assert [t for t in texts if assess(t).level == "emergency"] == []


def test_the_flag_models_self_harm_is_left_to_the_self_harm_model():
    # The flag model reads this as self-harm; only the self-harm model's own threshold could
    # make that an emergency, and below it the visitor is offered 988 with the answer.
    result = assess("i really dont want to do this form anymore")
    assert (result.level, result.flags) == ("possible", ["self_harm"])


@pytest.mark.parametrize("text", [
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



# Round 3 (issue 9): each new mechanism.

class CountingScorer:
    """The engine's scorer, counting how often either model is asked."""

    def __init__(self, scorer):
        self.scorer, self.calls = scorer, 0

    def score(self, text):
        self.calls += 1
        return self.scorer.score(text)

    def self_harm(self, text):
        self.calls += 1
        return self.scorer.self_harm(text)

    def flag(self, text):
        self.calls += 1
        return self.scorer.flag(text)


def test_the_models_do_not_run_when_the_rules_already_make_an_emergency(monkeypatch):
    engine = shared_engine()
    counting = CountingScorer(engine.scorer)
    monkeypatch.setattr(engine, "scorer", counting)
    result = engine.assess("crushing chest pain right now")
    assert (result.level, result.flags, result.source) == ("emergency", ["chest_pain"], "rules")
    assert counting.calls == 0
    # Otherwise they run as before: the self-harm model, then the scorer.
    assert engine.assess("my back hurts").level == "none" and counting.calls == 2


@pytest.mark.parametrize("text, flag", [
    # rules.yml `together`: two word lists meeting within a few words, in either order
    ("can't feel a thing in my private area since I woke up", "saddle_numbness"),
    ("my private parts feel like cardboard and my back hurts", "saddle_numbness"),
    ("I had an accident at the store today and didn't even feel it, back is terrible",
     "bladder_bowel"),
    ("my feet are not responding since lunch", "leg_weakness"),
    ("my chest aches and I'm sweating", "chest_pain"),
    ("slipped on the icy driveway and hit the pavement, back is bad", "major_trauma"),
    ("I keep staring at the razor and thinking about it", "self_harm"),
])
def test_two_word_lists_meeting_make_a_finding(text, flag):
    result = assess(text)
    assert (result.level, result.flags) == ("emergency", [flag])


def test_a_negation_between_two_word_lists_is_no_finding():
    result = assess("my groin is not numb, just sore")
    assert (result.level, result.flags) == ("none", [])


@pytest.mark.parametrize("text", [
    "is it normal to have numbness in my groin since this morning?",       # a question
    "would cryo help the numbness in my groin that started this morning?",  # a hypothetical
    "Can the ice cause numbness between my legs? Since yesterday.",       # a sentence of its own
])
def test_a_present_now_cue_outweighs_a_question_or_a_hypothesis(text):
    result = assess(text)
    assert (result.level, result.flags) == ("emergency", ["saddle_numbness"])


def test_without_the_present_now_cue_the_question_stays_unclear():
    result = assess("Can the ice cause numbness between my legs?")
    assert (result.level, result.flags) == ("possible", ["saddle_numbness"])


def test_a_present_now_cue_never_outweighs_a_negation():
    result = assess("no numbness in my groin since this morning")
    assert (result.level, result.flags) == ("none", [])


def test_a_past_phrase_ends_the_reach_of_a_present_now_cue():
    result = assess("my dad had a heart attack in 2015 and since last week I have a cold")
    assert (result.level, result.flags) == ("possible", ["chest_pain"])


def test_ongoing_self_harm_plans_are_present():
    result = assess("I've been hoarding my pills for a while now")
    assert (result.level, result.flags) == ("emergency", ["self_harm"])


@pytest.mark.parametrize("text, flag", [
    ("my knees have been weak for years", "leg_weakness"),
    ("I've had numbness in my groin for years", "saddle_numbness"),
])
def test_a_long_standing_red_flag_is_unclear(text, flag):
    result = assess(text)
    assert (result.level, result.flags) == ("possible", [flag])


def test_long_standing_thoughts_of_self_harm_are_present():
    result = assess("I've been thinking about killing myself for years")
    assert (result.level, result.flags) == ("emergency", ["self_harm"])


@pytest.mark.parametrize("text, level", [
    ("My uncle has lymphoma and since yesterday his back is killing him", "emergency"),
    ("my husband has a fever and says his back is killing him", "emergency"),
    ("My uncle has lymphoma and my back is killing me", "possible"),
    ("my wife has a fever and I hurt my back carrying her to bed", "possible"),
])
def test_another_persons_cancer_or_fever_counts_with_their_own_pain(text, level):
    result = assess(text)
    flag = "fever" if "fever" in text else "cancer_history"
    assert (result.level, result.flags) == (level, [flag])


@pytest.mark.parametrize("text, flag", [
    ("i cant controll my blader rn", "bladder_bowel"),        # "cant", "rn", misspellings
    ("feverrrr and my back hurts", "fever"),                   # a letter typed many times
    ("perdi el control de la orina y me duele la espalda", "bladder_bowel"),  # no accent
])
def test_how_visitors_write_is_read_as_the_rules_spell_it(text, flag):
    result = assess(text)
    assert (result.level, result.flags) == ("emergency", [flag])


def test_everyday_and_spanish_words_are_not_taken_for_misspellings():
    engine = shared_engine()
    assert engine.normalise("should I worry, very sore") == "should I worry, very sore"
    # In Spanish "nunca" was read as "nuca" (nape), and the negation was lost.
    result = assess("nunca he tenido fiebre, solo me duele la espalda")
    assert (result.level, result.flags) == ("none", [])


def test_a_negation_before_a_comma_does_not_deny_the_pain_after_it():
    result = assess("never hungry, back pain every night and I've lost 20 pounds")
    assert (result.level, result.flags) == ("emergency", ["cancer_history"])
    result = assess("I have a fever, no back pain")
    assert (result.level, result.flags) == ("possible", ["fever"])


@pytest.mark.parametrize("text", [
    "playoff fever in our house, neck is sore",
    "my kitchen is a total wreck after the party and my back hurts",
    "I'm a nervous wreck before my appointment",
    "the news about the overdose crisis worries me, my back is sore",
])
def test_round_three_sayings_are_no_emergency(text):
    result = assess(text)
    assert (result.level, result.flags) == ("none", [])


def test_the_worst_i_have_ever_had_is_no_hypothesis():
    result = assess("worst headache I've ever had, with a fever and a stiff neck")
    assert (result.level, result.flags) == ("emergency", ["fever", "meningitis_signs"])


@pytest.mark.parametrize("text, where", [
    ("concepts:\n  a: []\n", "concepts.a: expected a non-empty list"),
    ("concepts:\n  a: [x]\ntogether:\n  fever:\n    - {concepts: [a, b]}\n",
     "together.fever[0]: unknown concept(s): b"),
    ("concepts:\n  a: [x]\ntogether:\n  fever:\n    - {concepts: [a, a], within: 40}\n",
     "together.fever[0]: within: expected 0 to 12 words"),
    ("together:\n  fevers: []\n", "together.fevers: expected a flag"),
    ("spellings:\n  cant: [1]\n", "spellings.cant: expected a word"),
    ("words_for_self: me\n", "words_for_self: expected a list of words"),
])
def test_a_broken_round_three_entry_names_the_file_and_key(tmp_path, text, where):
    path = tmp_path / "rules.yml"
    # A valid file's targets first, so that the broken entry is what fails.
    valid = "targets:\n" + "".join(f"  {flag}: [x{flag}]\n" for flag in (
        "bladder_bowel", "saddle_numbness", "leg_weakness", "major_trauma", "fever",
        "cancer_history", "chest_pain", "meningitis_signs", "self_harm", "pain", "weight_loss",
        "neck_stiffness", "headache", "idiom")) + "context: {}\n"
    path.write_text(valid + text, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load(path)
    assert str(path) in str(error.value) and where in str(error.value)


def test_a_cant_that_is_the_symptom_denies_nothing_after_it():
    # "can't" is part of "can't pee", not a denial of "nothing comes out".
    result = assess("my back is killing me, i cant pee, nothing comes out")
    assert (result.level, result.flags) == ("emergency", ["bladder_bowel"])
    assert level("no trouble peeing, i can pee fine") == "none"


def test_a_training_example_with_an_unknown_flag_stops_the_scorer(tmp_path):
    from triage.scorer import Scorer
    path = tmp_path / "training.yml"
    path.write_text("version: 1\nexamples:\n  - text: cant feel my legs\n    label: emergency\n"
                    "    flags: [major_truama]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"training.yml: examples\[0\].flags: expected"):
        Scorer.trained(path)


def test_a_scorer_without_training_data_names_no_flag(tmp_path):
    from triage.scorer import NO_FLAG, Scorer
    scorer = Scorer.trained(tmp_path / "missing.yml")
    assert scorer.flag("cant feel my legs") == (NO_FLAG, 0.0) and scorer.score("x") == 0.0
