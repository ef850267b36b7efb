"""Relative days of the cited articles ("jeudi", "hier", "l'an dernier") made absolute in the answer, against
the cited article's publication day; left as written whenever that day, or the expression, is not in a cited snippet."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from rag.answer_types import CITATION_MARKER
from rag.relative_days import Mention, mentions, resolve, resolve_relative_days, without_resolved_dates
from rag.retrieval import Evidence
from rag.verification import check_claims

FRIDAY = "2025-02-07"  # the day tests/fixtures/news/amazon-100-milliards-cloud-ia-2025.html was published


def snippet(text: str, day: str | None = FRIDAY) -> Evidence:
    return Evidence("doc", "Titre", text, 0, len(text), 0.9, day)


@pytest.mark.parametrize(
    ("said", "answer", "language", "resolved"),
    [
        ("Andy Jassy a indiqué jeudi que…", "Andy Jassy a indiqué jeudi que 26,3 [1].", "fr",
         "Andy Jassy a indiqué jeudi (6 février 2025) que 26,3 [1]."),
        ("Andy Jassy a indiqué jeudi que…", "Andy Jassy said on Thursday that 26.3 [1].", "en",
         "Andy Jassy said on Thursday (6 February 2025) that 26.3 [1]."),
        ("Amazon a publié hier ses résultats.", "Amazon a publié hier ses résultats [1].", "fr",
         "Amazon a publié hier (6 février 2025) ses résultats [1]."),
        ("Amazon a publié hier ses résultats.", "Amazon published its results yesterday [1].", "en",
         "Amazon published its results yesterday (6 February 2025) [1]."),
        ("Amazon annonce aujourd'hui un plan.", "Amazon annonce aujourd’hui un plan [1].", "fr",
         "Amazon annonce aujourd’hui (7 février 2025) un plan [1]."),
        ("Amazon annonce aujourd’hui un plan.", "Amazon announces a plan today [1].", "en",
         "Amazon announces a plan today (7 February 2025) [1]."),
        ("Amazon a annoncé ce matin un plan.", "Amazon announced a plan this morning [1].", "en",
         "Amazon announced a plan this morning (7 February 2025) [1]."),
        ("Amazon publiera demain ses comptes.", "Amazon publiera demain ses comptes [1].", "fr",
         "Amazon publiera demain (8 février 2025) ses comptes [1]."),
        ("Amazon publiera demain ses comptes.", "Amazon will publish its accounts tomorrow [1].", "en",
         "Amazon will publish its accounts tomorrow (8 February 2025) [1]."),
        ("Amazon a investi 78 milliards l'an dernier.", "Amazon a investi 78 milliards l’an dernier [1].", "fr",
         "Amazon a investi 78 milliards l’an dernier (2024) [1]."),
        ("Amazon a investi 78 milliards l’année dernière.", "Amazon invested 78 billion last year [1].", "en",
         "Amazon invested 78 billion last year (2024) [1]."),
        ("Amazon investira 100 milliards cette année.", "Amazon investira 100 milliards cette année [1].", "fr",
         "Amazon investira 100 milliards cette année (2025) [1]."),
        ("Amazon investira 100 milliards cette année.", "Amazon will invest 100 billion this year [1].", "en",
         "Amazon will invest 100 billion this year (2025) [1]."),
        ("DeepSeek a lancé son modèle le mois dernier.", "DeepSeek a lancé son modèle le mois dernier [1].", "fr",
         "DeepSeek a lancé son modèle le mois dernier (janvier 2025) [1]."),
        ("DeepSeek a lancé son modèle le mois dernier.", "DeepSeek launched its model last month [1].", "en",
         "DeepSeek launched its model last month (January 2025) [1]."),
        ("Microsoft a déçu la semaine dernière.", "Microsoft a déçu la semaine dernière [1].", "fr",
         "Microsoft a déçu la semaine dernière (semaine du 27 janvier 2025) [1]."),
        ("Microsoft a déçu la semaine dernière.", "Microsoft disappointed last week [1].", "en",
         "Microsoft disappointed last week (week of 27 January 2025) [1]."),
    ],
)
def test_each_expression_is_dated_in_the_answers_language(said, answer, language, resolved):
    assert resolve_relative_days(answer, language, [snippet(said)]) == resolved


@pytest.mark.parametrize(
    ("published", "said", "day"),
    [
        ("2025-02-07", "jeudi", "2025-02-06"),  # the Friday article's Thursday: the day before
        ("2025-02-07", "vendredi", "2025-02-07"),  # its own weekday: the publication day itself
        ("2025-02-07", "samedi", "2025-02-01"),
        ("2025-02-07", "vendredi dernier", "2025-01-31"),  # "dernier": the week before, even on a Friday
        ("2025-02-07", "last Friday", "2025-01-31"),
        ("2025-03-03", "vendredi", "2025-02-28"),  # across a month
        ("2026-01-01", "mardi", "2025-12-30"),  # across a year
        ("2026-01-01", "hier", "2025-12-31"),
        ("2024-03-01", "hier", "2024-02-29"),  # a leap day
    ],
)
def test_days_are_counted_back_from_the_publication_day(published, said, day):
    (mention,) = mentions(f"Il l'a dit {said}.")
    when = resolve(mention, date.fromisoformat(published))
    assert (when.unit, when.start) == ("day", date.fromisoformat(day))


def test_a_weekday_is_the_latest_such_day_on_or_before_publication_for_every_day_of_a_year():
    """An oracle by counting: step back one day at a time until the weekday comes up."""
    names = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    for offset in range(366):
        published = date(2024, 1, 1) + timedelta(days=offset)
        for weekday, name in enumerate(names):
            for last in (False, True):
                expected = published - timedelta(days=1) if last else published
                while expected.weekday() != weekday:
                    expected -= timedelta(days=1)
                (mention,) = mentions(f"{name} dernier" if last else name)
                assert resolve(mention, published).start == expected, (published, name, last)


@pytest.mark.parametrize(
    ("published", "said", "spoken"),
    [
        ("2026-01-01", "le mois dernier", "(décembre 2025)"),
        ("2026-01-01", "l'an dernier", "(2025)"),
        ("2026-01-01", "la semaine dernière", "(semaine du 22 décembre 2025)"),
        ("2025-11-02", "samedi", "(1er novembre 2025)"),
        ("2025-03-31", "le mois dernier", "(février 2025)"),
    ],
)
def test_months_weeks_and_years_cross_their_boundaries(published, said, spoken):
    answer = f"Amazon l'a annoncé {said} [1]."
    assert resolve_relative_days(answer, "fr", [snippet(f"Amazon l'a annoncé {said}.", published)]) == (
        f"Amazon l'a annoncé {said} {spoken} [1]."
    )


@pytest.mark.parametrize("day", [None, "", "hier", "2025-02-30"])
def test_an_article_without_a_date_leaves_the_answer_as_written(day):
    answer = "Andy Jassy a indiqué jeudi les dépenses [1]."
    assert resolve_relative_days(answer, "fr", [snippet("Andy Jassy a indiqué jeudi que…", day)]) == answer


@pytest.mark.parametrize(
    ("answer", "sources"),
    [
        # The answer's Thursday is its own: no cited snippet says it.
        ("Andy Jassy a parlé jeudi [1].", ["Andy Jassy a parlé lors d'une conférence téléphonique."]),
        ("Andy Jassy spoke on Thursday [1].", ["Andy Jassy a parlé mercredi."]),
        # The sentence cites [2]; the Thursday is in [1], which another sentence cites.
        ("Amazon investit [1]. Andy Jassy a parlé jeudi [2].", ["Andy Jassy a parlé jeudi.", "Amazon investit."]),
        # Two cited articles, two different yesterdays: which one is meant is unknown.
        ("Amazon a publié hier ses résultats [1][2].", ["Amazon a publié hier.", "Amazon a publié hier."]),
        # A future or habitual day, another day, a figurative tomorrow.
        ("Amazon publiera jeudi prochain [1].", ["Amazon publiera jeudi prochain."]),
        ("Amazon reports next Thursday [1].", ["Amazon publiera jeudi prochain."]),
        ("Amazon publie chaque jeudi [1].", ["Amazon publie chaque jeudi."]),
        ("Amazon a publié avant-hier [1].", ["Amazon a publié avant-hier."]),
        ("L'IA de demain est chère [1].", ["L'IA de demain est chère."]),
        ("AWS grew over the last year [1].", ["AWS a crû l'an dernier."]),
    ],
)
def test_an_expression_no_cited_snippet_dates_is_left_as_written(answer, sources):
    days = [FRIDAY, "2025-02-10"]
    cited = [snippet(text, days[n]) for n, text in enumerate(sources)]
    assert resolve_relative_days(answer, "fr", cited) == answer


def test_a_sentence_citing_nothing_reads_every_cited_snippet():
    assert resolve_relative_days("Andy Jassy a parlé jeudi.", "fr", [snippet("Rien."), snippet("Il a parlé jeudi.")]) \
        == "Andy Jassy a parlé jeudi (6 février 2025)."


@pytest.mark.parametrize(
    ("said", "days", "resolved"),
    [
        # The cited article is undated, a copy of its sentence is dated: the copy dates it.
        ("hier", [None, FRIDAY], "hier (6 février 2025)"),
        # A copy republished the next Monday says "jeudi" of the same Thursday...
        ("jeudi", [FRIDAY, "2025-02-10"], "jeudi (6 février 2025)"),
        # ... but its "hier" is another day: which one the answer means is unknown.
        ("hier", [FRIDAY, "2025-02-10"], "hier"),
        ("hier", [None, None], "hier"),  # no version of the sentence is dated
    ],
)
def test_copies_of_a_cited_snippet_in_other_articles_date_it_too(said, days, resolved):
    """`also` holds the same sentence as other articles published it (evidence selection collapses them)."""
    text = f"Amazon a publié {said} ses résultats."
    first, *others = (snippet(text, day) for day in days)
    cited = replace(first, also=tuple(others))
    assert resolve_relative_days(f"Amazon a publié {said} ses résultats [1].", "fr", [cited]) == (
        f"Amazon a publié {resolved} ses résultats [1]."
    )


@pytest.mark.parametrize(
    ("answer", "language"),
    [
        ("Andy Jassy a indiqué jeudi 6 février les dépenses [1].", "fr"),
        ("Andy Jassy a indiqué jeudi, le 6 février 2025, les dépenses [1].", "fr"),
        ("Andy Jassy a indiqué le 6 février, jeudi, les dépenses [1].", "fr"),
        ("Andy Jassy spoke on Thursday, February 6 [1].", "en"),
        ("Andy Jassy spoke on Thursday (6 February 2025) [1].", "en"),
        ("Andy Jassy a indiqué jeudi (6 février 2025) les dépenses [1].", "fr"),
    ],
)
def test_a_date_the_answer_already_states_is_not_added_again(answer, language):
    assert resolve_relative_days(answer, language, [snippet("Andy Jassy a indiqué jeudi que…")]) == answer


def test_a_year_the_answer_already_states_is_not_added_again():
    answer = "Amazon a investi 78 milliards l'an dernier, en 2024 [1]."
    assert resolve_relative_days(answer, "fr", [snippet("Amazon a investi 78 milliards l'an dernier.")]) == answer


def test_a_snippets_day_that_carries_its_own_date_is_not_counted_from_publication():
    # "jeudi 13 février" in an article of Friday 7 February is a coming Thursday, not the day before.
    answer = "Amazon publiera ses comptes jeudi [1]."
    assert resolve_relative_days(answer, "fr", [snippet("Amazon publiera ses comptes jeudi 13 février.")]) == answer


def test_markers_stay_where_they_were_and_only_the_dates_are_added():
    said = [snippet("Andy Jassy a indiqué jeudi que…"), snippet("Amazon a investi 78 milliards l’an dernier.")]
    answer = "Andy Jassy a indiqué jeudi [1] que Amazon a investi 78 milliards l’an dernier [2]. Rien d'autre."
    resolved = resolve_relative_days(answer, "fr", said)
    assert resolved != answer
    assert CITATION_MARKER.findall(resolved) == CITATION_MARKER.findall(answer)
    assert without_resolved_dates(resolved) == answer
    assert resolve_relative_days(resolved, "fr", said) == resolved  # once only


def test_added_dates_are_not_figures_a_claim_must_find_in_its_snippets():
    """Claims are checked before the dates are added; were the dated text checked again, its figures
    would still be the snippet's: the added year and day are dates, a year written by itself stays a figure."""
    said = [snippet("Amazon a investi 78 milliards de dollars l’an dernier, a indiqué Andy Jassy jeudi.")]
    answer = "Amazon a investi 78 milliards de dollars l’an dernier, a indiqué Andy Jassy jeudi [1]."
    resolved = resolve_relative_days(answer, "fr", said)
    assert "l’an dernier (2024)" in resolved and "jeudi (6 février 2025)" in resolved
    for text in (answer, resolved):
        (claim,) = check_claims(text, said, "Combien Amazon a-t-il investi ?")
        assert claim.checks.figures == "supported", text
    (claim,) = check_claims("Amazon a investi 78 milliards de dollars (2023) [1].", said, "Combien ?")
    assert claim.checks.figures == "unsupported"


def test_both_apostrophes_are_read():
    assert [m.kind for m in mentions("l'an dernier, l’an dernier, l'année passée, aujourd'hui, aujourd’hui")] == [
        "last_year", "last_year", "last_year", "today", "today"
    ]
    assert mentions("Il l'a dit jeudi dernier.") == [Mention("weekday:3", 11, 24, True)]
