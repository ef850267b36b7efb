"""The scoring normaliser: a fact counts however an answer spells it, and only then."""

from __future__ import annotations

import pytest

from rag.evaluation.normalize import fact_present, normalize, split_facts, strip_markers, token_f1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AWS Croît", "aws croit"),  # case and accents
        ("Société Générale", "societe generale"),
        ("l’IA d’Amazon", "ia amazon"),  # curly apostrophe, then elisions
        ("l'IA d'Amazon", "ia amazon"),
        ("qu’il", "il"),
        ("jusqu'à lundi", "a lundi"),
        ("« jamais vu »", "jamais vu"),  # guillemets are punctuation
        ("“quoted”, here!", "quoted here"),
        ("Nouvelle-Zélande", "nouvelle zelande"),
        ("14 000 emplois [2]", "14000 emplois"),  # markers dropped, number spelled once
        ("3,8 GW", "3.8 gw"),
        ("20%", "20 %"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_markers_are_not_figures() -> None:
    assert strip_markers("Il a 3 ans [1] [2, 3].").split() == ["Il", "a", "3", "ans", "."]
    assert not fact_present(["1"], "Amazon grandit [1].")


@pytest.mark.parametrize(
    ("forms", "text"),
    [
        (["3,8 gigawatts"], "plus de 3.8 gigawatts de capacité"),
        (["3.8 gigawatts"], "plus de 3,8 gigawatts de capacité"),
        (["14 000"], "cutting 14,000 jobs"),
        (["14,000"], "la suppression de 14 000 emplois"),
        (["14000"], "la suppression de 14\u202f000 emplois"),
        (["14 000"], "14000 jobs"),
        (["20%"], "une croissance de 20 % sur un an"),
        (["Nouvelle-Zélande"], "en nouvelle zelande"),
        (["l’IA"], "investir dans l'ia"),
        (["« jamais vu depuis 2022 »"], 'un rythme "jamais vu depuis 2022"'),
        (["38 milliards", "38 billion"], "a $38 billion deal"),  # scale words: by listing both forms
        (["38 milliards", "38 billion"], "un contrat de 38 milliards de dollars"),
    ],
)
def test_fact_present(forms: list[str], text: str) -> None:
    assert fact_present(forms, text)


@pytest.mark.parametrize(
    ("forms", "text"),
    [
        (["38 milliards"], "a $38 billion deal"),  # only the listed forms count
        (["3,8 gigawatts"], "3,9 gigawatts"),
        (["3"], "3,8 gigawatts"),  # part of a number is not the number
        (["14 000"], "140 000 emplois"),
        (["trois"], "troisième région"),  # whole words only
        (["20%"], "20 milliards"),
        (["Perplexity"], ""),
    ],
)
def test_fact_absent(forms: list[str], text: str) -> None:
    assert not fact_present(forms, text)


def test_split_facts_names_each_fact_by_its_first_form() -> None:
    facts = [["Perplexity"], ["Cursor"], ["trois", "three", "3"]]
    assert split_facts(facts, "Perplexity et 3 régions [1]") == (["Perplexity", "trois"], ["Cursor"])


def test_token_f1() -> None:
    assert token_f1("14 000 emplois", "14,000 emplois") == 1.0
    assert token_f1("la suppression de 14 000 emplois", "14 000 emplois") == pytest.approx(0.8)  # p 2/3, r 1
    assert token_f1("Perplexity", "Cursor") == 0.0
    assert token_f1("", "Cursor") == 0.0
