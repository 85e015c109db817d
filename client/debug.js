/**
 * The test and debugging hook: `window.sfu`.
 *
 *   sfu.state    plain object: phase, roomId, peerId, name, userId, iceState, signaling, peers
 *   sfu.pc       the current RTCPeerConnection (or null)
 *   sfu.stats()  per received track: peerId, source, kind, framesDecoded, audioLevel, packetsReceived…
 *   sfu.room     the Room model; sfu.local the LocalMedia
 *   sfu.log      the last server messages received: {at: performance.now(), type, data}
 */

/**
 * Installs `window.sfu`.
 * @param {{state: object, room: import("./room.js").Room, local: import("./local_media.js").LocalMedia,
 *          call: () => import("./call.js").Call | null, log: object[]}} parts
 */
export function installDebugHook(parts) {
  const hook = {
    state: parts.state,
    room: parts.room,
    local: parts.local,
    log: parts.log,
    get pc() {
      return parts.call()?.pc ?? null;
    },
    /** @returns {Promise<object[]>} */
    async stats() {
      const call = parts.call();
      return call ? call.remoteStats() : [];
    },
    /** @returns {object[]} the tiles as rendered */
    tiles() {
      return [...document.querySelectorAll(".tile")].map((el) => ({
        peerId: el.dataset.peerId,
        source: el.dataset.source,
        video: !el.classList.contains("no-video"),
        speaking: el.classList.contains("speaking"),
      }));
    },
  };
  Object.defineProperty(window, "sfu", { value: hook, configurable: true });
}
