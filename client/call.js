/**
 * One RTCPeerConnection to the SFU: local publications, receive slots and negotiation.
 * The client is always the offerer, except for server-initiated ICE restarts.
 *
 * Events (EventTarget, `event.detail`):
 *   "remote-tracks"  {tracks: RemoteTrack[]}   after every answer (and on ontrack)
 *   "answered"       {}                        an answer to our offer was applied
 *   "ice-state"      {state}                   pc.iceConnectionState changes
 *   "negotiation-error" {error}
 *
 * @typedef {{mid: string, trackId: string, peerId: string, kind: "audio"|"video",
 *            source: string, muted: boolean}} TrackInfo
 * @typedef {TrackInfo & {track: MediaStreamTrack, transceiver: RTCRtpTransceiver}} RemoteTrack
 */

import { ANSWER_TIMEOUT_MS, ICE_GRACE_MS, MIN_FREE_SLOTS, SIMULCAST, SIMULCAST_ENCODINGS } from "./config.js";
import { msidTrackId, tracksFromSdp } from "./sdp.js";
import { IceWatch } from "./ice_watch.js";

export class Call extends EventTarget {
  /**
   * @param {(type: string, data?: object) => void} send sends one signaling message
   * @param {{echo?: boolean}} [options] echo: ask the server to send our own tracks back
   */
  constructor(send, options = {}) {
    super();
    this._send = send;
    this._echo = options.echo === true;
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    /** @type {Map<string, RTCRtpTransceiver>} source -> sendonly transceiver */
    this._sendSlots = new Map();
    /** @type {Set<RTCRtpTransceiver>} */
    this._recvSlots = new Set();
    /** @type {Map<string, TrackInfo>} mid -> forwarded track, per the last answer */
    this._assignments = new Map();
    /** @type {Map<string, TrackInfo> | null} mapping of the answer being applied */
    this._incoming = null;
    this._offerInFlight = false;
    this._offerQueued = false;
    this._wantedSlots = MIN_FREE_SLOTS;
    this._answerTimer = 0;
    /** @type {RTCIceCandidateInit[]} */
    this._pendingCandidates = [];
    this._closed = false;

    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate || !ev.candidate.candidate) return;
      const { candidate, sdpMid, sdpMLineIndex } = ev.candidate;
      this._send("ice-candidate", { candidate, sdpMid, sdpMLineIndex });
    };
    this.pc.ontrack = () => this._emitRemoteTracks(this._incoming ?? this._assignments);
    this._iceWatch = new IceWatch(this.pc, ICE_GRACE_MS, () => this._send("ice-restart-request"));
    this.pc.addEventListener("iceconnectionstatechange", () =>
      this._emit("ice-state", { state: this.pc.iceConnectionState }),
    );
  }

  /**
   * Starts sending a local track as `source`; reuses the source's idle transceiver if any.
   * Call {@link Call#negotiate} afterwards.
   * @param {"microphone"|"camera"|"screen"} source
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream the stream the track is announced in (msid)
   */
  async publish(source, track, stream) {
    const existing = this._sendSlots.get(source);
    if (existing && existing.currentDirection !== "stopped") {
      await existing.sender.replaceTrack(track);
      existing.sender.setStreams?.(stream);
      existing.direction = "sendonly";
      return;
    }
    /** @type {RTCRtpTransceiverInit} */
    const init = { direction: "sendonly", streams: [stream] };
    if (source === "camera" && SIMULCAST) init.sendEncodings = SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
    const transceiver = this.pc.addTransceiver(track, init);
    if (source === "screen") {
      transceiver.sender.track.contentHint = "detail";
    }
    this._sendSlots.set(source, transceiver);
  }

  /**
   * Swaps the track a source sends without renegotiation; `null` stops sending (camera off).
   * @param {string} source
   * @param {MediaStreamTrack | null} track
   * @returns {Promise<boolean>} false when the source is not published
   */
  async replaceTrack(source, track) {
    const transceiver = this._sendSlots.get(source);
    if (!transceiver || transceiver.direction === "inactive") return false;
    await transceiver.sender.replaceTrack(track);
    return true;
  }

  /**
   * Stops publishing a source (the slot goes inactive and is reused by the next publish).
   * Call {@link Call#negotiate} afterwards.
   * @param {string} source
   */
  async unpublish(source) {
    const transceiver = this._sendSlots.get(source);
    if (!transceiver || transceiver.direction === "inactive") return;
    await transceiver.sender.replaceTrack(null);
    transceiver.direction = "inactive";
  }

  /** @param {string} source @returns {boolean} */
  isPublished(source) {
    const t = this._sendSlots.get(source);
    return t !== undefined && t.direction === "sendonly";
  }

  /**
   * Handles `renegotiate {trackCount}`: grows the receive slots and sends an offer.
   * @param {{trackCount?: number}} data
   */
  onRenegotiate(data) {
    const count = Number(data.trackCount) || 0;
    this._wantedSlots = Math.max(Math.ceil(count / 2), MIN_FREE_SLOTS);
    this.negotiate();
  }

  /**
   * Sends an offer now, or once the one in flight is answered.
   */
  async negotiate() {
    if (this._closed) return;
    if (this._offerInFlight || this.pc.signalingState !== "stable") {
      this._offerQueued = true;
      return;
    }
    this._offerInFlight = true;
    this._offerQueued = false;
    try {
      this._ensureFreeSlots();
      await this.pc.setLocalDescription(await this.pc.createOffer());
      const sdp = this.pc.localDescription.sdp;
      const offer = { sdp, type: "offer", tracks: this._publishedTracks(sdp) };
      this._send("offer", this._echo ? { ...offer, echo: true } : offer);
      clearTimeout(this._answerTimer);
      this._answerTimer = setTimeout(() => this._onAnswerTimeout(), ANSWER_TIMEOUT_MS);
    } catch (error) {
      this._offerInFlight = false;
      this._emit("negotiation-error", { error });
    }
  }

  /**
   * Handles `answer {sdp, tracks}`.
   * @param {{sdp: string, tracks?: TrackInfo[]}} data
   */
  async onAnswer(data) {
    if (this.pc.signalingState !== "have-local-offer") {
      console.warn("call: answer without an offer in flight, ignored");
      return;
    }
    clearTimeout(this._answerTimer);
    const incoming = new Map();
    for (const info of data.tracks ?? tracksFromSdp(data.sdp)) {
      if (info && info.mid != null) incoming.set(String(info.mid), { ...info, mid: String(info.mid) });
    }
    this._incoming = incoming;
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
      this._assignments = incoming;
      await this._flushCandidates();
      this._emit("answered", {});
    } catch (error) {
      this._emit("negotiation-error", { error });
    } finally {
      this._incoming = null;
      this._offerInFlight = false;
    }
    this._emitRemoteTracks(this._assignments);
    if (this._offerQueued) this.negotiate();
  }

  /**
   * Handles a trickled `ice-candidate`.
   * @param {RTCIceCandidateInit} data
   */
  async onCandidate(data) {
    if (!data || !data.candidate) return;
    const init = { candidate: data.candidate, sdpMid: data.sdpMid ?? null, sdpMLineIndex: data.sdpMLineIndex ?? null };
    if (!this.pc.remoteDescription) {
      this._pendingCandidates.push(init);
      return;
    }
    try {
      await this.pc.addIceCandidate(init);
    } catch (err) {
      console.warn("call: bad remote candidate", err);
    }
  }

  /**
   * Handles `ice-restart-offer {sdp}`: answers it (rolling back an own offer in flight).
   * @param {{sdp: string}} data
   */
  async onIceRestartOffer(data) {
    try {
      if (this.pc.signalingState === "have-local-offer") {
        clearTimeout(this._answerTimer);
        await this.pc.setLocalDescription({ type: "rollback" });
        this._offerInFlight = false;
        this._offerQueued = true;
      }
      await this.pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
      await this._flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this._send("answer", { sdp: this.pc.localDescription.sdp, type: "answer" });
    } catch (error) {
      this._emit("negotiation-error", { error });
    }
    this._emitRemoteTracks(this._assignments);
    if (this._offerQueued) this.negotiate();
  }

  /**
   * The server stopped forwarding a track (`track-unpublished`): forget it now rather than at
   * the next answer, which may be long in coming.
   * @param {string} peerId @param {string} trackId
   */
  forgetTrack(peerId, trackId) {
    let changed = false;
    for (const [mid, info] of this._assignments) {
      if (info.peerId === peerId && info.trackId === trackId) changed = this._assignments.delete(mid);
    }
    if (changed) this._emitRemoteTracks(this._assignments);
  }

  /** @returns {RemoteTrack[]} the tracks received now, per the last answer. */
  remoteTracks() {
    return this._resolve(this._assignments);
  }

  /**
   * Inbound RTP figures of every received track (for tests and the debug hook).
   * @returns {Promise<object[]>}
   */
  async remoteStats() {
    const out = [];
    for (const rt of this.remoteTracks()) {
      const row = { peerId: rt.peerId, source: rt.source, kind: rt.kind, trackId: rt.trackId, mid: rt.mid };
      const report = await rt.transceiver.receiver.getStats();
      report.forEach((s) => {
        if (s.type !== "inbound-rtp") return;
        Object.assign(row, {
          packetsReceived: s.packetsReceived ?? 0,
          bytesReceived: s.bytesReceived ?? 0,
          framesDecoded: s.framesDecoded ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
          audioLevel: s.audioLevel ?? 0,
          totalAudioEnergy: s.totalAudioEnergy ?? 0,
          packetsLost: s.packetsLost ?? 0,
          nackCount: s.nackCount ?? 0,
          pliCount: s.pliCount ?? 0,
          retransmittedPacketsReceived: s.retransmittedPacketsReceived ?? 0,
          freezeCount: s.freezeCount ?? 0,
        });
      });
      out.push(row);
    }
    return out;
  }

  /** Closes the PeerConnection; the object is unusable afterwards. */
  close() {
    this._closed = true;
    clearTimeout(this._answerTimer);
    this._iceWatch.stop();
    this.pc.close();
  }

  _ensureFreeSlots() {
    for (const kind of ["audio", "video"]) {
      let free = 0;
      for (const t of this._recvSlots) {
        if (t.receiver.track.kind !== kind || t.currentDirection === "stopped") continue;
        if (t.mid === null || !this._assignments.has(t.mid)) free += 1;
      }
      for (; free < this._wantedSlots; free += 1) {
        this._recvSlots.add(this.pc.addTransceiver(kind, { direction: "recvonly" }));
      }
    }
  }

  _publishedTracks(sdp) {
    const tracks = [];
    for (const [source, t] of this._sendSlots) {
      if (t.direction !== "sendonly" || t.mid === null) continue;
      const trackId = msidTrackId(sdp, t.mid) ?? t.sender.track?.id;
      if (trackId) tracks.push({ trackId, source });
    }
    return tracks;
  }

  async _flushCandidates() {
    const pending = this._pendingCandidates;
    this._pendingCandidates = [];
    for (const c of pending) {
      try {
        await this.pc.addIceCandidate(c);
      } catch (err) {
        console.warn("call: bad buffered candidate", err);
      }
    }
  }

  async _onAnswerTimeout() {
    if (this.pc.signalingState !== "have-local-offer") return;
    console.warn("call: no answer, rolling back the offer");
    try {
      await this.pc.setLocalDescription({ type: "rollback" });
    } catch (error) {
      this._emit("negotiation-error", { error });
    }
    this._offerInFlight = false;
    this.negotiate();
  }

  _resolve(assignments) {
    const byMid = new Map();
    for (const t of this.pc.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);
    const out = [];
    for (const info of assignments.values()) {
      const transceiver = byMid.get(info.mid);
      if (!transceiver || !this._recvSlots.has(transceiver)) continue;
      out.push({ ...info, kind: transceiver.receiver.track.kind, track: transceiver.receiver.track, transceiver });
    }
    return out;
  }

  _emitRemoteTracks(assignments) {
    if (!this._closed) this._emit("remote-tracks", { tracks: this._resolve(assignments) });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
