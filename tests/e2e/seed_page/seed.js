/*
 * SFU-Go's old test page, as SEED_PROTOCOL.md records its behaviour on the wire.
 *
 * - every client message is {type, data: JSON.stringify(obj), timestamp}; `leave` and `pong` carry no data;
 * - `join {roomId, userId, name}` (no session token); the RTCPeerConnection is created when the join answer
 *   arrives, with camera + microphone (no simulcast) and 20 recvonly video + 20 recvonly audio transceivers
 *   before the first offer; the client is always the offerer;
 * - ICE candidates that arrive before the remote description are buffered;
 * - `renegotiate {trackCount}`: keep max(ceil(trackCount/2), 4) free recvonly transceivers of each kind, then
 *   offer again (one more offer is queued while one is in flight);
 * - one tile per msid stream id (ontrack event.streams[0].id); `peer-left` removes the tile of that peerId;
 * - `ping` -> `pong`; `ice-restart-offer` -> `answer {sdp, type, peerId}`.
 *
 * Test hook: window.seed (see the bottom of this file).
 */
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const SERVER = params.get("server") || "ws://localhost:8080/ws";
  const ROOM = params.get("room") || "test-room";
  const USER_ID = params.get("userId") || "user-" + Math.random().toString(36).slice(2, 10);
  const NAME = params.get("name") || USER_ID;
  const INITIAL_RECV_SLOTS = 20;
  const MIN_FREE_SLOTS = 4;
  const STATS_INTERVAL_MS = 250;
  const STATS_WINDOW = 5; // samples kept per receiver: "recent" means about the last second

  const tilesDiv = document.getElementById("tiles");
  const statusDiv = document.getElementById("status");

  let ws = null;
  let pc = null;
  let localStream = null;
  let peerId = null;
  let offerInFlight = false;
  let offerQueued = false;
  let pendingCandidates = [];
  const peers = new Map(); // peerId -> {userId, name}: the others, as announced
  const tiles = new Map(); // stream id -> {element, stream}
  const history = new Map(); // receiver track id -> [{video, audio}] recent cumulative counters
  const hook = {
    offersSent: 0,
    firstOfferMLines: null,
    answersReceived: [], // per answer: the msid stream ids it carries
    iceRestarts: 0,
    remoteUfrags: [], // ice-ufrag of every remote description (answers and the restart offer)
    localUfrags: [], // ice-ufrag of every local description (offers and the restart answer)
    errors: [], // `error` messages from the server
    received: {}, // message type -> count
    sent: {}, // message type -> count
    lastStats: {},
  };

  function setStatus(text) {
    statusDiv.textContent = text;
  }

  function send(type, data) {
    hook.sent[type] = (hook.sent[type] || 0) + 1;
    const message = { type, timestamp: new Date().toISOString() };
    if (data !== undefined) message.data = JSON.stringify(data);
    ws.send(JSON.stringify(message));
  }

  function msidStreams(sdp) {
    const ids = new Set();
    for (const line of sdp.split(/\r?\n/)) {
      const match = /^a=msid:(\S+)/.exec(line);
      if (match && match[1] !== "-") ids.add(match[1]);
    }
    return [...ids];
  }

  function ufragOf(sdp) {
    const match = /a=ice-ufrag:(\S+)/.exec(sdp);
    return match ? match[1] : null;
  }

  // -- connection --------------------------------------------------------------------------

  async function join() {
    if (!localStream) {
      localStream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: 160, height: 120, frameRate: 15 },
      });
    }
    const url = `${SERVER}?userId=${encodeURIComponent(USER_ID)}&name=${encodeURIComponent(NAME)}`;
    ws = new WebSocket(url);
    let chain = Promise.resolve();
    ws.onopen = () => {
      setStatus("connected");
      send("join", { roomId: ROOM, userId: USER_ID, name: NAME });
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      chain = chain.then(() => onMessage(message)).catch((err) => {
        console.error(err);
        hook.errors.push({ code: "client", message: String(err) });
      });
    };
    ws.onclose = () => setStatus("closed");
  }

  function leave() {
    if (ws && ws.readyState === WebSocket.OPEN) {
      send("leave");
      ws.close();
    }
    teardown();
  }

  function teardown() {
    if (pc) pc.close();
    pc = null;
    peerId = null;
    offerInFlight = false;
    offerQueued = false;
    pendingCandidates = [];
    peers.clear();
    for (const id of [...tiles.keys()]) removeTile(id);
    history.clear();
  }

  async function onMessage(message) {
    const data = message.data || {};
    hook.received[message.type] = (hook.received[message.type] || 0) + 1;
    switch (message.type) {
      case "join":
        if (!data.success) throw new Error("join failed");
        peerId = data.peerId;
        setStatus("joined " + data.roomId + " as " + peerId);
        await startCall();
        return;
      case "room-state":
        for (const peer of data.peers || []) peers.set(peer.peerId, peer);
        return;
      case "peer-joined":
        peers.set(data.peerId, data);
        return;
      case "peer-left":
        peers.delete(data.peerId);
        removeTile(data.peerId);
        return;
      case "answer":
        return onAnswer(data);
      case "ice-candidate":
        return onRemoteCandidate(data);
      case "renegotiate":
        return onRenegotiate(data);
      case "ice-restart-offer":
        return onIceRestartOffer(data);
      case "ping":
        send("pong");
        return;
      case "error":
        hook.errors.push(data);
        return;
      default:
        return; // quality-stats, dominant-speaker, … are only displayed by the real page
    }
  }

  // -- negotiation -------------------------------------------------------------------------

  async function startCall() {
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.onicecandidate = (event) => {
      if (!event.candidate) return;
      send("ice-candidate", {
        candidate: event.candidate.candidate,
        sdpMid: event.candidate.sdpMid,
        sdpMLineIndex: event.candidate.sdpMLineIndex,
        peerId,
      });
    };
    pc.ontrack = onTrack;
    for (const track of localStream.getTracks()) pc.addTrack(track, localStream);
    for (let i = 0; i < INITIAL_RECV_SLOTS; i++) pc.addTransceiver("video", { direction: "recvonly" });
    for (let i = 0; i < INITIAL_RECV_SLOTS; i++) pc.addTransceiver("audio", { direction: "recvonly" });
    await sendOffer();
  }

  async function sendOffer() {
    if (offerInFlight) {
      offerQueued = true;
      return;
    }
    offerInFlight = true;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    hook.localUfrags.push(ufragOf(pc.localDescription.sdp));
    if (hook.offersSent === 0) hook.firstOfferMLines = pc.localDescription.sdp.split("\nm=").length - 1;
    hook.offersSent += 1;
    send("offer", { sdp: pc.localDescription.sdp, type: "offer", peerId });
  }

  async function onAnswer(data) {
    if (!pc) return;
    hook.answersReceived.push(msidStreams(data.sdp));
    hook.remoteUfrags.push(ufragOf(data.sdp));
    await pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
    await flushCandidates();
    offerInFlight = false;
    if (offerQueued) {
      offerQueued = false;
      await sendOffer();
    }
  }

  async function onRemoteCandidate(data) {
    const candidate = { candidate: data.candidate, sdpMid: data.sdpMid, sdpMLineIndex: data.sdpMLineIndex };
    if (!pc || !pc.remoteDescription) {
      pendingCandidates.push(candidate);
      return;
    }
    await pc.addIceCandidate(candidate);
  }

  async function flushCandidates() {
    const buffered = pendingCandidates;
    pendingCandidates = [];
    for (const candidate of buffered) await pc.addIceCandidate(candidate);
  }

  function freeSlots(kind) {
    return pc.getTransceivers().filter(
      (t) =>
        !t.stopped &&
        t.direction === "recvonly" &&
        t.receiver.track.kind === kind &&
        t.currentDirection !== "recvonly" &&
        t.currentDirection !== "sendrecv",
    ).length;
  }

  async function onRenegotiate(data) {
    if (!pc) return; // the first offer has not gone yet: it will carry everything
    const want = Math.max(Math.ceil((data.trackCount || 0) / 2), MIN_FREE_SLOTS);
    for (const kind of ["video", "audio"]) {
      for (let free = freeSlots(kind); free < want; free++) pc.addTransceiver(kind, { direction: "recvonly" });
    }
    await sendOffer();
  }

  function requestIceRestart() {
    send("ice-restart-request", {});
  }

  async function onIceRestartOffer(data) {
    hook.remoteUfrags.push(ufragOf(data.sdp));
    await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    hook.localUfrags.push(ufragOf(pc.localDescription.sdp));
    await flushCandidates();
    hook.iceRestarts += 1;
    send("answer", { sdp: pc.localDescription.sdp, type: "answer", peerId });
  }

  // -- tiles -------------------------------------------------------------------------------

  function onTrack(event) {
    const stream = event.streams[0] || new MediaStream([event.track]);
    if (tiles.has(stream.id)) return;
    const element = document.createElement("div");
    element.className = "tile";
    element.dataset.streamId = stream.id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    video.srcObject = stream;
    element.appendChild(video);
    tilesDiv.appendChild(element);
    tiles.set(stream.id, { element, stream });
  }

  function removeTile(id) {
    const tile = tiles.get(id);
    if (!tile) return;
    tile.element.querySelector("video").srcObject = null;
    tile.element.remove();
    tiles.delete(id);
  }

  // -- stats -------------------------------------------------------------------------------

  async function receiverCounters(receiver) {
    const counters = { video: 0, audio: 0, audioLevel: 0 };
    const report = await receiver.getStats();
    report.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "video") counters.video += s.framesDecoded || 0;
      if (s.kind === "audio") {
        counters.audio += s.packetsReceived || 0;
        counters.audioLevel = Math.max(counters.audioLevel, s.audioLevel || 0);
      }
    });
    return counters;
  }

  async function pollStats() {
    if (!pc) {
      hook.lastStats = {};
      return;
    }
    const receivers = new Map(pc.getReceivers().map((r) => [r.track.id, r]));
    const result = {};
    const seen = new Set();
    for (const [id, { stream }] of tiles) {
      const entry = {
        framesDecoded: 0, recentFrames: 0, audioPackets: 0, recentAudioPackets: 0, audioLevel: 0, tracks: 0,
      };
      for (const track of stream.getTracks()) {
        const receiver = receivers.get(track.id);
        if (!receiver) continue;
        const counters = await receiverCounters(receiver);
        const samples = history.get(track.id) || [];
        samples.push(counters);
        if (samples.length > STATS_WINDOW) samples.shift();
        history.set(track.id, samples);
        seen.add(track.id);
        entry.tracks += 1;
        entry.framesDecoded += counters.video;
        entry.recentFrames += counters.video - samples[0].video;
        entry.audioPackets += counters.audio;
        entry.recentAudioPackets += counters.audio - samples[0].audio;
        entry.audioLevel = Math.max(entry.audioLevel, counters.audioLevel);
      }
      result[id] = entry;
    }
    for (const id of [...history.keys()]) if (!seen.has(id)) history.delete(id);
    hook.lastStats = result;
  }

  async function statsLoop() {
    try {
      await pollStats();
    } catch (err) {
      console.error(err);
    }
    setTimeout(statsLoop, STATS_INTERVAL_MS);
  }

  async function transportStats() {
    if (!pc) return null;
    const report = await pc.getStats();
    let transport = null;
    report.forEach((s) => {
      if (s.type === "transport") transport = s;
    });
    return transport;
  }

  // -- test hook ---------------------------------------------------------------------------

  Object.assign(hook, {
    userId: USER_ID,
    peerId: () => peerId,
    peers: () => [...peers.keys()],
    tiles: () => [...tiles.keys()],
    stats: () => hook.lastStats,
    /** tiles that show nobody: no participant of that id is present, or the stream has no track */
    emptyTiles: () =>
      [...tiles].filter(([id, { stream }]) => !peers.has(id) || stream.getTracks().length === 0).length,
    /** every stream id in `ids` has a tile that decoded video and received audio in the last second */
    decodingAll: (ids) =>
      ids.every((id) => {
        const s = hook.lastStats[id];
        return s !== undefined && s.recentFrames > 0 && s.recentAudioPackets > 0;
      }),
    iceState: () => (pc ? pc.iceConnectionState : null),
    socketOpen: () => ws !== null && ws.readyState === WebSocket.OPEN,
    transportStats,
    join,
    leave,
    requestIceRestart,
  });
  window.seed = hook;
  statsLoop();
  if (params.get("join") !== "0") join().catch((err) => hook.errors.push({ code: "client", message: String(err) }));
})();
