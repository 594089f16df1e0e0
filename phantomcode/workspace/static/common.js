/* Shared by every page: calls to the JSON API with the token header, and the banner for problems. */
"use strict";
const phantomcode = (() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const banner = document.getElementById("banner");

  function say(message, kind) {
    banner.textContent = message;
    banner.className = "banner " + (kind || "error");
    banner.hidden = false;
  }

  // The answer's data, or null when the change was not made (the banner then says why).
  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {"Content-Type": "application/json", [meta("phantomcode-token-header")]: meta("phantomcode-token")},
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (error) {
      say("The workspace server does not answer (was 'phantomcode serve' stopped?). Nothing was saved.");
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || response.statusText);
      if (data.busy) {
        say("Not saved: another phantomcode command (ingest or code) is writing this project. " +
            "Wait for it to finish and try again. (" + detail + ")", "busy");
      } else {
        say("Not saved: " + detail);
      }
      return null;
    }
    return data;
  }

  return {post, say};
})();
