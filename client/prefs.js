/**
 * What the page remembers: the display name and device choices (localStorage, across visits)
 * and the signaling session of this tab (sessionStorage, for reconnects).
 */

const NAME_KEY = "sfu.name";
const DEVICES_KEY = "sfu.devices";
const SESSION_KEY = "sfu.session";

// Storage is passed as a getter: touching `localStorage` itself throws when storage is blocked.
function readJson(storage, key, fallback) {
  try {
    const raw = storage().getItem(key);
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

function writeJson(storage, key, value) {
  try {
    if (value === null) storage().removeItem(key);
    else storage().setItem(key, JSON.stringify(value));
  } catch {
    // Storage may be disabled (private mode, file://); remembering is best effort.
  }
}

/** @returns {string} the remembered display name, or "". */
export function loadName() {
  try {
    return localStorage.getItem(NAME_KEY) || "";
  } catch {
    return "";
  }
}

/** @param {string} name */
export function saveName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // best effort
  }
}

/**
 * @typedef {{audioInput?: string, videoInput?: string, audioOutput?: string,
 *            micOn?: boolean, camOn?: boolean}} DevicePrefs
 */

/** @returns {DevicePrefs} */
export function loadDevicePrefs() {
  return readJson(() => localStorage, DEVICES_KEY, {});
}

/** @param {DevicePrefs} prefs */
export function saveDevicePrefs(prefs) {
  writeJson(() => localStorage, DEVICES_KEY, prefs);
}

/** @returns {string} a random identifier (a UUID where the browser can make one) */
export function randomId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A fresh user id for this page load. Not kept in sessionStorage on purpose: a duplicated tab
 * copies sessionStorage, and two live sockets claiming one userId would fight over it. A reload
 * sends `leave` on pagehide, so the old participant is gone when the new one joins.
 * @returns {string}
 */
export function pageUserId() {
  return randomId();
}

/**
 * @typedef {{roomId: string, peerId: string, sessionId: string, sessionToken: string}} SessionInfo
 */

/** @returns {SessionInfo | null} the session from the last join ack of this tab. */
export function loadSession() {
  return readJson(() => sessionStorage, SESSION_KEY, null);
}

/** @param {SessionInfo | null} session */
export function saveSession(session) {
  writeJson(() => sessionStorage, SESSION_KEY, session);
}

/** @returns {string} a fresh, readable room name like "kfa-mqwe-zto". */
export function randomRoomName() {
  const letters = "abcdefghijkmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  const pick = (from, to) =>
    Array.from(bytes.slice(from, to), (b) => letters[b % letters.length]).join("");
  return `${pick(0, 3)}-${pick(3, 7)}-${pick(7, 10)}`;
}
