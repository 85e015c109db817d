/**
 * Client-wide constants and URL overrides.
 *
 * Query parameters understood by the page:
 *   ?room=<name>      room to join (prefills the join screen)
 *   ?name=<name>      display name (with ?room=, joins directly)
 *   ?simulcast=0      publish the camera as a single layer
 *   ?camera=WxH@fps   camera capture size and frame rate (default 1280x720@30), e.g. 640x360@15
 *   ?server=<ws url>  signaling endpoint (default: /ws on this host)
 *   ?echo=1           "test my camera and microphone": a private session in which the server
 *                     sends the page its own camera and microphone back
 */

const params = new URLSearchParams(location.search);

/** Publish the camera with three simulcast layers (q/h/f). */
export const SIMULCAST = params.get("simulcast") !== "0";

/** Camera encodings when SIMULCAST is on: quarter, half and full resolution. */
export const SIMULCAST_ENCODINGS = Object.freeze([
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
]);

/** Lower bound of free recvonly transceivers of each kind kept ready. */
export const MIN_FREE_SLOTS = 4;

/** Reconnect back-off: first delay and ceiling, in milliseconds. */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 10_000;

/** The socket is presumed dead when nothing arrives for this long (server pings every 30 s). */
export const SILENCE_TIMEOUT_MS = 75_000;

/** How long ICE may stay "disconnected"/"failed" before the client asks for an ICE restart. */
export const ICE_GRACE_MS = 3_000;

/** An offer without an answer after this long is rolled back. */
export const ANSWER_TIMEOUT_MS = 15_000;

/**
 * Camera capture constraints: `?camera=WxH@fps` or 1280x720 at 30 frames a second.
 * @param {string | null} text
 */
function cameraConstraints(text) {
  const match = /^(\d{2,4})x(\d{2,4})(?:@(\d{1,2}))?$/.exec(text ?? "");
  const [width, height, fps] = match ? [+match[1], +match[2], +(match[3] ?? 30)] : [1280, 720, 30];
  return Object.freeze({
    width: { ideal: width },
    height: { ideal: height },
    frameRate: { ideal: fps },
  });
}

export const VIDEO_CONSTRAINTS = cameraConstraints(params.get("camera"));

/** Audio capture constraints. */
export const AUDIO_CONSTRAINTS = Object.freeze({
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
});

/** Query parameters of the page. */
export const query = Object.freeze({
  room: params.get("room")?.trim() || "",
  name: params.get("name")?.trim() || "",
  server: params.get("server")?.trim() || "",
  echo: params.get("echo") === "1",
});

/**
 * The signaling WebSocket URL for a user.
 * @param {string} userId
 * @param {string} name
 * @returns {string}
 */
export function signalingUrl(userId, name) {
  let base = query.server;
  if (!base) {
    if (location.protocol === "http:" || location.protocol === "https:") {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      base = `${scheme}//${location.host}/ws`;
    } else {
      base = "ws://localhost:8080/ws";
    }
  }
  const url = new URL(base);
  url.searchParams.set("userId", userId);
  url.searchParams.set("name", name);
  return url.toString();
}
