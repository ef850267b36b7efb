// Chat page: streams POST /ask/stream with the thread so far, renders the answer with linked [n] markers
// and citation cards, and shows a cited snippet inside its article. Every untrusted string goes in
// through textContent.
"use strict";

const TEXT = {
  fr: {
    answer: "Réponse",
    refusal: "Pas de réponse dans les articles",
    understood: "Compris comme : ",
    sources: "Sources",
    closest: "Passages les plus proches",
    undated: "sans date",
    thinking: "Recherche dans les articles…",
    reading: "Lecture des sources…",
    beingRead: "Sources en cours de lecture",
    writing: "Rédaction de la réponse…",
    done: "Réponse prête.",
    stopped: "Réponse interrompue.",
    empty: "Écrivez une question.",
    network: "Le serveur ne répond pas. Vérifiez qu’il tourne, puis réessayez.",
    broken: "La réponse s’est interrompue avant la fin. Réessayez.",
    error: "Erreur : ",
    open: "Voir l’extrait dans l’article",
    notFound: "Cet extrait n’est plus dans l’article (il a changé depuis la réponse).",
    citation: "Source",
    checks: "Vérifications",
    checked: "vérifié",
    flagged: "à vérifier",
    figures: { supported: "chiffres présents dans la source", unsupported: "chiffre absent de la source", none: "aucun chiffre" },
    entity: { matches: "la source parle de l’entreprise demandée", mismatch: "la source parle d’une autre entreprise", "n/a": "" },
    period: { matches: "la source parle de la période demandée", mismatch: "la source parle d’une autre période", "n/a": "" },
    reportedBy: (count) => `rapporté par ${count} médias`,
    conflict: "les sources divergent",
    alsoReported: "Aussi publié par : ",
  },
  en: {
    answer: "Answer",
    refusal: "No answer in the articles",
    understood: "Understood as: ",
    sources: "Sources",
    closest: "Closest passages",
    undated: "undated",
    thinking: "Searching the articles…",
    reading: "Reading the sources…",
    beingRead: "Sources being read",
    writing: "Writing the answer…",
    done: "Answer ready.",
    stopped: "Answer stopped.",
    empty: "Type a question.",
    network: "The server does not answer. Check that it is running, then try again.",
    broken: "The answer stopped before the end. Try again.",
    error: "Error: ",
    open: "Show the snippet in the article",
    notFound: "This snippet is no longer in the article (it changed since the answer).",
    citation: "Source",
    checks: "Checks",
    checked: "checked",
    flagged: "check this",
    figures: { supported: "figures found in the source", unsupported: "a figure is not in the source", none: "no figure" },
    entity: { matches: "the source is about the company asked", mismatch: "the source is about another company", "n/a": "" },
    period: { matches: "the source is about the period asked", mismatch: "the source is about another period", "n/a": "" },
    reportedBy: (count) => `reported by ${count} outlets`,
    conflict: "the sources disagree",
    alsoReported: "Also reported by: ",
  },
};

const STOPWORDS = new Set(
  ("dans pour avec sans sont être avoir cette celle ceux elle elles leur leurs mais plus très tout tous " +
   "comme aussi donc alors selon entre vers chez après avant depuis fait faire peut dont encore " +
   "that this with from have been were will would which their there about into than them they what " +
   "when where also more most such only over some")
    .split(" "),
);

const $ = (id) => document.getElementById(id);
const form = $("ask-form");
const question = $("question");
const askButton = $("ask-button");
const stopButton = $("stop-button");
const errorBox = $("error");
const statusLine = $("status");
const result = $("result");
const resultTitle = $("result-title");
const answerBox = $("answer");
const sourcesTitle = $("sources-title");
const sources = $("sources");
const dialog = $("context");
const threadBox = $("thread");
const turnList = $("turns");
const standalone = $("standalone");

const MAX_TURNS = 6; // the server reads the last 6 turns of the history

const documents = new Map(); // doc_id -> Promise of GET /documents/{doc_id}
let controller = null; // AbortController of the answer being streamed
let uiLanguage = "fr";
let thread = []; // earlier turns of this conversation: {question, answer}

function t(key) {
  return TEXT[uiLanguage][key];
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function chosenLanguage() {
  return form.elements.language.value || "auto";
}

// --- talking to the API --------------------------------------------------------------------

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function getDocument(docId) {
  if (!documents.has(docId)) {
    const request = fetch(`/documents/${encodeURIComponent(docId)}`).then(async (response) => {
      if (!response.ok) throw new Error(await errorMessage(response));
      return response.json();
    });
    request.catch(() => documents.delete(docId)); // let a later click try again
    documents.set(docId, request);
  }
  return documents.get(docId);
}

// Server-Sent Events from a fetch body (EventSource cannot POST): yields {event, data} objects.
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n/g, "\n").replace(/\r(?!$)/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// --- asking ------------------------------------------------------------------------------------

// body[data-state] is "busy" while a question is out ("reading" once its sources are shown), then
// "answered", "refused", "failed" or "stopped".
function setBusy(busy) {
  if (busy) document.body.dataset.state = "busy";
  askButton.disabled = busy;
  stopButton.hidden = !busy;
  answerBox.setAttribute("aria-busy", String(busy));
  form.setAttribute("aria-busy", String(busy));
}

function showError(message) {
  document.body.dataset.state = "failed";
  errorBox.replaceChildren(el("strong", { text: t("error") }), document.createTextNode(message));
  errorBox.hidden = false;
}

function clearResult() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
  result.hidden = true;
  result.classList.remove("refusal");
  answerBox.replaceChildren();
  answerBox.removeAttribute("lang");
  sources.replaceChildren();
  sourcesTitle.hidden = true;
  standalone.hidden = true;
  standalone.replaceChildren();
}

// The conversation: each answered question is sent with the next ones, and shown above the form
// once a newer question takes the answer's place.
function remember(question, answer) {
  thread = [...thread, { question, answer: answer.answer }].slice(-MAX_TURNS);
}

function showThread() {
  turnList.replaceChildren(...thread.map((turn) => el("li", { class: "turn" }, [
    el("p", { class: "turn-question", text: turn.question }),
    el("p", { class: "turn-answer", text: turn.answer }),
  ])));
  threadBox.hidden = thread.length === 0;
}

function forget() {
  thread = [];
  showThread();
  clearResult();
  question.value = "";
  question.focus();
}

async function ask(text) {
  const language = chosenLanguage();
  uiLanguage = language === "en" ? "en" : "fr";
  clearResult();
  showThread();
  controller = new AbortController();
  setBusy(true);
  statusLine.textContent = t("thinking");
  let answered = false;
  try {
    const response = await fetch("/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question: text, language, history: thread }),
      signal: controller.signal,
    });
    if (!response.ok) {
      showError(await errorMessage(response));
      statusLine.textContent = "";
      return;
    }
    let draft = "";
    for await (const { event, data } of readEvents(response)) {
      if (event === "sources") {
        showSources(JSON.parse(data));
      } else if (event === "token") {
        if (!draft) {
          result.hidden = false;
          resultTitle.textContent = t("answer");
          statusLine.textContent = t("writing");
        }
        draft += JSON.parse(data).text;
        answerBox.replaceChildren(el("p", { class: "draft", text: draft }));
      } else if (event === "answer") {
        const answer = JSON.parse(data);
        showAnswer(answer, text);
        remember(text, answer);
        answered = true;
      } else if (event === "error") {
        showError(JSON.parse(data).detail);
      }
    }
    if (!answered && errorBox.hidden) showError(t("broken"));
    statusLine.textContent = answered ? t("done") : "";
  } catch (error) {
    if (error.name === "AbortError") {
      document.body.dataset.state = "stopped";
      statusLine.textContent = t("stopped");
    } else {
      showError(t("network"));
      statusLine.textContent = "";
    }
  } finally {
    controller = null;
    setBusy(false);
  }
}

// --- rendering ------------------------------------------------------------------------------

// The passages the model is reading, shown as soon as retrieval is done, in the answer's language.
function showSources(data) {
  uiLanguage = data.language === "en" ? "en" : "fr";
  document.body.dataset.state = "reading";
  result.hidden = false;
  result.setAttribute("lang", uiLanguage);
  resultTitle.textContent = t("answer");
  statusLine.textContent = t("reading");
  sourcesTitle.textContent = t("beingRead");
  sourcesTitle.hidden = data.passages.length === 0;
  sources.replaceChildren(...data.passages.map((passage) => card(passage, "reading", question.value)));
}

function showAnswer(answer, asked) {
  uiLanguage = answer.language === "en" ? "en" : "fr";
  // A follow-up rewritten to stand alone says, discreetly, how it was understood.
  standalone.hidden = answer.standalone_question === asked;
  standalone.replaceChildren(
    document.createTextNode(t("understood")), el("q", { text: answer.standalone_question }),
  );
  document.body.dataset.state = answer.abstained ? "refused" : "answered";
  result.hidden = false;
  result.classList.toggle("refusal", answer.abstained);
  result.setAttribute("lang", uiLanguage);
  answerBox.setAttribute("lang", answer.language);
  resultTitle.textContent = answer.abstained ? t("refusal") : t("answer");

  const cited = new Set(answer.citations.map((citation) => citation.id));
  answerBox.replaceChildren(el("p", { class: "answer-text" }, answerNodes(answer.answer, cited)));
  if (answer.claims && answer.claims.length) answerBox.append(claimList(answer.claims));

  const items = answer.abstained ? distinct(answer.related) : answer.citations;
  sourcesTitle.textContent = answer.abstained ? t("closest") : t("sources");
  sourcesTitle.hidden = items.length === 0;
  const highlightFrom = answer.abstained ? question.value : answer.answer;
  const kind = answer.abstained ? "related" : "cited";
  sources.replaceChildren(...items.map((citation) => card(citation, kind, highlightFrom)));
}

// Each claim with what was checked: a mark, and the reasons on hover or keyboard focus.
function claimList(claims) {
  const items = claims.map((claim) => {
    const { figures, entity, period, agreement, agreement_reason: why } = claim.checks;
    const conflict = agreement === "conflict";
    const ok = figures !== "unsupported" && entity !== "mismatch" && period !== "mismatch" && !conflict;
    const reasons = [TEXT[uiLanguage].figures[figures], TEXT[uiLanguage].entity[entity], TEXT[uiLanguage].period[period],
                     conflict ? `${t("conflict")}${why ? ` (${why})` : ""}` : ""]
      .filter(Boolean).join(" · ");
    const sourcesText = claim.citations.map((id) => `[${id}]`).join("");
    const outlets = claim.sources > 1 ? [el("span", { class: "claim-outlets", text: TEXT[uiLanguage].reportedBy(claim.sources) })] : [];
    const kind = conflict ? "claim conflict" : ok ? "claim checked" : "claim flagged";
    return el("li", { class: kind, tabindex: "0", title: reasons,
                      "aria-label": `${ok ? t("checked") : t("flagged")}: ${claim.text} ${sourcesText} (${reasons})` }, [
      el("span", { class: "claim-mark", text: conflict ? "≠" : ok ? "✓" : "!", "aria-hidden": "true" }),
      el("span", { class: "claim-text", text: `${claim.text} ${sourcesText}` }),
      ...outlets,
      el("span", { class: "claim-why", text: reasons }),
    ]);
  });
  return el("div", { class: "claims" }, [el("p", { class: "claims-title", text: t("checks") }), el("ul", {}, items)]);
}

// Related passages can repeat when two retrieved chunks of one article overlap: show each once.
function distinct(citations) {
  const seen = new Set();
  return citations.filter((citation) => {
    const key = `${citation.doc_id}:${citation.start}:${citation.end}`;
    return !seen.has(key) && seen.add(key);
  });
}

// The answer text with each [n] that has a citation turned into a link to its card.
function answerNodes(text, cited) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const id = Number(match[1]);
    if (!cited.has(id)) continue;
    nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(
      el("a", {
        href: `#cite-${id}`,
        class: "marker",
        text: `[${id}]`,
        "aria-label": `${t("citation")} ${id}`,
        onclick: (event) => {
          event.preventDefault();
          const target = $(`cite-${id}`);
          target.scrollIntoView({ block: "nearest", behavior: "smooth" });
          target.querySelector(".card-open").focus({ preventScroll: true });
        },
      }),
    );
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

// kind: "cited" (numbered like the answer's markers), "reading" (sent before the answer) or "related".
// The card shows the article's title (a link to it when it has a web address), "outlet · date", and
// the snippet, which is a button that opens the snippet inside its article.
function card(citation, kind, highlightFrom) {
  const ids = { cited: "cite", reading: "reading", related: "related" };
  const open = el(
    "button",
    { type: "button", class: "card-open", title: t("open"), onclick: () => openContext(citation, open) },
    [el("span", { class: "snippet" }, highlighted(citation.snippet, highlightFrom))],
  );
  const link = webAddress(citation.url);
  const title = link
    ? el("a", { class: "card-title", href: link, target: "_blank", rel: "noopener noreferrer", text: citation.title })
    : el("span", { class: "card-title", text: citation.title });
  const node = el(
    "div",
    {
      class: kind === "reading" ? "card reading" : "card",
      id: `${ids[kind]}-${citation.id}`,
      tabindex: "-1",
      "data-doc-id": citation.doc_id,
      "data-start": String(citation.start),
      "data-end": String(citation.end),
    },
    [
      el("span", { class: "card-head" }, [
        el("span", { class: "badge", text: kind === "related" ? "≈" : String(citation.id), "aria-hidden": "true" }),
        title,
      ]),
      el("span", { class: "date", text: byline(citation) || t("undated") }),
      open,
      ...alsoReported(citation),
    ],
  );
  return el("li", {}, [node]);
}

// The other articles carrying the same sentence, by outlet (or title) and date.
function alsoReported(citation) {
  const copies = citation.also_reported_by || [];
  if (!copies.length) return [];
  const names = copies.map((copy) => [copy.source || copy.title, formatDate(copy.date)].filter(Boolean).join(", "));
  return [el("span", { class: "also-reported", text: `${t("alsoReported")}${names.join(" ; ")}` })];
}

// "outlet · date", each part only when known.
function byline(item) {
  return [item.source, formatDate(item.date)].filter(Boolean).join(" · ");
}

// Only an absolute http(s) address becomes a link: never javascript: or anything else.
function webAddress(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function formatDate(iso) {
  if (!iso || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso || "";
  const date = new Date(`${iso}T00:00:00Z`);
  return date.toLocaleDateString(uiLanguage === "en" ? "en-GB" : "fr-FR", {
    day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  });
}

function normal(word) {
  return word.toLowerCase().normalize("NFD").replace(/\p{M}/gu, "");
}

function isKeyWord(key) {
  return /\d/.test(key) || (key.length >= 4 && !STOPWORDS.has(key));
}

// `snippet` as text nodes where each run of consecutive words that all occur in `reference` (and hold
// at least one meaningful word, not only "de" or "the") is wrapped in <mark>.
function highlighted(snippet, reference) {
  const known = new Set(Array.from(reference.matchAll(/[\p{L}\p{N}]+/gu), ([word]) => normal(word)));
  const spans = [];
  let run = null;
  for (const match of snippet.matchAll(/[\p{L}\p{N}]+/gu)) {
    const key = normal(match[0]);
    const start = match.index;
    const end = start + match[0].length;
    const joined = run && /^[\s,.;:’'"«»()-]{0,4}$/u.test(snippet.slice(run.end, start));
    if (!known.has(key)) {
      run = null;
    } else if (joined) {
      run.end = end;
      run.meaningful ||= isKeyWord(key);
    } else {
      run = { start, end, meaningful: isKeyWord(key) };
      spans.push(run);
    }
  }
  const marked = spans.filter((span) => span.meaningful).map((span) => [span.start, span.end]);
  const nodes = [];
  let last = 0;
  for (const [start, end] of marked) {
    nodes.push(document.createTextNode(snippet.slice(last, start)), el("mark", { text: snippet.slice(start, end) }));
    last = end;
  }
  nodes.push(document.createTextNode(snippet.slice(last)));
  return nodes;
}

// --- the snippet in its article ---------------------------------------------------------------

// Offsets from the API count code points (Python); JavaScript strings index UTF-16 units.
function utf16Index(text, codePoints) {
  let units = 0;
  let seen = 0;
  for (const char of text) {
    if (seen === codePoints) break;
    units += char.length;
    seen += 1;
  }
  return units;
}

async function openContext(citation, opener) {
  let doc;
  try {
    doc = await getDocument(citation.doc_id);
  } catch (error) {
    showError(error.message);
    return;
  }
  const text = doc.text;
  let start = utf16Index(text, citation.start);
  let end = utf16Index(text, citation.end);
  if (text.slice(start, end) !== citation.snippet) {
    start = text.indexOf(citation.snippet);
    end = start + citation.snippet.length;
  }
  $("context-title").textContent = doc.title;
  $("context-meta").textContent = [byline(doc), doc.author].filter(Boolean).join(" · ");
  const body = $("context-body");
  let mark = null;
  if (start >= 0) {
    mark = el("mark", { id: "context-mark", text: text.slice(start, end) });
    body.replaceChildren(document.createTextNode(text.slice(0, start)), mark, document.createTextNode(text.slice(end)));
  } else {
    body.replaceChildren(el("p", { class: "notice", text: t("notFound") }), document.createTextNode(text));
  }
  dialog.returnFocusTo = opener;
  dialog.showModal();
  body.scrollTop = 0;
  if (mark) mark.scrollIntoView({ block: "center" });
}

// --- wiring -----------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (controller) return;
  const text = question.value.trim();
  if (!text) {
    uiLanguage = chosenLanguage() === "en" ? "en" : "fr";
    clearResult();
    showError(t("empty"));
    question.focus();
    return;
  }
  ask(text);
});

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

stopButton.addEventListener("click", () => controller?.abort());
$("new-thread").addEventListener("click", forget);

$("context-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close(); // a click on the backdrop
});
dialog.addEventListener("close", () => dialog.returnFocusTo?.focus());
