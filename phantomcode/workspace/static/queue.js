/* The review queue: one suggested sentence at a time, judged by keyboard. 1-9 choose a code (the
   suggested candidates first, then the rest of the codebook), a accepts it, r rejects it, n and p
   move between sentences, u takes back the last decision. When every candidate of a sentence is
   judged, the next sentence comes up. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const setup = JSON.parse($("queue-data").textContent);
  const codes = new Map(setup.codes.map((c) => [c.id, c]));
  let items = [];
  let at = 0;
  let chosen = 0;
  const done = []; // [{item, option}] of decisions made here, newest last

  function options(item) {
    const proposed = item.candidates.map((c) => c.code);
    const rest = setup.codes.filter((c) => !proposed.includes(c.id))
      .map((c) => ({code: c.id, probability: null, rule_decision: null, decision: null, other: true,
                    key: `${item.doc_id}:${item.start}-${item.end}:${c.id}`}));
    return [...item.candidates, ...rest];
  }

  // Context cut at a space (when there is one near the cut), marked with an ellipsis.
  function trimmed(context, before) {
    const flat = context.replace(/\s+/g, " ");
    if (flat.length < 200) return flat;
    if (before) {
      const space = flat.indexOf(" ");
      return "… " + (space >= 0 && space < 40 ? flat.slice(space + 1) : flat);
    }
    const space = flat.lastIndexOf(" ");
    return (space > flat.length - 40 ? flat.slice(0, space) : flat) + " …";
  }

  function judged() {
    return items.filter((item) => item.candidates.some((c) => c.decision)).length;
  }

  function render() {
    $("counter").textContent = items.length ? `sentence ${Math.min(at + 1, items.length)} of ${items.length} · ${judged()} judged` : "";
    if (at >= items.length) {
      $("item").hidden = true;
      $("done").hidden = false;
      return;
    }
    $("done").hidden = true;
    $("item").hidden = false;
    const item = items[at];
    $("item-doc").textContent = item.doc_id;
    $("item-doc").href = `/documents/${encodeURIComponent(item.doc_id)}#${encodeURIComponent(item.candidates[0] ? item.candidates[0].key : "")}`;
    $("item-offsets").textContent = `characters ${item.start}–${item.end}`;
    $("item-before").textContent = trimmed(item.before, true);
    $("item-text").textContent = item.text;
    $("item-after").textContent = trimmed(item.after, false);
    const list = $("options");
    list.replaceChildren();
    options(item).forEach((option, index) => {
      const li = document.createElement("li");
      li.className = (index === chosen ? "chosen " : "") + (option.decision || "") + (option.other ? " other" : "");
      const number = document.createElement("kbd");
      number.textContent = index < 9 ? String(index + 1) : "";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = codes.has(option.code) ? codes.get(option.code).colour : "#888";
      const name = document.createElement("span");
      name.className = "o-code";
      name.textContent = codes.has(option.code) ? codes.get(option.code).label : option.code;
      const facts = document.createElement("span");
      facts.className = "o-facts";
      if (option.probability !== null && option.probability !== undefined) {
        const bar = document.createElement("span");
        bar.className = "prob";
        bar.style.setProperty("--p", option.probability);
        bar.title = `model probability ${option.probability.toFixed(2)}`;
        facts.append(bar, ` ${option.probability.toFixed(2)}`);
      }
      if (option.rule_decision) facts.append(option.probability === null ? `rules: ${option.rule_decision}` : ` · rules: ${option.rule_decision}`);
      const state = document.createElement("span");
      state.className = "o-state";
      state.textContent = option.decision ? option.decision + "ed" : "";
      li.append(number, swatch, name, facts, state);
      li.addEventListener("click", () => { chosen = index; render(); });
      list.append(li);
    });
  }

  async function decide(decision) {
    const item = items[at];
    if (!item) return;
    const option = options(item)[chosen];
    const result = await phantomcode.post("/api/queue/decision", {doc_id: item.doc_id, start: item.start, end: item.end,
                                                                  code: option.code, decision});
    if (!result) return;
    let candidate = item.candidates.find((c) => c.code === option.code);
    if (!candidate) {
      candidate = {...option};
      item.candidates.push(candidate);
    }
    candidate.decision = decision;
    candidate.key = result.key;
    done.push({item, code: option.code, key: result.key});
    const open = item.candidates.findIndex((c) => !c.decision);
    if (open >= 0) {
      chosen = open;
    } else {
      at += 1;
      chosen = 0;
    }
    render();
  }

  async function undo() {
    const last = done[done.length - 1];
    if (!last) { phantomcode.say("Nothing to undo here.", "info"); return; }
    if (!await phantomcode.post("/api/decisions/undo", {keys: [last.key]})) return;
    done.pop();
    const candidate = last.item.candidates.find((c) => c.code === last.code);
    candidate.decision = null;
    at = items.indexOf(last.item);
    chosen = last.item.candidates.indexOf(candidate);
    render();
    phantomcode.say(`Undone: ${last.code} on ${last.item.doc_id}.`, "info");
  }

  // Training runs on the server in the background: start it, then ask how it goes twice a second.
  async function followTraining() {
    let run = await phantomcode.post("/api/train", {});
    while (run && run.state === "running") {
      await new Promise((resolve) => setTimeout(resolve, 500));
      run = await fetch("/api/train", {credentials: "same-origin"})
        .then((response) => (response.ok ? response.json() : null))
        .catch(() => null);
    }
    return run;
  }

  async function retrain() {
    $("retrain").disabled = true;
    $("train-status").textContent = "training…";
    const run = await followTraining();
    $("retrain").disabled = false;
    $("train-status").textContent = run && run.state === "done" ? "trained just now" : "";
    if (!run) {
      phantomcode.say("Lost track of the training run (was 'phantomcode serve' stopped?); reload the page.");
      return;
    }
    if (run.state !== "done") {
      phantomcode.say("Not trained: " + (run.error || "the run did not finish"));
      return;
    }
    const report = run.figures;
    $("figures").hidden = false;
    $("model-hash").textContent = report.model_hash.slice(0, 12);
    const rows = $("train-rows");
    rows.replaceChildren();
    for (const code of report.codes) {
      const tr = document.createElement("tr");
      const cells = [codes.has(code.code) ? codes.get(code.code).label : code.code, code.positives, code.negatives,
                     fixed(code.precision), fixed(code.recall), fixed(code.f1), code.needs_more ? "needs more reviewed examples" : ""];
      cells.forEach((value, index) => {
        const td = document.createElement("td");
        td.textContent = value;
        if (index > 0 && index < 6) td.className = "num";
        if (index === 6) td.className = "needs";
        tr.append(td);
      });
      rows.append(tr);
    }
  }

  function fixed(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(2);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) return;
    const item = items[at];
    if (/^[1-9]$/.test(event.key) && item) {
      const index = Number(event.key) - 1;
      if (index < options(item).length) { chosen = index; render(); }
    } else if (event.key === "a") {
      decide("accept");
    } else if (event.key === "r") {
      decide("reject");
    } else if (event.key === "n") {
      at = Math.min(at + 1, items.length);
      chosen = 0;
      render();
    } else if (event.key === "p") {
      at = Math.max(at - 1, 0);
      chosen = 0;
      render();
    } else if (event.key === "u") {
      undo();
    } else {
      return;
    }
    event.preventDefault();
  });
  $("retrain").addEventListener("click", retrain);

  fetch(`/api/queue?n=${setup.n}`, {credentials: "same-origin"})
    .then((response) => response.ok ? response.json() : response.json().then((data) => Promise.reject(data.detail)))
    .then((data) => { items = data.items; at = items.findIndex((item) => !item.candidates.some((c) => c.decision)); if (at < 0) at = items.length; render(); })
    .catch((detail) => phantomcode.say("Cannot load the queue: " + detail));
})();
