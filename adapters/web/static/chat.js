// The studio's chat: one WebSocket to /ws (web-protocol.md), frames drawn as chat bubbles.
// The server's `hello` carries the recent history, so a reload (or a reconnect) redraws the
// whole conversation; frames are de-duplicated by id and progress is edited in place by key.
"use strict";

(() => {
  const { el, linkified } = Studio;
  const log = document.getElementById("log");
  const wrap = document.getElementById("log-wrap");
  const empty = document.getElementById("empty");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const conn = document.getElementById("conn");

  const BUTTON_STYLE = {
    render: "primary",
    approve: "good",
    cancel: "danger",
    reject: "danger",
    unschedule: "danger",
  };

  // The right each button needs (adapters/web/chat.py BUTTON_RIGHTS). A button the role lacks
  // is still shown and sent (the server refuses it and says why); it only looks unavailable.
  const BUTTON_RIGHTS = {
    approve: "approve",
    reject: "approve",
    retry: "approve",
    schedule: "schedule",
    unschedule: "schedule",
    render: "edit",
    revise: "edit",
    cancel: "edit",
  };
  let rights = null; // from hello; null: not known yet
  let role = "";

  let socket = null;
  let timer = 0;
  let retries = 0;
  let seen = new Set();
  let progress = new Map();
  const waiting = []; // frames typed while the connection was down, sent on reconnect

  // ---- drawing -------------------------------------------------------------------------------

  // The view follows new messages (and media growing as it loads) while the reader is at the
  // bottom; once they scroll up to read, it stays where they are.
  let following = true;

  function nearBottom() {
    return wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 160;
  }

  function toBottom() {
    wrap.scrollTo({ top: wrap.scrollHeight, behavior: "instant" });
  }

  function add(item, stick) {
    if (stick) following = true;
    log.append(item);
    empty.hidden = true;
    if (following) toBottom();
    return item;
  }

  function botMessage(frame, extraClass, ...content) {
    const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, el("img", { src: "/static/icon.svg", alt: "" }));
    const bubble = el("div", { class: "bubble" }, el("span", { class: "visually-hidden", text: "NOVACAST: " }), ...content);
    return el("li", { class: `msg bot ${extraClass || ""}`.trim(), "data-id": frame.id || "" }, avatar, bubble);
  }

  function buttons(list) {
    if (!list || !list.length) return null;
    const row = el("div", { class: "buttons", role: "group", "aria-label": "Actions" });
    for (const button of list) {
      const node = el("button", {
        type: "button",
        class: BUTTON_STYLE[button.action] || "",
        "data-action": button.action,
        "data-project": button.project_id,
        text: button.label,
      });
      const needs = BUTTON_RIGHTS[button.action];
      if (rights && needs && !rights.includes(needs)) {
        node.classList.add("denied");
        node.title = `Your role (${role}) may not ${button.action}`;
      }
      node.addEventListener("click", () => press(node, button));
      row.append(node);
    }
    return row;
  }

  const DRAFT_HEAD = /^Draft v\d+/;
  const FOLDED = new Set(["Scenes", "Pictures"]); // a draft's longer sections start folded

  /** A bot text as paragraphs (blank-line separated). A paragraph that opens with a draft's
   *  headline ("Draft v2 · “Title”") shows it as a heading; one that opens with a "Label:" line
   *  (Script:, Scenes:, Pictures:) gets the label as a small heading. Links are clickable. */
  function textBlock(text) {
    const body = el("div", { class: "text" });
    for (const paragraph of (text || "").split(/\n\s*\n/)) {
      if (!paragraph.trim()) continue;
      const lines = paragraph.split("\n");
      if (DRAFT_HEAD.test(lines[0])) {
        body.append(el("h3", { text: lines.shift() }));
        if (!lines.length) continue;
      }
      const label = /^[A-Z][\w ]{1,30}:$/.test(lines[0]) ? lines.shift().slice(0, -1) : "";
      const content = linkified(lines.join("\n"));
      if (FOLDED.has(label)) {
        const count = lines.filter((line) => /^\d+\. /.test(line)).length;
        const summary = el("summary", {}, el("span", { class: "label", text: label }), count ? ` ${count}` : "");
        body.append(el("details", { class: "section" }, summary, el("p", {}, content)));
      } else {
        const labelNode = label ? el("span", { class: "label", text: label }) : null;
        body.append(el("p", { class: label ? "section" : "" }, labelNode, content));
      }
    }
    return [body];
  }

  /** A newer draft of a project folds the older ones to their headline (a button unfolds). */
  function foldOlderDrafts(item) {
    const project = item.dataset.project;
    if (!project) return;
    for (const older of log.querySelectorAll(`li.draft[data-project="${CSS.escape(project)}"]`)) {
      const before = older.compareDocumentPosition(item) & Node.DOCUMENT_POSITION_FOLLOWING;
      if (!before || older.classList.contains("old")) continue;
      older.classList.add("old");
      const toggle = el("button", { type: "button", class: "quiet unfold", "aria-expanded": "false", text: "Show" });
      toggle.addEventListener("click", () => {
        const open = older.classList.toggle("unfolded");
        toggle.setAttribute("aria-expanded", String(open));
        toggle.textContent = open ? "Hide" : "Show";
      });
      const head = older.querySelector("h3");
      if (head) head.append(" ", toggle);
    }
  }

  function say(frame) {
    const kinds = [];
    if ((frame.text || "").split("\n").some((line) => DRAFT_HEAD.test(line))) kinds.push("draft");
    if ((frame.buttons || []).some((b) => b.action === "unschedule")) kinds.push("schedule");
    if (frame.ephemeral) kinds.push("ephemeral");
    const item = botMessage(frame, kinds.join(" "), ...textBlock(frame.text), buttons(frame.buttons),
      frame.ephemeral ? el("span", { class: "meta", text: "Only you can see this" }) : null);
    if (kinds.includes("draft") && frame.buttons && frame.buttons.length) {
      item.dataset.project = frame.buttons[0].project_id;
      queueMicrotask(() => foldOlderDrafts(item));
    }
    return item;
  }

  function video(url) {
    const player = el("video", { controls: true, playsInline: true, preload: "metadata", src: url });
    player.setAttribute("playsinline", "");
    return el("div", { class: "media" }, player);
  }

  function preview(frame) {
    return botMessage(frame, "preview", video(frame.url), ...textBlock(frame.caption), buttons(frame.buttons));
  }

  function picture(frame) {
    const image = el("img", { src: frame.url, alt: frame.caption || "Storyboard", loading: "lazy" });
    return botMessage(frame, "picture", el("div", { class: "media" }, image), frame.caption ? textBlock(frame.caption)[0] : null);
  }

  function askApproval(frame) {
    return botMessage(frame, "approval", ...textBlock(frame.text), buttons(frame.buttons));
  }

  function errorFrame(frame) {
    return el("li", { class: "msg system", role: "alert" }, el("div", { class: "bubble", text: frame.text }));
  }

  function mine(text, id, pending) {
    const bubble = el("div", { class: "bubble" }, el("span", { class: "visually-hidden", text: "You: " }), el("div", { class: "text" }, linkified(text)));
    return el("li", { class: `msg me${pending ? " pending" : ""}`, "data-id": id || "", "data-text": text }, bubble);
  }

  function echo(frame) {
    const pending = [...log.querySelectorAll("li.me.pending")].find((li) => li.dataset.text === frame.text);
    if (pending) {
      pending.classList.remove("pending");
      pending.dataset.id = frame.id || "";
      return null;
    }
    return mine(frame.text, frame.id, false);
  }

  function progressCard(frame) {
    let item = progress.get(frame.key);
    if (!item) {
      const line = el("div", { class: "stage-line" }, el("span", { class: "label" }), el("span", { class: "pct" }));
      const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, el("span"));
      item = botMessage(frame, "progress", el("div", { class: "progress-card" }, line, bar));
      item.dataset.key = frame.key;
      progress.set(frame.key, item);
      add(item);
    }
    paintProgress(item.querySelector(".progress-card"), frame);
    paintProgress(stageProgress, frame);
    stageProgress.hidden = false;
    stage.hidden = false;
    item.dataset.done = frame.done ? "true" : "false";
    return null;
  }

  function paintProgress(card, frame) {
    const percent = Math.max(0, Math.min(100, Number(frame.percent) || 0));
    const name = String(frame.stage || "");
    const shown = name.charAt(0).toUpperCase() + name.slice(1);
    card.classList.toggle("done", Boolean(frame.done));
    card.querySelector(".label").textContent = frame.done ? `✓ ${shown}` : shown;
    card.querySelector(".pct").textContent = `${percent}%`;
    const bar = card.querySelector(".bar");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-label", shown);
    bar.firstElementChild.style.width = `${percent}%`;
  }

  // ---- the stage: the latest preview beside the conversation (wide screens) -----------------

  const stage = document.getElementById("stage");
  const stageVideo = document.getElementById("stage-video");
  const stageProgress = document.getElementById("stage-progress");

  function onStage(frame) {
    if (frame.type === "preview" && frame.url) {
      if (stageVideo.getAttribute("src") !== frame.url) stageVideo.src = frame.url;
      stageVideo.parentElement.hidden = false;
      document.getElementById("stage-caption").textContent = frame.caption || "";
      document.getElementById("stage-buttons").replaceChildren();
      stage.hidden = false;
    } else if (frame.type === "ask_approval" && !stage.hidden) {
      document.getElementById("stage-buttons").replaceChildren(buttons(frame.buttons) || "");
    }
  }

  function clearStage() {
    stage.hidden = true;
    stageProgress.hidden = true;
    stageVideo.removeAttribute("src");
    stageVideo.parentElement.hidden = true;
    document.getElementById("stage-buttons").replaceChildren();
  }

  const DRAW = {
    say,
    preview,
    picture,
    ask_approval: askApproval,
    echo,
    error: errorFrame,
    progress: progressCard,
  };

  // "NOVACAST is writing…" from a sent line or button until the next answer (or 20 s).
  let typing = null;
  let typingTimer = 0;

  function showTyping() {
    clearTimeout(typingTimer);
    if (!typing) {
      typing = el("li", { class: "msg bot typing", "aria-hidden": "true" },
        el("span", { class: "avatar" }, el("img", { src: "/static/icon.svg", alt: "" })),
        el("div", { class: "bubble" }, el("span", { class: "dot" }), el("span", { class: "dot" }), el("span", { class: "dot" })));
    }
    add(typing);
    typingTimer = setTimeout(hideTyping, 20000);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    if (typing) typing.remove();
  }

  function draw(frame) {
    if (frame.type !== "echo") hideTyping();
    if (frame.id && frame.type !== "progress") {
      if (seen.has(frame.id)) return;
      seen.add(frame.id);
    }
    const painter = DRAW[frame.type];
    if (!painter) return; // a newer server's frame this page does not know: skip it quietly
    const item = painter(frame);
    if (item) add(item, frame.type === "echo");
    onStage(frame);
    if (typing && typing.isConnected) log.append(typing); // stays last while it waits
  }

  function hello(frame) {
    // Sent lines not yet echoed stay (an echo in the history confirms one); all else is redrawn.
    const pending = [...log.querySelectorAll("li.me.pending")];
    hideTyping();
    for (const child of [...log.children]) if (!pending.includes(child)) child.remove();
    seen = new Set();
    progress = new Map();
    clearStage();
    Studio.showWho(frame);
    rights = Array.isArray(frame.rights) ? frame.rights : null;
    role = frame.role || "";
    for (const past of frame.history || []) draw(past);
    for (const item of pending) if (item.classList.contains("pending")) log.append(item);
    empty.hidden = log.children.length > 0;
    following = true;
    toBottom();
  }

  // ---- the connection ------------------------------------------------------------------------

  function setState(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
    document.body.dataset.conn = state;
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    else waiting.push(frame);
  }

  function press(node, button) {
    node.setAttribute("aria-pressed", "true");
    send({ type: "button", action: button.action, project_id: button.project_id });
    showTyping();
  }

  function onFrame(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "hello") hello(frame);
    else draw(frame);
  }

  async function signedOut() {
    try {
      const response = await fetch("/session", { credentials: "same-origin" });
      return response.status === 401;
    } catch {
      return false;
    }
  }

  function connect() {
    clearTimeout(timer);
    if (socket) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}/ws`);
    setState("connecting", retries ? "Reconnecting…" : "Connecting…");
    socket.addEventListener("open", () => {
      retries = 0;
      setState("online", "Online");
      while (waiting.length) socket.send(JSON.stringify(waiting.shift()));
    });
    socket.addEventListener("message", onFrame);
    socket.addEventListener("close", async () => {
      socket = null;
      if (await signedOut()) {
        setState("offline", "Signed out");
        window.location.reload();
        return;
      }
      const delay = Math.min(10000, 500 * 2 ** retries);
      retries += 1;
      setState("offline", `Offline · retrying in ${Math.round(delay / 1000) || 1}s`);
      timer = setTimeout(connect, delay);
    });
  }

  // ---- the composer --------------------------------------------------------------------------

  function grow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 180)}px`;
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    add(mine(text, "", true), true);
    send({ type: "text", text });
    showTyping();
    input.value = "";
    grow();
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", grow);
  for (const chip of document.querySelectorAll("[data-fill]")) {
    chip.addEventListener("click", () => {
      input.value = chip.dataset.fill;
      grow();
      input.focus();
    });
  }
  window.addEventListener("online", connect);
  let lastTop = 0;
  wrap.addEventListener("scroll", () => {
    // Only the reader scrolls up (content growing never lowers scrollTop): stop following
    // then; back near the bottom, follow again.
    if (wrap.scrollTop < lastTop - 4) following = false;
    if (nearBottom()) following = true;
    lastTop = wrap.scrollTop;
  }, { passive: true });
  new ResizeObserver(() => following && toBottom()).observe(log);

  connect();
  input.focus();
})();
