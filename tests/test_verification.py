"""Answer checks and number normalisation, on hand-made cases (no model)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rag.evidence import Evidence
from rag.textnorm import fold, number_values
from rag.verification import restates, verify

EVIDENCE = [
    Evidence("a", "t", "OpenAI signe un contrat de 38 milliards de dollars sur sept ans avec AWS.", 0, 75, 0.9),
    Evidence("b", "t", "Amazon annonce la suppression de 14 000 emplois.", 0, 48, 0.8),
    Evidence("c", "t", "La valorisation d'Amazon s'élève à 3,67 billions de dollars.", 0, 60, 0.8),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3,8 gigawatts", {Decimal("3.8")}),
        ("3.8 gigawatts", {Decimal("3.8")}),
        ("14 000 emplois", {Decimal("14000")}),
        ("14\u202f000 emplois", {Decimal("14000")}),
        ("14,000 jobs", {Decimal("14000"), Decimal("14")}),
        ("1,117,320,768 bytes", {Decimal("1117320768")}),
        ("2025", {Decimal("2025")}),
        ("deux ans après ChatGPT", {Decimal("2")}),
        ("Trois campus, seven years", {Decimal("3"), Decimal("7")}),
        ("une société, one of them", set()),
        ("les puces H100 et B200, Trainium2, au T2", set()),  # digits glued to letters name things
    ],
)
def test_number_values_read_both_conventions(text, expected):
    assert number_values(text) == expected


def test_fold_ignores_case_accents_apostrophes_and_quotes():
    assert fold("L’Économie  « forte »") == fold("l'economie \"forte\"")


def test_supported_answer_passes_and_keeps_markers():
    verdict = verify("OpenAI signed a 38 billion dollar deal with AWS [1].", EVIDENCE, "en")
    assert verdict.problem is None and verdict.cited == (1,)


def test_a_figure_read_inside_a_product_name_is_unsupported():
    hopper = [Evidence("a", "t", "Les architectures Hopper (H100) et Blackwell (B200) de NVIDIA dominent.", 0, 70, 0.9)]
    verdict = verify("La capitalisation de NVIDIA est de 100 milliards de dollars [1].", hopper, "fr")
    assert verdict.problem == "unsupported"


def test_markers_pointing_nowhere_are_dropped():
    verdict = verify("Amazon cut 14,000 jobs [2][7].", EVIDENCE, "en")
    assert verdict.text == "Amazon cut 14,000 jobs [2]." and verdict.cited == (2,)


def test_grouped_markers_are_split():
    verdict = verify("OpenAI paie 38 milliards [1, 2].", EVIDENCE, "fr")
    assert "[1][2]" in verdict.text and verdict.cited == (1, 2)


def test_invented_figure_is_unsupported():
    assert verify("OpenAI pays 40 billion dollars [1].", EVIDENCE, "en").problem == "unsupported"


def test_figure_from_no_excerpt_is_unsupported_even_with_a_marker():
    assert verify("Amazon cut 15,000 jobs [2].", EVIDENCE, "en").problem == "unsupported"


def test_trillion_trap_matches_by_value():
    assert verify("Amazon is valued at 3.67 trillion dollars [3].", EVIDENCE, "en").problem is None


def test_uncited_sentence_is_attributed_to_its_supporting_excerpt():
    verdict = verify("OpenAI is paying AWS $38 billion for seven years.", EVIDENCE, "en")
    assert verdict.problem is None and verdict.cited == (1,) and verdict.text.endswith("[1].")


def test_answer_in_the_wrong_language_is_flagged():
    verdict = verify("OpenAI a signé un contrat de 38 milliards de dollars avec AWS [1].", EVIDENCE, "en")
    assert verdict.problem == "language"


@pytest.mark.parametrize("text", ["NOT_FOUND", "The excerpts do not contain this information.", "Je ne sais pas.", ""])
def test_declines_are_recognised(text):
    assert verify(text, EVIDENCE, "en").declined


def test_uncited_unsupported_text_is_not_shipped():
    assert verify("Google Cloud had a 17% margin.", EVIDENCE, "en").problem == "unsupported"


def test_figure_cited_to_the_wrong_excerpt_gets_the_right_marker():
    verdict = verify("Amazon cut 14,000 jobs [1].", EVIDENCE, "en")
    assert verdict.problem is None and 2 in verdict.cited


def test_thousands_written_with_comma_and_space_are_read_as_one_number():
    assert verify("Amazon is cutting 14, 000 jobs [2].", EVIDENCE, "en").problem is None


def test_figures_restated_from_the_question_need_no_citation():
    verdict = verify("In 2025, OpenAI pays 38 billion [1].", EVIDENCE, "en", question="What does OpenAI pay in 2025?")
    assert verdict.problem is None


def test_an_echoed_question_is_not_an_answer():
    verdict = verify("La valorisation d'Amazon dépasse-t-elle 3 000 milliards de dollars [1] ?", EVIDENCE, "fr")
    assert verdict.problem == "unsupported"


@pytest.mark.parametrize(
    "written", ["OpenAI a perdu [1] milliards de dollars au dernier trimestre.", "AWS grew by [1] % [1]."]
)
def test_a_marker_written_where_the_figure_belongs_is_unsupported(written):
    assert verify(written, EVIDENCE, "fr").problem == "unsupported"


def test_an_answer_that_only_restates_the_question_is_sent_back():
    question = "Which company does Amazon keep pouring billions into even though it is OpenAI's main competitor?"
    echo = "Amazon keeps pouring billions into even though it is OpenAI's main competitor [1]."
    restated = verify(echo, EVIDENCE, "en", question)
    assert restated.problem == "restated"
    named = verify("Amazon keeps pouring billions into Anthropic [1].", EVIDENCE, "en", question)
    assert named.problem != "restated"


def test_an_answer_correcting_the_unit_of_the_question_is_no_restatement():
    question = "Trainium2 offre-t-il un rapport prix/performance 30 à 40 fois supérieur ?"
    assert not restates("Trainium2 offre un rapport prix/performance 30 à 40 % supérieur [1].", question)
    assert restates("Trainium2 offre un rapport prix/performance 30 à 40 fois supérieur [1].", question)


def test_a_figure_is_something_the_question_did_not_say():
    question = "How much is OpenAI's AWS contract worth?"
    assert verify("OpenAI's AWS contract is worth 38 billion dollars [1].", EVIDENCE, "en", question).problem is None


def test_a_figure_in_digits_is_supported_by_the_same_number_in_words():
    evidence = [Evidence("a", "t", "AWS a présenté ses modèles deux ans après la sortie de ChatGPT.", 0, 63, 0.9)]
    assert verify("AWS les a dévoilés 2 ans après ChatGPT [1].", evidence, "fr").problem is None


def test_a_marker_written_after_the_full_stop_belongs_to_the_sentence_before():
    evidence = [
        Evidence("a", "t", "OpenAI signe un contrat de 38 milliards de dollars sur sept ans.", 0, 64, 0.9),
        Evidence("b", "t", "Amazon investit 100 milliards de dollars.", 0, 41, 0.9),
    ]
    written = "Le contrat est de 38 milliards de dollars. [1] Amazon investit 100 milliards. [2]"
    verdict = verify(written, evidence, "fr")
    assert verdict.text == "Le contrat est de 38 milliards de dollars [1]. Amazon investit 100 milliards [2]."
    assert [claim.citations for claim in verdict.claims] == [[1], [2]]
