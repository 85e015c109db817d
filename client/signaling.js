/**
 * The signaling socket: JSON envelopes over a WebSocket, keepalive replies and reconnection
 * with exponential back-off.
 *
 * Events (EventTarget, `event.detail`):
 *   "open"     {reconnect: boolean}   the socket is open; the app sends `join`
 *   "message"  {type, data}           a server message (ping is answered here and not re-emitted)
 *   "closed"   {code, reason, willRetry: boolean, delayMs: number}
 */

import { RECONNECT_FIRST_MS, RECONNECT_MAX_MS, SILENCE_TIMEOUT_MS } from "./config.js";

export class Signaling extends EventTarget {
  /**
   * @param {() => string} urlFactory builds the URL for each (re)connection attempt
   */
  constructor(urlFactory) {
    super();
    this._urlFactory = urlFactory;
    /** @type {WebSocket | null} */
    this._ws = null;
    this._stopped = true;
    this._attempt = 0;
    this._everOpened = false;
    this._retryTimer = 0;
    this._silenceTimer = 0;
  }

  /** @returns {boolean} whether a socket is open right now. */
  get isOpen() {
    return this._ws !== null && this._ws.readyState === WebSocket.OPEN;
  }

  /** Opens the socket and keeps it open until {@link Signaling#close} is called. */
  connect() {
    this._stopped = false;
    this._attempt = 0;
    this._everOpened = false;
    this._open();
  }

  /**
   * Drops the current socket and reconnects after `delayMs` (e.g. on `server-shutdown`).
   * @param {number} delayMs
   */
  reconnectSoon(delayMs) {
    if (this._stopped) return;
    this._attempt = 0;
    this._detach(4000, "reconnect requested");
    this._scheduleRetry(delayMs, 4000, "reconnect requested");
  }

  /**
   * Closes for good: no more reconnects (after `leave`, on `room-closed`).
   */
  close() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._detach(1000, "bye");
  }

  /**
   * Sends one message. `data` is sent as an object; omitted when undefined.
   * @param {string} type
   * @param {object} [data]
   * @returns {boolean} false when the socket is not open (the message is dropped)
   */
  send(type, data) {
    if (!this.isOpen) return false;
    /** @type {{type: string, data?: object, timestamp: string}} */
    const envelope = { type, timestamp: new Date().toISOString() };
    if (data !== undefined) envelope.data = data;
    this._ws.send(JSON.stringify(envelope));
    return true;
  }

  _open() {
    clearTimeout(this._retryTimer);
    let ws;
    try {
      ws = new WebSocket(this._urlFactory());
    } catch (err) {
      this._onClose(1006, String(err));
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      const reconnect = this._everOpened;
      this._everOpened = true;
      this._attempt = 0;
      this._armSilenceTimer();
      this._emit("open", { reconnect });
    };
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this._ws === ws) this._onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event always follows; reconnection is handled there.
    };
  }

  _onMessage(raw) {
    this._armSilenceTimer();
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      console.warn("signaling: dropping non-JSON message", raw);
      return;
    }
    if (!msg || typeof msg.type !== "string") return;
    let data = msg.data ?? {};
    if (typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch {
        data = {};
      }
    }
    if (msg.type === "ping") {
      this.send("pong");
      return;
    }
    this._emit("message", { type: msg.type, data });
  }

  _onClose(code, reason) {
    this._detach();
    if (this._stopped) {
      this._emit("closed", { code, reason, willRetry: false, delayMs: 0 });
      return;
    }
    const delayMs = Math.min(RECONNECT_FIRST_MS * 2 ** this._attempt, RECONNECT_MAX_MS);
    this._attempt += 1;
    this._scheduleRetry(delayMs, code, reason);
  }

  _scheduleRetry(delayMs, code, reason) {
    clearTimeout(this._retryTimer);
    this._emit("closed", { code, reason, willRetry: true, delayMs });
    this._retryTimer = setTimeout(() => {
      if (!this._stopped) this._open();
    }, delayMs);
  }

  _armSilenceTimer() {
    clearTimeout(this._silenceTimer);
    this._silenceTimer = setTimeout(() => {
      const ws = this._ws;
      if (ws) {
        console.warn("signaling: no message for too long, reconnecting");
        this._onClose(4001, "silence");
      }
    }, SILENCE_TIMEOUT_MS);
  }

  _detach(code = 1000, reason = "") {
    clearTimeout(this._silenceTimer);
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
