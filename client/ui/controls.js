/**
 * The call chrome: the header (room name, participant count, invite link) and the controls bar
 * (microphone, camera, screen share, leave, people panel).
 */

import { h } from "./element.js";
import { icon } from "./icons.js";
import { setToggle } from "./join.js";

/**
 * @typedef {{onMic: () => void, onCam: () => void, onScreen: () => void, onLeave: () => void,
 *            onPeople: () => void, onCopyLink: () => void}} ControlActions
 * @typedef {{roomId: string, count: number, micOn: boolean, camOn: boolean, screenOn: boolean,
 *            peopleOpen: boolean, screenSupported: boolean}} ControlState
 */

export class Controls {
  /**
   * @param {HTMLElement} header
   * @param {HTMLElement} bar
   * @param {ControlActions} actions
   */
  constructor(header, bar, actions) {
    this._roomName = h("span.room-name");
    this._count = h("span.room-count");
    this._clock = h("span.clock");
    header.replaceChildren(
      h("div.brand", {}, h("span.brand-mark"), h("span.brand-name", {}, "sfu_trio")),
      h("div.room-info", {}, this._roomName, h("span.dot-sep", {}, "·"), this._count),
      h(
        "button.btn.btn-ghost.copy-link",
        { type: "button", onclick: actions.onCopyLink, title: "Copy the invite link" },
        h("span", { html: icon("copy") }),
        h("span", {}, "Copy link"),
      ),
    );
    this._mic = h("button.round-btn", { type: "button", id: "btn-mic", onclick: actions.onMic });
    this._cam = h("button.round-btn", { type: "button", id: "btn-cam", onclick: actions.onCam });
    this._screen = h("button.round-btn", { type: "button", id: "btn-screen", onclick: actions.onScreen });
    this._leave = h("button.round-btn.leave", {
      type: "button", id: "btn-leave", onclick: actions.onLeave, title: "Leave call", "aria-label": "Leave call",
      html: icon("hangup"),
    });
    this._peopleBadge = h("span.badge");
    this._people = h(
      "button.round-btn.flat",
      { type: "button", id: "btn-people", onclick: actions.onPeople, title: "Show everyone", "aria-label": "Show everyone" },
      h("span", { html: icon("people") }),
      this._peopleBadge,
    );
    bar.replaceChildren(
      h("div.bar-left", {}, this._clock),
      h("div.bar-center", {}, this._mic, this._cam, this._screen, this._leave),
      h("div.bar-right", {}, this._people),
    );
    this._tickClock();
    setInterval(() => this._tickClock(), 15_000);
    document.addEventListener("keydown", (e) => {
      if (!(e.ctrlKey || e.metaKey) || bar.closest("[hidden]")) return;
      const key = e.key.toLowerCase();
      if (key === "d") actions.onMic();
      else if (key === "e") actions.onCam();
      else return;
      e.preventDefault();
    });
  }

  /** @param {ControlState} s */
  render(s) {
    this._roomName.textContent = s.roomId;
    this._count.textContent = `${s.count} ${s.count === 1 ? "participant" : "participants"}`;
    this._peopleBadge.textContent = String(s.count);
    setToggle(this._mic, s.micOn, "mic", "micOff", "microphone");
    this._mic.title += " (Ctrl+D)";
    setToggle(this._cam, s.camOn, "cam", "camOff", "camera");
    this._cam.title += " (Ctrl+E)";
    this._screen.innerHTML = icon(s.screenOn ? "screenOff" : "screen");
    this._screen.classList.toggle("active", s.screenOn);
    this._screen.hidden = !s.screenSupported;
    const label = s.screenOn ? "Stop presenting" : "Present your screen";
    this._screen.title = label;
    this._screen.setAttribute("aria-label", label);
    this._people.classList.toggle("active", s.peopleOpen);
  }

  _tickClock() {
    this._clock.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
}
