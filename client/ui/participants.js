/**
 * The side panel listing everyone in the room with their microphone and camera state.
 */

import { h, initials, colorFor } from "./element.js";
import { icon } from "./icons.js";

export class ParticipantsPanel {
  /**
   * @param {HTMLElement} root the panel element
   * @param {() => void} onClose
   */
  constructor(root, onClose) {
    this._root = root;
    this._title = h("h2");
    this._list = h("ul.people-list");
    root.replaceChildren(
      h(
        "div.panel-head",
        {},
        this._title,
        h("button.icon-btn", { type: "button", "aria-label": "Close", title: "Close", onclick: onClose, html: icon("close") }),
      ),
      this._list,
    );
  }

  /** @returns {boolean} */
  get open() {
    return !this._root.hidden;
  }

  /** @param {boolean} open */
  setOpen(open) {
    this._root.hidden = !open;
  }

  /**
   * @param {import("../room.js").Room} room
   */
  render(room) {
    const rows = room.tiles().filter((t) => t.source === "camera");
    this._title.textContent = `People (${rows.length})`;
    this._list.replaceChildren(
      ...rows.map((t) =>
        h(
          "li.person",
          { dataset: { peerId: t.peerId } },
          h("span.avatar.avatar-small", { style: { background: colorFor(t.name) } }, initials(t.name)),
          h("span.person-name", {}, t.name, t.isSelf ? h("span.you", {}, " (You)") : null),
          h("span.person-state", {
            html: icon(t.micMuted ? "micOff" : "mic", t.micMuted ? "off" : "") + icon(t.camOff ? "camOff" : "cam", t.camOff ? "off" : ""),
          }),
        ),
      ),
    );
  }
}
