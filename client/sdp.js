/**
 * The few SDP look-ups the client needs. The browser writes and reads SDP; we only peek.
 */

/**
 * Splits an SDP into its media sections (the session part is dropped).
 * @param {string} sdp
 * @returns {string[]}
 */
export function mediaSections(sdp) {
  return sdp.split(/\r?\nm=/).slice(1).map((s) => `m=${s}`);
}

/**
 * The `a=msid` track id of the media section with the given mid, or null.
 * @param {string} sdp
 * @param {string} mid
 * @returns {string | null}
 */
export function msidTrackId(sdp, mid) {
  for (const section of mediaSections(sdp)) {
    const lines = section.split(/\r?\n/);
    if (!lines.includes(`a=mid:${mid}`)) continue;
    for (const line of lines) {
      const m = /^a=msid:(\S+) (\S+)/.exec(line);
      if (m) return m[2];
    }
    return null;
  }
  return null;
}

/**
 * Forwarded tracks read from an answer's SDP, for servers that send no `tracks` map: every
 * sending section's msid is "<publisher peerId> <trackId>"; audio is taken as the microphone and
 * video as the camera.
 * @param {string} sdp
 * @returns {Array<{mid: string, trackId: string, peerId: string, kind: string, source: string, muted: boolean}>}
 */
export function tracksFromSdp(sdp) {
  const out = [];
  for (const section of mediaSections(sdp)) {
    const kind = /^m=(\w+)/.exec(section)?.[1];
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    const msid = /^a=msid:(\S+) (\S+)/m.exec(section);
    if (!kind || !mid || !msid || !/^a=(sendonly|sendrecv)/m.test(section)) continue;
    const source = kind === "audio" ? "microphone" : "camera";
    out.push({ mid, trackId: msid[2], peerId: msid[1], kind, source, muted: false });
  }
  return out;
}
