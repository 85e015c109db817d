/**
 * Toasts: short notices in the corner. Sticky toasts have an id and stay until dismissed.
 */

import { h } from "./element.js";
import { icon } from "./icons.js";

const MAX_TRANSIENT = 3;

export class Toasts {
  /** @param {HTMLElement} container */
  constructor(container) {
    this._root = container;
    /** @type {Map<string, HTMLElement>} */
    this._sticky = new Map();
  }

  /**
   * Shows a toast.
   * @param {string} message
   * @param {{kind?: "info"|"error"|"warning", id?: string, timeoutMs?: number,
   *          action?: {label: string, run: () => void}}} [options]
   *   with `id`: replaces a toast of the same id and stays until {@link Toasts#dismiss}
   * @returns {HTMLElement}
   */
  show(message, options = {}) {
    const kind = options.kind ?? "info";
    if (options.id) this.dismiss(options.id);
    const iconName = kind === "info" ? (options.id ? "sync" : "info") : "warning";
    const close = h("button.toast-close", { type: "button", "aria-label": "Dismiss", html: icon("close") });
    const node = h(
      `div.toast.toast-${kind}`,
      { role: kind === "error" ? "alert" : "status", dataset: { toastId: options.id ?? "" } },
      h("span.toast-icon", { html: icon(iconName, options.id && kind === "info" ? "spin" : "") }),
      h("span.toast-text", {}, message),
      options.action
        ? h("button.toast-action", { type: "button", onclick: () => { options.action.run(); remove(); } }, options.action.label)
        : null,
      close,
    );
    const remove = () => {
      node.classList.add("leaving");
      setTimeout(() => node.remove(), 200);
      if (options.id && this._sticky.get(options.id) === node) this._sticky.delete(options.id);
    };
    close.addEventListener("click", remove);
    this._root.append(node);
    const transient = [...this._root.querySelectorAll(".toast:not(.leaving)")].filter((n) => !n.dataset.toastId);
    for (const old of transient.slice(0, Math.max(0, transient.length - MAX_TRANSIENT))) old.remove();
    if (options.id) this._sticky.set(options.id, node);
    const timeout = options.timeoutMs ?? (options.id ? 0 : kind === "error" ? 7000 : 4000);
    if (timeout > 0) setTimeout(remove, timeout);
    return node;
  }

  /** @param {string} id removes the sticky toast with this id, if shown */
  dismiss(id) {
    const node = this._sticky.get(id);
    if (!node) return;
    this._sticky.delete(id);
    node.remove();
  }
}
