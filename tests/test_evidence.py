"""Evidence selection: which sentences of the hits the answer prompt gets, and in what order."""

from __future__ import annotations

import pytest

from rag.evidence import distinct_hits, names_the_subject, select_evidence
from rag.retrieval import Evidence, Hit


def sentence(doc_id: str, start: int, score: float) -> Evidence:
    text = f"{doc_id} sentence at {start}"
    return Evidence(doc_id, "title", text, start, start + len(text), score)


def hit(doc_id: str, score: float, *sentences: Evidence) -> Hit:
    return Hit(f"{doc_id}-chunk", doc_id, "title", "chunk", 0, 100, score, 0.8, None, sentences)


def test_without_a_chunk_weight_sentences_rank_by_their_cosine():
    strong = hit("a", 1.0, sentence("a", 0, 0.84))
    weak = hit("b", 0.4, sentence("b", 0, 0.85))
    assert [item.doc_id for item in select_evidence([strong, weak], 2, chunk_weight=0.0)] == ["b", "a"]


def test_a_chunk_weight_lifts_the_sentences_of_the_best_passage():
    strong = hit("a", 1.0, sentence("a", 0, 0.84))
    weak = hit("b", 0.4, sentence("b", 0, 0.85))
    assert [item.doc_id for item in select_evidence([strong, weak], 2, chunk_weight=0.2)] == ["a", "b"]
    far_closer = hit("c", 0.4, sentence("c", 0, 0.84 + 0.2))
    assert select_evidence([strong, far_closer], 1, chunk_weight=0.2)[0].doc_id == "c"


def test_a_sentence_shared_by_overlapping_chunks_is_given_once_and_the_limit_holds():
    shared = sentence("a", 40, 0.86)
    first = hit("a", 1.0, sentence("a", 0, 0.80), shared)
    second = hit("a", 0.9, shared, sentence("a", 90, 0.81))
    chosen = select_evidence([first, second], 5, chunk_weight=0.0)
    assert [item.start for item in chosen] == [40, 90, 0]
    assert [item.start for item in select_evidence([first, second], 2, chunk_weight=0.0)] == [40, 90]


def test_for_a_question_asking_for_a_figure_a_sentence_writing_none_ranks_lower():
    wordy = said("a", "Le géant technologique a perdu son statut de fournisseur exclusif.", 0.88)
    figure = said("a", "L'éditeur de ChatGPT a subi des pertes de 12 milliards de dollars.", 0.86)
    passage = hit("a", 1.0, wordy, figure)
    asked = select_evidence([passage], 1, question="Combien OpenAI a-t-il perdu au dernier trimestre ?")
    assert asked[0] is figure
    unpenalised = select_evidence([passage], 1, question="Combien OpenAI a-t-il perdu ?", figureless_penalty=0.0)
    assert unpenalised[0] is wordy
    assert select_evidence([passage], 1, question="Quel statut Microsoft a-t-il perdu ?")[0] is wordy
    share = said("a", "Le cloud a dégagé près de la moitié du bénéfice du groupe.", 0.88)
    in_words = select_evidence([hit("a", 1.0, share, figure)], 1, question="Combien le cloud rapporte-t-il ?")
    assert in_words[0] is share  # a share said in words is a figure


def test_no_hits_no_evidence():
    assert select_evidence([], 4) == []


def said(doc_id: str, text: str, score: float, source: str | None = None) -> Evidence:
    return Evidence(doc_id, "title", text, 0, len(text), score, source=source)


def test_the_same_sentence_in_other_articles_is_one_source_that_they_also_report():
    wire = "OpenAI signe un contrat de 38 milliards de dollars sur sept ans avec Amazon Web Services."
    original = hit("a", 1.0, said("a", wire, 0.90, "Le Fil"), said("a", "Une autre phrase sur le cloud et l'IA.", 0.81))
    copy = hit("b", 0.9, said("b", wire, 0.89, "Cloud Hebdo"))
    other = hit("c", 0.8, said("c", "Amazon investit 100 milliards de dollars dans ses centres de données.", 0.85))
    chosen = select_evidence([original, copy, other], 2)
    assert [item.doc_id for item in chosen] == ["a", "c"]  # the copy takes no slot of its own
    assert [item.doc_id for item in chosen[0].also] == ["b"]


def test_a_copy_with_another_figure_is_no_copy_it_is_another_claim():
    original = hit("a", 1.0, said("a", "OpenAI signe un contrat de 38 milliards de dollars sur sept ans.", 0.90))
    variant = hit("b", 0.9, said("b", "OpenAI signe un contrat de 45 milliards de dollars sur sept ans.", 0.89))
    chosen = select_evidence([original, variant], 2)
    assert [item.doc_id for item in chosen] == ["a", "b"]
    assert chosen[0].also == ()


def test_copies_left_out_of_the_hits_still_count_as_also_reported_by():
    wire = "Amazon affirme avoir ajouté plus de 3,8 gigawatts de capacité en un an."
    kept = hit("a", 1.0, said("a", wire, 0.90, "Les Affaires"))
    dropped = hit("b", 0.9, said("b", wire, 0.90, "Datacenter Mag"), said("b", wire, 0.90, "Datacenter Mag"))
    (chosen,) = select_evidence([kept], 5, copies=[dropped])
    assert [copy.doc_id for copy in chosen.also] == ["b"]  # once, though two of its chunks carry it


def test_copies_of_a_better_passage_leave_room_for_other_passages():
    wire = "OpenAI signe un contrat de 38 milliards de dollars sur sept ans avec Amazon Web Services."
    variant = "OpenAI signe un contrat de 45 milliards de dollars sur sept ans avec Amazon Web Services."

    def passage(doc_id: str, text: str, score: float) -> Hit:
        return Hit(f"{doc_id}-chunk", doc_id, "title", text, 0, len(text), score, 0.8, None, (said(doc_id, text, 0.9),))

    hits = [passage("a", wire, 1.0), passage("b", wire, 0.9), passage("c", variant, 0.8)]
    assert [item.doc_id for item in distinct_hits(hits, 2)] == ["a", "c"]  # another figure is no copy


@pytest.mark.parametrize(
    ("question", "article", "named"),
    [
        ("Combien Amazon investit-il en 2025 ?", "Amazon va dépenser 100 milliards.", True),
        ("Quand Napoléon est-il né ?", "La Révolution française commence en 1789.", False),
        ("How much does Alibaba Cloud spend?", "Amazon Web Services and Google Cloud grew.", False),
        ("Qui dirige la communauté de New Harmony ?", "New York est une ville.", False),
        ("What did Amazon Web Services announce?", "Amazon a annoncé ses services.", True),
        ("How much does Alibaba spend?", "Amazon Web Services and Google Cloud grew.", False),
        ("Après quelles paraboles la parabole du GFils prodigue apparaît-elle ?", "La parabole du Fils prodigue", True),
        ("Quels points de vente compte le classement Nielson Bookscan ?", "Nielsen BookScan compte", True),
        ("Les DOM-TOM sont-ils soumis au droit européen ?", "Les DOM sont des régions", True),
        ("Combien de postes seront supprimés ?", "Une phrase sans nom.", True),  # names nothing: no check
    ],
)
def test_a_question_is_about_an_article_only_if_the_article_names_what_it_names(question, article, named):
    assert names_the_subject(question, [article]) is named
