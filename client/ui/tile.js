/**
 * One video tile: a participant's camera (with avatar fallback) or a screen share.
 */

import { h, initials, colorFor } from "./element.js";
import { icon } from "./icons.js";

const QUALITY_BARS = { excellent: 4, good: 3, poor: 2, critical: 1 };

export class Tile {
  /**
   * @param {import("../room.js").TileModel} model
   * @param {(tile: Tile) => void} onResize called when the rendered size changes
   */
  constructor(model, onResize) {
    this.key = model.key;
    /** @type {import("../room.js").TileModel} */
    this.model = model;
    /** @type {MediaStreamTrack | null} */
    this._track = null;
    this._onTrackState = () => this._renderVideo();
    this._video = h("video.tile-video", { autoplay: true, muted: true, playsInline: true });
    this._video.addEventListener("resize", this._onTrackState);
    this._video.addEventListener("loadeddata", this._onTrackState);
    this._avatar = h("div.avatar");
    this._waiting = h("div.tile-waiting");
    this._name = h("span.tile-name");
    this._mic = h("span.tile-mic", { html: icon("micOff"), title: "Microphone muted" });
    this._quality = h("span.quality", { "aria-hidden": "true" }, h("i"), h("i"), h("i"), h("i"));
    const fullscreen = h("button.tile-action", {
      type: "button", title: "Full screen", "aria-label": "Full screen", html: icon("fullscreen"),
      onclick: () => this.el.requestFullscreen?.().catch(() => {}),
    });
    this.el = h(
      "div.tile",
      { dataset: { peerId: model.peerId, source: model.source } },
      this._video,
      h("div.avatar-wrap", {}, this._avatar, this._waiting),
      h("div.tile-bar", {}, this._mic, this._name, this._quality),
      fullscreen,
    );
    this._resizeObserver = new ResizeObserver(() => onResize(this));
    this._resizeObserver.observe(this.el);
    this.update(model);
  }

  /** @returns {number} rendered height in CSS pixels */
  get height() {
    return this.el.clientHeight;
  }

  /**
   * Re-renders from a new model of the same key.
   * @param {import("../room.js").TileModel} model
   */
  update(model) {
    this.model = model;
    const el = this.el;
    el.dataset.peerId = model.peerId;
    el.classList.toggle("self", model.isSelf);
    el.classList.toggle("screen", model.source === "screen");
    el.classList.toggle("speaking", model.speaking);
    el.classList.toggle("mirrored", model.isSelf && model.source === "camera" && !model.echo);
    const label = model.source === "screen"
      ? `${model.isSelf ? "You are" : `${model.name} is`} presenting`
      : model.echo ? "You, as the others see and hear you"
      : model.isSelf ? `${model.name} (You)` : model.name;
    this._name.textContent = label;
    this._mic.hidden = !model.micMuted || model.source === "screen";
    this._avatar.textContent = initials(model.name);
    this._avatar.style.background = colorFor(model.name);
    const bars = QUALITY_BARS[model.quality] ?? 0;
    this._quality.hidden = bars === 0;
    this._quality.dataset.level = model.quality;
    this._quality.title = model.quality ? `Connection: ${model.quality}` : "";
    [...this._quality.children].forEach((bar, i) => bar.classList.toggle("on", i < bars));
    this._setTrack(model.videoTrack);
    this._renderVideo();
  }

  /** Detaches media and observers. */
  destroy() {
    this._setTrack(null);
    this._resizeObserver.disconnect();
    this.el.remove();
  }

  _setTrack(track) {
    if (track === this._track) return;
    if (this._track) {
      this._track.removeEventListener("mute", this._onTrackState);
      this._track.removeEventListener("unmute", this._onTrackState);
      this._track.removeEventListener("ended", this._onTrackState);
    }
    this._track = track;
    if (track) {
      track.addEventListener("mute", this._onTrackState);
      track.addEventListener("unmute", this._onTrackState);
      track.addEventListener("ended", this._onTrackState);
      this._video.srcObject = new MediaStream([track]);
      this._video.play().catch(() => {});
    } else {
      this._video.srcObject = null;
    }
  }

  _renderVideo() {
    const m = this.model;
    const t = this._track;
    const flowing = t !== null && t.readyState === "live" && !t.muted && this._video.videoWidth > 0;
    const show = flowing && !m.camOff;
    // The video stays laid out (opacity only): hidden videos may be paused and never report a size.
    this.el.classList.toggle("no-video", !show);
    this._avatar.hidden = show || m.source === "screen";
    this._waiting.hidden = show || m.source !== "screen";
    this._waiting.textContent = m.source === "screen" ? "Waiting for the shared screen…" : "";
  }
}
