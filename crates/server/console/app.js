// Tessera's console: sign-in and "my account". Plain DOM, no framework; text from the server is
// always set as text, never as HTML.
import { call, forget, resume, signIn, signOut, SignedOut, status } from "{{api.js}}";

const view = document.getElementById("view");
const alertBox = document.getElementById("alert");

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function say(message) {
  alertBox.textContent = message || "";
}

/** A short name for the device a `User-Agent` describes. */
export function device(userAgent) {
  if (!userAgent) return "Unknown device";
  const browser = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"],
    ["Chrome/", "Chrome"], ["Safari/", "Safari"]].find(([token]) => userAgent.includes(token));
  const system = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"],
    ["Windows", "Windows"], ["Mac OS X", "macOS"], ["Linux", "Linux"]]
    .find(([token]) => userAgent.includes(token));
  if (!browser && !system) return userAgent.slice(0, 60);
  return [browser && browser[1], system && system[1]].filter(Boolean).join(" on ");
}

function when(text) {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

async function showSignIn(message) {
  say(message);
  const username = el("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const password = el("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: "" });
  const form = el("form", { "aria-label": "Sign in" },
    el("label", { for: "username" }, "Username", username),
    el("label", { for: "password" }, "Password", password),
    el("button", { type: "submit", text: "Sign in" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(username.value, password.value);
      say("");
      await showAccount();
    } catch (error) {
      password.value = "";
      say(error.message);
      password.focus();
    }
  });
  const hint = el("p", { class: "muted", id: "first-run" });
  view.replaceChildren(el("section", {}, el("h1", { text: "Sign in" }), form, hint));
  username.focus();
  const facts = await status().catch(() => ({}));
  if (facts.hint) hint.textContent = facts.hint;
}

async function showAccount() {
  const me = await call("GET", "/api/me/");
  const sessions = await call("GET", "/api/sessions/");
  const list = el("ul", { class: "sessions" });
  for (const session of sessions) {
    const facts = el("span", {},
      el("strong", { text: device(session.user_agent) }), " ",
      el("span", { class: "muted", text: `${session.ip || "unknown address"} · created ${when(session.created_at)} · last used ${when(session.last_used_at)}` }));
    const item = el("li", { "data-session": session.id }, facts);
    if (session.current) {
      item.append(el("span", { class: "badge", text: "This device" }));
    } else {
      item.append(el("button", { type: "button", class: "secondary", text: "Revoke",
        onclick: () => guarded(async () => {
          await call("DELETE", `/api/sessions/${encodeURIComponent(session.id)}/`);
          await showAccount();
        }) }));
    }
    list.append(item);
  }
  const current = el("input", { id: "current-password", type: "password", autocomplete: "current-password", required: "" });
  const fresh = el("input", { id: "new-password", type: "password", autocomplete: "new-password", required: "" });
  const done = el("p", { role: "status", class: "muted" });
  const change = el("form", { "aria-label": "Change password" },
    el("label", { for: "current-password" }, "Current password", current),
    el("label", { for: "new-password" }, "New password", fresh),
    el("button", { type: "submit", text: "Change password" }), done);
  change.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await call("POST", "/api/password/", { old_password: current.value, new_password: fresh.value });
      current.value = "";
      fresh.value = "";
      await showAccount();
      view.querySelector('[role="status"]').textContent = "Password changed. Your other sessions have ended.";
    });
  });
  const roles = me.roles.length ? me.roles.join(", ") : "none";
  view.replaceChildren(
    el("section", {},
      el("h1", { text: `Signed in as ${me.username}` }),
      el("p", { text: `Roles: ${roles}` }),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", text: "Sign out",
          onclick: () => guarded(async () => { await signOut(); await showSignIn(""); }) }),
        el("button", { type: "button", class: "secondary", text: "Sign out everywhere",
          onclick: () => guarded(async () => {
            await call("POST", "/api/logout-all/");
            forget();
            await signOut();
            await showSignIn("You are signed out everywhere.");
          }) }))),
    el("section", {}, el("h2", { text: "Sessions" }), list),
    el("section", {}, el("h2", { text: "Change password" }), change));
}

/** Runs an action; a session that is over returns to sign-in, other errors are shown. */
async function guarded(action) {
  try {
    say("");
    await action();
  } catch (error) {
    if (error instanceof SignedOut) await showSignIn(error.message);
    else say(error.message);
  }
}

async function start() {
  const resumed = await resume().catch(() => false);
  if (resumed) await guarded(showAccount);
  else await showSignIn("");
}

start();
