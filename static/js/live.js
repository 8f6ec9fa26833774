// The live meeting room: a snapshot on (re)connect, then Socket.IO events patch it in place.
//
// Every payload carries the participant's whole current state and the meeting's
// events version, so a message that arrives late or twice cannot leave the room
// wrong; on reconnecting (or after a Redis outage dropped messages) the room
// reloads the snapshot. Rows are patched, never re-rendered, and patches are
// applied once per animation frame, so a 1,000-person join burst stays smooth.
import { el, duration, localTime } from "./dom.js";

const root = document.getElementById("live");
const number = root.dataset.meetingNumber;
const GROUPS = ["in_meeting", "in_waiting_room", "left"];
const ROOM_EVENTS = [
  "participantJoined", "participantLeft", "participantStatusUpdate", "participantWaiting",
  "participantAdmitted", "participantMovedToWaitingRoom", "sharingStarted", "sharingEnded",
  "recordingStarted", "recordingStopped", "meetingStarted", "meetingEnded", "attendanceGenerated",
];

const state = {
  meeting: null,
  version: -1,
  people: new Map(), // id -> {data, receivedAt, row, refs}
  roster: [],
  statistics: null,
  filter: "",
};
const pending = new Map(); // id -> participant data, applied on the next frame
let frameRequested = false;
let shownUnseen = null; // student_pks listed under "Not seen yet"; null after a snapshot

// -- rows ------------------------------------------------------------------------

function sortKey(p) {
  return `${(p.name || "").toLocaleLowerCase()}\u0000${p.id}`;
}

function buildRow(p) {
  const refs = {
    avatar: el("span", { class: "avatar", "aria-hidden": "true" }),
    name: el("span", { class: "person-name" }),
    who: el("span", { class: "person-who" }),
    badges: el("span", { class: "person-badges" }),
    time: el("span", { class: "person-time mono" }),
    meta: el("span", { class: "person-meta" }),
  };
  const row = el(
    "li",
    { class: "person", dataset: { participantId: String(p.id) } },
    refs.avatar,
    el("span", { class: "person-main" }, el("span", { class: "person-line" }, refs.name, refs.badges), refs.who),
    el("span", { class: "person-side" }, refs.time, refs.meta),
  );
  return { row, refs };
}

function initials(name) {
  // Words that start with a letter: "Emma Okafor (she/her)" is EO, not E(.
  const parts = (name || "?").trim().split(/\s+/).filter((w) => /^\p{L}/u.test(w));
  return ((parts[0]?.[0] ?? "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

function badge(text, cls) {
  return el("span", { class: `pill ${cls}` }, text);
}

function fillRow(entry) {
  const p = entry.data;
  const { row, refs } = entry;
  row.dataset.status = p.status;
  row.classList.toggle("is-guest", p.student_pk === null);
  refs.avatar.textContent = initials(p.name);
  refs.name.textContent = p.name || "(no name)";
  refs.who.textContent = p.student_pk !== null
    ? `${p.student_id ?? ""} · matched by ${p.matched_by ?? "—"}`
    : (p.email || "Not on the roster");
  const badges = [];
  if (p.role === "host") badges.push(badge("Host", "host"));
  else if (p.role === "co-host") badges.push(badge("Co-host", "cohost"));
  if (p.student_pk === null && p.role !== "host") badges.push(badge("Guest", "guest"));
  if (p.in_breakout_room) badges.push(badge("Breakout", "marker"));
  if (p.sharing) badges.push(badge("Sharing", "marker sharing"));
  if (p.audio === false) badges.push(badge("Muted", "marker"));
  if (p.video === true) badges.push(badge("Video on", "marker"));
  refs.badges.replaceChildren(...badges);
  const sessions = p.sessions > 1 ? `${p.sessions} sessions · ` : "";
  refs.meta.textContent = p.status === "left"
    ? `${sessions}left ${localTime(p.last_leave)}`
    : `${sessions}since ${localTime(p.first_join)}`;
  tickRow(entry, Date.now());
  row.hidden = !matchesFilter(p);
}

function attendedNow(entry, now) {
  const p = entry.data;
  const extra = p.status === "in_meeting" ? Math.max(0, (now - entry.receivedAt) / 1000) : 0;
  return p.attended_seconds + extra;
}

function tickRow(entry, now) {
  entry.refs.time.textContent = duration(attendedNow(entry, now));
}

function listFor(status) {
  return document.getElementById(`list-${GROUPS.includes(status) ? status : "left"}`);
}

function place(entry) {
  const list = listFor(entry.data.status);
  const key = sortKey(entry.data);
  if (entry.row.parentNode === list && entry.key === key) return;
  entry.key = key;
  entry.row.remove(); // out of the search below when it moves within its list
  // Rows stay in name order: binary search for the first one that sorts after this one,
  // so a join burst reads log(n) rows per insert, not half the list.
  const rows = list.children;
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (state.people.get(Number(rows[mid].dataset.participantId)).key > key) hi = mid;
    else lo = mid + 1;
  }
  list.insertBefore(entry.row, rows[lo] ?? null);
}

function upsert(p, receivedAt) {
  let entry = state.people.get(p.id);
  if (!entry) {
    entry = { ...buildRow(p), data: p, receivedAt, key: null };
    state.people.set(p.id, entry);
  }
  entry.data = p;
  entry.receivedAt = receivedAt;
  fillRow(entry);
  place(entry);
}

// -- the page around the rows -------------------------------------------------------

function renderStatistics() {
  const s = state.statistics;
  if (!s) return;
  for (const node of root.querySelectorAll("[data-stat]")) {
    node.textContent = String(s[node.dataset.stat] ?? 0);
  }
  for (const group of GROUPS) {
    const count = listFor(group).childElementCount;
    root.querySelector(`[data-count="${group}"]`).textContent = String(count);
    root.querySelector(`[data-empty="${group}"]`).hidden = count > 0;
  }
}

function renderUnseen() {
  const seen = new Set();
  for (const { data } of state.people.values()) if (data.student_pk !== null) seen.add(data.student_pk);
  const unseen = state.roster.filter((s) => !seen.has(s.student_pk));
  // Rebuild only when the list changes: every frame of a join burst calls this.
  const shown = unseen.map((s) => s.student_pk).join(",");
  if (shown === shownUnseen) return;
  shownUnseen = shown;
  document.getElementById("list-unseen").replaceChildren(
    ...unseen.map((s) =>
      el("li", { class: "person compact", dataset: { studentPk: String(s.student_pk) } },
        el("span", { class: "person-name" }, `${s.first_name} ${s.last_name}`.trim()),
        el("span", { class: "person-who mono" }, s.student_id)),
    ),
  );
  document.getElementById("unseen-count").textContent = String(unseen.length);
  document.getElementById("unseen-empty").hidden = unseen.length > 0 || state.roster.length === 0;
}

function renderMeeting() {
  const m = state.meeting;
  const badgeNode = document.getElementById("live-badge");
  const since = document.getElementById("live-since");
  const link = document.getElementById("report-link");
  if (!m) {
    badgeNode.className = "pill";
    badgeNode.textContent = "Not started";
    since.textContent = "Waiting for Zoom to start this meeting.";
    return;
  }
  if (m.topic) document.getElementById("live-topic").textContent = m.topic;
  link.href = `/meetings/${m.id}`;
  if (m.status === "live") {
    badgeNode.className = "pill live";
    badgeNode.replaceChildren(el("span", { class: "dot", "aria-hidden": "true" }), "Live");
    since.textContent = `since ${localTime(m.start_time)}`;
  } else {
    badgeNode.className = "pill ended";
    badgeNode.textContent = "Ended";
    since.textContent = `${localTime(m.start_time)} – ${localTime(m.end_time)} · attendance is in the report`;
  }
}

function setConnection(kind, text) {
  const node = document.getElementById("conn");
  node.dataset.state = kind;
  document.getElementById("conn-text").textContent = text;
}

function stamp() {
  document.getElementById("live-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

// -- snapshot and events ------------------------------------------------------------

function applySnapshot(ack) {
  const now = Date.now();
  for (const group of GROUPS) listFor(group).replaceChildren();
  state.people.clear();
  pending.clear();
  state.meeting = ack.meeting;
  state.version = ack.version ?? 0;
  state.roster = ack.roster ?? [];
  state.statistics = ack.statistics;
  shownUnseen = null; // the roster may have changed too
  for (const p of ack.participants) upsert(p, now);
  renderMeeting();
  renderStatistics();
  renderUnseen();
  stamp();
}

function flush() {
  frameRequested = false;
  const now = Date.now();
  for (const p of pending.values()) upsert(p, now);
  pending.clear();
  renderStatistics();
  renderUnseen();
  stamp();
}

function onRoomEvent(name, payload) {
  if (payload.meetingId !== number) return;
  if (name === "meetingStarted" && (!state.meeting || state.meeting.uuid !== payload.meetingUuid)) {
    join(); // a new instance of this meeting number: start from its snapshot
    return;
  }
  if ((payload.version ?? 0) < state.version) return; // older than what we show
  state.version = payload.version ?? state.version;
  state.statistics = payload.statistics;
  if (payload.participant) pending.set(payload.participant.id, payload.participant);
  if (name === "meetingEnded" && state.meeting) {
    state.meeting = { ...state.meeting, status: "ended", end_time: payload.ts };
    renderMeeting();
  }
  if (name === "attendanceGenerated") toast("Attendance is ready in the report.", "success");
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(flush);
  }
}

function toast(message, kind = "info") {
  const node = el("div", { class: `toast ${kind}`, role: "status" }, message);
  document.getElementById("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

function matchesFilter(p) {
  if (!state.filter) return true;
  const hay = [p.name, p.email, p.student_id].filter(Boolean).join(" ").toLocaleLowerCase();
  return hay.includes(state.filter);
}

document.getElementById("live-filter").addEventListener("input", (event) => {
  state.filter = event.target.value.trim().toLocaleLowerCase();
  for (const entry of state.people.values()) entry.row.hidden = !matchesFilter(entry.data);
});

// Time attended ticks for everyone in the meeting.
setInterval(() => {
  const now = Date.now();
  for (const entry of state.people.values()) if (entry.data.status === "in_meeting") tickRow(entry, now);
}, 1000);

// Websocket only: with several server processes there are no sticky sessions to rely on.
const socket = window.io({ transports: ["websocket"] });

let joining = false;
let joinAgain = false;

function join() {
  // One join at a time; a resync that arrives meanwhile asks for one more after it.
  if (joining) {
    joinAgain = true;
    return;
  }
  joining = true;
  socket.emit("join-meeting", { meetingId: number }, (ack) => {
    joining = false;
    if (ack?.error === "too many requests") {
      setTimeout(join, 1500);
      return;
    }
    if (joinAgain) {
      joinAgain = false;
      join();
      return;
    }
    if (!ack || !ack.ok) {
      setConnection("error", ack?.error ?? "Could not join");
      return;
    }
    applySnapshot(ack);
    setConnection("live", "Connected");
    root.dataset.ready = "true";
  });
}

socket.on("connect", () => {
  joining = false; // an ack lost with the old connection never comes
  join(); // also on every reconnect: reload the snapshot
});
socket.on("disconnect", (reason) => {
  setConnection("lost", "Reconnecting…");
  // The server ends a connection when the account's access changed; the client
  // does not reconnect by itself then. Connecting again asks the server afresh.
  if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
});
socket.on("connect_error", () => {
  // Refused (signed out, access gone): the client will not try again by itself.
  if (socket.active) setConnection("lost", "Reconnecting…");
  else setConnection("error", "Not signed in: reload the page");
});
// After a message-queue outage the server cannot say what this room missed: reload it.
socket.on("resync", () => join());
for (const name of ROOM_EVENTS) socket.on(name, (payload) => onRoomEvent(name, payload));
socket.on("notification", (n) => toast(n.message, n.kind === "event_failed" ? "error" : "info"));
