// The console in a real browser (Debian's chromium through playwright-core), against the
// `tessera serve` the Rust test started: TESSERA_URL, CHROMIUM, and the users it made. Every
// uncaught script error and every console error (CSP violations included) fails the run, except the
// browser's own lines for the 4xx answers the scenarios provoke. Exits 1 with what went wrong.
import { chromium } from "playwright-core";

const base = process.env.TESSERA_URL;
const problems = [];
const check = (ok, what) => { if (!ok) throw new Error(what); };

const api = async (path, body, token) => {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    const text = message.text();
    if (message.type() === "error" && !/status of 4\d\d/.test(text)) problems.push(`console: ${text}`);
  });
  const alert = page.getByRole("alert");

  // The page's hardening.
  const first = await page.goto(base + "/");
  const headers = first.headers();
  check(headers["content-security-policy"]?.includes("script-src 'self'")
    && !headers["content-security-policy"].includes("unsafe-"), "CSP");
  check(headers["content-security-policy"].includes("frame-ancestors 'none'"), "frame-ancestors");
  check(headers["x-content-type-options"] === "nosniff", "nosniff");
  check(headers["referrer-policy"] === "no-referrer", "referrer policy");

  // The assets: hashed names, cached for good, compressed.
  const assets = [];
  page.on("response", (response) => { if (response.url().includes("/console/assets/")) assets.push(response); });

  // Sign-in: labels, tab order, a wrong password.
  await page.getByLabel("Username").waitFor();
  await page.getByLabel("Username").focus();
  await page.keyboard.press("Tab");
  check(await page.getByLabel("Password").evaluate((e) => e === document.activeElement), "tab to Password");
  await page.keyboard.press("Tab");
  check(await page.getByRole("button", { name: "Sign in" }).evaluate((e) => e === document.activeElement), "tab to Sign in");
  await page.getByLabel("Username").fill("ann");
  await page.getByLabel("Password").fill("wrong");
  await page.getByLabel("Password").press("Enter");
  await alert.filter({ hasText: "No active account found with the given credentials" }).waitFor();
  check(await page.getByLabel("Password").inputValue() === "", "the password is cleared after a failure");

  await page.reload();
  await page.getByLabel("Username").waitFor();
  check(assets.length >= 3, `assets loaded: ${assets.length}`);
  for (const response of assets) {
    const h = response.headers();
    check(/\.[0-9a-f]{16}\.(js|css)$/.test(new URL(response.url()).pathname), `a hashed name: ${response.url()}`);
    check(h["cache-control"]?.includes("immutable"), `cached for good: ${response.url()}`);
    check(h["content-encoding"] === "gzip", `compressed: ${response.url()} ${h["content-encoding"]}`);
  }

  // Throttling: the wait, in seconds.
  for (let i = 0; i < 5; i++) await api("/api/token/", { username: "tom", password: "x" });
  await page.getByLabel("Username").fill("tom");
  await page.getByLabel("Password").fill("x");
  await page.getByRole("button", { name: "Sign in" }).click();
  await alert.filter({ hasText: /Expected available in \d+ seconds/ }).waitFor();

  // Signing in, and staying signed in across a reload (the cookie, silently).
  await page.getByLabel("Username").fill("ann");
  await page.getByLabel("Password").fill("ann-pw");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Signed in as ann").waitFor();
  await page.getByText("Roles: reader").waitFor();
  await page.reload();
  await page.getByText("Signed in as ann").waitFor();

  // No token where a script could read it.
  const stored = await page.evaluate(() => ({
    local: localStorage.length, session: sessionStorage.length, cookies: document.cookie,
  }));
  check(stored.local === 0 && stored.session === 0, `storage holds nothing: ${JSON.stringify(stored)}`);
  check(!stored.cookies.includes("tessera_console"), "the refresh cookie is not readable by script");
  const cookie = (await context.cookies()).find((c) => c.name === "tessera_console");
  check(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict", `cookie flags ${JSON.stringify(cookie)}`);

  // Another session, revoked from the page: its refresh token stops working.
  const other = await api("/api/token/", { username: "ann", password: "ann-pw" });
  check(other.status === 200, "a second login");
  await page.reload();
  await page.getByText("This device").waitFor();
  const revoke = page.getByRole("button", { name: "Revoke", exact: true });
  check(await revoke.count() === 1, "one other session to revoke");
  await revoke.click();
  await page.getByRole("button", { name: "Revoke", exact: true }).waitFor({ state: "detached" });
  check((await api("/api/token/refresh/", { refresh: other.body.refresh })).status === 401, "the revoked session is over");

  // An expired access token is refreshed transparently (the server's tokens live 3 s).
  await page.waitForTimeout(3500);
  await page.getByLabel("Current password").fill("ann-pw");
  await page.getByLabel("New password").fill("ann-pw-2");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed").waitFor();
  check((await api("/api/token/", { username: "ann", password: "ann-pw" })).status === 401, "the old password is refused");
  check(await page.locator("#alert").textContent() === "", "no error shown");

  // A session revoked elsewhere sends the page back to sign-in, saying so.
  const fresh = await api("/api/token/", { username: "ann", password: "ann-pw-2" });
  await api("/api/logout-all/", {}, fresh.body.access);
  await page.getByLabel("Current password").fill("ann-pw-2");
  await page.getByLabel("New password").fill("ann-pw-3");
  await page.getByRole("button", { name: "Change password" }).click();
  await alert.filter({ hasText: "Your session has ended" }).waitFor();
  await page.getByRole("button", { name: "Sign in" }).waitFor();

  // Sign out everywhere.
  await page.getByLabel("Username").fill("ann");
  await page.getByLabel("Password").fill("ann-pw-2");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await alert.filter({ hasText: "signed out everywhere" }).waitFor();
  await page.reload();
  await page.getByRole("button", { name: "Sign in" }).waitFor();

  // Readable on a phone: no sideways scrolling at 390 px.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.getByLabel("Username").fill("ann");
  await page.getByLabel("Password").fill("ann-pw-2");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Signed in as ann").waitFor();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `no sideways scrolling at 390 px (${width})`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A user who is not an admin sees no admin links, and an admin page shows no admin data.
  check(await page.getByRole("link", { name: "Users" }).count() === 0, "no Users link for ann");
  check(await page.getByRole("link", { name: "Keys" }).count() === 0, "no Keys link for ann");
  await page.goto(base + "/admin/users");
  await alert.filter({ hasText: "You do not have permission to perform this action." }).waitFor();
  check(await page.getByRole("table").count() === 0, "no admin data for ann");
  await page.goto(base + "/");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();

  // The admin: users (search, create, disable, enable, edit, sessions, delete) and keys.
  await page.getByLabel("Username").fill("root");
  await page.getByLabel("Password").fill("root-pw");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { name: "Users" }).waitFor();
  const newUser = page.getByRole("form", { name: "New user" });
  await newUser.getByLabel("Username").fill("bob");
  await newUser.getByLabel("Password").fill("bob-pw");
  await newUser.getByLabel("Roles").fill("staff, ops");
  await newUser.getByRole("button", { name: "Create" }).click();
  const bob = page.locator('tr[data-user="bob"]');
  await bob.getByRole("cell", { name: "staff, ops" }).waitFor();
  await page.getByLabel("Search", { exact: true }).fill("bo");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByText("(1 users)").waitFor();
  check(await page.locator("tbody tr").count() === 1, "the search finds bob alone");
  await bob.getByRole("button", { name: "Disable" }).click();
  await bob.getByRole("cell", { name: "no", exact: true }).waitFor();
  check((await api("/api/token/", { username: "bob", password: "bob-pw" })).status === 401, "bob is disabled");
  await bob.getByRole("button", { name: "Enable" }).click();
  await bob.getByRole("cell", { name: "yes", exact: true }).waitFor();
  const bobLogin = await api("/api/token/", { username: "bob", password: "bob-pw" });
  check(bobLogin.status === 200, "bob is enabled");
  await bob.getByRole("button", { name: "Sessions" }).click();
  const bobSessions = page.getByRole("list", { name: "Sessions of bob" });
  await bobSessions.getByRole("button", { name: "Revoke", exact: true }).click();
  await bobSessions.getByText("No active sessions.").waitFor();
  check((await api("/api/token/refresh/", { refresh: bobLogin.body.refresh })).status === 401, "bob's session is over");
  await bob.getByRole("button", { name: "Edit" }).click();
  const edit = page.getByRole("form", { name: "Edit bob" });
  await edit.getByLabel("Roles").fill("staff");
  await edit.getByLabel("Claims").fill('{"email":"bob@example.com"}');
  await edit.getByRole("button", { name: "Save" }).click();
  await bob.getByRole("cell", { name: "staff", exact: true }).waitFor();
  await bob.getByRole("button", { name: "Delete" }).click();
  await bob.getByRole("button", { name: "Confirm" }).click();
  await bob.waitFor({ state: "detached" });
  check((await api("/api/token/", { username: "bob", password: "bob-pw" })).status === 401, "bob is deleted");

  // Paging: 21 more users make two pages of 20.
  const root = await api("/api/token/", { username: "root", password: "root-pw" });
  for (let i = 1; i <= 21; i++) {
    const created = await fetch(base + "/api/admin/users/", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${root.body.access}` },
      body: JSON.stringify({ username: `user${String(i).padStart(2, "0")}`, password: "pw" }),
    });
    check(created.status === 201, `user ${i} created`);
  }
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByText("Page 1 of 2 (23 users)").waitFor();
  check(await page.locator("tbody tr[data-user]").count() === 20, "a page of 20");
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByText("Page 2 of 2 (23 users)").waitFor();
  check(await page.locator("tbody tr[data-user]").count() === 3, "the last 3");
  await page.getByRole("button", { name: "Previous" }).click();
  await page.getByText("Page 1 of 2 (23 users)").waitFor();

  await page.getByRole("link", { name: "Keys" }).click();
  const keyRows = page.getByRole("table", { name: "Signing keys" }).locator("tbody tr");
  await keyRows.first().waitFor();
  const before = await keyRows.count();
  const kid = await keyRows.first().locator("code").textContent();
  check(kid.length >= 40, `the full kid is shown (${kid})`);
  await page.getByRole("button", { name: "Rotate signing key" }).click();
  await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length === n + 1, before);

  // Activity: the audit log with filters, and the sign-ins and failures of the last day.
  await page.getByRole("link", { name: "Activity" }).click();
  const chart = page.getByRole("img", { name: /Sign-ins and failures per hour/ });
  await chart.waitFor();
  const label = await chart.getAttribute("aria-label");
  check(/[1-9]\d* sign-ins, [1-9]\d* failures/.test(label), `the chart counts them: ${label}`);
  await page.getByLabel("Event").selectOption("user.deleted");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("table", { name: "Activity" }).locator('tr[data-event="user.deleted"]').first().waitFor();
  check(await page.locator('tbody tr:not([data-event="user.deleted"])').count() === 0, "only user.deleted");
  await page.getByRole("cell", { name: "bob", exact: true }).waitFor();
} catch (error) {
  problems.push(error.stack || String(error));
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("console: every scenario passed");
