/* The document page: select a coding (click a highlight or the list), judge it by keyboard, code a
   selected passage, write memos. Offsets sent to the server are the stored text's characters
   (code points): each highlighted piece carries its own start (data-s), and the characters before
   the caret inside a piece are counted with Array.from, which counts an emoji as one, as Python does. */
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("doc-data").textContent);
  const $ = (id) => document.getElementById(id);
  const textBox = $("text");
  const chars = Array.from(data.text);
  const byKey = new Map(data.codings.map((c) => [c.key, c]));
  const order = data.codings.map((c) => c.key);
  const codes = new Map(data.codes.map((c) => [c.id, c]));
  const pieces = Array.from(textBox.querySelectorAll("span[data-keys]"));
  const items = Array.from(document.querySelectorAll("#coding-list li[data-key]"));
  let current = null;
  let chosen = null; // {start, end} of a selected passage

  const flash = sessionStorage.getItem("phantomcode-flash");
  if (flash) {
    sessionStorage.removeItem("phantomcode-flash");
    phantomcode.say(flash, "info");
  }

  function label(code) {
    return codes.has(code) ? codes.get(code).label : code;
  }

  function show(key, scroll) {
    const coding = byKey.get(key);
    if (!coding) return;
    current = key;
    closeSelection();
    pieces.forEach((p) => {
      p.classList.toggle("selected", p.dataset.keys.split("|").includes(key));
      p.classList.toggle("word", (p.dataset.w || "").split("|").includes(key));
    });
    items.forEach((li) => li.classList.toggle("selected", li.dataset.key === key));
    $("detail").hidden = false;
    $("detail-swatch").style.background = codes.has(coding.code) ? codes.get(coding.code).colour : "#888";
    $("detail-code").textContent = label(coding.code) + " (" + coding.code + ")";
    const status = coding.negated ? "negated" : coding.hypothetical ? "hypothetical" : coding.status;
    $("detail-status").textContent = status === "auto" ? "to review" : status;
    $("detail-status").className = "status " + status;
    $("detail-text").textContent = chars.slice(coding.start, coding.end).join("");
    $("detail-rule").textContent = coding.rule;
    $("detail-matched").textContent = coding.matched.map((m) => m.term && m.term !== m.text ? `${m.text} (term: ${m.term})` : m.text).join(" · ") || "—";
    $("detail-flags").textContent = coding.negated ? `negated (cue: ${coding.cue})` :
      coding.hypothetical ? `hypothetical (cue: ${coding.cue})` : coding.cue ? `none (cue ${coding.cue} overruled in review)` : "none";
    $("detail-source").textContent = {human: "coded by hand", learned: "learned model", rules: "codebook rules"}[coding.source];
    showModel(coding);
    $("detail-decision").textContent = coding.decision ?
      `${coding.decision}${coding.correct_code ? " → " + coding.correct_code : ""} by ${coding.reviewer}, ${coding.decided_at}` +
      (coding.note ? ` — “${coding.note}”` : "") : "not reviewed yet";
    $("recode-code").value = coding.code;
    $("undo").hidden = !coding.decision;
    $("undo").textContent = coding.source === "human" ? "Remove this coding" : "Withdraw decision";
    const memo = data.memos.find((m) => m.code === coding.code && m.start === coding.start && m.end === coding.end);
    $("coding-memo").value = memo ? memo.text : "";
    const item = items.find((li) => li.dataset.key === key);
    if (item) keepInView($("coding-list"), item);
    if (scroll) {
      const first = pieces.find((p) => p.classList.contains("selected"));
      if (first) first.scrollIntoView({block: "center", behavior: "smooth"});
    }
    history.replaceState(null, "", "#" + encodeURIComponent(key));
  }

  function keepInView(list, item) {
    // scrolls the list only: scrollIntoView would scroll the whole page too
    const top = item.offsetTop; // the list is positioned, so this is within it
    if (top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = top - list.clientHeight / 3;
    }
  }

  // A learned coding's probability, model and reasons: the labelled sentences most like it, the
  // words that weighed most.
  function showModel(coding) {
    document.querySelectorAll("#detail .model-only").forEach((el) => { el.hidden = coding.source !== "learned"; });
    if (coding.source !== "learned") return;
    $("detail-model").textContent = `probability ${Number(coding.probability).toFixed(2)} · model ${String(coding.model_hash || "").slice(0, 12)}`;
    const why = $("detail-why");
    why.replaceChildren();
    const explanation = coding.explanation || {neighbours: [], ngrams: []};
    for (const neighbour of explanation.neighbours) {
      const line = document.createElement("div");
      line.className = "neighbour";
      line.textContent = `like “${neighbour.text}” (${neighbour.codes.join(", ") || "no code"})`;
      why.append(line);
    }
    if (explanation.ngrams.length) {
      const words = document.createElement("div");
      words.textContent = "words: " + explanation.ngrams.map((g) => g.ngram).join(", ");
      why.append(words);
    }
  }

  function hide() {
    current = null;
    $("detail").hidden = true;
    pieces.forEach((p) => p.classList.remove("selected", "word"));
    items.forEach((li) => li.classList.remove("selected"));
    history.replaceState(null, "", location.pathname);
  }

  function step(by) {
    if (!order.length) return;
    const at = current ? order.indexOf(current) : -1;
    show(order[(at + by + order.length) % order.length], true);
  }

  function reloadAt(key, message) {
    if (message) sessionStorage.setItem("phantomcode-flash", message);
    location.hash = key ? "#" + encodeURIComponent(key) : "";
    location.reload();
  }

  // The decisions made on this page, newest last, so that "u" can take them back one by one.
  const undoStack = JSON.parse(sessionStorage.getItem("phantomcode-undo-" + data.doc_id) || "[]");

  function remember(keys) {
    undoStack.push(keys);
    sessionStorage.setItem("phantomcode-undo-" + data.doc_id, JSON.stringify(undoStack.slice(-50)));
  }

  async function withdraw(keys) {
    return Boolean(await phantomcode.post("/api/decisions/undo", {keys}));
  }

  async function undoLast() {
    const keys = undoStack[undoStack.length - 1];
    if (!keys) { phantomcode.say("Nothing to undo on this page.", "info"); return; }
    if (!await withdraw(keys)) return;
    undoStack.pop();
    sessionStorage.setItem("phantomcode-undo-" + data.doc_id, JSON.stringify(undoStack));
    reloadAt(keys[0], "Undone: the coding is as the rules made it again.");
  }

  async function decide(decision, correct) {
    if (!current) return;
    const key = current;
    const coding = byKey.get(key);
    const done = await phantomcode.post(`/api/codings/${encodeURIComponent(key)}/decision`,
                                        {decision, correct_code: correct || null});
    if (!done) return;
    remember(correct ? [key, `${data.doc_id}:${coding.start}-${coding.end}:${correct}`] : [key]);
    const next = order[order.indexOf(key) + 1] || key;
    const what = decision === "accept" ? "Accepted" : correct ? `Rejected, recoded as ${correct}:` : "Rejected";
    reloadAt(next, `${what} ${coding.code} at ${coding.start}–${coding.end}.`);
  }

  // -- coding a selected passage ----------------------------------------------------------------

  function offsetOf(node, offset) {
    if (node.nodeType === Node.TEXT_NODE) {
      const piece = node.parentElement.closest("span[data-s]");
      return Number(piece.dataset.s) + Array.from(node.textContent.slice(0, offset)).length;
    }
    if (node === textBox) {
      const child = textBox.childNodes[offset];
      return child ? Number(child.dataset.s) : chars.length;
    }
    const piece = node.closest("span[data-s]");
    return offset === 0 ? Number(piece.dataset.s) : Number(piece.dataset.e);
  }

  function readSelection() {
    const selection = window.getSelection();
    if (!selection.rangeCount || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    if (!textBox.contains(range.startContainer) || !textBox.contains(range.endContainer)) return null;
    let start = offsetOf(range.startContainer, range.startOffset);
    let end = offsetOf(range.endContainer, range.endOffset);
    while (start < end && /\s/.test(chars[start])) start++;
    while (end > start && /\s/.test(chars[end - 1])) end--;
    return end > start ? {start, end} : null;
  }

  function offerSelection() {
    const span = readSelection();
    if (!span) return;
    chosen = span;
    $("detail").hidden = true;
    $("selection").hidden = false;
    $("selection-text").textContent = chars.slice(span.start, span.end).join("");
    $("selection-offsets").textContent = `characters ${span.start}–${span.end}`;
    $("selection-code").focus();
  }

  function closeSelection() {
    chosen = null;
    $("selection").hidden = true;
  }

  async function addSelection() {
    if (!chosen) return;
    const code = $("selection-code").value;
    const result = await phantomcode.post(`/api/documents/${encodeURIComponent(data.doc_id)}/codings`,
      {start: chosen.start, end: chosen.end, code, note: $("selection-note").value || null});
    if (!result) return;
    const made = result.codings.find((c) => c.code === code && c.start === chosen.start && c.end === chosen.end);
    if (made) remember([made.key]);
    reloadAt(made ? made.key : null, `Coded ${chosen.end - chosen.start} characters as ${code}.`);
  }

  // -- memos --------------------------------------------------------------------------------------

  async function saveMemo(text, key) {
    if (await phantomcode.post(`/api/documents/${encodeURIComponent(data.doc_id)}/memo`, {text, key: key || null})) {
      phantomcode.say("Memo saved.", "info");
    }
  }

  // -- wiring -------------------------------------------------------------------------------------

  textBox.addEventListener("click", (event) => {
    if (!window.getSelection().isCollapsed) return;
    const piece = event.target.closest("span[data-keys]");
    if (!piece) return;
    const keys = piece.dataset.keys.split("|").sort((a, b) => {
      const x = byKey.get(a), y = byKey.get(b);
      return (x.end - x.start) - (y.end - y.start);
    });
    const at = keys.indexOf(current);
    show(keys[(at + 1) % keys.length], false);
  });
  textBox.addEventListener("mouseup", () => setTimeout(offerSelection, 0));
  textBox.addEventListener("keyup", (event) => { if (event.shiftKey) offerSelection(); });
  items.forEach((li) => {
    li.addEventListener("click", () => show(li.dataset.key, true));
    li.addEventListener("keydown", (event) => { if (event.key === "Enter") show(li.dataset.key, true); });
  });
  $("accept").addEventListener("click", () => decide("accept"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("recode").addEventListener("click", () => {
    const code = $("recode-code").value;
    if (current && code !== byKey.get(current).code) decide("reject", code);
  });
  $("undo").addEventListener("click", () => {
    const key = current;
    if (!key) return;
    const message = byKey.get(key).source === "human" ? "Coding removed." : "Decision withdrawn.";
    withdraw([key]).then((done) => { if (done) reloadAt(key, message); });
  });
  $("selection-add").addEventListener("click", addSelection);
  $("selection-cancel").addEventListener("click", closeSelection);
  $("coding-memo-save").addEventListener("click", () => saveMemo($("coding-memo").value, current));
  $("doc-memo-save").addEventListener("click", () => saveMemo($("doc-memo").value, null));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest("input, textarea");
    if (!$("selection").hidden) {
      if (event.key === "Escape") { closeSelection(); event.preventDefault(); }
      else if (event.key === "Enter" && !event.target.closest("textarea")) { addSelection(); event.preventDefault(); }
      else if (!typing && /^[1-9]$/.test(event.key)) {
        const option = $("selection-code").options[Number(event.key) - 1];
        if (option) { $("selection-code").value = option.value; event.preventDefault(); }
      }
      return;
    }
    if (typing || event.target.closest("select")) return;
    const actions = {a: () => decide("accept"), r: () => decide("reject"), j: () => step(1), k: () => step(-1),
                     u: undoLast, Escape: hide};
    if (actions[event.key]) { actions[event.key](); event.preventDefault(); }
  });

  const wanted = decodeURIComponent(location.hash.slice(1));
  if (byKey.has(wanted)) show(wanted, true);
})();
