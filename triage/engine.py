"""The triage decision for one message: level `emergency`, `possible` or `none`, and the flags.

1. How visitors write is mapped to how the rules spell it: rules.yml `spellings` ("cant" ->
   "can't", "rn" -> "right now"), letters typed three times or more once ("sooo"), a Spanish
   word without its accent to the accented rule word ("perdi" -> "perdí"), and a misspelled
   word to the rule word it is closest to (rapidfuzz), so that "incontinance" or "numbnes"
   still match. A word spaCy's English tables know (also with a regular ending), an English
   stop word ("should" is no "shoulder") and a word of our context phrases are left alone, and
   a Spanish message gets no fuzzy matching ("nunca" is no "nuca").
2. medspaCy's TargetMatcher finds the red-flag phrases of triage/rules.yml, and where two
   words of rules.yml `together` meet within a few words in either order (a loss of feeling
   and the saddle area: "can't feel anything when I wipe"); its ConText (the NegEx/ConText
   algorithm, with medspaCy's clinical rules plus ours for how visitors write) marks each one
   negated, historical, long-standing ("for years"), hypothetical (including a question about
   the topic), about another person, or present now ("since this morning", "right now",
   "started today": this outweighs historical, long-standing and hypothetical, also from a
   short sentence of its own after the finding's, "...? Since yesterday.").
3. A finding present now is an emergency, except where rules.yml `requires` another finding
   (cancer history counts with pain or weight loss now; another person's cancer or fever only
   when that finding is theirs too: the nearest person word before it is theirs, "his back",
   "she says", "my sister ... woke up with back pain", not the writer's "I", "my back"); one in
   an unclear context is `possible`; a negated one counts for nothing, except self-harm, which
   is never ignored, and whose thoughts are present however long they have lasted. medspaCy's
   own rules are used with two changes: a forward negation reaches NEGATION_SCOPE words, as
   visitors write long run-on sentences, but not a helper (pain...) past a comma ("never
   hungry, back pain every night").
4. The statistical scorer (triage/scorer.py) gives a second opinion for phrasing no rule
   lists: where no red-flag phrase matched, above POSSIBLE_SCORE `possible` (the safety line
   first, then the answer); where the rules read a flag as negated, above CONFIRM_SCORE
   `possible`. Where they found nothing, it makes an emergency only above SCORER_EMERGENCY,
   in a message of SCORER_MIN_WORDS words or more, and when the flag model names one red flag
   other than self-harm (which has a model of its own) with FLAG_CERTAINTY: the score alone
   sent everyday chat ("and?", "location and hours") and pain ("back pain thats worse in the
   morning") to 911, and the flag model alone read "I am ready, please schedule me" as
   self-harm.
5. Its self-harm model speaks for self-harm written in words no rule lists ("I've got the
   pills counted out for tonight"): where no self-harm phrase matched, above SELF_HARM_SCORE
   an emergency with the flag `self_harm` (so the reply puts 988 first), whatever else the
   rules found; above SELF_HARM_POSSIBLE the flag joins a `possible` or scorer answer.
   Neither model runs when the rules alone already make an emergency: its opinion could not
   change the answer.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import spacy
from medspacy.context import ConText, ConTextRule
from medspacy.context.context import DEFAULT_RULES_FILEPATH
from medspacy.target_matcher import TargetMatcher, TargetRule
from rapidfuzz import fuzz, process
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.lookups import load_lookups
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from triage import language, rules as rule_file
from triage.rules import HELPERS
from triage.scorer import NO_FLAG, Scorer

# Thresholds on the scorer's probability, chosen on the scorer alone on tests/safety/dev.yml
# and dev2.yml (the rules were tuned on those sets, so only the scorer's own figures there are
# unbiased; the scorer never trains on them): above POSSIBLE_SCORE a message is `possible`;
# above CONFIRM_SCORE (no false alarm on the sets) a red flag the rules read as negated is
# `possible` after all.
POSSIBLE_SCORE = 0.45
CONFIRM_SCORE = 0.8
# Chosen on tests/safety/dev*.yml and the everyday messages of data/nlu and tests/nlu/dev*.yml
# (fourth round): with no flag found by the rules, an emergency above SCORER_EMERGENCY when the
# flag model agrees (no everyday message and no ordinary pain statement there reaches it; dev4
# recall 0.930 -> 0.986, dev5 0.845 -> 0.894). Letting a sure score settle a flag the rules
# found in an unclear context made only false alarms there, so it does not. FLAG_CERTAINTY
# was 0.5 until a review found "my pants keep getting tighter and my back hurts" read as
# cancer history at 0.57: on the development sets 0.6 keeps 34 of the route's 39 true
# emergencies and drops one of its two false alarms.
SCORER_EMERGENCY = 0.7
FLAG_CERTAINTY = 0.6
SCORER_MIN_WORDS = 5
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
UNCLEAR = {"HISTORICAL", "CHRONIC", "HYPOTHETICAL"}
# A sentence of at most this many words holding only a present-now cue ("Since yesterday.")
# speaks for the findings of the sentence before it.
PRESENT_FRAGMENT_WORDS = 5
KNOWN_ENDINGS = ("ing", "ed", "es", "s", "ly")
CLAUSE_BREAKS = {",", ";", ":", "—", "–"}
REPEATED_LETTERS = re.compile(r"(\w)\1{2,}")


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
    unclear: bool  # historical, long-standing or hypothetical, and no present-now cue
    hypothetical: bool
    historical: bool
    family: bool
    present: bool = False  # a present-now cue outweighs historical, long-standing, hypothetical
    owner: Optional[str] = None  # "self" or "other": whose it is, by the nearest person word
    sentence: int = 0


def no_negated_wildcards(pattern: List[Dict]) -> List[Dict]:
    """The token pattern with each bare wildcard unable to match a negation word."""
    return [{"LOWER": {"NOT_IN": NEGATION_WORDS}, "OP": token["OP"]}
            if set(token) == {"OP"} else token for token in pattern]


def strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if unicodedata.category(c) != "Mn")


class Engine:
    def __init__(self, rules_path: Path = rule_file.RULES, scorer: Optional[Scorer] = None):
        self.rules = rule_file.load(rules_path)
        self.nlp = self._pipeline()
        self._targets = self.nlp.get_pipe("medspacy_target_matcher")
        self._context = self.nlp.get_pipe("medspacy_context")
        self._concepts = self._concept_matcher()
        # Sentences are read one at a time: medspaCy's scope windows would cross them.
        self.splitter = spacy.blank("en")
        self.splitter.add_pipe("sentencizer")
        # The English words spaCy knows (its lemma tables: inflected forms, lemmas, and every
        # lemma by part of speech, adverbs too), its stop words, and every word of our context
        # phrases ("nunca", "though"): none of them is a misspelling.
        lookups = load_lookups("en", ["lemma_lookup", "lemma_index"])
        lemmas = lookups.get_table("lemma_lookup")
        index = lookups.get_table("lemma_index")
        self._known = {str(w) for w in lemmas.keys()} | {str(w) for w in lemmas.values()} \
            | {str(w) for part in index.keys() for w in index[part]} | set(STOP_WORDS) \
            | self._context_words()
        self._words = self.rules.words  # computed once: it walks every pattern
        self.rule_words = sorted({w for w in self._words if len(w) >= FUZZY_MIN_LENGTH})
        # A Spanish rule word written without its accent ("perdi", "cancer"): one spelling only.
        unaccented: Dict[str, Set[str]] = {}
        for word in self._words:
            unaccented.setdefault(strip_accents(word), set()).add(word)
        self._unaccented = {plain: next(iter(words)) for plain, words in unaccented.items()
                            if len(words) == 1 and plain not in words}
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
        for rule in ours:
            if rule.category == "PRESENT":
                # "my dad had a heart attack in 2015 and since last week I have a cold": a
                # past phrase between the cue and the finding ends the cue's reach.
                rule.terminated_by = {"HISTORICAL", "CHRONIC"}
        rules = ConTextRule.from_json(DEFAULT_RULES_FILEPATH) + ours
        for rule in rules:
            # A forward "not", "no" or "sin" reaches a few words, not the rest of a long sentence.
            if rule.category == "NEGATED_EXISTENCE" and rule.direction.upper() == "FORWARD":
                rule.max_scope = NEGATION_SCOPE
        context.add(rules)
        return nlp

    def _concept_matcher(self) -> Matcher:
        """One matcher key per rules.yml concept, for `together`."""
        matcher = Matcher(self.nlp.vocab)
        for name, phrases in self.rules.concepts.items():
            single, patterns = [], []
            for phrase in phrases:
                if isinstance(phrase, str):
                    words = [t.lower_ for t in self.nlp.make_doc(phrase)]
                    if len(words) == 1:
                        single.append(words[0])
                    else:
                        patterns.append([{"LOWER": w} for w in words])
                else:
                    patterns.append(phrase)
            matcher.add(name, ([[{"LOWER": {"IN": single}}]] if single else []) + patterns)
        return matcher

    def _add_together(self, doc: Doc) -> None:
        """rules.yml `together`: a flag where two concepts meet, in either order, at most
        `within` words apart with no negation word between them ("my groin is not numb" is no
        finding); where it overlaps a phrase of `targets`, the longer one wins."""
        found: Dict[str, List[Tuple[int, int]]] = {}
        for key, start, end in self._concepts(doc):
            found.setdefault(self.nlp.vocab.strings[key], []).append((start, end))
        spans = []
        for flag, first, second, within in self.rules.together:
            for a in found.get(first, ()):
                for b in found.get(second, ()):
                    for (start, end), (later, last) in ((a, b), (b, a)):
                        if end <= later <= end + within and not any(
                                t.lower_ in NEGATION_WORDS for t in doc[end:later]):
                            spans.append(Span(doc, start, last, label=flag))
        if spans:
            doc.ents = filter_spans(list(doc.ents) + spans)

    def _read(self, sentence: str) -> Doc:
        """One sentence through the target matcher, `together` and ConText."""
        doc = self._targets(self.nlp.make_doc(sentence))
        self._add_together(doc)
        return self._context(doc)

    def _context_words(self) -> Set[str]:
        found: Set[str] = set()
        for _, phrase, _ in self.rules.context:
            if isinstance(phrase, str):
                found.update(phrase.split())
            else:
                for token in phrase:
                    value = token.get("LOWER")
                    found.update(value.get("IN", []) if isinstance(value, dict) else [value])
        return {str(w) for w in found if isinstance(w, str)}

    def _is_known(self, word: str) -> bool:
        """A word spaCy's English tables know, also with a regular ending ("twinging")."""
        if word in self._known:
            return True
        for ending in KNOWN_ENDINGS:
            stem = word[:-len(ending)]
            if word.endswith(ending) and len(stem) >= 3 and (
                    stem in self._known or stem + "e" in self._known
                    or (stem[-1] == stem[-2] and stem[:-1] in self._known)):  # "chatting"
                return True
        return False

    def normalise(self, text: str, lang: str = "en") -> str:
        """The text with visitors' spellings and misspelled rule words spelled as in rules.yml.
        No fuzzy matching in a Spanish message: it took "nunca" for "nuca" and "sobre" for
        "sore" (badly misspelled English may be detected as another language: it keeps it)."""
        words = []
        for token in self.nlp.make_doc(text):
            word = self._spelled(token.lower_, fuzzy=lang != "es")
            words.append(token.text_with_ws if word is None else word + token.whitespace_)
        return "".join(words)

    def _spelled(self, word: str, fuzzy: bool = True) -> Optional[str]:
        """How the rules spell a word, or None to keep it as written."""
        if word in self.rules.spellings:
            return self.rules.spellings[word]
        if not word.isalpha() or word in self._words:
            return None
        squeezed = None
        if REPEATED_LETTERS.search(word):  # "sooo", "numbbb", "feverrr"
            once, twice = REPEATED_LETTERS.sub(r"\1", word), REPEATED_LETTERS.sub(r"\1\1", word)
            for candidate in (once, twice):
                if candidate in self._words or self._is_known(candidate):
                    return candidate
            squeezed = twice
        plain = strip_accents(word)
        if plain in self._unaccented:
            return self._unaccented[plain]
        word = squeezed or word
        if fuzzy and len(word) >= FUZZY_MIN_LENGTH and not self._is_known(word):
            match = process.extractOne(word, self.rule_words, scorer=fuzz.ratio,
                                       score_cutoff=FUZZY_MIN_SCORE)
            if match:
                return match[0]
        return squeezed

    def findings(self, text: str, lang: str = "en") -> List[Finding]:
        found: List[Finding] = []
        sentences = [s.text for s in self.splitter(self.normalise(text, lang)).sents]
        for index, doc in enumerate(self._read(sentence) for sentence in sentences):
            if found and not doc.ents and self._only_present_cue(doc):
                # "Is it the sciatica if I can't lift my foot? Since yesterday."
                for finding in found:
                    if finding.sentence == index - 1:
                        finding.present, finding.unclear = True, False
            for span in doc.ents:
                categories = {modifier.category for modifier in span._.modifiers
                              if not self._other_clause(doc, modifier, span)}
                present = "PRESENT" in categories
                found.append(Finding(span.label_, negated="NEGATED_EXISTENCE" in categories,
                                     unclear=bool(categories & UNCLEAR) and not present,
                                     hypothetical="HYPOTHETICAL" in categories,
                                     historical="HISTORICAL" in categories,
                                     family="FAMILY" in categories, present=present,
                                     owner=self._owner(doc, span), sentence=index))
        return found

    @staticmethod
    def _other_clause(doc, modifier, span) -> bool:
        """A negation before a helper (pain, weight loss...) from across a comma: in "never
        hungry, back pain every night" the pain is not denied. Red flags keep medspaCy's reach, as
        visitors list what they don't have ("no numbness, weakness or fever")."""
        start, end = modifier.modifier_span
        if span.label_ not in HELPERS or modifier.category != "NEGATED_EXISTENCE" \
                or end > span.start:
            return False  # a negation after the finding ("..., nothing new") keeps its reach
        return any(t.text in CLAUSE_BREAKS for t in doc[end:span.start])

    def _only_present_cue(self, doc) -> bool:
        words = [t for t in doc if not t.is_punct]
        if not words or len(words) > PRESENT_FRAGMENT_WORDS:
            return False
        cues = [m.modifier_span for m in doc._.context_graph.modifiers if m.category == "PRESENT"]
        return any(start <= words[0].i and words[-1].i < end for start, end in cues) or (
            len(cues) == 1 and cues[0][1] - cues[0][0] >= len(words) - 1)

    def _owner(self, doc, span) -> Optional[str]:
        """Whose finding it is: the nearest person word at or before it in its sentence
        ("his back", "she says her back hurts", "my sister ... woke up with back pain" are
        another person's; "I", "my back", "me duele" the writer's), None when no word says."""
        for token in reversed(doc[:span.end]):
            word = token.lower_
            if word in self.rules.words_for_others:  # "he", "her", "my sister", "mi mamá"
                return "other"
            if word in self.rules.words_for_self:
                return "self"
        return None

    def assess(self, text: str) -> Triage:
        result = Triage(language=language.detect(text))
        findings = self.findings(text, result.language)
        emergency, possible = self._from_rules(findings)
        if emergency:
            # Neither model can change this answer, so neither runs.
            result.level, result.flags, result.source = "emergency", sorted(emergency), "rules"
            return result
        flagged = any(f.flag not in HELPERS for f in findings)
        words = len(text.split())
        # Where a self-harm phrase matched, the rules have read it (negated, past...); otherwise
        # the self-harm model speaks for wording no rule lists.
        self_harm = 0.0 if any(f.flag == "self_harm" for f in findings) \
            else self.scorer.self_harm(text)
        offer_988 = {"self_harm"} if self_harm >= SELF_HARM_POSSIBLE else set()
        if self_harm >= SELF_HARM_SCORE and words >= SELF_HARM_MIN_WORDS:
            result.level, result.source = "emergency", "scorer"
            result.flags = sorted(possible | {"self_harm"})
        elif possible:
            result.level, result.flags, result.source = "possible", sorted(possible | offer_988), \
                "rules"
        elif flagged:
            # A red flag the rules read as negated: only a very sure scorer doubts that.
            result.level = "possible" if self.scorer.score(text) >= CONFIRM_SCORE else "none"
            result.source = "rules"
        elif offer_988 or self.scorer.score(text) >= POSSIBLE_SCORE:
            flag = self._scorer_flag(text, words)
            # An emergency of this route reports its flag alone, so the reply puts 911 first
            # (its 988 button is there too); self-harm has its own model, above.
            result.level, result.source = "emergency" if flag else "possible", "scorer"
            result.flags = [flag] if flag else sorted(offer_988)
        return result

    def _scorer_flag(self, text: str, words: int) -> Optional[str]:
        """The red flag a very sure score and the flag model agree on, else None."""
        if words < SCORER_MIN_WORDS or self.scorer.score(text) < SCORER_EMERGENCY:
            return None
        flag, certainty = self.scorer.flag(text)
        return flag if flag not in (NO_FLAG, "self_harm") and certainty >= FLAG_CERTAINTY \
            else None

    def _from_rules(self, findings: List[Finding]) -> Tuple[Set[str], Set[str]]:
        # Helpers (pain now, weight loss...) count when not negated and not hypothetical: "my
        # back has hurt for years" is pain now.
        # Weight loss counts only now ("lost weight last year with the flu" does not).
        now = [f for f in findings if f.flag in HELPERS and not f.negated
               and (f.present or not f.hypothetical)
               and not (f.flag == "weight_loss" and f.historical and not f.present)]
        helpers = {f.flag for f in now}

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
            if needed and finding.family and not any(
                    h.flag in needed and self._theirs(h, finding) for h in now):
                # Another person's cancer or fever with the writer's own back ache: unclear.
                possible.add(flag)
                continue
            # Self-harm in any mood ("everyone would be better off without me") is an
            # emergency; only a past one ("years ago I had suicidal thoughts") is unclear.
            unclear = finding.historical and not finding.present if flag == "self_harm" \
                else finding.unclear
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

    @staticmethod
    def _theirs(helper: Finding, finding: Finding) -> bool:
        """The helper (pain, weight loss...) is the other person's too: its nearest person word
        is theirs, or no person word comes before it in the other person's sentence."""
        return helper.owner == "other" or (helper.owner is None
                                           and helper.sentence == finding.sentence)
