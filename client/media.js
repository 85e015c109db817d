/**
 * Local media: microphone and camera capture, device lists, screen capture and a level meter.
 */

import { AUDIO_CONSTRAINTS, VIDEO_CONSTRAINTS } from "./config.js";

/**
 * Captures the microphone.
 * @param {string} [deviceId]
 * @returns {Promise<MediaStreamTrack>}
 */
export async function captureMicrophone(deviceId) {
  const audio = { ...AUDIO_CONSTRAINTS, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio });
    return stream.getAudioTracks()[0];
  } catch (err) {
    if (!deviceId || err.name !== "OverconstrainedError") throw err;
    return captureMicrophone(); // the remembered device is gone
  }
}

/**
 * Captures the camera.
 * @param {string} [deviceId]
 * @returns {Promise<MediaStreamTrack>}
 */
export async function captureCamera(deviceId) {
  const video = { ...VIDEO_CONSTRAINTS, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video });
    return stream.getVideoTracks()[0];
  } catch (err) {
    if (!deviceId || err.name !== "OverconstrainedError") throw err;
    return captureCamera();
  }
}

/**
 * Asks the user for a screen, window or tab.
 * @returns {Promise<MediaStream>}
 */
export async function captureScreen() {
  return navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: 15, max: 30 } },
    audio: false,
  });
}

/**
 * Media devices by kind (labels are empty until a permission was granted).
 * @returns {Promise<{audioinput: MediaDeviceInfo[], videoinput: MediaDeviceInfo[], audiooutput: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const out = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) return out;
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    if (d.kind in out && d.deviceId !== "communications") out[d.kind].push(d);
  }
  return out;
}

/**
 * A human explanation of a getUserMedia/getDisplayMedia failure.
 * @param {unknown} err
 * @param {string} what "camera", "microphone" or "screen"
 * @returns {string}
 */
export function describeMediaError(err, what) {
  const name = /** @type {{name?: string}} */ (err)?.name;
  switch (name) {
    case "NotAllowedError":
      return what === "screen" ? "Screen sharing was cancelled." : `Permission to use the ${what} was denied.`;
    case "NotFoundError":
      return `No ${what} was found.`;
    case "NotReadableError":
      return `The ${what} is in use by another application.`;
    default:
      return `Could not start the ${what}: ${String(/** @type {Error} */ (err)?.message ?? err)}`;
  }
}

/**
 * Calls `onLevel(0..1)` about 15 times a second with the loudness of an audio track.
 * @param {MediaStreamTrack} track
 * @param {(level: number) => void} onLevel
 * @returns {() => void} stops the meter
 */
export function startLevelMeter(track, onLevel) {
  const Ctx = globalThis.AudioContext;
  if (!Ctx) return () => {};
  const ctx = new Ctx();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    onLevel(track.enabled ? Math.min(1, rms * 4) : 0);
  }, 66);
  return () => {
    clearInterval(timer);
    source.disconnect();
    ctx.close().catch(() => {});
  };
}
