/**
 * A conference session: the signaling socket, the PeerConnection and the room model, driven by
 * server messages. No DOM here; the UI listens to events.
 *
 * Events (`event.detail`):
 *   "phase"   {phase: "connecting"|"in-call"|"ended"}
 *   "notice"  {message, kind?: "info"|"error"|"warning", id?: string}   (id: sticky, see "dismiss")
 *   "dismiss" {id}
 *   "ended"   {title, message, canRejoin}
 */

import { Call } from "./call.js";
import { signalingUrl } from "./config.js";
import { captureScreen, describeMediaError } from "./media.js";
import { saveSession, loadSession } from "./prefs.js";
import { Signaling } from "./signaling.js";

const ROOM_STATE_WAIT_MS = 400;
const LOG_LENGTH = 200;

export class Conference extends EventTarget {
  /**
   * @param {import("./room.js").Room} room
   * @param {import("./local_media.js").LocalMedia} local
   * @param {string} userId
   */
  constructor(room, local, userId) {
    super();
    this.room = room;
    this.local = local;
    /** Observable state (exposed as `sfu.state`). */
    this.state = { phase: "idle", roomId: "", peerId: "", name: "", userId, iceState: "new", signaling: "closed" };
    /** @type {Call | null} */
    this.call = null;
    /** @type {Signaling | null} */
    this._signaling = null;
    /** @type {MediaStream | null} */
    this._screen = null;
    this._awaitingAck = false;
    this._usedSession = false;
    this._roomStateSeen = () => {};
    /** @type {Map<string, string>} trackId -> last requested rid */
    this._layers = new Map();
    /** @type {Map<string, string[]>} "joined"/"left" -> names not announced yet */
    this._arrivals = new Map();
    /** @type {Array<{at: number, type: string, data: object}>} the last messages received (debug hook) */
    this.log = [];
    this.echo = false;
    local.addEventListener("track", (e) => this._onLocalTrack(e.detail).catch((err) => this._error(err)));
  }

  /**
   * Connects and joins a room.
   * @param {string} roomId room name
   * @param {string} name display name
   * @param {{echo?: boolean}} [options] echo: a private camera and microphone test (the server
   *   sends our own tracks back)
   */
  join(roomId, name, options = {}) {
    this.echo = options.echo === true;
    this.room.echo = this.echo;
    Object.assign(this.state, { roomId, name });
    this.room.reset(roomId, "", name);
    this._setPhase("connecting");
    const sig = new Signaling(() => signalingUrl(this.state.userId, name));
    this._signaling = sig;
    sig.addEventListener("open", () => this._sendJoin());
    sig.addEventListener("message", (e) => this._onMessage(e.detail.type, e.detail.data));
    sig.addEventListener("closed", (e) => this._onSocketClosed(e.detail));
    sig.connect();
  }

  /** Leaves the room for good. */
  leave() {
    this._signaling?.send("leave");
    this._end("You left the meeting", "Rejoin this room or return to the start page.", true);
  }

  /** Sends `leave` without UI (page unload). */
  leaveSilently() {
    if (this.state.phase === "ended" || !this._signaling) return;
    this._signaling.send("leave");
    this._signaling.close();
    saveSession(null);
  }

  /** Mutes or unmutes the microphone. */
  async toggleMic() {
    await this.local.setMicOn(!this.local.micOn);
    this._sendMediaState("microphone", !this.local.micOn);
  }

  /** Turns the camera on or off. */
  async toggleCam() {
    await this.local.setCamOn(!this.local.camOn);
    this._sendMediaState("camera", !this.local.camOn);
  }

  /** Starts or stops presenting the screen. */
  async toggleScreen() {
    if (this._screen) return this.stopScreen();
    let stream;
    try {
      stream = await captureScreen();
    } catch (err) {
      if (err.name !== "NotAllowedError") this._notice(describeMediaError(err, "screen"), "error");
      return;
    }
    const track = stream.getVideoTracks()[0];
    this._screen = stream;
    track.addEventListener("ended", () => this.stopScreen()); // the browser's own "Stop sharing"
    this.room.self.screenTrack = track;
    this.room.touch();
    if (this.call) {
      await this.call.publish("screen", track, stream);
      this.call.negotiate();
    }
  }

  /** Stops presenting (no-op when not presenting). */
  async stopScreen() {
    const stream = this._screen;
    if (!stream) return;
    this._screen = null;
    for (const t of stream.getTracks()) t.stop();
    this.room.self.screenTrack = null;
    this.room.touch();
    if (this.call) {
      await this.call.unpublish("screen");
      this.call.negotiate();
    }
  }

  /** @returns {boolean} */
  get presenting() {
    return this._screen !== null;
  }

  /**
   * Asks the server for the simulcast layer that suits a rendered height.
   * @param {string} trackId @param {string[]} layers @param {number} heightPx
   */
  requestLayer(trackId, layers, heightPx) {
    if (!trackId || layers.length < 2) return;
    const px = heightPx * (globalThis.devicePixelRatio || 1);
    const order = ["q", "h", "f"].filter((r) => layers.includes(r));
    const want = px < 260 ? "q" : px < 560 ? "h" : "f";
    const rid = order.includes(want) ? want : order[order.length - 1];
    if (this._layers.get(trackId) === rid) return;
    if (this._signaling?.send("layer-switch", { trackId, targetRid: rid })) this._layers.set(trackId, rid);
  }

  _sendJoin() {
    const stored = loadSession();
    const data = { roomId: this.state.roomId, userId: this.state.userId, name: this.state.name };
    this._usedSession = false;
    if (this.call && stored && stored.roomId === this.state.roomId && stored.sessionToken) {
      Object.assign(data, { sessionId: stored.sessionId, sessionToken: stored.sessionToken });
      this._usedSession = true;
    }
    this._awaitingAck = true;
    this.state.signaling = "joining";
    this._signaling.send("join", data);
  }

  _onMessage(type, data) {
    const room = this.room;
    if (this.log.push({ at: performance.now(), type, data }) > LOG_LENGTH) this.log.shift();
    switch (type) {
      case "join": return this._onJoinAck(data);
      case "room-state": room.setRoomState(data); return this._roomStateSeen();
      case "peer-joined":
        if (data.peerId !== this.state.peerId && !room.peers.has(data.peerId)) this._announce("joined", data.name);
        return room.addPeer(data);
      case "peer-left":
        if (room.peers.has(data.peerId)) this._announce("left", room.peers.get(data.peerId).name);
        return room.removePeer(data);
      case "answer": return this.call?.onAnswer(data);
      case "ice-candidate": return this.call?.onCandidate(data);
      case "renegotiate": return this.call?.onRenegotiate(data);
      case "ice-restart-offer": return this.call?.onIceRestartOffer(data);
      case "track-published": return room.trackPublished(data);
      case "track-unpublished":
        this.call?.forgetTrack(data.peerId, data.trackId);
        return room.trackUnpublished(data);
      case "media-state": return room.mediaState(data);
      case "dominant-speaker": return room.setSpeaker(data.newPeerId);
      case "quality-stats": return room.setQuality(data);
      case "layer-available": return room.layersAvailable(data);
      case "room-closed":
        return this._end("The meeting has ended", data.reason ? `Reason: ${data.reason}` : "The room was closed.", false);
      case "server-shutdown":
        if (data.reconnect) {
          this._notice("The server is restarting. Reconnecting…", "info", "reconnecting");
          return this._signaling.reconnectSoon(800 + Math.random() * 700);
        }
        return this._end("The server shut down", data.reason || "Please try again later.", true);
      case "error": return this._onServerError(data);
      case "pong": case "allow-renegotiation": case "set-bandwidth-limit": return undefined;
      default: console.debug("sfu: unhandled message", type, data);
    }
    return undefined;
  }

  async _onJoinAck(data) {
    if (!data.success) return this._onServerError({ code: 0, message: data.message || "The server refused to join." });
    this._awaitingAck = false;
    this.state.signaling = "open";
    const roomId = data.roomId || this.state.roomId;
    saveSession({ roomId, peerId: data.peerId, sessionId: data.sessionId ?? "", sessionToken: data.sessionToken ?? "" });
    this._dismiss("reconnecting");
    const keep = this.call !== null && data.resumed === true && data.peerId === this.state.peerId;
    Object.assign(this.state, { peerId: data.peerId, roomId });
    if (keep) {
      this._setPhase("in-call");
      return undefined;
    }
    const roomStateSeen = new Promise((resolve) => { this._roomStateSeen = resolve; });
    this.call?.close();
    this.room.reset(roomId, data.peerId, this.state.name);
    this._layers.clear();
    this.call = this._createCall();
    this._setPhase("in-call");
    const call = this.call;
    await this._publishLocal(call);
    await Promise.race([roomStateSeen, new Promise((r) => setTimeout(r, ROOM_STATE_WAIT_MS))]);
    if (this.call === call) call.negotiate();
    return undefined;
  }

  _createCall() {
    const call = new Call((type, data) => this._signaling?.send(type, data), { echo: this.echo });
    let first = true;
    call.addEventListener("remote-tracks", (e) => this.room.setReceived(e.detail.tracks));
    call.addEventListener("answered", () => {
      if (!first) return;
      first = false;
      if (call.isPublished("microphone")) this._sendMediaState("microphone", !this.local.micOn);
      if (call.isPublished("camera")) this._sendMediaState("camera", !this.local.camOn);
    });
    call.addEventListener("ice-state", (e) => {
      this.state.iceState = e.detail.state;
      if (e.detail.state === "disconnected" || e.detail.state === "failed") {
        this._notice("Media connection interrupted. Reconnecting…", "info", "media");
      } else if (e.detail.state === "connected" || e.detail.state === "completed") {
        this._dismiss("media");
      }
    });
    call.addEventListener("negotiation-error", (e) => this._error(e.detail.error));
    return call;
  }

  async _publishLocal(call) {
    if (this.local.micTrack) await call.publish("microphone", this.local.micTrack, this.local.stream);
    if (this.local.camOn && this.local.camTrack) await call.publish("camera", this.local.camTrack, this.local.stream);
    if (this._screen) await call.publish("screen", this._screen.getVideoTracks()[0], this._screen);
  }

  async _onLocalTrack({ source, track }) {
    const call = this.call;
    if (!call) return;
    if (track && !call.isPublished(source)) {
      await call.publish(source, track, this.local.stream);
      call.negotiate();
    } else {
      await call.replaceTrack(source, track);
    }
  }

  _sendMediaState(source, muted) {
    this._signaling?.send("media-state", { source, muted });
  }

  _onServerError(data) {
    const message = data.message || "Unknown error";
    if (this._awaitingAck) {
      if (this._usedSession) {
        // The stored session was not accepted: join afresh.
        saveSession(null);
        this._sendJoin();
        return;
      }
      this._end("Could not join", `${message}${data.code ? ` (${data.code})` : ""}`, true);
      return;
    }
    this._notice(`${message}${data.code ? ` (${data.code})` : ""}`, "error");
  }

  _onSocketClosed({ willRetry, delayMs }) {
    this.state.signaling = willRetry ? "reconnecting" : "closed";
    if (!willRetry || this.state.phase === "ended") return;
    const seconds = Math.max(1, Math.round(delayMs / 1000));
    const message = this.state.peerId
      ? `Connection lost. Reconnecting in ${seconds} s…`
      : `Cannot reach the server. Retrying in ${seconds} s…`;
    this._notice(message, "info", "reconnecting");
  }

  _end(title, message, canRejoin) {
    if (this.state.phase === "ended") return;
    this._signaling?.close();
    this._signaling = null;
    this.call?.close();
    this.call = null;
    if (this._screen) for (const t of this._screen.getTracks()) t.stop();
    this._screen = null;
    this.room.self.screenTrack = null;
    this.local.stop();
    saveSession(null);
    Object.assign(this.state, { peerId: "", iceState: "closed", signaling: "closed" });
    this._dismiss("reconnecting");
    this._dismiss("media");
    this._setPhase("ended");
    this._emit("ended", { title, message, canRejoin });
  }

  _error(err) {
    console.error(err);
    this._notice(`Media error: ${err?.message ?? err}`, "error");
  }

  /** Announces joins and leaves, several at once as one notice. */
  _announce(verb, name) {
    const names = this._arrivals.get(verb) ?? [];
    names.push(name || "Someone");
    this._arrivals.set(verb, names);
    if (names.length > 1) return;
    setTimeout(() => {
      const all = this._arrivals.get(verb) ?? [];
      this._arrivals.delete(verb);
      if (this.state.phase !== "in-call" || all.length === 0) return;
      const who = all.length === 1 ? all[0]
        : all.length === 2 ? `${all[0]} and ${all[1]}`
        : `${all[0]} and ${all.length - 1} others`;
      this._notice(`${who} ${verb}`);
    }, 600);
  }

  _setPhase(phase) {
    this.state.phase = phase;
    this._emit("phase", { phase });
  }

  _notice(message, kind = "info", id = undefined) {
    this._emit("notice", { message, kind, id });
  }

  _dismiss(id) {
    this._emit("dismiss", { id });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
