// Tessera's console: sign-in and "my account". Plain DOM, no framework; text from the server is
// always set as text, never as HTML.
import { call, forget, resume, signIn, signOut, SignedOut, status } from "{{api.js}}";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
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
  nav.replaceChildren();
  if (location.pathname !== "/") history.replaceState(null, "", "/");
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
      await route();
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

/** The links a user may follow: the account, and for admins the console's admin pages. */
function showNav(me) {
  const link = (href, text) => el("a", { href, text, onclick: (event) => {
    event.preventDefault();
    history.pushState(null, "", href);
    guarded(route);
  } });
  const links = [link("/", "Account")];
  if (me.roles.includes("admin")) {
    links.push(link("/admin/users", "Users"), link("/admin/keys", "Keys"), link("/admin/activity", "Activity"));
  }
  nav.replaceChildren(...links);
}

async function showAccount() {
  const me = await call("GET", "/api/me/");
  showNav(me);
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

/** The page the address names. */
async function route() {
  if (location.pathname === "/admin/users") return showUsers();
  if (location.pathname === "/admin/keys") return showKeys();
  if (location.pathname === "/admin/activity") return showActivity();
  return showAccount();
}

const PAGE = 20;

async function showUsers(search = "", offset = 0) {
  showNav(await call("GET", "/api/me/"));
  view.replaceChildren();
  const query = `?limit=${PAGE}&offset=${offset}` + (search ? `&search=${encodeURIComponent(search)}` : "");
  const page = await call("GET", `/api/admin/users/${query}`);
  const again = () => showUsers(search, offset);

  const find = el("input", { id: "search", type: "search", value: search });
  const searchForm = el("form", { role: "search", "aria-label": "Search users" },
    el("label", { for: "search" }, "Search", find),
    el("button", { type: "submit", text: "Search" }));
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => showUsers(find.value.trim(), 0));
  });

  const table = el("table", { "aria-label": "Users" },
    el("thead", {}, el("tr", {}, ...["Username", "Roles", "Active", "Actions"].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const user of page.results) {
    const actions = el("td", { class: "actions" });
    const row = el("tr", { "data-user": user.username },
      el("td", { text: user.username }), el("td", { text: user.roles.join(", ") }),
      el("td", { text: user.is_active ? "yes" : "no" }), actions);
    const patch = (change) => guarded(async () => {
      await call("PATCH", `/api/admin/users/${user.id}/`, change);
      await again();
    });
    actions.append(
      el("button", { type: "button", class: "secondary", text: user.is_active ? "Disable" : "Enable",
        onclick: () => patch({ is_active: !user.is_active }) }),
      el("button", { type: "button", class: "secondary", text: "Edit",
        onclick: () => editUser(row, user, again) }),
      el("button", { type: "button", class: "secondary", text: "Sessions",
        onclick: () => guarded(() => userSessions(row, user)) }),
      el("button", { type: "button", class: "secondary", text: "Delete",
        onclick: (event) => {
          const confirm = el("button", { type: "button", text: "Confirm",
            onclick: () => guarded(async () => {
              await call("DELETE", `/api/admin/users/${user.id}/`);
              await again();
            }) });
          event.target.replaceWith(confirm);
          confirm.focus();
        } }));
    body.append(row);
  }
  table.append(body);

  const pages = Math.max(1, Math.ceil(page.count / PAGE));
  const paging = el("div", { class: "actions" },
    el("span", { class: "muted", text: `Page ${Math.floor(offset / PAGE) + 1} of ${pages} (${page.count} users)` }));
  if (offset > 0) paging.append(el("button", { type: "button", class: "secondary", text: "Previous",
    onclick: () => guarded(() => showUsers(search, Math.max(0, offset - PAGE))) }));
  if (offset + PAGE < page.count) paging.append(el("button", { type: "button", class: "secondary", text: "Next",
    onclick: () => guarded(() => showUsers(search, offset + PAGE)) }));

  const name = el("input", { id: "new-username", required: "" });
  const password = el("input", { id: "new-password-user", type: "password", autocomplete: "new-password", required: "" });
  const roles = el("input", { id: "new-roles", placeholder: "staff, ops" });
  const create = el("form", { "aria-label": "New user" },
    el("label", { for: "new-username" }, "Username", name),
    el("label", { for: "new-password-user" }, "Password", password),
    el("label", { for: "new-roles" }, "Roles", roles),
    el("button", { type: "submit", text: "Create" }));
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await call("POST", "/api/admin/users/", {
        username: name.value, password: password.value, roles: splitRoles(roles.value),
      });
      await showUsers(search, offset);
    });
  });

  view.replaceChildren(
    el("section", {}, el("h1", { text: "Users" }), searchForm, el("div", { class: "scroll" }, table), paging),
    el("section", {}, el("h2", { text: "New user" }), create));
}

function splitRoles(text) {
  return text.split(",").map((role) => role.trim()).filter(Boolean);
}

function editUser(row, user, again) {
  const id = `edit-${user.id}`;
  const roles = el("input", { id: `${id}-roles`, value: user.roles.join(", ") });
  const claims = el("input", { id: `${id}-claims`, value: JSON.stringify(user.claims) });
  const form = el("form", { "aria-label": `Edit ${user.username}` },
    el("label", { for: `${id}-roles` }, "Roles", roles),
    el("label", { for: `${id}-claims` }, "Claims", claims),
    el("button", { type: "submit", text: "Save" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      let parsed;
      try { parsed = JSON.parse(claims.value || "{}"); } catch { throw new Error("Claims must be a JSON object."); }
      await call("PATCH", `/api/admin/users/${user.id}/`, { roles: splitRoles(roles.value), claims: parsed });
      await again();
    });
  });
  row.after(el("tr", {}, el("td", { colspan: "4" }, form)));
}

async function userSessions(row, user) {
  const sessions = await call("GET", `/api/admin/users/${user.id}/sessions/`);
  const list = el("ul", { class: "sessions", "aria-label": `Sessions of ${user.username}` });
  for (const session of sessions) {
    list.append(el("li", {},
      el("span", { text: `${device(session.user_agent)} · ${session.ip || "unknown address"} · ${when(session.created_at)}` }),
      el("button", { type: "button", class: "secondary", text: "Revoke",
        onclick: () => guarded(async () => {
          await call("DELETE", `/api/admin/users/${user.id}/sessions/${encodeURIComponent(session.id)}/`);
          await userSessions(row, user);
        }) })));
  }
  if (!sessions.length) list.append(el("li", { text: "No active sessions." }));
  const next = row.nextElementSibling;
  if (next && next.dataset.sessionsOf === user.username) next.remove();
  row.after(el("tr", { "data-sessions-of": user.username }, el("td", { colspan: "4" }, list)));
}

async function showKeys() {
  showNav(await call("GET", "/api/me/"));
  view.replaceChildren();
  const keys = await call("GET", "/api/admin/keys/");
  const table = el("table", { "aria-label": "Signing keys" },
    el("thead", {}, el("tr", {}, ...["Key id", "Algorithm", "State", "Created"].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const key of keys) {
    body.append(el("tr", {}, el("td", {}, el("code", { text: key.kid })), el("td", { text: key.alg }),
      el("td", { text: key.until ? `${key.state} until ${when(key.until)}` : key.state }),
      el("td", { text: when(key.created_at) })));
  }
  table.append(body);
  view.replaceChildren(el("section", {}, el("h1", { text: "Keys" }), el("div", { class: "scroll" }, table),
    el("button", { type: "button", text: "Rotate signing key",
      onclick: () => guarded(async () => { await call("POST", "/api/admin/keys/rotate/"); await showKeys(); }) })));
}

const EVENTS = ["login.success", "login.failure", "login.throttled", "token.refresh",
  "token.reuse_detected", "session.revoked", "user.logout_all", "user.password_changed",
  "user.created", "user.updated", "user.disabled", "user.enabled", "user.deleted", "key.rotated",
  "client.created", "client.deleted", "client.secret_rotated"];

/** Every event of `kind` since `since` (ISO time), read in pages. */
async function eventsSince(kind, since) {
  const all = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await call("GET", `/api/admin/audit/?event=${kind}&since=${encodeURIComponent(since)}&limit=1000&offset=${offset}`);
    all.push(...page.results);
    if (all.length >= page.count || page.results.length === 0) return all;
  }
}

/** Sign-ins and failures per hour over the last day, as an SVG bar chart (no inline style). */
async function activityChart() {
  const now = new Date();
  const since = new Date(now.getTime() - 24 * 3600 * 1000);
  since.setMinutes(0, 0, 0);
  const hours = Array.from({ length: 25 }, (_, i) => new Date(since.getTime() + i * 3600 * 1000));
  const bucket = (events) => {
    const counts = new Array(hours.length).fill(0);
    for (const event of events) {
      const index = Math.floor((new Date(event.time) - since) / 3600000);
      if (index >= 0 && index < counts.length) counts[index] += 1;
    }
    return counts;
  };
  const successes = bucket(await eventsSince("login.success", since.toISOString()));
  const failures = bucket(await eventsSince("login.failure", since.toISOString()));
  const most = Math.max(1, ...successes, ...failures);
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  const width = hours.length * 12;
  svg.setAttribute("viewBox", `0 0 ${width} 110`);
  svg.setAttribute("role", "img");
  const total = (counts) => counts.reduce((a, b) => a + b, 0);
  svg.setAttribute("aria-label",
    `Sign-ins and failures per hour, last day: ${total(successes)} sign-ins, ${total(failures)} failures`);
  hours.forEach((hour, i) => {
    [[successes[i], "#1f883d", 1], [failures[i], "#cf222e", 6]].forEach(([count, colour, dx]) => {
      const bar = document.createElementNS(svgNs, "rect");
      const height = Math.round((count / most) * 100);
      bar.setAttribute("x", String(i * 12 + dx));
      bar.setAttribute("y", String(100 - height));
      bar.setAttribute("width", "5");
      bar.setAttribute("height", String(height));
      bar.setAttribute("fill", colour);
      const title = document.createElementNS(svgNs, "title");
      title.textContent = `${hour.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${count}`;
      bar.append(title);
      svg.append(bar);
    });
  });
  return el("figure", { class: "chart" }, svg,
    el("figcaption", { class: "muted",
      text: `Sign-ins (green) and failures (red) per hour since ${since.toLocaleString()}: ${total(successes)} sign-ins, ${total(failures)} failures.` }));
}

async function showActivity(filters = {}) {
  showNav(await call("GET", "/api/me/"));
  view.replaceChildren();
  const params = new URLSearchParams({ limit: "100" });
  if (filters.event) params.set("event", filters.event);
  if (filters.user) params.set("user", filters.user);
  if (filters.since) params.set("since", new Date(filters.since).toISOString());
  const page = await call("GET", `/api/admin/audit/?${params}`);
  const kind = el("select", { id: "filter-event" }, el("option", { value: "", text: "Any event" }),
    ...EVENTS.map((name) => el("option", { value: name, text: name })));
  kind.value = filters.event || "";
  const user = el("input", { id: "filter-user", value: filters.user || "" });
  const since = el("input", { id: "filter-since", type: "datetime-local", value: filters.since || "" });
  const form = el("form", { "aria-label": "Filter activity" },
    el("label", { for: "filter-event" }, "Event", kind),
    el("label", { for: "filter-user" }, "User", user),
    el("label", { for: "filter-since" }, "Since", since),
    el("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => showActivity({ event: kind.value, user: user.value.trim(), since: since.value }));
  });
  const table = el("table", { "aria-label": "Activity" },
    el("thead", {}, el("tr", {}, ...["Time", "Event", "User", "By", "Address"].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const event of page.results) {
    const by = event.actor.id ? `${event.actor.type} ${event.actor.id}` : event.actor.type;
    body.append(el("tr", { "data-event": event.event },
      el("td", { text: when(event.time) }), el("td", { text: event.event }),
      el("td", { text: event.subject ? event.subject.username : (event.detail.username || "") }),
      el("td", { text: by }), el("td", { text: event.ip || "" })));
  }
  table.append(body);
  view.replaceChildren(
    el("section", {}, el("h1", { text: "Activity" }), await activityChart()),
    el("section", {}, form, el("p", { class: "muted", text: `${page.count} events (newest first, 100 shown)` }),
      el("div", { class: "scroll" }, table)));
}

window.addEventListener("popstate", () => guarded(route));

async function start() {
  const resumed = await resume().catch(() => false);
  if (resumed) await guarded(route);
  else await showSignIn("");
}

start();
