// Chart.js defaults and the status palette, read from the stylesheet's custom properties.
const css = getComputedStyle(document.documentElement);
const prop = (name, fallback) => css.getPropertyValue(name).trim() || fallback;

// In status order: the timeline's legend follows it.
export const palette = {
  Present: prop("--c-present", "#16a34a"),
  Late: prop("--c-late", "#f59e0b"),
  "Left Early": prop("--c-left-early", "#f97316"),
  Absent: prop("--c-absent", "#ef4444"),
  Excused: prop("--c-excused", "#9ca3af"),
  Guest: prop("--c-guest", "#3b82f6"),
  Host: prop("--c-host", "#64748b"),
};

export function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

export function setDefaults(Chart) {
  Chart.defaults.font.family = prop("--font", "system-ui, sans-serif");
  Chart.defaults.font.size = 12;
  Chart.defaults.color = prop("--muted", "#6b7280");
  Chart.defaults.borderColor = prop("--line", "#e5e7eb");
  Chart.defaults.plugins.legend.labels.boxWidth = 10;
  Chart.defaults.plugins.legend.labels.boxHeight = 10;
  Chart.defaults.plugins.legend.labels.usePointStyle = true;
  Chart.defaults.plugins.legend.labels.pointStyle = "rectRounded";
  Chart.defaults.plugins.tooltip.padding = 10;
  Chart.defaults.plugins.tooltip.cornerRadius = 8;
  Chart.defaults.plugins.tooltip.backgroundColor = prop("--ink", "#111827");
  Chart.defaults.animation = false;
}
