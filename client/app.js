/**
 * Entry point: builds the screens and wires them to the conference.
 */

import { query } from "./config.js";
import { Conference } from "./conference.js";
import { installDebugHook } from "./debug.js";
import { LocalMedia } from "./local_media.js";
import { loadName, randomRoomName, saveName, pageUserId, randomId } from "./prefs.js";
import { Room } from "./room.js";
import { AudioSink } from "./ui/audio.js";
import { Controls } from "./ui/controls.js";
import { EndScreen } from "./ui/end.js";
import { Grid } from "./ui/grid.js";
import { JoinScreen } from "./ui/join.js";
import { ParticipantsPanel } from "./ui/participants.js";
import { Toasts } from "./ui/toasts.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const room = new Room();
const local = new LocalMedia();
const conference = new Conference(room, local, pageUserId());
const toasts = new Toasts($("toasts"));
const notifyError = (message) => toasts.show(message, { kind: "error" });

const joinScreen = new JoinScreen($("join-screen"), local, {
  name: query.name || loadName(),
  room: query.room || randomRoomName(),
  onJoin: ({ name, room: roomId }) => enterRoom(name, roomId),
  onError: notifyError,
});

/** Asks for the simulcast layer that suits a received video's rendered size. */
function chooseLayer(tile) {
  const m = tile.model;
  if (!m.isSelf && m.videoTrack) conference.requestLayer(m.videoTrackId, m.layers, tile.height);
}

const grid = new Grid($("stage"), chooseLayer);

const audio = new AudioSink($("audio-sink"), () =>
  toasts.show("Your browser blocked the sound.", {
    kind: "warning", id: "audio", action: { label: "Enable audio", run: () => audio.resume() },
  }),
);

const panel = new ParticipantsPanel($("people-panel"), () => {
  panel.setOpen(false);
  scheduleRender();
});

const controls = new Controls($("call-header"), $("controls"), {
  onMic: () => conference.toggleMic().catch((e) => notifyError(`Microphone: ${e.message ?? e}`)),
  onCam: () => conference.toggleCam().catch((e) => notifyError(`Camera: ${e.message ?? e}`)),
  onScreen: () => conference.toggleScreen().catch((e) => notifyError(`Screen sharing: ${e.message ?? e}`)),
  onLeave: () => conference.leave(),
  onPeople: () => {
    panel.setOpen(!panel.open);
    scheduleRender();
  },
  onCopyLink: () => copyInviteLink(),
});

const endScreen = new EndScreen($("end-screen"), {
  onRejoin: () => enterRoom(conference.state.name, conference.state.roomId, { echo: conference.echo }),
  onHome: () => {
    location.href = location.pathname;
  },
});

/**
 * Leaves the join screen and joins `roomId` as `name`.
 * @param {string} name
 * @param {string} roomId
 * @param {{echo?: boolean}} [options] echo: the private camera and microphone test
 */
async function enterRoom(name, roomId, options = {}) {
  const url = new URL(location.href);
  if (!options.echo) {
    saveName(name);
    url.searchParams.set("room", roomId);
  }
  url.searchParams.delete("name");
  history.replaceState(null, "", url);
  endScreen.hide();
  joinScreen.setBusy(true);
  if (!local.micTrack && !local.camTrack) {
    for (const problem of await local.start()) notifyError(problem);
  }
  joinScreen.hide();
  joinScreen.setBusy(false);
  $("call-screen").hidden = false;
  conference.join(roomId, name, options);
  scheduleRender();
}

let renderQueued = false;

/** Re-renders the call screen once per burst of changes. */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if ($("call-screen").hidden) return;
  room.self.micOn = local.micOn;
  room.self.camOn = local.camOn;
  room.self.cameraTrack = local.camTrack;
  grid.render(room.tiles());
  grid.tiles.forEach(chooseLayer);
  audio.render(room.audioTracks().map((rt) => rt.track));
  if (panel.open) panel.render(room);
  controls.render({
    roomId: conference.echo ? "Camera and microphone test" : room.roomId || conference.state.roomId,
    count: room.count,
    micOn: local.micOn,
    camOn: local.camOn,
    screenOn: conference.presenting,
    peopleOpen: panel.open,
    screenSupported: Boolean(navigator.mediaDevices?.getDisplayMedia),
  });
  document.title = `${room.roomId || conference.state.roomId} · sfu_trio`;
}

async function copyInviteLink() {
  const url = new URL(location.href);
  url.search = "";
  url.searchParams.set("room", conference.state.roomId);
  try {
    await navigator.clipboard.writeText(url.toString());
    toasts.show("Invite link copied to the clipboard.");
  } catch {
    toasts.show(`Invite link: ${url}`, { timeoutMs: 10_000 });
  }
}

room.addEventListener("change", scheduleRender);
local.addEventListener("change", () => {
  scheduleRender();
  if (local.prefs.audioOutput) audio.setSink(local.prefs.audioOutput);
});
conference.addEventListener("notice", (e) => {
  const { message, kind, id } = e.detail;
  toasts.show(message, { kind, id });
});
conference.addEventListener("dismiss", (e) => toasts.dismiss(e.detail.id));
conference.addEventListener("phase", scheduleRender);
conference.addEventListener("ended", (e) => {
  $("call-screen").hidden = true;
  panel.setOpen(false);
  grid.render([]);
  audio.render([]);
  const { title, message, canRejoin } = e.detail;
  endScreen.show(title, message, canRejoin);
  document.title = "sfu_trio";
});
window.addEventListener("pagehide", () => conference.leaveSilently());

installDebugHook({ state: conference.state, room, local, call: () => conference.call, log: conference.log });

const initialName = query.name || loadName();
if (query.echo) {
  enterRoom(initialName || "You", `echo-${randomId().slice(0, 12)}`, { echo: true });
} else if (query.room && initialName) {
  enterRoom(initialName, query.room);
} else {
  joinScreen.show();
}
