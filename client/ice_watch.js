/**
 * Asks for an ICE restart when a PeerConnection stays disconnected or failed for too long.
 */

const RETRY_MS = 10_000;

export class IceWatch {
  /**
   * @param {RTCPeerConnection} pc
   * @param {number} graceMs how long a bad state is tolerated
   * @param {() => void} requestRestart sends `ice-restart-request`
   */
  constructor(pc, graceMs, requestRestart) {
    this._pc = pc;
    this._graceMs = graceMs;
    this._requestRestart = requestRestart;
    this._timer = 0;
    this._onChange = () => this._check();
    pc.addEventListener("iceconnectionstatechange", this._onChange);
  }

  /** Stops watching. */
  stop() {
    clearTimeout(this._timer);
    this._timer = 0;
    this._pc.removeEventListener("iceconnectionstatechange", this._onChange);
  }

  _isBad() {
    const state = this._pc.iceConnectionState;
    return state === "disconnected" || state === "failed";
  }

  _check() {
    if (!this._isBad()) {
      clearTimeout(this._timer);
      this._timer = 0;
      return;
    }
    if (!this._timer) this._arm(this._graceMs);
  }

  _arm(delayMs) {
    this._timer = setTimeout(() => {
      this._timer = 0;
      if (this._pc.signalingState === "closed" || !this._isBad()) return;
      this._requestRestart();
      this._arm(RETRY_MS);
    }, delayMs);
  }
}
