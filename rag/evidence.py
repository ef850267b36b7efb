"""Evidence selection: the best sentences among those retrieval scored inside its hits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from rag.agreement import is_copy
from rag.lexical import STOPWORDS
from rag.parts import Part
from rag.retrieval import Evidence, Hit
from rag.slots import asks_for_figure, measures_in, read_slots
from rag.store import StoredDocument
from rag.textnorm import fold, number_values

_WORD = re.compile(r"\w+")
# Words compare by their first five letters: inflections and French/English cognates agree there
# ("milliards"/"milliard", "capacity"/"capacité"), where stemmers of two languages do not ("OpenAI").
_PREFIX = 5
# A sentence's own e5 cosine is squeezed into about 0.78-0.90 and knows nothing of the passage around it;
# its chunk's hybrid score does. `bench/evidence.py` measures ranking by cosine plus a share of the
# chunk's score over the best hit's: at 0.2, 4 sentences hold every fact of 0.93 of the gold questions
# in 761 characters (5 by cosine: 0.89 in 1,068), so answers come faster (first token 6.4 -> 4.2 s at
# p50, `python bench/latency.py --limit 25`) at the same gold fact accuracy (0.74). The passage's score
# also lifts a neighbouring company's sentence ("Meta a également annoncé … 60 milliards" for Amazon's
# plan): the figure check on the sentence's own subject (rag/verification.py) catches that one.
CHUNK_SCORE_WEIGHT = 0.2
# A question asking for a figure ("combien", "how many") is not answered by a sentence that writes none,
# however close its wording ("Le géant technologique a perdu son statut" for "combien a-t-il perdu ?"):
# such sentences lose this much of their rank. `python bench/evidence.py` prints the penalties: at 4
# sentences, prompt recall 0.933 -> 0.947 on the gold set and 0.823 -> 0.827 on 300 PIAF questions
# at 0.04 (0.02: 0.947 / 0.823; 0.08: 0.947 / 0.827), for 15 more characters of evidence. A question
# asking for something else too ("quelle puce …, et quelle part …") is not penalised: its name is no figure.
FIGURELESS_PENALTY = 0.04
_SHARE_WORDS = re.compile(r"\b(?:moitie|tiers|double|triple|half|twice)\b")


def select_evidence(
    hits: Sequence[Hit],
    limit: int,
    chunk_weight: float = CHUNK_SCORE_WEIGHT,
    copies: Sequence[Hit] = (),
    question: str = "",
    figureless_penalty: float = FIGURELESS_PENALTY,
) -> list[Evidence]:
    """The `limit` best sentences of the hits for `question`, best first, each span once (overlapping
    chunks share some); the sentences of `copies` (passages left out as copies of a hit) only join as
    "also reported by"."""
    top = max((hit.score for hit in hits), default=0.0)
    penalty = figureless_penalty if asks_for_figure(question) else 0.0

    def rank(hit: Hit, sentence: Evidence) -> float:
        score = sentence.score + (chunk_weight * hit.score / top if top > 0 else 0.0)
        return score - penalty if penalty and not _writes_a_figure(sentence.text) else score

    ranked = sorted(
        ((rank(hit, sentence), sentence) for hit in hits for sentence in hit.sentences), key=lambda pair: -pair[0]
    )
    chosen = _collapse_copies(_distinct(sentence for _, sentence in ranked), limit)
    known = {(item.doc_id, item.start) for kept in chosen for item in (kept, *kept.also)}
    extra = [
        item for item in _distinct(sentence for hit in copies for sentence in hit.sentences)
        if (item.doc_id, item.start) not in known
    ]
    return _collapse_copies([*chosen, *extra], len(chosen))


def with_parts(evidence: Sequence[Evidence], found: Sequence[tuple[Part, Sequence[Evidence]]]) -> list[Evidence]:
    """The evidence and, for each part of the question, the best sentence of its own search speaking of it.

    `found` pairs each part (rag/parts.py) with the evidence its own search selected, best first. The
    whole question's evidence often speaks of one part only, or of a part's period with another figure
    ("les actions ont baissé au T2 2025" for revenue growth then), so each part's best sentence is added
    unless it is already there.
    """
    chosen = list(evidence)
    for part, items in found:
        speaking = [item for item in items if part.given_by(item)]
        measures = measures_in(part.query)  # the growth asked for, not the share price of that quarter
        best = next((item for item in speaking if measures & measures_in(item.text)), next(iter(speaking), None))
        if best is not None:
            chosen = _distinct([*chosen, best])
    return chosen


def _writes_a_figure(text: str) -> bool:
    """A number in digits or words, or a share said in words ("la moitié", "half")."""
    return bool(number_values(text) or _SHARE_WORDS.search(fold(text)))


def distinct_hits(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """The `limit` best hits that are not copies of a better one (the same passage in another outlet's
    article): five copies of one wire story would otherwise fill the passages the answer reads."""
    kept: list[Hit] = []
    for hit in hits:
        if len(kept) < limit and not any(is_copy(other, hit) for other in kept):
            kept.append(hit)
    return kept


def closest_passages(hits: Sequence[Hit], limit: int) -> list[Evidence]:
    """Each hit's best sentence, in retrieval order, distinct: what a refusal shows as related."""
    return _collapse_copies(_distinct(hit.sentences[0] for hit in hits if hit.sentences), limit)


def _collapse_copies(ranked: Sequence[Evidence], limit: int) -> list[Evidence]:
    """The `limit` best snippets that are not copies of a better one; each copy (wire copy, a rewrite in
    another article) is kept on the snippet it repeats, as "also reported by", instead of taking a slot."""
    chosen: list[Evidence] = []
    for item in ranked:
        original = next((n for n, kept in enumerate(chosen) if is_copy(kept, item)), None)
        if original is not None:
            chosen[original] = replace(chosen[original], also=(*chosen[original].also, item))
        elif len(chosen) < limit:
            chosen.append(item)
    return chosen


def shares_a_word(question: str, hits: Sequence[Hit]) -> bool:
    """Whether a content word of the question (not a stop word; 3+ letters, or a number) is in a hit or its title.

    A question sharing no word with anything retrieved is about something else, however close its
    vector lands: nonsense ("asdkjh qwpoeiru") and bare function words ("a", "What is it?") still
    embed near some passage at cosine 0.85. On the gold set every answerable question shares one.
    """
    asked = _content_prefixes(question)
    return any(asked & _content_prefixes(f"{hit.title} {hit.text}") for hit in hits)


def article_texts(hits: Sequence[Hit], documents: Mapping[str, StoredDocument]) -> list[str]:
    """The title and whole text of each hit's article (the hit alone when it was deleted meanwhile)."""
    return [
        f"{hit.title} {documents[hit.doc_id].document.text if hit.doc_id in documents else hit.text}" for hit in hits
    ]


def names_the_subject(question: str, articles: Iterable[str]) -> bool:
    """Whether the retrieved articles name something the question names (true when it names nothing).

    A question about a person, place or company the articles never name is about another story, however
    close its vector lands: PIAF questions asked with their own article hidden were answered from other
    articles' look-alike sentences. A name counts when its words are in an article, each exactly or one
    letter away ("GFils", "Nielson" for Nielsen): typos must not turn answers into refusals.
    `python bench/choice.py --piaf 60` counts what it refuses on each set.
    """
    names = read_slots(question).entities
    if not names:
        return True
    words = {word for text in articles for word in _WORD.findall(fold(text))}
    return any(_named(name, words) for name in names)


def _named(name: str, words: set[str]) -> bool:
    """Every word of 4+ letters of `name` is in `words` or one letter away ("New Harmony" needs both
    words); a name of short words only ("DOM-TOM", "AWS") needs one of them as written."""
    parts = [part for part in re.split(r"[\s\-–'’]+", name) if part]
    long_parts = [part for part in parts if len(part) >= 4]
    if not long_parts:
        return any(part in words for part in parts)
    return all(part in words or any(_one_letter_away(part, word) for word in words) for part in long_parts)


def _one_letter_away(first: str, second: str) -> bool:
    """One substitution, insertion or deletion apart (not equal)."""
    if abs(len(first) - len(second)) > 1 or first == second:
        return False
    if len(first) == len(second):
        return sum(a != b for a, b in zip(first, second)) == 1
    short, long = sorted((first, second), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _content_prefixes(text: str) -> set[str]:
    words = _WORD.findall(fold(text))
    return {word[:_PREFIX] for word in words if (len(word) >= 3 or word.isdigit()) and word not in STOPWORDS}


def _distinct(items: Iterable[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int]] = set()
    chosen = []
    for item in items:
        if (item.doc_id, item.start) not in seen:
            seen.add((item.doc_id, item.start))
            chosen.append(item)
    return chosen
