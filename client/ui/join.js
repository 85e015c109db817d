/**
 * The join screen: camera/microphone preview with toggles and device pickers, name and room.
 */

import { h, initials, colorFor } from "./element.js";
import { icon } from "./icons.js";
import { listDevices, startLevelMeter } from "../media.js";

export class JoinScreen {
  /**
   * @param {HTMLElement} root the screen's container
   * @param {import("../local_media.js").LocalMedia} local
   * @param {{name: string, room: string, onJoin: (choice: {name: string, room: string}) => void,
   *          onError: (message: string) => void}} options
   */
  constructor(root, local, options) {
    this._root = root;
    this._local = local;
    this._options = options;
    this._stopMeter = () => {};
    this._meteredTrack = null;
    this._build();
    this._onLocalChange = () => this._render();
    local.addEventListener("change", this._onLocalChange);
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this._fillDevices());
  }

  /** Shows the screen and starts the preview. */
  async show() {
    this._root.hidden = false;
    this._render();
    if (!this._local.micTrack && !this._local.camTrack) {
      const problems = await this._local.start();
      for (const p of problems) this._options.onError(p);
    }
    await this._fillDevices();
    (this._nameInput.value ? this._joinButton : this._nameInput).focus();
  }

  /** Hides the screen (the local tracks keep running for the call). */
  hide() {
    this._root.hidden = true;
    this._stopMeter();
    this._meteredTrack = null;
    this._video.srcObject = null;
  }

  /** @param {boolean} busy shows a spinner on the join button */
  setBusy(busy) {
    this._joinButton.disabled = busy;
    this._joinButton.classList.toggle("busy", busy);
    this._joinButton.textContent = busy ? "Joining…" : "Join now";
  }

  _build() {
    this._video = h("video.preview-video.mirrored", { autoplay: true, muted: true, playsInline: true });
    this._avatar = h("div.avatar.avatar-large");
    this._camState = h("div.preview-status");
    this._micButton = h("button.round-btn", { type: "button", onclick: () => this._toggle("mic") });
    this._camButton = h("button.round-btn", { type: "button", onclick: () => this._toggle("cam") });
    this._meter = h("div.meter", { "aria-hidden": "true" }, ...Array.from({ length: 5 }, () => h("span")));
    this._selects = {
      audioinput: h("select", { onchange: (e) => this._pick("audioinput", e.target.value) }),
      videoinput: h("select", { onchange: (e) => this._pick("videoinput", e.target.value) }),
      audiooutput: h("select", { onchange: (e) => this._local.useSpeaker(e.target.value) }),
    };
    this._nameInput = h("input#join-name", {
      type: "text", autocomplete: "name", maxLength: 48, placeholder: "Your name", required: true,
      value: this._options.name, oninput: () => this._render(),
    });
    this._roomInput = h("input#join-room", {
      type: "text", maxLength: 64, placeholder: "Room name", required: true, value: this._options.room,
      spellcheck: false, oninput: () => this._render(),
    });
    this._joinButton = h("button.btn.btn-primary.btn-join", { type: "submit" }, "Join now");
    const form = h(
      "form.join-form",
      { onsubmit: (e) => { e.preventDefault(); this._submit(); } },
      h("h1", {}, "Ready to join?"),
      h("p.join-sub", {}, "Check your camera and microphone, then step in."),
      h("label.field", {}, h("span", {}, "Your name"), this._nameInput),
      h("label.field", {}, h("span", {}, "Room"), this._roomInput),
      this._joinButton,
      h("p.join-hint", {}, "Share the room name or the page link to invite others."),
      h("a.btn.btn-ghost.btn-echo", { href: "?echo=1" }, "Test your camera and microphone"),
    );
    const device = (label, iconName, select) =>
      h("label.device", {}, h("span.device-label", { html: icon(iconName) }, h("span.sr-only", {}, label)), select);
    this._outputDevice = device("Speaker", "speaker", this._selects.audiooutput);
    this._root.replaceChildren(
      h("header.topbar", {}, h("div.brand", {}, h("span.brand-mark"), h("span.brand-name", {}, "sfu_trio"))),
      h(
        "div.join-layout",
        {},
        h(
          "div.preview-column",
          {},
          h(
            "div.preview",
            {},
            this._video,
            this._avatar,
            this._camState,
            h("div.preview-controls", {}, this._micButton, this._camButton),
            this._meter,
          ),
          h(
            "div.devices",
            {},
            device("Microphone", "mic", this._selects.audioinput),
            device("Camera", "cam", this._selects.videoinput),
            this._outputDevice,
          ),
        ),
        form,
      ),
    );
  }

  _render() {
    if (this._root.hidden) return;
    const local = this._local;
    const name = this._nameInput.value.trim();
    this._avatar.textContent = initials(name || "?");
    this._avatar.style.background = colorFor(name);
    const camLive = local.camOn && local.camTrack !== null;
    if (camLive && this._video.srcObject?.getVideoTracks()[0] !== local.camTrack) {
      this._video.srcObject = new MediaStream([local.camTrack]);
    } else if (!camLive) {
      this._video.srcObject = null;
    }
    this._video.hidden = !camLive;
    this._avatar.hidden = camLive;
    this._camState.textContent = camLive ? "" : "Camera is off";
    setToggle(this._micButton, local.micOn, "mic", "micOff", "microphone");
    setToggle(this._camButton, local.camOn, "cam", "camOff", "camera");
    if (local.micTrack !== this._meteredTrack) {
      this._stopMeter();
      this._meteredTrack = local.micTrack;
      const bars = [...this._meter.children];
      this._stopMeter = local.micTrack
        ? startLevelMeter(local.micTrack, (level) =>
            bars.forEach((bar, i) => bar.classList.toggle("on", level > (i + 0.5) / bars.length)),
          )
        : () => {};
    }
    this._meter.classList.toggle("muted", !local.micOn);
    this._joinButton.disabled = !name || !this._roomInput.value.trim();
  }

  async _toggle(what) {
    try {
      if (what === "mic") await this._local.setMicOn(!this._local.micOn);
      else await this._local.setCamOn(!this._local.camOn);
      await this._fillDevices();
    } catch (err) {
      this._options.onError(`Could not change the ${what === "mic" ? "microphone" : "camera"}: ${err.message ?? err}`);
    }
  }

  async _pick(kind, deviceId) {
    try {
      await this._local.useDevice(kind, deviceId);
    } catch (err) {
      this._options.onError(`Could not switch device: ${err.message ?? err}`);
    }
  }

  async _fillDevices() {
    const devices = await listDevices();
    const chosen = {
      audioinput: this._local.micTrack?.getSettings().deviceId ?? this._local.prefs.audioInput,
      videoinput: this._local.camTrack?.getSettings().deviceId ?? this._local.prefs.videoInput,
      audiooutput: this._local.prefs.audioOutput,
    };
    for (const [kind, select] of Object.entries(this._selects)) {
      const list = devices[kind];
      select.replaceChildren(
        ...(list.length
          ? list.map((d, i) => h("option", { value: d.deviceId }, d.label || `${kindName(kind)} ${i + 1}`))
          : [h("option", { value: "" }, `No ${kindName(kind).toLowerCase()} found`)]),
      );
      select.disabled = list.length === 0;
      if (chosen[kind] && list.some((d) => d.deviceId === chosen[kind])) select.value = chosen[kind];
    }
    this._outputDevice.hidden = !("setSinkId" in HTMLMediaElement.prototype);
  }

  _submit() {
    const name = this._nameInput.value.trim();
    const room = this._roomInput.value.trim();
    if (!name || !room) return;
    this._options.onJoin({ name, room });
  }
}

function kindName(kind) {
  return { audioinput: "Microphone", videoinput: "Camera", audiooutput: "Speaker" }[kind];
}

/**
 * Renders an on/off media toggle button.
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 * @param {string} onIcon
 * @param {string} offIcon
 * @param {string} what
 */
export function setToggle(button, on, onIcon, offIcon, what) {
  button.innerHTML = icon(on ? onIcon : offIcon);
  button.classList.toggle("off", !on);
  button.setAttribute("aria-pressed", String(!on));
  const label = on ? `Turn off ${what}` : `Turn on ${what}`;
  button.setAttribute("aria-label", label);
  button.title = label;
}
