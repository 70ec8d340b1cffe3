"""The triage decision for one message: level `emergency`, `possible` or `none`, and the flags.

1. Misspelled words are mapped to the rule words they are closest to (rapidfuzz), so that
   "incontinance" or "numbnes" still match; a word spaCy's English lemma table knows is left
   alone.
2. medspaCy's TargetMatcher finds the red-flag phrases of triage/rules.yml; its ConText (the
   NegEx/ConText algorithm, with medspaCy's clinical rules plus ours for how visitors write)
   marks each one negated, historical, hypothetical (including a question about the topic) or
   about another person.
3. A finding present now is an emergency, except where rules.yml `requires` another finding
   (cancer history counts with pain or weight loss now; another person's cancer or fever only
   when the message also speaks of them); one in an unclear context is
   `possible`; a negated one counts for nothing, except self-harm, which is never ignored.
   medspaCy's own rules are used with one change: a forward negation reaches NEGATION_SCOPE
   words, as visitors write long run-on sentences.
4. The statistical scorer (triage/scorer.py) gives a second opinion for phrasing no rule
   lists: where no red-flag phrase matched, above POSSIBLE_SCORE `possible` (the safety line
   first, then the answer); where the rules read a flag as negated, above CONFIRM_SCORE
   `possible`. It never makes an emergency on its own: it cannot say which red flag it saw, and
   as the only judge it sent everyday pain to 911 ("back pain thats worse in the morning", 2 of
   the 245 pain statements of data/nlu/pain.yml); measured on tests/safety/dev3.yml, emergency
   recall fell from 0.795 to 0.677 with emergency-or-possible unchanged at 0.976, and near-miss
   false alarms from 0.123 to 0.092.
5. Its self-harm model speaks for self-harm written in words no rule lists ("I've got the
   pills counted out for tonight"): where no self-harm phrase matched, above SELF_HARM_SCORE
   an emergency with the flag `self_harm` (so the reply puts 988 first), whatever else the
   rules found; above SELF_HARM_POSSIBLE the flag joins a `possible` or scorer answer.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import spacy
from medspacy.context import ConText, ConTextRule
from medspacy.context.context import DEFAULT_RULES_FILEPATH
from medspacy.target_matcher import TargetMatcher, TargetRule
from rapidfuzz import fuzz, process
from spacy.lookups import load_lookups

from triage import language, rules as rule_file
from triage.rules import HELPERS
from triage.scorer import Scorer

# Thresholds on the scorer's probability, chosen on the scorer alone on tests/safety/dev.yml
# and dev2.yml (the rules were tuned on those sets, so only the scorer's own figures there are
# unbiased; the scorer never trains on them): above POSSIBLE_SCORE a message is `possible`;
# above CONFIRM_SCORE (no false alarm on the sets) a red flag the rules read as negated is
# `possible` after all.
POSSIBLE_SCORE = 0.45
CONFIRM_SCORE = 0.8
# The self-harm model's thresholds, among messages where no self-harm phrase matched, chosen
# on the same sets and on the everyday messages of data/nlu/ unlike any triage training
# example (2,278): SELF_HARM_SCORE is above every near-miss, ordinary pain statement and
# everyday message there (the highest, a goodbye, reaches 0.61); above SELF_HARM_POSSIBLE the
# flag `self_harm` joins a `possible` answer, so 988 is offered.
SELF_HARM_SCORE = 0.7
SELF_HARM_POSSIBLE = 0.3
SELF_HARM_MIN_WORDS = 3
FUZZY_MIN_SCORE = 85
FUZZY_MIN_LENGTH = 4
# Forward negations ("no", "not", "sin"...) reach this many words: "no fever" yes, but not "ya
# no le veo sentido a nada, quiero acabar con todo".
NEGATION_SCOPE = 5
# A bare wildcard in a target pattern ({OP: "?"} or {OP: "*"}) never matches one of these: in
# "riding made my inner thighs sore, no numbness" the phrase "thighs ... numbness" would
# otherwise swallow the "no" that negates it.
NEGATION_WORDS = ["no", "not", "n't", "nt", "never", "without", "nope", "neither", "nor",
                  "sin", "nunca", "ni"]
UNCLEAR = {"HISTORICAL", "HYPOTHETICAL"}


@dataclass
class Triage:
    level: str = "none"
    flags: List[str] = field(default_factory=list)
    language: str = "en"
    source: str = "none"  # what decided: "rules", "scorer" or "none" (for measuring)

    def as_dict(self) -> Dict[str, object]:
        return {"level": self.level, "flags": self.flags, "language": self.language}


@dataclass
class Finding:
    flag: str
    negated: bool
    unclear: bool  # historical or hypothetical
    hypothetical: bool
    historical: bool
    family: bool


def no_negated_wildcards(pattern: List[Dict]) -> List[Dict]:
    """The token pattern with each bare wildcard unable to match a negation word."""
    return [{"LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": token["OP"]}
            if set(token) == {"OP"} else token for token in pattern]


class Engine:
    def __init__(self, rules_path: Path = rule_file.RULES, scorer: Optional[Scorer] = None):
        self.rules = rule_file.load(rules_path)
        self.nlp = self._pipeline()
        # Sentences are read one at a time: medspaCy's scope windows would cross them.
        self.splitter = spacy.blank("en")
        self.splitter.add_pipe("sentencizer")
        self._lemmas = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
        self._lemma_words = {str(value) for value in self._lemmas.values()}
        self.rule_words = sorted({w for w in self.rules.words if len(w) >= FUZZY_MIN_LENGTH})
        self.scorer = scorer if scorer is not None else Scorer.trained()

    def _pipeline(self) -> spacy.Language:
        nlp = spacy.blank("en")
        matcher: TargetMatcher = nlp.add_pipe("medspacy_target_matcher")
        matcher.add([TargetRule(str(p) if isinstance(p, str) else f"{flag} pattern", flag,
                                pattern=None if isinstance(p, str) else no_negated_wildcards(p))
                     for flag, patterns in self.rules.targets.items() for p in patterns])
        # A modifier word inside a matched phrase ("can't" in "can't control my bladder")
        # belongs to the phrase: prune_on_target_overlap drops it.
        context: ConText = nlp.add_pipe("medspacy_context", config={
            "rules": None, "max_scope": self.rules.max_scope,
            "prune_on_target_overlap": True})
        ours = [ConTextRule(p if isinstance(p, str) else f"{category} pattern", category,
                            pattern=None if isinstance(p, str) else p, direction=direction)
                for category, p, direction in self.rules.context]
        rules = ConTextRule.from_json(DEFAULT_RULES_FILEPATH) + ours
        for rule in rules:
            # A forward "not", "no" or "sin" reaches a few words, not the rest of a long sentence.
            if rule.category == "NEGATED_EXISTENCE" and rule.direction.upper() == "FORWARD":
                rule.max_scope = NEGATION_SCOPE
        context.add(rules)
        return nlp

    def _is_known(self, word: str) -> bool:
        """An English word spaCy's lemma table knows, as an inflected form or a lemma."""
        return word in self._lemmas or word in self._lemma_words

    def normalise(self, text: str) -> str:
        """The text with misspelled rule words spelled as in rules.yml."""
        words = []
        for token in self.nlp.make_doc(text):
            word = token.lower_
            if (len(word) >= FUZZY_MIN_LENGTH and word.isalpha() and word not in self.rules.words
                    and not self._is_known(word)):
                match = process.extractOne(word, self.rule_words, scorer=fuzz.ratio,
                                           score_cutoff=FUZZY_MIN_SCORE)
                if match:
                    word = match[0]
                    words.append(word + token.whitespace_)
                    continue
            words.append(token.text_with_ws)
        return "".join(words)

    def findings(self, text: str) -> List[Finding]:
        found = []
        sentences = [s.text for s in self.splitter(self.normalise(text)).sents]
        for span in (e for doc in self.nlp.pipe(sentences) for e in doc.ents):
            categories = {modifier.category for modifier in span._.modifiers}
            found.append(Finding(span.label_, negated="NEGATED_EXISTENCE" in categories,
                                 unclear=bool(categories & UNCLEAR),
                                 hypothetical="HYPOTHETICAL" in categories,
                                 historical="HISTORICAL" in categories,
                                 family="FAMILY" in categories))
        return found

    def assess(self, text: str) -> Triage:
        result = Triage(language=language.detect(text))
        findings = self.findings(text)
        emergency, possible = self._from_rules(findings, self._speaks_of_others(text))
        flagged = any(f.flag not in HELPERS for f in findings)
        score = self.scorer.score(text)
        words = len(text.split())
        # Where a self-harm phrase matched, the rules have read it (negated, past...); otherwise
        # the self-harm model speaks for wording no rule lists.
        self_harm = 0.0 if any(f.flag == "self_harm" for f in findings) \
            else self.scorer.self_harm(text)
        offer_988 = {"self_harm"} if self_harm >= SELF_HARM_POSSIBLE else set()
        if emergency:
            result.level, result.flags, result.source = "emergency", sorted(emergency), "rules"
        elif self_harm >= SELF_HARM_SCORE and words >= SELF_HARM_MIN_WORDS:
            result.level, result.source = "emergency", "scorer"
            result.flags = sorted(possible | {"self_harm"})
        elif possible:
            result.level, result.flags, result.source = "possible", sorted(possible | offer_988), \
                "rules"
        elif flagged:
            # A red flag the rules read as negated: only a very sure scorer doubts that.
            result.level = "possible" if score >= CONFIRM_SCORE else "none"
            result.source = "rules"
        elif score >= POSSIBLE_SCORE or offer_988:
            result.level, result.flags, result.source = "possible", sorted(offer_988), "scorer"
        return result

    def _speaks_of_others(self, text: str) -> bool:
        return any(t.lower_ in self.rules.words_for_others for t in self.splitter.make_doc(text))

    def _from_rules(self, findings: List[Finding], of_others: bool = False
                    ) -> Tuple[Set[str], Set[str]]:
        # Helpers (pain now, weight loss...) count when not negated and not hypothetical: "my
        # back has hurt for years" is pain now.
        # Weight loss counts only now ("lost weight last year with the flu" does not).
        helpers = {f.flag for f in findings if f.flag in HELPERS and not f.negated
                   and not f.hypothetical and not (f.flag == "weight_loss" and f.historical)}

        present = {f.flag for f in findings if not f.negated and not f.unclear} | helpers
        emergency, possible = set(), set()
        for finding in findings:
            flag = finding.flag
            if flag in HELPERS:
                continue
            if finding.negated:
                if flag == "self_harm":
                    possible.add(flag)  # "I'm not suicidal" still gets 988, never silence
                continue
            past_counts = flag in self.rules.past_counts and not finding.hypothetical
            needed = self.rules.requires.get(flag)
            if needed and finding.family and not of_others:
                # Another person's cancer or fever with the writer's own back ache: unclear.
                possible.add(flag)
                continue
            # Self-harm in any mood ("everyone would be better off without me") is an
            # emergency; only a past one ("years ago I had suicidal thoughts") is unclear.
            unclear = finding.historical if flag == "self_harm" else finding.unclear
            if unclear and not past_counts:
                possible.add(flag)
            elif needed is None or set(needed) & present:
                emergency.add(flag)
            else:
                possible.add(flag)
        if "weight_loss" in helpers:
            (emergency if "pain" in helpers else possible).add("cancer_history")
        for flag, parts in self.rules.combined.items():
            if set(parts["all"]) <= present and set(parts["any"]) & present:
                emergency.add(flag)
        return emergency, possible - emergency
