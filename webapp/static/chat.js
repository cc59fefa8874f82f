// ChatDoctor patient page: post a question, stream the answer over SSE, stop, regenerate. No framework.
// URLs come from data-* attributes the server renders, so this file knows no routes. Text from the
// stream is only ever set with textContent; the finished answer is re-fetched as server-sanitised HTML.
(function () {
  "use strict";
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";

  async function post(url, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    headers[meta("csrf-header") || "X-CSRF-Token"] = meta("csrf-token");
    const r = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body || {}) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      const detail = data && (data.detail || (data.error && data.error.message));
      const err = new Error(typeof detail === "string" ? detail : `request failed (${r.status})`);
      throw err;
    }
    return data || {};
  }

  function showError(text) {
    const box = document.getElementById("ask-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  async function fetchBubble(id) {
    const tpl = document.getElementById("messages").dataset.fragmentUrl;
    const r = await fetch(tpl.replace("__ID__", id), { credentials: "same-origin" });
    if (!r.ok) throw new Error(`could not load the answer (${r.status})`);
    const holder = document.createElement("div");
    holder.innerHTML = await r.text(); // server-rendered, sanitised HTML
    return holder.firstElementChild;
  }

  async function refresh(bubble) {
    const fresh = await fetchBubble(bubble.dataset.messageId);
    bubble.replaceWith(fresh);
    bind(fresh);
    return fresh;
  }

  function subscribe(bubble) {
    if (bubble._source) return;
    const body = bubble.querySelector(".body");
    const queue = bubble.querySelector(".queue");
    let started = false;
    let acc = body.textContent;
    const es = new EventSource(bubble.dataset.streamUrl, { withCredentials: true });
    bubble._source = es;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      es.close();
      bubble._source = null;
      refresh(bubble).catch((e) => showError(e.message));
    };
    es.addEventListener("delta", (e) => {
      // Deltas carry their offset: a late subscriber gets the text so far (start 0), then the rest.
      let text = e.data, start = null;
      try { const d = JSON.parse(e.data); text = typeof d === "string" ? d : (d.text || ""); start = d.start; } catch (err) { /* plain */ }
      if (typeof start === "number" && start <= acc.length) acc = acc.slice(0, start) + text;
      else acc = (started ? acc : "") + text;
      started = true;
      body.classList.add("plain");
      body.textContent = acc;
      bubble.dataset.deltas = String(Number(bubble.dataset.deltas || 0) + 1);
      bubble.classList.remove("pending"); bubble.classList.add("streaming");
      if (queue) queue.hidden = true;
    });
    es.addEventListener("queue", (e) => {
      if (!queue) return;
      let pos = e.data;
      try { const d = JSON.parse(e.data); pos = d.position != null ? d.position : d; } catch (err) { /* plain */ }
      queue.textContent = Number(pos) > 0 ? `Waiting for the model: position ${pos} in the queue…` : "Starting…";
      queue.hidden = false;
    });
    es.addEventListener("done", finish);
    es.addEventListener("error", (e) => {
      // A server "error" event carries data; a dropped connection does not (EventSource retries it).
      if (e.data || es.readyState === EventSource.CLOSED) finish();
    });
  }

  async function stop(bubble, button) {
    button.disabled = true;
    try { await post(bubble.dataset.stopUrl); } catch (e) { showError(e.message); button.disabled = false; }
  }

  async function regenerate(bubble, button) {
    button.disabled = true;
    try {
      const turn = await post(bubble.dataset.regenerateUrl);
      const fresh = await fetchBubble(turn.assistant_message.id);
      button.remove(); // the newest answer is the one to regenerate from now on
      bubble.after(fresh);
      bind(fresh);
    } catch (e) { showError(e.message); button.disabled = false; }
  }

  function bind(bubble) {
    const stopBtn = bubble.querySelector("[data-action=stop]");
    if (stopBtn) stopBtn.addEventListener("click", () => stop(bubble, stopBtn));
    const regen = bubble.querySelector("[data-action=regenerate]");
    if (regen) regen.addEventListener("click", () => regenerate(bubble, regen));
    if (bubble.dataset.status === "pending" || bubble.dataset.status === "streaming") subscribe(bubble);
  }

  function userBubble(text) {
    const el = document.createElement("article");
    el.className = "msg user";
    const body = document.createElement("div");
    body.className = "body plain";
    body.textContent = text;
    el.appendChild(body);
    return el;
  }

  function addToHistory(cid, text) {
    const list = document.querySelector("aside.history ul");
    if (!list) return;
    list.querySelectorAll("li.hint").forEach((li) => li.remove());
    const li = document.createElement("li");
    li.className = "current";
    const a = document.createElement("a");
    a.href = `/chat/${cid}`;
    a.textContent = text.split("\n")[0].slice(0, 80);
    li.appendChild(a);
    list.prepend(li);
  }

  async function ask(form) {
    const box = form.querySelector("textarea");
    const text = box.value.trim();
    if (!text) return;
    const send = form.querySelector("button[type=submit]");
    send.disabled = true;
    showError("");
    try {
      let cid = form.dataset.conversationId;
      if (!cid) {
        cid = (await post(form.dataset.createUrl, {})).id;
        form.dataset.conversationId = cid;
        history.replaceState(null, "", form.dataset.pageUrlTemplate.replace("__ID__", cid));
        addToHistory(cid, text);
      }
      const turn = await post(form.dataset.postUrlTemplate.replace("__ID__", cid), { content: text });
      const list = document.getElementById("messages");
      list.querySelectorAll("[data-action=regenerate]").forEach((b) => b.remove()); // only the newest answer
      list.appendChild(userBubble(text));
      box.value = "";
      const bubble = await fetchBubble(turn.assistant_message.id);
      list.appendChild(bubble);
      bind(bubble);
    } catch (e) {
      showError(e.message);
    } finally {
      send.disabled = false;
    }
  }

  function init() {
    document.querySelectorAll("#messages .msg.assistant").forEach(bind);
    const form = document.getElementById("ask");
    if (form) {
      form.addEventListener("submit", (e) => { e.preventDefault(); ask(form); });
      form.querySelector("textarea").addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); ask(form); }
      });
    }
  }
  document.addEventListener("DOMContentLoaded", init);
})();
