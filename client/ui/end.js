/**
 * The screen shown after the call: left, room closed, or the server went away.
 */

import { h } from "./element.js";

export class EndScreen {
  /**
   * @param {HTMLElement} root
   * @param {{onRejoin: () => void, onHome: () => void}} actions
   */
  constructor(root, actions) {
    this._root = root;
    this._title = h("h1");
    this._message = h("p.end-message");
    this._rejoin = h("button.btn.btn-primary", { type: "button", onclick: actions.onRejoin }, "Rejoin");
    root.replaceChildren(
      h(
        "div.end-card",
        {},
        this._title,
        this._message,
        h("div.end-actions", {}, this._rejoin, h("button.btn.btn-ghost", { type: "button", onclick: actions.onHome }, "Return to home")),
      ),
    );
  }

  /**
   * @param {string} title
   * @param {string} message
   * @param {boolean} canRejoin
   */
  show(title, message, canRejoin) {
    this._title.textContent = title;
    this._message.textContent = message;
    this._rejoin.hidden = !canRejoin;
    this._root.hidden = false;
    (canRejoin ? this._rejoin : this._root.querySelector(".btn-ghost"))?.focus();
  }

  hide() {
    this._root.hidden = true;
  }
}
