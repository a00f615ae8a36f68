// What every studio page shares: who is signed in, the cross-site-forgery token, signing out,
// and a few DOM helpers. Plain script (no modules, no build): it defines one global, `Studio`.
"use strict";

const Studio = (() => {
  let sessionPromise = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
        node.setAttribute(key, value);
      } else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Text with http(s) links made clickable; everything else stays text (never HTML). */
  function linkified(text) {
    const out = document.createDocumentFragment();
    const pattern = /https?:\/\/[^\s<>"')\]]+/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      out.append(text.slice(last, match.index));
      out.append(el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
      last = match.index + match[0].length;
    }
    out.append(text.slice(last));
    return out;
  }

  function metaCsrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const value = meta ? meta.content : "";
    return value && !value.includes("{{") ? value : "";
  }

  /** GET /session once per page: {workspace, user, name, role, rights, csrf}. */
  function session() {
    if (!sessionPromise) {
      sessionPromise = fetch("/session", { credentials: "same-origin" }).then((response) => {
        if (response.status === 401) {
          window.location.assign("/");
          throw new Error("signed out");
        }
        if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
        return response.json();
      });
    }
    return sessionPromise;
  }

  async function csrf() {
    return metaCsrf() || (await session()).csrf;
  }

  async function signOut() {
    const response = await fetch("/signout", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": await csrf() },
    });
    window.location.assign(response.redirected ? response.url : "/");
  }

  function showWho(who) {
    const name = document.getElementById("user-name");
    const role = document.getElementById("user-role");
    const workspace = document.getElementById("workspace");
    if (name) name.textContent = who.name || who.user || "";
    if (role) role.textContent = who.role || "";
    if (workspace && who.workspace) workspace.textContent = who.workspace;
  }

  function wireHeader() {
    const button = document.getElementById("signout");
    if (button) button.addEventListener("click", () => signOut().catch(() => window.location.assign("/")));
  }

  document.addEventListener("DOMContentLoaded", wireHeader);

  return { el, linkified, session, csrf, showWho };
})();
