"""Agreement between outlets: figures read with their units and qualifiers, corroboration, conflicts."""

from __future__ import annotations

import pytest

from rag.agreement import annotate, consistent, cross_check, figures_of, is_copy
from rag.retrieval import Evidence
from rag.verification import recheck

CONTRACT = "OpenAI signe un contrat de {} milliards de dollars sur sept ans avec Amazon Web Services."
ANSWER = "Le contrat est de 38 milliards de dollars [1]."
QUESTION = "Quel est le montant du contrat entre OpenAI et AWS ?"


def snippet(doc_id: str, text: str, *, source: str | None = None, date: str | None = None) -> Evidence:
    return Evidence(doc_id, f"{doc_id} title", text, 0, len(text), 0.9, date=date, source=source)


def test_a_figure_is_read_with_its_unit_and_what_qualifies_it():
    (figure,) = figures_of("Amazon annonce un investissement de plus de 100 milliards de dollars dans le cloud en 2025")
    assert figure.phrase == "plus de 100 milliards de dollars"
    assert (figure.unit, figure.qualifier) == ("milliard dollar", "at_least")
    growth, revenue = figures_of("Avec une croissance de 20% et un chiffre d’affaires de 33,1 milliards de dollars")
    assert (growth.unit, revenue.phrase) == ("%", "33,1 milliards de dollars")
    assert figures_of("environ 14 000 postes")[0].qualifier == "about"


@pytest.mark.parametrize(
    ("first", "second", "agree", "why"),
    [
        ("plus de 100 milliards de dollars", "105,2 milliards de dollars", True, "qualifier"),
        ("3,8 gigawatts", "3,84 gigawatts", True, "rounding"),
        ("environ 14 000 postes", "14 500 postes", True, "qualifier"),
        ("38 milliards de dollars", "38 milliards de dollars", True, None),
        ("80-90 %", "80 %", True, None),
        ("de 2 à 3 milliards de dollars", "2,5 milliards de dollars", True, "qualifier"),
        ("38 milliards de dollars", "45 milliards de dollars", False, None),
        ("moins de 10 milliards de dollars", "12 milliards de dollars", False, None),
    ],
)
def test_values_that_differ_by_a_qualifier_or_rounding_agree_others_do_not(first, second, agree, why):
    verdict, reason = consistent(figures_of(first)[0], figures_of(second)[0])
    assert verdict is agree
    assert (reason.split(":")[0] if reason else None) == why


def test_copies_are_the_same_sentence_with_the_same_figures_in_another_article():
    original = snippet("a", CONTRACT.format(38))
    assert is_copy(original, snippet("b", CONTRACT.format(38)))
    assert not is_copy(original, snippet("b", CONTRACT.format(45)))
    assert not is_copy(original, snippet("a", CONTRACT.format(38)))  # the same article: no second outlet


def test_a_claim_cites_every_outlet_giving_its_figure_and_counts_them():
    announced = "Amazon a annoncé une enveloppe de 100 milliards de dollars pour l'IA en 2025."
    evidence = [snippet("a", announced, source="Écho")]
    pool = [
        *evidence,
        snippet("b", "Amazon va investir plus de 100 milliards de dollars dans l'IA en 2025.", source="Tech"),
        snippet("c", announced, source="Agence"),
        snippet("d", "Meta prévoit au moins 60 milliards de dollars d'investissements en 2025.", source="Autre"),
    ]
    checked = cross_check("Amazon prévoit 100 milliards de dollars [1].", evidence, pool, "fr")
    assert checked.text == "Amazon prévoit 100 milliards de dollars [1][2]."
    assert [item.doc_id for item in checked.evidence] == ["a", "b"]
    assert [copy.doc_id for copy in checked.evidence[0].also] == ["c"]  # the copy is reported on [1], not cited apart
    (claim,) = annotate(recheck(checked.text, checked.evidence, "").claims, checked.evidence, checked.conflicts)
    assert (claim.sources, claim.checks.agreement, claim.citations) == (3, "consistent", [1, 2])


@pytest.mark.parametrize(
    ("language", "opening"),
    [
        ("fr", "Les articles divergent : le plus récent, du 6 novembre 2025, donne 45 milliards de dollars [2] ; "
               "un article plus ancien, du 4 novembre 2025, donnait 38 milliards de dollars [1]."),
        ("en", "The articles disagree: the most recent, of 6 November 2025, gives 45 milliards de dollars [2]; "
               "an older one, of 4 November 2025, gave 38 milliards de dollars [1]."),
    ],
)
def test_a_conflict_is_said_newer_value_first_both_cited(language, opening):
    evidence = [snippet("a", CONTRACT.format(38), source="Journal", date="2025-11-04")]
    pool = [*evidence, snippet("b", CONTRACT.format(45), source="Hebdo", date="2025-11-06")]
    checked = cross_check(ANSWER, evidence, pool, language)
    assert checked.text.startswith(opening)
    assert checked.text.endswith(ANSWER)
    claims = annotate(recheck(checked.text, checked.evidence, QUESTION).claims, checked.evidence, checked.conflicts)
    assert [claim.checks.agreement for claim in claims] == ["conflict", "conflict"]
    assert claims[1].checks.agreement_reason == "38 milliards de dollars / 45 milliards de dollars"


def test_undated_articles_that_disagree_are_said_one_and_the_other():
    evidence = [snippet("a", CONTRACT.format(38))]
    pool = [*evidence, snippet("b", CONTRACT.format(45))]
    checked = cross_check(ANSWER, evidence, pool, "fr")
    assert checked.text.startswith(
        "Les articles divergent : l'un donne 38 milliards de dollars [1], l'autre 45 milliards de dollars [2]."
    )


@pytest.mark.parametrize(
    "other",
    [
        "OpenAI et Oracle annoncent un contrat de 300 milliards de dollars pour des centres.",  # another deal
        "OpenAI a signé en 2024 un contrat de 10 milliards de dollars sur sept ans avec Amazon Web Services.",  # year
        "OpenAI signe un contrat de plus de 30 milliards de dollars sur sept ans avec Amazon Web Services.",  # fits
        "OpenAI signe un contrat de 38 milliards de dollars sur sept ans avec AWS, et de 300 milliards avec Oracle.",
    ],
)
def test_other_deals_other_years_and_consistent_values_are_no_conflict(other):
    dated = "OpenAI signe en 2025 un contrat de 38 milliards de dollars sur sept ans avec Amazon Web Services."
    evidence = [snippet("a", dated)]
    checked = cross_check(ANSWER, evidence, [*evidence, snippet("b", other)], "fr")
    assert checked.conflicts == []
    assert not checked.text.startswith("Les articles divergent")


def test_a_single_outlet_claim_is_not_corroborated():
    evidence = [snippet("a", CONTRACT.format(38), source="Journal")]
    checked = cross_check(ANSWER, evidence, evidence, "fr")
    (claim,) = annotate(recheck(checked.text, checked.evidence, QUESTION).claims, checked.evidence, checked.conflicts)
    assert (claim.sources, claim.checks.agreement) == (1, "n/a")
