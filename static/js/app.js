// Behaviour every dashboard page shares: confirmations, copy buttons, auto-submitting filters.
import { el } from "./dom.js";

document.documentElement.classList.add("js");

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = document.querySelector(button.dataset.copy);
    if (!input) return;
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      // No clipboard permission (plain http): the text is selected for Ctrl+C.
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2500);
  });
}

// A message left by a page that reloaded itself after a change (see report.js).
const pending = sessionStorage.getItem("flash");
if (pending) {
  sessionStorage.removeItem("flash");
  const { kind, text } = JSON.parse(pending);
  let box = document.querySelector(".flashes");
  if (!box) {
    box = el("div", { class: "flashes" });
    document.querySelector("main").prepend(box);
  }
  box.append(el("p", { class: `flash ${kind}`, role: "status" }, text));
}
