// Small DOM helpers. Text always goes in through textContent, never innerHTML: titles, prompts and
// lyrics come from users and must not become markup.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** el("li", {class: "x", dataset: {id: 1}, onclick: fn}, "text", childNode, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** "1 job", "3 jobs". */
export function plural(n, word, many = `${word}s`) {
  return `${n} ${Number(n) === 1 ? word : many}`;
}

export function announce(text) {
  const s = $("#status");
  s.textContent = "";
  // A fresh text node each time so screen readers repeat identical messages.
  requestAnimationFrame(() => { s.textContent = text; });
}

export function mmss(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A playing position as media players show it: whole seconds elapsed, "0:00" at the start. */
export function clock(seconds) {
  const s = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function when(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Disable a form's controls while a request is in flight, so nothing is submitted twice. */
export async function busy(form, fn) {
  const controls = $$("button, input, select, textarea", form);
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    controls.forEach((c, i) => { c.disabled = was[i]; });
    form.removeAttribute("aria-busy");
  }
}

export function formError(form, message) {
  const p = $(".error[role=alert]", form) || $(".form-error", form);
  if (p) p.textContent = message || "";
}

/** The confirmation dialog; resolves true only when the user chose the destructive button. */
export function confirmDelete(text) {
  const dialog = $("#confirm-dialog");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/** Content-Type by file extension, as the spec's upload tables list them; browsers disagree on
 *  what they report for .mid and .m4a. */
const TYPES = {
  mid: "audio/midi", midi: "audio/midi", mp3: "audio/mpeg", wav: "audio/wav", m4a: "audio/mp4",
  flac: "audio/flac",
};

export function contentTypeOf(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return TYPES[ext] || file.type || "application/octet-stream";
}
