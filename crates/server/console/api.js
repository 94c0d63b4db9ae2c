// The console's access to Tessera. The access token lives in this module's memory only (never in
// localStorage, sessionStorage or a readable cookie); the refresh token is in an HttpOnly cookie
// the script never sees, sent only to /console/api/.

let access = null;

/** Thrown when the session is over: the page goes back to sign-in with the message. */
export class SignedOut extends Error {}

/** An answer that is not 2xx, with the server's message. */
export class Refused extends Error {
  constructor(status, body) {
    super(messageOf(body) || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

/** The message of a DRF or simplejwt error body. */
export function messageOf(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.detail === "string") return body.detail;
  const fields = Object.entries(body)
    .filter(([, v]) => Array.isArray(v))
    .map(([k, v]) => `${k}: ${v.join(" ")}`);
  return fields.join(" ");
}

async function send(method, path, { body, bearer, cookie } = {}) {
  const headers = { "X-Requested-With": "tessera-console" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers["Authorization"] = `Bearer ${bearer}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: cookie ? "same-origin" : "omit",
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  return { status: response.status, body: parsed };
}

/** Signs in; the refresh token goes to the cookie, the access token stays here. */
export async function signIn(username, password) {
  const { status, body } = await send("POST", "/console/api/session", {
    body: { username, password },
    cookie: true,
  });
  if (status !== 200) throw new Refused(status, body);
  access = body.access;
}

/** A new access token from the cookie; false when there is no live session. */
export async function resume() {
  const { status, body } = await send("POST", "/console/api/refresh", { cookie: true });
  if (status !== 200) {
    access = null;
    return false;
  }
  access = body.access;
  return true;
}

/** Ends this session (its access tokens too) and clears the cookie. */
export async function signOut() {
  await send("POST", "/console/api/logout", { cookie: true });
  access = null;
}

/** Forgets the access token (after "Sign out everywhere"). */
export function forget() {
  access = null;
}

/**
 * An API call with the access token. An expired token is refreshed once, transparently; a
 * session that is over throws SignedOut.
 */
export async function call(method, path, body) {
  if (!access && !(await resume())) throw new SignedOut("Please sign in.");
  let answer = await send(method, path, { body, bearer: access });
  if (answer.status === 401) {
    if (!(await resume())) {
      throw new SignedOut("Your session has ended. Please sign in again.");
    }
    answer = await send(method, path, { body, bearer: access });
    if (answer.status === 401) throw new SignedOut("Your session has ended. Please sign in again.");
  }
  if (answer.status >= 400) throw new Refused(answer.status, answer.body);
  return answer.body;
}

/** Whether the server has any user yet (for the first-run hint). */
export async function status() {
  const { body } = await send("GET", "/console/api/status");
  return body || {};
}
