"""Relative days end to end: a real HTTP server over the dated fixture articles (tests/fixtures/news, feeds,
exports). tests/fixtures/news/amazon-100-milliards-cloud-ia-2025.html, published on Friday 7 February 2025,
says Andy Jassy spoke "jeudi": an answer repeating it says which Thursday.

The scripted model pins what the model writes, so the system's part is checked exactly; the `llm` test
asks the real local model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import pytest
from doubles import ScriptedGenerator
from servers import ask_verbatim, copy_index, local_model_server, scripted_app

QUESTION_FR = "Quel jour Andy Jassy a-t-il indiqué les dépenses en capitaux du quatrième trimestre 2024 ?"
QUESTION_EN = "On which day did Andy Jassy give the capital expenditure of the fourth quarter of 2024?"
THURSDAY = "a indiqué jeudi lors d’une conférence téléphonique"  # the snippet's words


@pytest.fixture(scope="module")
def scripted(dated_index_dir, tmp_path_factory, embedder) -> Iterator[tuple[str, ScriptedGenerator]]:
    """The real app over a copy of the dated index, answering with a scripted model."""
    yield from scripted_app(copy_index(dated_index_dir, tmp_path_factory.mktemp("dated") / "index"), embedder)


def citing_thursday(reply: str):
    """A reply citing, as [n], whichever excerpt of the prompt holds Andy Jassy's Thursday."""
    def write(messages: Sequence[Mapping[str, str]]) -> str:
        (number,) = re.findall(rf"^\[(\d+)\] [^\n]*{THURSDAY}", messages[-1]["content"], re.MULTILINE)
        return reply.replace("[n]", f"[{number}]")

    return write


@pytest.mark.parametrize(
    ("question", "reply", "dated"),
    [
        (QUESTION_FR, "Andy Jassy a indiqué jeudi les dépenses en capitaux du quatrième trimestre 2024, "
                      "26,3 milliards de dollars [n].", "a indiqué jeudi (6 février 2025) les dépenses"),
        (QUESTION_EN, "Andy Jassy said on Thursday that capital expenditure in the fourth quarter of 2024 "
                      "was 26.3 billion dollars [n].", "said on Thursday (6 February 2025) that"),
    ],
)
def test_the_answer_and_its_claim_say_which_thursday_the_article_meant(scripted, question, reply, dated):
    url, generator = scripted
    generator.enqueue(citing_thursday(reply))
    body = ask_verbatim(url, question)
    assert not body["abstained"], body
    (thursday,) = [citation for citation in body["citations"] if THURSDAY in citation["snippet"]]
    assert thursday["date"] == "2025-02-07"
    answer = body["answer"]
    assert dated in answer, answer
    (claim,) = body["claims"]
    assert dated in claim["text"] and thursday["id"] in claim["citations"]
    # The markers stay at the end of the sentence, the claim is still that sentence less its markers.
    assert [int(n) for n in re.findall(r"\[(\d+)\]", answer)] == claim["citations"], answer
    assert re.sub(r"(?: ?\[\d+\])+\.$", "", answer).endswith(claim["text"].rstrip(".")), (answer, claim)
    assert claim["checks"]["figures"] == "supported"  # the added year and day are no figures
    assert claim["checks"]["period"] == "matches"

def test_a_day_no_cited_snippet_says_is_left_as_the_model_wrote_it(scripted):
    url, generator = scripted
    generator.enqueue(citing_thursday("Andy Jassy a donné mardi 26,3 milliards de dollars de dépenses en capitaux "
                                      "pour le quatrième trimestre 2024 [n]."))
    body = ask_verbatim(url, QUESTION_FR)
    assert "mardi 26,3" in body["answer"] and "(" not in body["answer"], body["answer"]


@pytest.fixture(scope="module")
def local(dated_index_dir, tmp_path_factory, embedder) -> Iterator[str]:
    index_dir = copy_index(dated_index_dir, tmp_path_factory.mktemp("dated-llm") / "index")
    with local_model_server(index_dir, embedder) as server:
        yield server.url


@pytest.mark.llm
def test_the_local_model_answer_says_which_thursday(local):
    # Asked "Quand …" or in English, the 1.5B model answers NOT_FOUND: "Quel jour …" makes it say "jeudi".
    body = ask_verbatim(local, QUESTION_FR)
    assert not body["abstained"], body
    assert "6 février 2025" in body["answer"], body["answer"]
    assert any("6 février 2025" in claim["text"] for claim in body["claims"])
