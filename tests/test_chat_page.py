"""The chat page in headless Chromium (Debian's, driven by Playwright) against a real API server.

Screenshots land in artifacts/ (git-ignored) at desktop and 360 px widths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from servers import ThreadServer, copy_index, scripted_server

from rag.config import Settings
from rag.service import open_service

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# Chromium may not reach the network here: no background connections, no component updates.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SETTLED = "body:is([data-state=answered],[data-state=refused],[data-state=failed]) #ask-button:enabled"
FRENCH = "Combien Amazon prévoit-il d'investir en 2025 ?"
REFUSED = "Quel est le nom du chat de ma voisine ?"
CABLE_CAR = {
    "doc_id": "cable-car-page",
    "title": "Un téléphérique à Vaulx-Sainte-Ombeline",
    "date": "2026-02-14",
    "source": "Le Courrier des Ormeaux",
    "url": "https://courrier-des-ormeaux.example/2026/02/14/telepherique",
    "author": "Louise Martin",
    "text": "Le conseil municipal de Vaulx-Sainte-Ombeline a inauguré samedi un téléphérique urbain de 2 340 "
    "mètres. Le téléphérique de Vaulx-Sainte-Ombeline a coûté 47 millions d'euros, financés pour moitié par la "
    "région.",
}


@pytest.fixture(scope="module")
def site(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    """The real app (extractive answers) under uvicorn on a free port, over a copy of the seed index."""
    index_dir = copy_index(seed_index_dir, tmp_path_factory.mktemp("chat-page") / "index")
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=None)
    with ThreadServer(open_service(settings, embedder=embedder)) as server:
        yield server.url


@pytest.fixture(scope="module")
def stories_site(stories_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder):
    """The real app over the stories corpus (several outlets, one figure changed), with a scripted model."""
    index_dir = copy_index(stories_index_dir, tmp_path_factory.mktemp("chat-stories") / "index")
    with scripted_server(index_dir, embedder) as server:
        yield server.url, server.service.answerer.generator


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), "Debian's chromium is not installed: `make test` installs it (`make browser-deps`)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, site: str):
    """Opens the chat page at a viewport size; fails the test on any script error, CSP violation or
    failed request other than the HTTP statuses the test provokes on purpose."""
    pages, problems = [], []

    def opener(viewport: dict[str, int], *, expected_statuses: tuple[int, ...] = ()):
        def on_console(message) -> None:
            answered = any(f"status of {status}" in message.text for status in expected_statuses)
            if message.type == "error" and not answered:
                problems.append(message.text)

        page = browser.new_page(viewport=viewport)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        page.goto(site + "/")
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    assert problems == []


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"chat-{name}.png"), full_page=True)


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(SETTLED, timeout=60_000)


def check_cards(page, site: str) -> list:
    """Every card's snippet is its article's text at the card's offsets, with marked words."""
    cards = page.locator("#sources .card")
    assert cards.count() >= 1
    with httpx.Client(base_url=site, timeout=30) as http:
        for card in cards.all():
            article = http.get(f"/documents/{card.get_attribute('data-doc-id')}").json()
            snippet = card.locator(".snippet").text_content()
            start, end = int(card.get_attribute("data-start")), int(card.get_attribute("data-end"))
            assert snippet in article["text"] and article["text"][start:end] == snippet
            assert card.locator(".card-title").text_content() == article["title"]
    return cards.all()


def check_context_panel(page, card) -> None:
    """Opening a card shows the article with the snippet marked and in view; Escape closes it."""
    snippet = card.locator(".snippet").text_content()
    card.locator(".card-open").click()
    dialog = page.locator("#context")
    mark = page.locator("#context-mark")
    mark.wait_for(state="visible")
    assert dialog.get_attribute("open") is not None
    assert mark.text_content() == snippet
    assert len(page.locator("#context-body").text_content()) > len(snippet)
    box, panel = mark.bounding_box(), page.locator("#context-body").bounding_box()
    assert box and panel and box["y"] < panel["y"] + panel["height"] and box["y"] + box["height"] > panel["y"]


def close_context(page, card) -> None:
    page.keyboard.press("Escape")
    page.locator("#context").wait_for(state="hidden")
    assert card.locator(".card-open").evaluate("node => node === document.activeElement"), "focus returns to the card"


def test_french_question_gets_a_cited_french_answer_and_its_context(open_page, site: str) -> None:
    page = open_page(DESKTOP)
    ask(page, FRENCH)
    assert page.locator("body").get_attribute("data-state") == "answered"
    answer = page.locator("#answer")
    assert answer.get_attribute("lang") == "fr"
    assert "D'après les articles" in answer.text_content()
    assert page.locator("#answer a.marker[href='#cite-1']").count() == 1
    claim = page.locator("#answer .claims li.claim").first
    assert "checked" in (claim.get_attribute("class") or "")
    expect(claim.locator(".claim-why")).to_be_hidden()
    claim.focus()  # the reasons of the check show on focus (and hover), for keyboard users too
    expect(claim.locator(".claim-why")).to_be_visible()
    assert "source" in claim.locator(".claim-why").text_content()
    cards = check_cards(page, site)
    assert cards[0].locator(".snippet mark").count() >= 1
    expect(page.locator("#sources .date").first).not_to_have_text("")
    shoot(page, "desktop-answer")
    check_context_panel(page, cards[0])
    page.screenshot(path=str(ARTIFACTS / "chat-desktop-context.png"))
    close_context(page, cards[0])


def test_sources_show_while_the_answer_is_written_and_speak_the_question_language(open_page) -> None:
    page = open_page(DESKTOP)
    # Records what the page shows at each state change (observers run before the next event is read).
    page.evaluate("""() => {
      window.seen = [];
      new MutationObserver(() => window.seen.push({
        state: document.body.dataset.state,
        reading: document.querySelectorAll("#sources .card.reading").length,
        status: document.getElementById("status").textContent,
        lang: document.getElementById("result").getAttribute("lang"),
      })).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
    }""")
    ask(page, "How much is OpenAI paying AWS, and for how long?")
    seen = page.evaluate("window.seen")
    states = [entry["state"] for entry in seen]
    assert states.index("reading") < states.index("answered"), states
    reading = seen[states.index("reading")]
    assert reading["reading"] >= 1 and reading["status"] == "Reading the sources…" and reading["lang"] == "en"
    # Once answered, the cards are the answer's citations, numbered like its markers.
    assert page.locator("#sources .card.reading").count() == 0
    assert page.locator("#sources .card#cite-1").count() == 1


def test_english_question_keyboard_only_at_phone_width(open_page, site: str) -> None:
    page = open_page(PHONE)
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("How much is OpenAI paying AWS,")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("and for how long?")
    assert page.input_value("#question") == "How much is OpenAI paying AWS,\nand for how long?"
    page.keyboard.press("Enter")
    page.wait_for_selector(SETTLED, timeout=60_000)
    assert page.locator("#answer").get_attribute("lang") == "en"
    # The quotes include the dated OpenAI article: the answer says as of when.
    assert page.locator("#answer .answer-text").text_content().startswith(
        "As of 5 November 2025, according to the articles: "
    )
    assert page.locator("#sources-title").text_content() == "Sources"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
    cards = check_cards(page, site)
    expect(page.locator("#sources .date").first).not_to_have_text("")
    shoot(page, "phone-answer")

    cards[0].locator(".card-open").focus()
    page.keyboard.press("Enter")
    page.locator("#context-mark").wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "chat-phone-context.png"))
    close_context(page, cards[0])


def test_language_toggle_answers_a_french_question_in_english(open_page) -> None:
    page = open_page(DESKTOP)
    page.check("input[name=language][value=en]")
    ask(page, FRENCH)
    assert page.locator("#answer").get_attribute("lang") == "en"
    assert page.locator("#result-title").text_content() == "Answer"


def test_refusal_is_styled_as_one_with_the_closest_passages(open_page, site: str) -> None:
    page = open_page(DESKTOP)
    ask(page, REFUSED)
    assert page.locator("body").get_attribute("data-state") == "refused"
    assert page.locator("#result.refusal").is_visible()
    assert page.locator("#result-title").text_content() == "Pas de réponse dans les articles"
    assert page.locator("#sources-title").text_content() == "Passages les plus proches"
    assert page.locator("#answer a.marker").count() == 0
    cards = check_cards(page, site)
    keys = [(card.get_attribute("data-doc-id"), card.get_attribute("data-start")) for card in cards]
    assert len(keys) == len(set(keys)), "each closest passage is listed once"
    shoot(page, "desktop-refusal")


def test_api_errors_show_a_message_and_the_page_stays_usable(open_page) -> None:
    page = open_page(PHONE, expected_statuses=(422,))
    page.locator("#question").evaluate("node => node.removeAttribute('maxlength')")
    page.fill("#question", "x" * 2100)  # past the API's 2,000-character limit
    page.click("#ask-button")
    page.wait_for_selector(SETTLED, timeout=30_000)
    error = page.locator("#error")
    assert error.is_visible() and "2000" in error.text_content()
    assert page.locator("#error[role=alert]").count() == 1
    shoot(page, "phone-error")

    page.fill("#question", "   ")
    page.press("#question", "Enter")
    assert "Écrivez une question" in error.text_content()
    ask(page, FRENCH)  # still works after errors
    assert page.locator("body").get_attribute("data-state") == "answered"
    assert error.is_hidden()


def test_cards_show_outlet_and_date_and_link_the_title_to_the_article(open_page, site: str) -> None:
    with httpx.Client(base_url=site, timeout=60) as http:
        assert http.post("/documents", json=CABLE_CAR).status_code == 201
    try:
        page = open_page(DESKTOP)
        ask(page, "Combien a coûté le téléphérique de Vaulx-Sainte-Ombeline ?")
        card = page.locator(f"#sources .card[data-doc-id='{CABLE_CAR['doc_id']}']").first
        expect(card.locator(".date")).to_have_text("Le Courrier des Ormeaux · 14 février 2026")
        link = card.locator("a.card-title")
        assert link.get_attribute("href") == CABLE_CAR["url"] and link.text_content() == CABLE_CAR["title"]
        assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")
        undated = page.locator("#sources .card:not([data-doc-id='cable-car-page'])")
        for other in undated.all():  # the seeds have no web address: their titles are plain text
            assert other.locator("a.card-title").count() == 0
        check_context_panel(page, card)
        assert page.locator("#context-meta").text_content() == (
            "Le Courrier des Ormeaux · 14 février 2026 · Louise Martin"
        )
        close_context(page, card)
    finally:
        with httpx.Client(base_url=site, timeout=60) as http:
            http.delete(f"/documents/{CABLE_CAR['doc_id']}")


def test_a_follow_up_reads_the_thread_and_says_discreetly_how_it_was_understood(open_page) -> None:
    page = open_page(DESKTOP)
    ask(page, "Combien OpenAI paie-t-il AWS ?")
    expect(page.locator("#standalone")).to_be_hidden()
    expect(page.locator("#thread")).to_be_hidden()  # the only answer is the one shown
    ask(page, "Et sur combien d'années ?")
    assert page.locator("body").get_attribute("data-state") == "answered"
    assert "sept ans" in page.locator("#answer").text_content()
    standalone = page.locator("#standalone")
    expect(standalone).to_be_visible()
    assert standalone.text_content() == "Compris comme : Combien OpenAI paie-t-il AWS ? Et sur combien d'années ?"
    turns = page.locator("#turns .turn")
    assert turns.count() == 1
    assert turns.first.locator(".turn-question").text_content() == "Combien OpenAI paie-t-il AWS ?"
    shoot(page, "desktop-follow-up")

    page.click("#new-thread")
    expect(page.locator("#thread")).to_be_hidden()
    ask(page, "Et sur combien d'années ?")
    expect(page.locator("#standalone")).to_be_hidden()  # a new thread: nothing to lean on
    assert "sept ans" not in page.locator("#answer").text_content()


def test_the_api_page_renders_from_local_files_under_the_page_policy(browser, site: str) -> None:
    """Swagger UI at /docs: every file from this server (it is blank offline otherwise), no CSP violation."""
    page = browser.new_page(viewport=DESKTOP)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: problems.append(f"request to {request.url}")
            if not request.url.startswith((site, "data:")) else None)
    try:
        page.goto(site + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)
        paths = page.locator(".opblock-summary-path").all_text_contents()
        assert {"/ask", "/ask/stream", "/search", "/documents", "/documents/{doc_id}"} <= {p.strip() for p in paths}
        shoot(page, "api-docs")
    finally:
        page.close()
    assert problems == []


# Stored XSS: an article whose title and text hold markup and script, as a hostile upload would.
XSS_ID = "xss-telepherique"
XSS_TITLE = 'Téléphérique <img src=x onerror="window.__pwned=\'title\'"><script>window.__pwned="title-script"</script>'
XSS_TEXT = (
    "Le téléphérique de Vaulx-Sainte-Ombeline a coûté 47 millions d'euros "
    "<img src=x onerror=\"window.__pwned='img';alert(1)\"> selon la mairie "
    "<script>window.__pwned='script'</script>.\n\n"
    "Les horaires sont sur <a href=\"javascript:window.__pwned='link'\">le site de la ligne</a> "
    "et la ligne a transporté 1 800 voyageurs <svg onload=\"window.__pwned='svg'\"></svg> le premier jour."
)
MARKUP = "img, script, svg, iframe, object, a[href^='javascript']"


@pytest.fixture
def hostile_article(site: str) -> Iterator[None]:
    with httpx.Client(base_url=site, timeout=120) as http:
        response = http.post("/documents", json={"doc_id": XSS_ID, "title": XSS_TITLE, "text": XSS_TEXT})
        assert response.status_code == 201, response.text
        assert http.get(f"/documents/{XSS_ID}").json()["text"] == XSS_TEXT  # stored as given
        yield
        assert http.delete(f"/documents/{XSS_ID}").status_code == 200


def test_markup_in_a_stored_article_is_shown_as_text_and_never_runs(open_page, hostile_article) -> None:
    page = open_page(DESKTOP)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ask(page, "Combien a coûté le téléphérique de Vaulx-Sainte-Ombeline ?")
    assert page.locator("body").get_attribute("data-state") == "answered"
    answer = page.locator("#answer").text_content()
    assert "47 millions" in answer and "<img src=x onerror=" in answer  # the quote, markup as text
    card = page.locator(f"#sources .card[data-doc-id='{XSS_ID}']").first
    assert card.locator(".card-title").text_content() == XSS_TITLE
    assert "<script>" in card.locator(".snippet").text_content()
    card.locator(".card-open").click()
    page.locator("#context-mark").wait_for(state="visible")
    assert page.locator("#context-title").text_content() == XSS_TITLE
    assert page.locator("#context-body").text_content() == XSS_TEXT
    shoot(page, "desktop-stored-xss")
    assert page.locator(f":is(#result, #sources, #context) :is({MARKUP})").count() == 0, "nothing renders as markup"
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_claims_show_disagreeing_outlets_and_cards_the_outlets_that_also_report(open_page, stories_site) -> None:
    url, generator = stories_site
    generator.enqueue("Le contrat entre OpenAI et AWS est de 38 milliards de dollars.")
    page = open_page(DESKTOP)
    page.goto(url + "/")
    ask(page, "Quel est le montant du contrat entre OpenAI et AWS ?")
    expect(page.locator("#answer")).to_contain_text("Les articles divergent")
    conflicts = page.locator(".claim.conflict")
    expect(conflicts).to_have_count(2)
    expect(conflicts.first.locator(".claim-mark")).to_have_text("≠")
    conflicts.first.focus()
    expect(conflicts.first.locator(".claim-why")).to_contain_text(
        "les sources divergent (38 milliards de dollars / 45 milliards de dollars)"
    )
    expect(conflicts.first.locator(".claim-outlets")).to_have_text("rapporté par 3 médias")
    expect(page.locator("#sources .card .also-reported")).to_have_text(
        "Aussi publié par : Le Journal du Cloud, 4 novembre 2025"
    )
    check_cards(page, url)
    shoot(page, "stories-conflict")
