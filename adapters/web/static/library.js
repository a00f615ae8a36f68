// The library: the workspace's projects (GET /api/v1/projects, then each project's details),
// its usage (GET /api/v1/usage) and its schedules on a week view (GET /api/v1/schedules).
// Read-only; every call rides on the session cookie.
"use strict";

(() => {
  const { el } = Studio;
  const PAGE = 24;
  const DAY = 24 * 60 * 60 * 1000;

  let cursor = null;
  let schedules = [];
  let weekOffset = 0;
  const titles = new Map(); // project id -> title, for the week view's publish slots

  async function api(path) {
    const response = await fetch(`/api/v1${path}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      window.location.assign("/library");
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function items(body) {
    if (Array.isArray(body)) return body;
    return body.items || body.projects || body.schedules || body.data || [];
  }

  // ---- figures -------------------------------------------------------------------------------

  function number(value, digits = 0) {
    const n = Number(value || 0);
    return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
  }

  function seconds(value) {
    const n = Number(value || 0);
    return n >= 90 ? `${number(n / 60, 1)} min` : `${number(n, 1)} s`;
  }

  function money(value) {
    if (value === null || value === undefined) return "—";
    return `$${number(value, value > 0 && value < 0.01 ? 4 : 2)}`;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  /** A UsageOut (a project's `usage`, the workspace's `total`) as the page shows it. */
  function cost(usage) {
    const u = usage || {};
    return {
      tokens: (u.input_tokens || 0) + (u.output_tokens || 0),
      renderSeconds: u.render_seconds || 0,
      usd: u.cost_usd ?? null,
    };
  }

  async function showUsage() {
    const box = document.getElementById("usage");
    try {
      const usage = await api("/usage");
      const total = cost(usage.total);
      const stats = [
        ["Projects", number(usage.projects)],
        ["LLM tokens", number(total.tokens)],
        ["Render time", seconds(total.renderSeconds)],
        ["Cost", money(total.usd)],
      ];
      box.replaceChildren(...stats.map(([label, value]) => el("div", { class: "stat" }, el("dt", { text: label }), el("dd", { text: value }))));
    } catch (error) {
      box.replaceChildren(el("div", { class: "notice error", text: `Usage unavailable (${error.message})` }));
    }
  }

  // ---- projects ------------------------------------------------------------------------------

  function versionsOf(project) {
    return project.versions || [];
  }

  function previewUrl(project) {
    return project.video_url || project.preview_url || "";
  }

  function published(project) {
    const list = project.published_to || [];
    return list.length ? list.join(", ") : "not yet";
  }

  function versionList(project) {
    const versions = versionsOf(project);
    if (!versions.length) return null;
    const list = el("ol", { class: "versions", reversed: true });
    for (const version of [...versions].reverse()) {
      const marks = [version.current ? "current" : "", version.rendered ? "rendered" : ""].filter(Boolean).join(", ");
      const bits = [`v${version.number}`, version.title, `${version.target_seconds} s`, (version.scenes || []).length ? `${version.scenes.length} scenes` : "", marks];
      list.append(el("li", { text: bits.filter(Boolean).join(" · ") }));
    }
    return el("details", {}, el("summary", { text: `${versions.length} version${versions.length === 1 ? "" : "s"}` }), list);
  }

  function card(project) {
    const spent = cost(project.usage);
    const url = previewUrl(project);
    const player = url ? el("video", { controls: true, playsInline: true, preload: "metadata", src: url }) : null;
    if (player) player.setAttribute("playsinline", "");
    const version = project.current_version;
    const rendered = project.rendered_version ? ` (v${project.rendered_version} rendered)` : "";
    const facts = el(
      "dl",
      { class: "facts" },
      el("dt", { text: "Version" }), el("dd", { text: version ? `v${version}${rendered}` : "—" }),
      el("dt", { text: "Published" }), el("dd", { text: published(project) }),
      el("dt", { text: "Tokens" }), el("dd", { text: number(spent.tokens) }),
      el("dt", { text: "Render" }), el("dd", { text: seconds(spent.renderSeconds) }),
      el("dt", { text: "Updated" }), el("dd", { text: when(project.updated_at || project.created_at) || "—" }),
    );
    const state = String(project.state || "draft").toLowerCase();
    return el(
      "li",
      { class: "card", "data-project": project.id },
      el("div", { class: "toolbar" }, el("span", { class: "badge", "data-state": state, text: state }), el("span", { class: "spacer" }), el("code", { class: "meta", text: project.id })),
      el("h3", { text: project.title || project.idea || project.id }),
      project.idea && project.title ? el("p", { class: "idea", text: project.idea }) : null,
      player,
      project.last_error ? el("p", { class: "problem", role: "note", text: project.last_error }) : null,
      facts,
      versionList(project),
    );
  }

  async function detailed(project) {
    try {
      const body = await api(`/projects/${encodeURIComponent(project.id)}/versions`);
      return { ...project, versions: body.versions || [] };
    } catch {
      return project;
    }
  }

  async function moreProjects() {
    const list = document.getElementById("projects");
    const note = document.getElementById("projects-note");
    const more = document.getElementById("more");
    more.disabled = true;
    try {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) query.set("cursor", cursor);
      const body = await api(`/projects?${query}`);
      const page = await Promise.all(items(body).map(detailed));
      for (const project of page) titles.set(project.id, project.title);
      list.append(...page.map(card));
      cursor = body.next_cursor || body.cursor || null;
      more.hidden = !cursor;
      note.hidden = list.children.length > 0;
      note.textContent = "No projects yet. Make one in the chat: /make 30s on …";
    } catch (error) {
      note.hidden = false;
      note.classList.add("error");
      note.textContent = `Projects unavailable (${error.message})`;
    } finally {
      more.disabled = false;
    }
  }

  // ---- the week view -------------------------------------------------------------------------

  function monday(offset) {
    const now = new Date();
    const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    start.setDate(start.getDate() - ((start.getDay() + 6) % 7) + 7 * offset);
    return start;
  }

  function runs(schedule) {
    // every firing the API lists (a recurring show: each of the next weeks'), else its next time
    const times = schedule.upcoming && schedule.upcoming.length ? schedule.upcoming : [schedule.next_at];
    return times.filter(Boolean).map((t) => new Date(t)).filter((d) => !Number.isNaN(d.getTime()));
  }

  function slot(schedule, date) {
    const time = el("time", { dateTime: date.toISOString(), text: date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) });
    const what = schedule.kind === "make" ? `Make “${schedule.idea}”` : `Publish “${titles.get(schedule.project_id) || schedule.project_id}”${schedule.version ? ` v${schedule.version}` : ""}`;
    const repeat = schedule.recurring ? el("div", { class: "repeat", text: `↻ ${schedule.description}` }) : null;
    return el("div", { class: "slot", role: "listitem", "data-schedule": schedule.id, title: schedule.description }, time, what, repeat);
  }

  function drawWeek() {
    const start = monday(weekOffset);
    const end = new Date(start.getTime() + 7 * DAY);
    const today = new Date();
    const week = document.getElementById("week");
    const days = [];
    for (let i = 0; i < 7; i += 1) {
      const day = new Date(start);
      day.setDate(start.getDate() + i);
      const isToday = day.toDateString() === today.toDateString();
      const head = el("h3", {}, day.toLocaleDateString(undefined, { weekday: "short" }), el("b", { text: String(day.getDate()) }));
      days.push(el("div", { class: `day${isToday ? " today" : ""}`, "data-date": day.toDateString(), "aria-label": day.toDateString() }, head));
    }
    const inWeek = schedules.flatMap((s) => runs(s).map((d) => [s, d])).filter(([, d]) => d >= start && d < end).sort((a, b) => a[1] - b[1]);
    for (const [schedule, date] of inWeek) days[(date.getDay() + 6) % 7].append(slot(schedule, date));
    week.replaceChildren(...days);
    const last = new Date(end.getTime() - DAY);
    const format = { month: "short", day: "numeric" };
    document.getElementById("week-range").textContent = `${start.toLocaleDateString(undefined, format)} – ${last.toLocaleDateString(undefined, format)}`;
    const note = document.getElementById("week-note");
    note.hidden = inWeek.length > 0;
    note.textContent = schedules.length ? "Nothing runs this week." : "Nothing is scheduled. In the chat: “schedule it for tomorrow 9am”.";
  }

  async function loadSchedules() {
    try {
      schedules = items(await api("/schedules"));
    } catch (error) {
      schedules = [];
      const note = document.getElementById("week-note");
      note.classList.add("error");
      note.textContent = `Schedules unavailable (${error.message})`;
    }
    drawWeek();
  }

  function moveWeek(delta) {
    weekOffset = delta === 0 ? 0 : weekOffset + delta;
    drawWeek();
  }

  document.getElementById("week-prev").addEventListener("click", () => moveWeek(-1));
  document.getElementById("week-next").addEventListener("click", () => moveWeek(1));
  document.getElementById("week-today").addEventListener("click", () => moveWeek(0));
  document.getElementById("more").addEventListener("click", moreProjects);

  Studio.session().then(Studio.showWho).catch(() => {});
  drawWeek();
  showUsage();
  moreProjects().then(loadSchedules);
})();
