/**
 * The user's own microphone and camera, shared by the join screen and the call.
 *
 * The microphone is captured once and muted with `track.enabled`; turning the camera off stops
 * the track (the camera light goes off) and turning it on captures a new one.
 *
 * Events: "change" (no detail) on any state change;
 *         "track" {source: "microphone"|"camera", track: MediaStreamTrack|null} when a track is swapped.
 */

import { captureCamera, captureMicrophone, describeMediaError } from "./media.js";
import { loadDevicePrefs, saveDevicePrefs } from "./prefs.js";

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    /** The stream announced with mic and camera (its id is the msid stream id). */
    this.stream = new MediaStream();
    /** @type {MediaStreamTrack | null} */
    this.micTrack = null;
    /** @type {MediaStreamTrack | null} */
    this.camTrack = null;
    this.micOn = false;
    this.camOn = false;
    this.prefs = loadDevicePrefs();
  }

  /**
   * Captures what the remembered preferences (or `wants`) ask for. Failures are collected, not thrown.
   * @param {{micOn?: boolean, camOn?: boolean}} [wants]
   * @returns {Promise<string[]>} human-readable problems
   */
  async start(wants = {}) {
    const micOn = wants.micOn ?? this.prefs.micOn ?? true;
    const camOn = wants.camOn ?? this.prefs.camOn ?? true;
    const problems = [];
    try {
      await this._setMicTrack(await captureMicrophone(this.prefs.audioInput));
      this.micOn = micOn;
      this.micTrack.enabled = micOn;
    } catch (err) {
      problems.push(describeMediaError(err, "microphone"));
    }
    if (camOn) {
      try {
        await this._setCamTrack(await captureCamera(this.prefs.videoInput));
        this.camOn = true;
      } catch (err) {
        problems.push(describeMediaError(err, "camera"));
      }
    }
    this._changed();
    return problems;
  }

  /**
   * Mutes or unmutes the microphone (captures it first if needed).
   * @param {boolean} on
   */
  async setMicOn(on) {
    if (on && !this.micTrack) await this._setMicTrack(await captureMicrophone(this.prefs.audioInput));
    this.micOn = on && this.micTrack !== null;
    if (this.micTrack) this.micTrack.enabled = this.micOn;
    this._remember({ micOn: this.micOn });
    this._changed();
  }

  /**
   * Turns the camera on (capture) or off (stop the track).
   * @param {boolean} on
   */
  async setCamOn(on) {
    if (on === this.camOn && (!on || this.camTrack)) return;
    if (on) {
      await this._setCamTrack(await captureCamera(this.prefs.videoInput));
    } else {
      await this._setCamTrack(null);
    }
    this.camOn = on;
    this._remember({ camOn: on });
    this._changed();
  }

  /**
   * Switches to another input device.
   * @param {"audioinput"|"videoinput"} kind
   * @param {string} deviceId
   */
  async useDevice(kind, deviceId) {
    if (kind === "audioinput") {
      this._remember({ audioInput: deviceId });
      if (this.micTrack) {
        const track = await captureMicrophone(deviceId);
        track.enabled = this.micOn;
        await this._setMicTrack(track);
      }
    } else {
      this._remember({ videoInput: deviceId });
      if (this.camOn) await this._setCamTrack(await captureCamera(deviceId));
    }
    this._changed();
  }

  /** @param {string} deviceId remembers the speaker choice */
  useSpeaker(deviceId) {
    this._remember({ audioOutput: deviceId });
    this._changed();
  }

  /** Stops every capture. */
  stop() {
    for (const t of this.stream.getTracks()) {
      t.stop();
      this.stream.removeTrack(t);
    }
    this.micTrack = this.camTrack = null;
    this.micOn = this.camOn = false;
    this._changed();
  }

  async _setMicTrack(track) {
    const old = this.micTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.micTrack = track;
    if (track) this.stream.addTrack(track);
    this._emit("track", { source: "microphone", track });
  }

  async _setCamTrack(track) {
    const old = this.camTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.camTrack = track;
    if (track) {
      this.stream.addTrack(track);
      track.addEventListener("ended", () => {
        if (this.camTrack === track) this.setCamOn(false).catch(() => {});
      });
    }
    this._emit("track", { source: "camera", track });
  }

  _remember(patch) {
    Object.assign(this.prefs, patch);
    saveDevicePrefs(this.prefs);
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
