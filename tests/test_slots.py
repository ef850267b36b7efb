"""Slot checks: the question's entities and periods read in French and English, and compared with citations."""

from __future__ import annotations

import pytest

from rag.answer_types import Claim, ClaimChecks
from rag.retrieval import Evidence
from rag.slots import (
    about_another_measure,
    about_another_subject,
    asks_for_figure,
    entity_check,
    measures_in,
    period_check,
    read_slots,
    subject_of,
)
from rag.verification import check_claims, check_quotes, figures_of_another_period, has_mismatch, verify


@pytest.mark.parametrize(
    ("question", "entities", "years", "quarters"),
    [
        ("What operating income did AWS report for the second quarter of 2025?", {"aws"}, {"2025"}, {2}),
        ("Quel chiffre d'affaires Amazon a-t-il publié pour le deuxième trimestre 2025 ?", {"amazon"}, {"2025"}, {2}),
        ("Compare Amazon's capital expenditure in Q4 2024 with that in Q2 2025.", {"amazon"}, {"2024", "2025"}, {2, 4}),
        ("What full-year figure does Amazon's fourth-quarter 2024 spending imply?", {"amazon"}, {"2024"}, {4}),
        ("Combien les dépenses au T4 2024 ont-elles atteint ?", set(), {"2024"}, {4}),
        ("How much is OpenAI paying AWS, and for how long?", {"openai", "aws"}, set(), set()),
        ("What was Google Cloud's operating margin in 2024?", {"google cloud"}, {"2024"}, set()),
        ("D'ici quand le partenariat entre OpenAI et AWS est-il prévu ?", {"openai", "aws"}, set(), set()),
        ("Which low-cost Chinese newcomer shook up the generative AI race?", set(), set(), set()),
        ("DeepSeek a-t-il dépensé moins que prévu ?", {"deepseek"}, set(), set()),
    ],
)
def test_slots_are_read_from_french_and_english_questions(question, entities, years, quarters):
    slots = read_slots(question)
    assert (set(slots.entities), set(slots.years), set(slots.quarters)) == (entities, years, quarters)


def test_a_cited_sentence_about_another_quarter_is_a_period_mismatch():
    slots = read_slots("What operating income did AWS report for the second quarter of 2025?")
    other = "AWS a dégagé un bénéfice d'exploitation de 10,6 milliards de dollars au quatrième trimestre 2024."
    same = "Au deuxième trimestre 2025, AWS a réalisé 30,9 milliards de dollars de chiffre d'affaires."
    assert period_check(slots, [other]) == "mismatch"
    assert period_check(slots, [same]) == "matches"
    assert period_check(slots, ["AWS reste le numéro un du cloud."]) == "n/a"


def test_an_entity_is_named_by_its_words_or_its_acronym():
    slots = read_slots("Combien d'employés compte AWS ?")
    assert entity_check(slots, ["Amazon Web Services emploie des milliers d'ingénieurs."]) == "matches"
    assert entity_check(slots, ["Amazon supprime 14 000 emplois."]) == "mismatch"
    assert entity_check(read_slots("Quel est le rôle du cloud ?"), ["Amazon supprime 14 000 emplois."]) == "n/a"


def _evidence(text: str, title: str = "Un article") -> Evidence:
    return Evidence("doc", title, text, 0, len(text), 0.9)


def test_an_answer_citing_another_entity_ships_with_its_claim_flagged():
    question = "Quel est le bénéfice net de NVIDIA en 2024 ?"
    evidence = [_evidence("Il s'agit d'une hausse par rapport aux 78 milliards de dollars de 2024.")]
    verdict = verify("Le bénéfice net de NVIDIA en 2024 est de 78 milliards de dollars [1].", evidence, "fr", question)
    # Measured on the gold set, retrying on a mismatch made the model refuse answerable questions: the
    # check is shown to the reader, not enforced (see eval/README.md).
    assert verdict.problem is None and has_mismatch(verdict.claims)
    (claim,) = verdict.claims
    assert claim.citations == [1]
    assert (claim.checks.figures, claim.checks.entity, claim.checks.period) == ("supported", "mismatch", "matches")


def test_an_article_title_may_name_the_entity_a_snippet_calls_the_company():
    question = "Combien Amazon prévoit-il d'investir en 2025 ?"
    evidence = [_evidence("L'entreprise investira plus de 100 milliards de dollars en 2025.", "Amazon et le cloud")]
    claims = check_claims("Plus de 100 milliards de dollars en 2025 [1].", evidence, question)
    assert [claim.checks.entity for claim in claims] == ["matches"] and not has_mismatch(claims)


def test_claims_are_the_cited_sentences_with_their_own_citations():
    question = "How much is OpenAI paying AWS, and for how long?"
    evidence = [_evidence("OpenAI paiera 38 milliards de dollars à AWS."), _evidence("Le contrat court sur sept ans.")]
    claims = check_claims("OpenAI pays AWS 38 billion dollars [1]. The deal runs seven years [2]. Good.", evidence,
                          question)
    assert [(claim.text, claim.citations) for claim in claims] == [
        ("OpenAI pays AWS 38 billion dollars.", [1]),
        ("The deal runs seven years.", [2]),
    ]
    assert [claim.checks.figures for claim in claims] == ["supported", "none"]
    assert claims[1].checks.entity == "mismatch"  # the second excerpt names neither company


def test_quotes_are_claims_checked_like_answers():
    quotes = [_evidence("AWS a dégagé 10,6 milliards au quatrième trimestre 2024.")]
    (claim,) = check_quotes(quotes, "What operating income did AWS report for the second quarter of 2025?")
    assert claim.citations == [1] and claim.checks.period == "mismatch" and claim.checks.figures == "supported"


def test_a_claim_is_checked_against_the_period_its_article_gave_earlier():
    context = "Les dépenses en capitaux du quatrième trimestre 2024 ont atteint 26,3 milliards de dollars."
    growth = Evidence("doc", "AWS", "Les revenus d'AWS ont cru de 19%.", 0, 33, 0.9, period_context=context)
    (asked_q2,) = check_claims("Les revenus d'AWS ont cru de 19% [1].", [growth], "Et au deuxième trimestre 2025 ?")
    assert asked_q2.checks.period == "mismatch"
    (asked_q4,) = check_claims("Les revenus d'AWS ont cru de 19% [1].", [growth], "Au quatrième trimestre 2024 ?")
    assert asked_q4.checks.period == "matches"


CAPEX_Q4 = "Lors des résultats du quatrième trimestre 2024, Jassy a révélé des dépenses de 26,3 milliards de dollars."
CAPEX_Q2 = "Les dépenses en capital d'Amazon, totalisant 31,4 milliards de dollars au T2, visent l'IA."
BOTH_QUARTERS = "Compare Amazon's capital expenditure in Q4 2024 with that in Q2 2025."


@pytest.mark.parametrize(
    ("answer", "period"),
    [
        ("In Q4 2024, Amazon's capex was 31.4 billion dollars [2], against 26.3 billion in Q2 2025 [1].", "mismatch"),
        ("Amazon's capex in Q4 2024 was 31.4 billion dollars [2].", "mismatch"),
        ("Amazon's capex was 26.3 billion in Q4 2024 and 31.4 billion in Q2 2025 [1][2].", "matches"),
        ("In Q4 2024, capex was 26.3 billion dollars [1], and in Q2 2025 31.4 billion [2].", "matches"),
    ],
)
def test_a_figure_said_of_one_period_from_a_sentence_about_another_is_a_period_mismatch(answer, period):
    evidence = [Evidence(doc, "t", text, 0, len(text), 0.9) for doc, text in (("a", CAPEX_Q4), ("b", CAPEX_Q2))]
    claims = check_claims(answer, evidence, BOTH_QUARTERS)
    assert ("mismatch" if any(claim.checks.period == "mismatch" for claim in claims) else "matches") == period


def test_an_answer_whose_figures_all_come_from_another_period_is_flagged():
    def claim(figures: str, period: str) -> Claim:
        return Claim("text", [1], ClaimChecks(figures, "matches", period))  # type: ignore[arg-type]

    assert figures_of_another_period([claim("supported", "mismatch")])
    assert not figures_of_another_period([claim("supported", "mismatch"), claim("supported", "matches")])
    assert not figures_of_another_period([claim("none", "mismatch")])  # no figure taken from it
    assert not figures_of_another_period([claim("supported", "n/a")])
    assert not figures_of_another_period([])


@pytest.mark.parametrize(
    ("sentence", "subject"),
    [
        ("Meta a également annoncé 60 milliards de dollars d'investissements.", "meta"),
        ("Google prévoit de dépenser 75 milliards de dollars.", "google"),
        ("OpenAI paiera 38 milliards de dollars à AWS.", "openai"),
        ("Nvidia is worth more than 4 trillion dollars.", "nvidia"),
        ("Andy Jassy a déclaré que la croissance reprenait.", "andy jassy"),
        ("Malgré les rumeurs, la société maintient ses plans.", None),
        ("Selon Andy Jassy, la demande reste forte.", None),
        ("Il a annoncé 14 000 suppressions de postes.", None),
        ("Après Google et Microsoft, Amazon accélère.", None),
        ("Revenues grew 20% year over year.", None),
        ("Cette annonce intervient alors que l'éditeur de ChatGPT a subi des pertes.", None),
        ("Suite à la publication de son rapport, les actions d'Amazon ont chuté.", None),
        ("L'Union sportive de Tourcoing, qui voit le jour en 1902, est sacrée en 1910.", None),
    ],
)
def test_the_named_subject_a_sentence_opens_on_is_read(sentence, subject):
    assert subject_of(sentence) == subject


def test_a_sentence_opening_on_another_company_is_about_another_subject():
    amazon = read_slots("Combien Amazon prévoit-il d'investir en 2025 ?")
    assert about_another_subject(amazon, ["Meta a également annoncé 60 milliards de dollars en 2025."])
    assert not about_another_subject(amazon, ["Amazon prévoit plus de 100 milliards de dollars en 2025."])
    assert not about_another_subject(amazon, ["Meta et Amazon prévoient 160 milliards de dollars."])  # names it too
    assert not about_another_subject(amazon, ["L'entreprise investira 100 milliards de dollars."])  # no name
    assert not about_another_subject(amazon, ["Andy Jassy a annoncé 100 milliards de dollars."])  # a person
    nobody = read_slots("Combien l'entreprise investit-elle ?")
    assert not about_another_subject(nobody, ["Meta a annoncé 60 milliards."])
    brodeur = read_slots("Combien d'arrêts Martin Brodeur a-t-il effectué au cours de la finale ?")
    assert not about_another_subject(brodeur, ["Brodeur a réalisé 31 arrêts dans le match."])  # his last name


def test_an_answer_whose_figure_is_another_named_company_s_is_rejected_despite_the_title():
    question = "Combien Amazon prévoit-il d'investir en 2025 ?"
    meta = _evidence("Meta a également annoncé au moins 60 milliards de dollars d'investissements en 2025.", "Amazon")
    verdict = verify("Amazon prévoit d'investir 60 milliards de dollars en 2025 [1].", [meta], "fr", question)
    assert verdict.problem == "entity"
    (claim,) = verdict.claims
    assert claim.checks.entity == "mismatch"


def test_an_answer_citing_its_subject_beside_another_company_ships():
    question = "Combien Amazon prévoit-il d'investir en 2025 ?"
    evidence = [
        _evidence("Amazon prévoit plus de 100 milliards de dollars d'investissements en 2025."),
        _evidence("Meta a également annoncé au moins 60 milliards de dollars en 2025."),
    ]
    answer = "Amazon prévoit plus de 100 milliards de dollars en 2025 [1], Meta au moins 60 milliards [2]."
    assert verify(answer, evidence, "fr", question).problem is None


@pytest.mark.parametrize(
    ("text", "measures"),
    [
        ("Combien d'employés compte AWS ?", {"head count"}),
        ("What operating income did AWS report for the second quarter of 2025?", {"operating income"}),
        ("Quelle est la capitalisation boursière actuelle de NVIDIA ?", {"market value"}),
        ("Combien Amazon prévoit-il d'investir en 2025 ?", {"spending"}),
        ("Amazon va supprimer 14 000 postes.", {"job cuts"}),
        ("AWS a réalisé 30,9 milliards de dollars de chiffre d’affaires.", {"revenue"}),
        ("Les revenus d'AWS ont cru de 19 %, pour un bénéfice opérationnel de 10,6 milliards.",
         {"revenue", "operating income"}),
        ("Qui dirige le club depuis 1998 ?", set()),
    ],
)
def test_the_measures_a_text_names_are_read_in_both_languages(text, measures):
    assert set(measures_in(text)) == measures


def test_a_sentence_measuring_something_else_is_about_another_measure():
    head_count = read_slots("Combien d'employés compte AWS ?")
    assert about_another_measure(head_count, ["Amazon annonce la suppression de 14 000 postes."])
    assert not about_another_measure(head_count, ["AWS emploie 50 000 salariés, hors suppressions."])  # names it too
    assert not about_another_measure(head_count, ["AWS en compte 50 000."])  # names no measure: not judged
    assert not about_another_measure(read_slots("Qui dirige AWS ?"), ["Amazon supprime 14 000 postes."])


def test_an_answer_whose_figure_measures_something_else_is_rejected():
    question = "What operating income did AWS report for the second quarter of 2025?"
    revenue = _evidence("Au deuxième trimestre 2025, AWS a réalisé 30,9 milliards de dollars de chiffre d'affaires.")
    verdict = verify("AWS reported an operating income of 30.9 billion dollars [1].", [revenue], "en", question)
    assert verdict.problem == "measure"


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Combien OpenAI a-t-il perdu au dernier trimestre ?", True),
        ("How many employees does Amazon have?", True),
        ("Quel est le montant du contrat entre OpenAI et AWS ?", True),
        ("Quelle part du marché du cloud AWS détient-il ?", True),
        ("In what year did AWS last grow this fast?", True),
        ("Quels privilèges Microsoft a-t-il perdus vis-à-vis d'OpenAI ?", False),
        ("Who is OpenAI's CEO?", False),
        ("Quelle puce d'AMD gagne du terrain, et quelle part de marché pourrait-elle atteindre ?", False),  # a name too
        ("How much is OpenAI paying AWS, and for how long?", False),
        ("Combien Amazon investit-il, et pourquoi ?", False),
        ("Comment Andy Jassy qualifie-t-il la stratégie d'Amazon ?", False),
    ],
)
def test_a_question_asking_for_an_amount_a_count_or_a_year_asks_for_a_figure(question, asks):
    assert asks_for_figure(question) is asks
