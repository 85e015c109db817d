/**
 * Plays every received audio track through its own hidden <audio> element.
 */

import { h } from "./element.js";

export class AudioSink {
  /**
   * @param {HTMLElement} root hidden container
   * @param {() => void} onBlocked called when the browser refuses to autoplay (needs a click)
   */
  constructor(root, onBlocked) {
    this._root = root;
    this._onBlocked = onBlocked;
    /** @type {Map<MediaStreamTrack, HTMLAudioElement>} */
    this._elements = new Map();
    this._sinkId = "";
  }

  /**
   * Plays exactly these tracks.
   * @param {MediaStreamTrack[]} tracks
   */
  render(tracks) {
    const wanted = new Set(tracks);
    for (const [track, audio] of this._elements) {
      if (!wanted.has(track)) {
        audio.srcObject = null;
        audio.remove();
        this._elements.delete(track);
      }
    }
    for (const track of wanted) {
      if (this._elements.has(track)) continue;
      const audio = h("audio", { autoplay: true });
      audio.srcObject = new MediaStream([track]);
      if (this._sinkId && audio.setSinkId) audio.setSinkId(this._sinkId).catch(() => {});
      this._root.append(audio);
      this._elements.set(track, audio);
      this._play(audio);
    }
  }

  /** Retries playback after a user gesture. */
  resume() {
    for (const audio of this._elements.values()) this._play(audio);
  }

  /** @param {string} deviceId output device for all elements */
  async setSink(deviceId) {
    this._sinkId = deviceId;
    for (const audio of this._elements.values()) await audio.setSinkId?.(deviceId).catch(() => {});
  }

  _play(audio) {
    audio.play().catch((err) => {
      if (err.name === "NotAllowedError") this._onBlocked();
    });
  }
}
