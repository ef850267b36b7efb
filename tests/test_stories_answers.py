"""Several outlets, one story, end to end: a real HTTP server over the stories corpus (tests/fixtures/stories:
the seeds as several outlets published them, rewrites, and variants with a figure changed).

The scripted model pins what the model writes, so the system's part is checked exactly: copies collapse
into one source, a claim cites every outlet giving its figure, and a conflict is said with both values.
The `llm` tests ask the real local model.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from doubles import ScriptedGenerator
from servers import ThreadServer, ask_verbatim, copy_index, local_model_server, scripted_app

from rag.config import Settings
from rag.service import open_service

CONTRACT_FR = "Quel est le montant du contrat entre OpenAI et AWS ?"
CONTRACT_EN = "How much is the contract between OpenAI and AWS worth?"
NEWER, OLDER = "openai-aws-cloud-hebdo", {"openai-aws-fil-eco", "openai-aws-journal-cloud"}


@pytest.fixture(scope="module")
def scripted(stories_index_dir, tmp_path_factory, embedder) -> Iterator[tuple[str, ScriptedGenerator]]:
    """The real app over a copy of the stories index, answering with a scripted model."""
    yield from scripted_app(copy_index(stories_index_dir, tmp_path_factory.mktemp("stories") / "index"), embedder)


def cited(body: dict, ids: list[int]) -> set[str]:
    return {citation["doc_id"] for citation in body["citations"] if citation["id"] in ids}


@pytest.mark.parametrize(
    ("question", "reply", "opening", "values"),
    [
        (CONTRACT_FR, "Le contrat entre OpenAI et AWS est de 38 milliards de dollars.",
         "Les articles divergent : le plus récent, du 6 novembre 2025, donne 45 milliards",
         ("45 milliards de dollars [1]", "38 milliards de dollars [2]")),
        (CONTRACT_EN, "The contract between OpenAI and AWS is worth 38 billion dollars.",
         "The articles disagree: the most recent, of 6 November 2025, gives 45 billion",
         ("45 billion dollars [1]", "38 billion dollars [2]")),
    ],
)
def test_a_conflict_between_outlets_is_said_with_both_values_newer_first(scripted, question, reply, opening, values):
    url, generator = scripted
    generator.enqueue(reply)
    body = ask_verbatim(url, question)
    assert body["answer"].startswith(opening), body["answer"]
    assert all(value in body["answer"] for value in values), body["answer"]
    divergence, stated = body["claims"][0], body["claims"][1]
    assert cited(body, [1]) == {NEWER} and cited(body, [2]) <= OLDER
    assert divergence["checks"]["agreement"] == stated["checks"]["agreement"] == "conflict"
    assert divergence["checks"]["figures"] == "supported"  # its days are dates, not figures
    assert divergence["checks"]["agreement_reason"] == "38 milliards de dollars / 45 milliards de dollars"


def test_a_claim_cites_every_outlet_that_gives_its_figure(scripted):
    url, generator = scripted
    generator.enqueue("Amazon prévoit d'investir 100 milliards de dollars dans l'IA et le cloud en 2025.")
    body = ask_verbatim(url, "Combien Amazon prévoit-il d'investir dans l'IA et le cloud en 2025 ?")
    (claim,) = body["claims"]
    outlets = {citation["source"] for citation in body["citations"]} | {
        copy["source"] for citation in body["citations"] for copy in citation["also_reported_by"]
    }
    assert outlets == {"Tech Quotidien", "L'Écho des Réseaux", "Agence Éco"}
    assert claim["sources"] == 3 and claim["checks"]["agreement"] == "consistent"
    assert len(claim["citations"]) == 2 and "divergent" not in body["answer"]


def test_the_same_sentence_in_two_outlets_is_one_source_also_reported_by_the_other(scripted):
    url, generator = scripted
    generator.enqueue("Amazon a ajouté plus de 3,8 gigawatts de capacité en un an.")
    body = ask_verbatim(url, "Quelle capacité Amazon a-t-il ajoutée en un an ?")
    (citation,) = body["citations"]
    (copy,) = citation["also_reported_by"]
    assert {citation["doc_id"], copy["doc_id"]} == {"aws-croissance-les-affaires", "aws-croissance-datacenter-mag"}
    assert copy["snippet"] == citation["snippet"]
    assert body["claims"][0]["sources"] == 2
    snippets = [passage["snippet"] for passage in body["citations"] + body["related"]]
    assert len(snippets) == len(set(snippets))


@pytest.fixture(scope="module")
def local(stories_index_dir, tmp_path_factory, embedder) -> Iterator[str]:
    index_dir = copy_index(stories_index_dir, tmp_path_factory.mktemp("stories-llm") / "index")
    with local_model_server(index_dir, embedder) as server:
        yield server.url


@pytest.mark.llm
@pytest.mark.parametrize(
    ("question", "words", "newer"),
    [
        (CONTRACT_FR, ("45 milliards", "38 milliards", "divergent"), NEWER),
        # In English the model states the Oracle contract instead (eval: en-302, a wrong figure of #9).
        ("What revenue did AWS make over nine months?", ("36.4 billion", "33.1 billion", "disagree"),
         "aws-croissance-datacenter-mag"),
    ],
)
def test_the_local_model_answer_says_the_outlets_disagree(local, question, words, newer):
    body = ask_verbatim(local, question)
    assert not body["abstained"], body
    assert all(word in body["answer"] for word in words), body["answer"]
    assert any(claim["checks"]["agreement"] == "conflict" for claim in body["claims"])
    assert body["citations"][0]["doc_id"] == newer  # the newer value is said, and cited, first



def test_openai_clients_read_which_outlets_also_report_a_source(scripted):
    from openai import OpenAI

    url, generator = scripted
    generator.enqueue("Amazon a ajouté plus de 3,8 gigawatts de capacité en un an.")
    with OpenAI(base_url=f"{url}/v1", api_key="no-key", max_retries=0, timeout=120) as client:
        completion = client.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "Quelle capacité Amazon a-t-il ajoutée en un an ?"}]
        )
    content = completion.choices[0].message.content or ""
    (line,) = content.partition("\n\nSources:\n")[2].split("\n")
    assert line.endswith(("(aussi publié par Les Affaires)", "(aussi publié par Datacenter Mag)")), line
    (citation,) = completion.model_extra["citations"]
    assert citation["also_reported_by"][0]["source"] in {"Les Affaires", "Datacenter Mag"}


def test_the_extractive_answer_says_the_outlets_disagree_too(stories_index_dir, tmp_path, embedder):
    index_dir = copy_index(stories_index_dir, tmp_path / "index")
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=None)
    with ThreadServer(open_service(settings, embedder=embedder)) as server:
        body = ask_verbatim(server.url, "Quel chiffre d'affaires AWS a-t-il réalisé sur neuf mois ?")
    assert body["answer"].startswith(
        "Les articles divergent : le plus récent, du 2 novembre 2025, donne 36,4 milliards de dollars"
    ), body["answer"]
    assert "D'après les articles : « " in body["answer"]
    assert {citation["doc_id"] for citation in body["citations"]} == {
        "aws-croissance-datacenter-mag", "aws-croissance-les-affaires"
    }
    assert body["claims"][0]["checks"]["agreement"] == "conflict"
