// The course page's chart: one stacked bar per ended meeting, a segment per status.
import { palette, readJson, setDefaults } from "./charts.js";

const data = readJson("term-data");
const canvas = document.getElementById("term-chart");
if (data && canvas && window.Chart) {
  setDefaults(window.Chart);
  const meetingIds = data.meetingIds;
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.series.map(({ status, counts }) => ({
        label: status,
        data: counts,
        backgroundColor: palette[status],
        borderRadius: 3,
        borderSkipped: false,
        maxBarThickness: 36,
      })),
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "Students" } },
      },
      plugins: { legend: { position: "bottom" } },
      onClick: (_event, elements) => {
        if (elements.length) window.location.href = `/meetings/${meetingIds[elements[0].index]}`;
      },
      onHover: (event, elements) => {
        event.native.target.classList.toggle("clickable", elements.length > 0);
      },
    },
  });
}
