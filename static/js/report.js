// The meeting report: status counts, manual overrides, guest matching, the timeline.
import { api, ApiError } from "./api.js";
import { duration } from "./dom.js";
import { palette, readJson, setDefaults } from "./charts.js";

const root = document.getElementById("report");
const meetingId = root?.dataset.meetingId;

const statusClass = (status) => status.toLowerCase().replaceAll(" ", "-");
const problem = (error) =>
  error instanceof ApiError ? error.message : "The server could not be reached; try again.";

// -- status counts --------------------------------------------------------------------
// The chips filter on the server (the table is paginated); an override moves one
// student from one status's counts to another's.
function move(from, to) {
  for (const node of document.querySelectorAll("[data-count], [data-chip-count]")) {
    const status = node.dataset.count ?? node.dataset.chipCount;
    const delta = (status === to) - (status === from);
    if (delta) node.textContent = String(Number(node.textContent) + delta);
  }
}

// -- manual overrides -----------------------------------------------------------------
function showRecord(row, record) {
  move(row.dataset.status, record.status);
  row.dataset.status = record.status;
  const pill = row.querySelector(".status-cell .pill");
  pill.className = `pill ${statusClass(record.status)}`;
  pill.textContent = record.status;
  row.querySelector(".tag.manual").hidden = record.source !== "manual";
  const note = row.querySelector(".note");
  note.textContent = record.note ?? "";
  note.hidden = !record.note;
  const bar = row.querySelector("progress.rate");
  if (bar) bar.className = `rate ${statusClass(record.status)}`;
}

for (const form of document.querySelectorAll(".override-form")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const row = form.closest("tr");
    const error = form.querySelector(".form-error");
    const button = form.querySelector("button[type=submit]");
    const status = form.elements.status.value || null;
    const note = form.elements.note.value.trim() || null;
    button.disabled = true;
    error.hidden = true;
    try {
      const record = await api(
        "PATCH",
        `/api/v1/meetings/${meetingId}/attendance/${form.dataset.studentPk}`,
        { status, note },
      );
      showRecord(row, record);
      form.closest("details").open = false;
    } catch (e) {
      error.textContent = problem(e);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

// -- guest matching -------------------------------------------------------------------
const keyLabels = { zoom_user: "Zoom user id", registrant: "registrant id", email: "e-mail", name: "name" };
const describeKeys = (keys) => keys.map((k) => `${keyLabels[k.kind] ?? k.kind} “${k.value}”`).join(", ");

// What the flash says a match kept for later meetings, and what it refused to keep.
function remembered(result, remember) {
  let text = "";
  if (remember) {
    text = result.remembered.length
      ? ` Later meetings will match them by ${describeKeys(result.remembered)}.`
      : " Nothing was remembered for later meetings: no id, no e-mail, and the name is too generic.";
  }
  if (result.refused.length) {
    text += ` Not kept, as they point to another student already: ${describeKeys(result.refused)}.`;
  }
  return text;
}

async function match(card, studentPk, label) {
  const error = card.querySelector(".form-error");
  const remember = card.querySelector("input[name=remember]").checked;
  const name = card.querySelector(".guest-name").firstChild.textContent.trim();
  // A remembered display name matches anyone who joins under it later: ask first.
  const rememberName = card.dataset.rememberName;
  if (
    remember &&
    rememberName &&
    !window.confirm(
      `Remember the name “${rememberName}” for ${label}? In later meetings of this course, ` +
        `anyone who joins as “${rememberName}” will be counted as ${label}.`,
    )
  ) {
    return;
  }
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  error.hidden = true;
  try {
    const result = await api("POST", `/api/v1/meetings/${meetingId}/participants/${card.dataset.participantPk}/match`, {
      student_id: studentPk,
      remember,
    });
    const later = remembered(result, remember);
    sessionStorage.setItem("flash", JSON.stringify({ kind: "success", text: `Matched “${name}” to ${label}.${later}` }));
    window.location.reload();
  } catch (e) {
    error.textContent = problem(e);
    error.hidden = false;
    for (const b of card.querySelectorAll("button")) b.disabled = false;
  }
}

// One <datalist> of the students serves every guest's picker; read it once, when needed.
let studentPks = null;
function studentByLabel() {
  if (studentPks === null) {
    studentPks = new Map();
    for (const option of document.querySelectorAll("#student-options option")) {
      studentPks.set(option.value, Number(option.dataset.studentPk));
    }
  }
  return studentPks;
}

for (const card of document.querySelectorAll(".guest-card[data-participant-pk]")) {
  // A second device's suggestion is a match to the student already here: the same call.
  for (const button of card.querySelectorAll("button.suggestion")) {
    button.addEventListener("click", () => match(card, Number(button.dataset.studentPk), button.dataset.label));
  }
  const form = card.querySelector(".match-form");
  if (!form) continue; // a co-host: listed, not a guest to fix
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.elements.student;
    const studentPk = studentByLabel().get(input.value.trim());
    if (studentPk === undefined) {
      const error = card.querySelector(".form-error");
      error.textContent = input.value.trim() ? "Choose a student from the list." : "";
      error.hidden = !input.value.trim();
      input.focus();
      return;
    }
    match(card, studentPk, input.value.trim());
  });
}

// -- undoing a match ------------------------------------------------------------------
// The match and every key it remembered go; the participant is a guest again.
for (const button of document.querySelectorAll("button.undo-match")) {
  button.addEventListener("click", async () => {
    const name = button.dataset.name || "(no name)";
    button.disabled = true;
    try {
      await api("DELETE", `/api/v1/meetings/${meetingId}/participants/${button.dataset.participantPk}/match`);
      sessionStorage.setItem(
        "flash",
        JSON.stringify({ kind: "success", text: `Match undone: “${name}” is a guest again, and nothing of it is remembered.` }),
      );
      window.location.reload();
    } catch (e) {
      let error = button.parentElement.querySelector(".form-error");
      if (!error) {
        error = document.createElement("p");
        error.className = "form-error small";
        button.after(error);
      }
      error.textContent = problem(e);
      error.hidden = false;
      button.disabled = false;
    }
  });
}

// -- timeline -------------------------------------------------------------------------
const timeline = readJson("timeline-data");
const canvas = document.getElementById("timeline");
if (timeline && canvas && window.Chart) {
  setDefaults(window.Chart);
  const start = new Date(timeline.startIso).getTime();
  const clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: timeline.tz });
  const at = (minutes) => clock.format(new Date(start + minutes * 60000));
  const labels = timeline.rows.map((r) => r.label);
  const groups = new Map();
  const breakout = [];
  for (const row of timeline.rows) {
    for (const [from, to, kind] of row.spans) {
      const point = { x: [from, to], y: row.label, group: row.group };
      if (kind === "breakout") breakout.push(point);
      else {
        if (!groups.has(row.group)) groups.set(row.group, []);
        groups.get(row.group).push(point);
      }
    }
  }
  const order = Object.keys(palette); // the palette lists the statuses in legend order
  const datasets = [...groups.entries()]
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([group, data]) => ({
      label: group,
      data,
      backgroundColor: palette[group] ?? palette.Guest,
      borderRadius: 3,
      borderSkipped: false,
      grouped: false,
      barPercentage: 0.8,
      categoryPercentage: 1,
    }));
  if (breakout.length) {
    datasets.push({
      label: "Breakout room",
      data: breakout,
      order: -1, // Chart.js draws lower orders last: on top of the main-room bars
      backgroundColor: "rgba(255,255,255,0.55)",
      borderColor: "rgba(15,23,42,0.35)",
      borderWidth: 1,
      borderRadius: 2,
      borderSkipped: false,
      grouped: false,
      barPercentage: 0.35,
      categoryPercentage: 1,
    });
  }
  // Ticks on round clock times (every 5, 10, 15, 30 or 60 minutes), not at "07:16".
  const [startHour, startMinute] = at(0).split(":").map(Number);
  const offset = startHour * 60 + startMinute + (start / 60000) % 1; // minutes past midnight on the clock
  const step = [5, 10, 15, 30, 60].find((s) => timeline.minutes / s <= 10) ?? 120;
  const roundTicks = [];
  for (let v = (step - (offset % step)) % step; v <= timeline.minutes; v += step) roundTicks.push({ value: v });
  canvas.parentElement.style.height = `${Math.max(160, labels.length * 24 + 80)}px`;
  new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      parsing: { xAxisKey: "x", yAxisKey: "y" },
      scales: {
        x: {
          type: "linear",
          min: 0,
          max: timeline.minutes,
          position: "top",
          afterBuildTicks: (axis) => { axis.ticks = roundTicks; },
          ticks: { callback: (value) => at(value) },
          grid: { color: "rgba(15,23,42,0.06)" },
        },
        y: { type: "category", grid: { display: false }, ticks: { autoSkip: false } },
      },
      plugins: {
        legend: { position: "bottom", labels: { sort: (a, b) => a.datasetIndex - b.datasetIndex } },
        tooltip: {
          callbacks: {
            title: (items) => items[0]?.raw.y ?? "",
            label: (item) => {
              const [from, to] = item.raw.x;
              const where = item.dataset.label === "Breakout room" ? "Breakout room" : item.raw.group;
              return ` ${where}: ${at(from)}–${at(to)} (${duration((to - from) * 60)})`;
            },
          },
        },
      },
    },
  });
}
