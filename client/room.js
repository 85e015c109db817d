/**
 * The room as this client sees it: who is here, what they publish, their mute state, who speaks,
 * and which received MediaStreamTracks belong to whom. UI modules render from it.
 *
 * Emits "change" (no detail) after every update.
 *
 * @typedef {{trackId: string, peerId: string, kind: string, source: string, muted: boolean,
 *            layers?: string[]}} Track
 * @typedef {{peerId: string, userId: string, name: string, tracks: Map<string, Track>,
 *            quality: string}} Participant
 * @typedef {{key: string, peerId: string, source: "camera"|"screen", name: string, isSelf: boolean,
 *            videoTrack: MediaStreamTrack | null, videoTrackId: string, layers: string[],
 *            micMuted: boolean, camOff: boolean, speaking: boolean, quality: string,
 *            echo?: boolean}} TileModel
 */

export class Room extends EventTarget {
  constructor() {
    super();
    this.roomId = "";
    this.self = {
      peerId: "",
      name: "",
      micOn: false,
      camOn: false,
      /** @type {MediaStreamTrack | null} */ cameraTrack: null,
      /** @type {MediaStreamTrack | null} */ screenTrack: null,
      quality: "",
    };
    /** @type {Map<string, Participant>} */
    this.peers = new Map();
    /** @type {Map<string, import("./call.js").RemoteTrack>} "peerId/source/kind" -> received track */
    this.received = new Map();
    this.speakerId = "";
    /** Echo test: our own tracks come back from the server and are shown and played. */
    this.echo = false;
  }

  /**
   * Starts a (re)joined session: forgets all remote state.
   * @param {string} roomId @param {string} peerId @param {string} name
   */
  reset(roomId, peerId, name) {
    this.roomId = roomId;
    this.self.peerId = peerId;
    this.self.name = name;
    this.peers.clear();
    this.received.clear();
    this.speakerId = "";
    this._changed();
  }

  /**
   * @param {{peers?: Array<{peerId: string, userId?: string, name?: string, tracks?: Track[]}>,
   *          dominantSpeaker?: string | null}} data
   */
  setRoomState(data) {
    this.peers.clear();
    if ("dominantSpeaker" in data) this.speakerId = data.dominantSpeaker || "";
    for (const p of data.peers ?? []) {
      if (p.peerId === this.self.peerId) continue;
      const peer = this._upsertPeer(p);
      for (const t of p.tracks ?? []) peer.tracks.set(t.trackId, { ...t, peerId: p.peerId });
    }
    this._changed();
  }

  /** @param {{peerId: string, userId?: string, name?: string}} data */
  addPeer(data) {
    if (data.peerId === this.self.peerId) return;
    this._upsertPeer(data);
    this._changed();
  }

  /** @param {{peerId: string}} data */
  removePeer(data) {
    this.peers.delete(data.peerId);
    for (const [key, rt] of this.received) if (rt.peerId === data.peerId) this.received.delete(key);
    if (this.speakerId === data.peerId) this.speakerId = "";
    this._changed();
  }

  /** @param {Track} track */
  trackPublished(track) {
    const peer = this.peers.get(track.peerId);
    if (!peer) return;
    peer.tracks.set(track.trackId, { ...track, layers: track.layers ?? [] });
    this._changed();
  }

  /** @param {{trackId: string, peerId: string}} data */
  trackUnpublished(data) {
    this.peers.get(data.peerId)?.tracks.delete(data.trackId);
    for (const [key, rt] of this.received) if (rt.trackId === data.trackId && rt.peerId === data.peerId) this.received.delete(key);
    this._changed();
  }

  /** @param {{peerId: string, trackId?: string, source: string, muted: boolean}} data */
  mediaState(data) {
    const peer = this.peers.get(data.peerId);
    if (!peer) return;
    for (const t of peer.tracks.values()) {
      if (t.trackId === data.trackId || (!data.trackId && t.source === data.source)) t.muted = !!data.muted;
    }
    this._changed();
  }

  /** @param {{trackId: string, layers: string[]}} data */
  layersAvailable(data) {
    for (const peer of this.peers.values()) {
      const t = peer.tracks.get(data.trackId);
      if (t) t.layers = data.layers ?? [];
    }
    this._changed();
  }

  /** @param {string} peerId */
  setSpeaker(peerId) {
    this.speakerId = peerId || "";
    this._changed();
  }

  /** @param {{peerId: string, level: string}} data */
  setQuality(data) {
    if (data.peerId === this.self.peerId) this.self.quality = data.level;
    else if (this.peers.has(data.peerId)) this.peers.get(data.peerId).quality = data.level;
    else return;
    this._changed();
  }

  /** @param {import("./call.js").RemoteTrack[]} tracks the call's received tracks now */
  setReceived(tracks) {
    this.received.clear();
    for (const rt of tracks) {
      this.received.set(`${rt.peerId}/${rt.source}/${rt.kind}`, rt);
      const peer = this.peers.get(rt.peerId);
      if (peer && !peer.tracks.has(rt.trackId)) {
        peer.tracks.set(rt.trackId, {
          trackId: rt.trackId, peerId: rt.peerId, kind: rt.kind, source: rt.source, muted: !!rt.muted, layers: [],
        });
      }
    }
    this._changed();
  }

  /** Local state changed (mic, camera, screen); re-render. */
  touch() {
    this._changed();
  }

  /** @returns {number} participants including self */
  get count() {
    return this.peers.size + 1;
  }

  /** @returns {TileModel[]} screen tiles first, then self, then the others by join order */
  tiles() {
    const s = this.self;
    const screens = [];
    const echoed = this.echo ? this.received.get(`${s.peerId}/camera/video`) : undefined;
    const people = [
      {
        key: `${s.peerId || "self"}/camera`, peerId: s.peerId, source: "camera", name: s.name, isSelf: true,
        videoTrack: !s.camOn ? null : this.echo ? echoed?.track ?? null : s.cameraTrack,
        videoTrackId: echoed?.trackId ?? "", layers: [],
        micMuted: !s.micOn, camOff: !s.camOn, speaking: !!s.peerId && this.speakerId === s.peerId, quality: s.quality,
        echo: this.echo,
      },
    ];
    if (s.screenTrack) {
      screens.push({
        key: `${s.peerId || "self"}/screen`, peerId: s.peerId, source: "screen", name: s.name, isSelf: true,
        videoTrack: s.screenTrack, videoTrackId: "", layers: [],
        micMuted: false, camOff: false, speaking: false, quality: s.quality,
      });
    }
    for (const peer of this.peers.values()) {
      const tracks = [...peer.tracks.values()];
      const mic = tracks.find((t) => t.source === "microphone");
      const cam = tracks.find((t) => t.source === "camera");
      const screen = tracks.find((t) => t.source === "screen");
      const camRx = this.received.get(`${peer.peerId}/camera/video`);
      people.push({
        key: `${peer.peerId}/camera`, peerId: peer.peerId, source: "camera", name: peer.name, isSelf: false,
        videoTrack: camRx?.track ?? null, videoTrackId: cam?.trackId ?? camRx?.trackId ?? "", layers: cam?.layers ?? [],
        micMuted: !mic || mic.muted, camOff: !cam || cam.muted, speaking: this.speakerId === peer.peerId,
        quality: peer.quality,
      });
      const screenRx = this.received.get(`${peer.peerId}/screen/video`);
      if (screen || screenRx) {
        screens.push({
          key: `${peer.peerId}/screen`, peerId: peer.peerId, source: "screen", name: peer.name, isSelf: false,
          videoTrack: screenRx?.track ?? null, videoTrackId: screen?.trackId ?? screenRx?.trackId ?? "",
          layers: screen?.layers ?? [], micMuted: false, camOff: false, speaking: false, quality: peer.quality,
        });
      }
    }
    return [...screens, ...people];
  }

  /** @returns {import("./call.js").RemoteTrack[]} received audio tracks (to play) */
  audioTracks() {
    return [...this.received.values()].filter((rt) => rt.kind === "audio");
  }

  _upsertPeer(p) {
    let peer = this.peers.get(p.peerId);
    if (!peer) {
      peer = { peerId: p.peerId, userId: p.userId ?? "", name: p.name || "Guest", tracks: new Map(), quality: p.quality || "excellent" };
      this.peers.set(p.peerId, peer);
    } else {
      if (p.quality) peer.quality = p.quality;
      peer.name = p.name || peer.name;
      peer.userId = p.userId ?? peer.userId;
    }
    return peer;
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }
}
