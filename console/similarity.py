"""Groups unanswered visitor messages by similarity, so the biggest gaps come first.

Word sets after light normalisation, compared by Jaccard similarity; each distinct message joins
the most similar existing group (found through an inverted index, so it stays fast with many
messages) or starts its own.
"""
import re
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Tuple

THRESHOLD = 0.5
STOPWORDS = frozenset(
    "a an and are at be can could do does for from have how i i'm im in is it its me my of on "
    "or please so that the there this to was what when where which who will with would you your "
    "u pls just any about".split()
)


def words(text: str) -> frozenset:
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    kept = {_stem(t) for t in tokens if t not in STOPWORDS}
    return frozenset(kept or (_stem(t) for t in tokens))


def _stem(token: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 2 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def group(texts: Iterable[str]) -> List[Dict]:
    """[{"example", "count", "texts": [(text, count), ...]}], largest group first."""
    counts = Counter(" ".join(t.split()) for t in texts if t and t.strip())
    groups: List[Dict] = []
    by_word: Dict[str, List[int]] = defaultdict(list)
    for text, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        key = words(text)
        best, best_score = None, THRESHOLD
        for candidate in {g for w in key for g in by_word[w]}:
            score = jaccard(key, groups[candidate]["key"])
            if score >= best_score:
                best, best_score = candidate, score
        if best is None:
            best = len(groups)
            groups.append({"key": key, "example": text, "count": 0, "texts": []})
            for w in key:
                by_word[w].append(best)
        groups[best]["count"] += count
        groups[best]["texts"].append((text, count))
    groups.sort(key=lambda g: (-g["count"], g["example"]))
    return [{k: v for k, v in g.items() if k != "key"} for g in groups]


def top_words(texts: List[Tuple[str, int]], n: int = 3) -> List[str]:
    tally: Counter = Counter()
    for text, count in texts:
        for word in words(text):
            tally[word] += count
    return [w for w, _ in tally.most_common(n)]
