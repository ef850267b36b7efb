"""Follow-up questions: one that leans on the conversation is rewritten into a question that stands alone.

"Et sur combien d'années ?" after "Combien OpenAI paie-t-il AWS ?" retrieves nothing by itself. A
follow-up (no entity of its own, a pronoun, or an opening such as "et", "what about") is rewritten
before retrieval by the generator, with a tight prompt, and kept only if it still names the
follow-up's entities or, lacking any, one of the conversation's, in the answer's language. Without a
generator, or when its
rewrite fails that check, the rewrite is deterministic: the latest earlier question that stands
alone, then the follow-up.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence

from rag.answer_types import CITATION_MARKER, Turn
from rag.errors import GenerationError, InvalidInputError
from rag.generation.base import Generator, Message
from rag.language import LanguageCode, is_other_language
from rag.slots import mentions, names_in, read_slots
from rag.textnorm import fold

log = logging.getLogger(__name__)

MAX_TURNS = 6  # the turns a follow-up is read against; older ones are dropped
MAX_HISTORY_CHARS = 24_000  # questions and answers of the history together, else a 400
PROMPT_TURNS = 3  # the turns the rewrite prompt shows (a long prompt costs seconds on 2 cores)
_ANSWER_CHARS = 200
_REWRITE_TOKENS = 64
# Openings that lean on what came before, and pronouns that stand for something said earlier.
_OPENINGS = re.compile(
    r"^(?:et|mais|aussi|alors|puis|ensuite|and|but|also|so|then|what about|how about|what of)\b", re.IGNORECASE
)
_PRONOUNS = frozenset({
    "il", "elle", "ils", "elles", "lui", "leur", "leurs", "son", "sa", "ses", "cela", "ça", "celui", "celle",
    "it", "its", "they", "them", "their", "he", "him", "his", "she", "her",
})
# Words, with hyphenated inversions kept whole: "investit-il" restates its subject, "qu'il" does not.
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LABEL = re.compile(r"^\s*(?:[-*>]\s*)?(?:(?:rewritten|standalone)?\s*question|question reformulée)\s*[:：]\s*", re.I)

_SYSTEM = """You rewrite the last question of a conversation about news articles so that it can be \
understood alone: add the company, product, amount or period it refers to. Keep the language of the last \
question. Do not answer it. Reply with the rewritten question only, on one line."""
# Two worked examples, one per language, as earlier turns of the chat: a 1.5B model follows shown
# behaviour far better than described behaviour (told only, it repeats half the questions unchanged).
_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Conversation:\nQuestion: How much is OpenAI paying AWS?\nAnswer: 38 billion dollars.\n\n"
        "Last question: And for how long?",
        "For how long is OpenAI paying AWS?",
    ),
    (
        "Conversation:\nQuestion: Combien Amazon investit-il en 2025 ?\nAnswer: Plus de 100 milliards de dollars.\n\n"
        "Last question: Et Google ?",
        "Combien Google investit-il en 2025 ?",
    ),
)


def recent_turns(history: Sequence[Turn]) -> list[Turn]:
    """The last `MAX_TURNS` turns, once the whole history is checked (InvalidInputError beyond its size)."""
    size = sum(len(turn.question) + len(turn.answer) for turn in history)
    if size > MAX_HISTORY_CHARS:
        raise InvalidInputError(
            f"the history is {size} characters long; the limit is {MAX_HISTORY_CHARS}: "
            f"send the last {MAX_TURNS} turns at most"
        )
    for number, turn in enumerate(history, 1):
        if not turn.question.strip():
            raise InvalidInputError(f"turn {number} of the history has an empty question")
    return list(history[-MAX_TURNS:])


def depends_on_thread(question: str) -> bool:
    """Whether the question leans on what came before: no entity of its own, an opening such as "et" or
    "what about", a pronoun standing alone, or two words at most."""
    words = _WORD.findall(question)
    return (
        not read_slots(question).entities
        or bool(_OPENINGS.match(question.strip()))
        or any(word.casefold() in _PRONOUNS for word in words)
        or len(words) <= 2
    )


def standalone_question(
    question: str,
    turns: Sequence[Turn],
    language: LanguageCode,
    generator: Generator | None,
    *,
    cancel: threading.Event | None = None,
) -> str:
    """The question to search and answer in `language`: `question` itself unless it is a follow-up of `turns`."""
    if not turns or not depends_on_thread(question):
        return question
    if generator is None:
        return carry_question(question, turns)
    try:
        pieces = generator.stream(rewrite_messages(question, turns), max_tokens=_REWRITE_TOKENS,
                                  stop=("\n",), cancel=cancel)
        rewrite = _clean("".join(pieces))
    except GenerationError as error:
        log.warning("follow-up rewrite failed (%s); carrying the earlier question instead", error)
        return carry_question(question, turns)
    if keeps_thread(rewrite, question, turns) and not is_other_language(rewrite, language):
        return rewrite
    # Searched as asked, the follow-up would find nothing; the deterministic rewrite still keeps the thread.
    # A rewrite in the other language would be answered in it ("And what about Oracle?" rewritten in French).
    log.info("follow-up rewrite %r failed its check; carrying the earlier question instead", rewrite)
    return carry_question(question, turns)


def rewrite_messages(question: str, turns: Sequence[Turn]) -> list[Message]:
    """The rewrite prompt: the rules, two examples, then the last turns (answers shortened, markers
    removed) and the follow-up."""
    lines = []
    for turn in turns[-PROMPT_TURNS:]:
        answer = CITATION_MARKER.sub("", turn.answer).strip()
        if len(answer) > _ANSWER_CHARS:
            answer = answer[:_ANSWER_CHARS].rsplit(" ", 1)[0] + "…"
        lines += [f"Question: {turn.question}", f"Answer: {answer}"]
    messages: list[Message] = [{"role": "system", "content": _SYSTEM}]
    for shown, rewritten in _EXAMPLES:
        messages += [{"role": "user", "content": shown}, {"role": "assistant", "content": rewritten}]
    user = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}"
    return [*messages, {"role": "user", "content": user}]


def keeps_thread(rewrite: str, question: str, turns: Sequence[Turn]) -> bool:
    """A rewrite is kept when it is not the question repeated, names every entity of the question, and,
    for a question that names none, at least one entity of the conversation (when it names any)."""
    if not any(char.isalnum() for char in rewrite) or len(rewrite) > 2 * len(question) + 300:
        return False
    if fold(rewrite) == fold(question):
        return False  # repeated as asked: the model did not rewrite it
    own = read_slots(question).entities
    if own:
        return all(mentions(entity, rewrite) for entity in own)
    thread = {fold(name) for turn in turns for name in names_in(f"{turn.question}\n{turn.answer}")}
    return not thread or any(mentions(entity, rewrite) for entity in thread)


def carry_question(question: str, turns: Sequence[Turn]) -> str:
    """The deterministic rewrite: the thread's anchor question, then the question."""
    return f"{anchor_question(turns)} {question}"


def thread_query(asked: str, question: str, turns: Sequence[Turn]) -> str:
    """What a follow-up searches: its standalone rewrite and the thread's anchor question.

    A rewrite keeps the entities but drops the thread's wording, and searched alone it drifts ("Sur
    combien d'années OpenAI paie-t-il AWS ?" finds "d'une année sur l'autre"): on the gold follow-ups the
    four evidence sentences hold the answer for 10 of 13 rewrites, 12 of 13 with the anchor added
    (`python bench/evidence.py --follow-ups`). A question that stands alone is searched as asked.
    """
    if asked == question or not turns:
        return asked
    anchor = anchor_question(turns)
    return asked if fold(anchor) in fold(asked) else f"{asked} {anchor}"


def anchor_question(turns: Sequence[Turn]) -> str:
    """The latest earlier question that stands alone (its entities and keywords carry the thread), or
    the previous question when none does."""
    anchor = next((turn.question for turn in reversed(turns) if not depends_on_thread(turn.question)), None)
    return anchor or turns[-1].question


def _clean(text: str) -> str:
    """The first line of the model's reply, without a label or quotes around it."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    return _LABEL.sub("", line).strip().strip("\"'“”«» ").strip()
