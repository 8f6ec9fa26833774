// Students' Zoom presence on the course and student pages, kept current by `presenceUpdated`.
//
// Each presence cell (templates/presence.html) carries its student, course, time
// zone and the time of the status it shows; a message for the same student with
// an older time (a late or repeated one) changes nothing.

const cells = () => document.querySelectorAll("[data-presence-student]");

// "23 Nov 2026, 10:00" in the course's zone, as the server's `local` filter writes it.
function localTime(iso, timeZone) {
  const parts = {};
  try {
    const format = new Intl.DateTimeFormat("en-GB", {
      timeZone, day: "2-digit", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    for (const { type, value } of format.formatToParts(new Date(iso))) parts[type] = value;
  } catch {
    return new Date(iso).toISOString().slice(0, 16).replace("T", " ");
  }
  return `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}`;
}

export function applyPresence(cell, { status, at }) {
  const known = cell.dataset.at ? Date.parse(cell.dataset.at) : NaN;
  const incoming = Date.parse(at);
  if (Number.isNaN(incoming)) return false;
  if (!Number.isNaN(known) && (incoming < known || (incoming === known && status <= cell.dataset.status))) {
    return false;
  }
  cell.dataset.at = at;
  cell.dataset.status = status;
  cell.querySelector(".presence-status").textContent = status ? status.replaceAll("_", " ") : "Not known";
  const time = cell.querySelector(".presence-at");
  time.setAttribute("datetime", at);
  time.textContent = localTime(at, cell.dataset.timezone || "UTC");
  cell.classList.remove("changed");
  void cell.offsetWidth; // restart the highlight animation
  cell.classList.add("changed");
  return true;
}

// The cells by "course:student", built once: the page's cells do not change.
let index = null;
function cellsOf(courseId, studentPk) {
  if (index === null) {
    index = new Map();
    for (const cell of cells()) {
      const key = `${cell.dataset.courseId}:${cell.dataset.presenceStudent}`;
      if (!index.has(key)) index.set(key, []);
      index.get(key).push(cell);
    }
  }
  return index.get(`${courseId}:${studentPk}`) || [];
}

function onPresence(message) {
  if (!message || typeof message !== "object") return;
  for (const cell of cellsOf(message.course_id, message.student_pk)) {
    applyPresence(cell, message);
  }
}

// After messages may have been lost (a reconnect, `resync` after a Redis outage):
// this page as the server renders it now, each cell taken if newer.
// One reload at a time: a reconnect brings `connect` and `resync` together.
let reloading = null;
function reload() {
  reloading ??= fetchAgain().finally(() => { reloading = null; });
  return reloading;
}

async function fetchAgain() {
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const source of fresh.querySelectorAll("[data-presence-student]")) {
      if (!source.dataset.at) continue;
      onPresence({
        course_id: source.dataset.courseId,
        student_pk: source.dataset.presenceStudent,
        status: source.dataset.status,
        at: source.dataset.at,
      });
    }
  } catch {
    // Offline again: the next reconnect tries once more.
  }
}

if (cells().length && window.io) {
  const socket = window.io({ transports: ["websocket"] });
  let connectedBefore = false;
  socket.on("presenceUpdated", onPresence);
  // Connected means in the instructor's room (joined by the server on connect).
  socket.on("connect", () => {
    document.body.dataset.presenceSocket = "connected";
    if (connectedBefore) reload();
    connectedBefore = true;
  });
  socket.on("disconnect", () => { delete document.body.dataset.presenceSocket; });
  socket.on("resync", reload);
}
