// Uploads: MIDI files, voice samples and tracks to split into stems. Bodies go raw, with the
// Content-Type the spec's tables name, through XMLHttpRequest so the bar can show bytes sent.

import { allPages, sameOrigin } from "./api.js";
import { $, announce, busy, confirmDelete, contentTypeOf, el, formError } from "./ui.js";

const MIDI_MAX = 1024 * 1024;
const VOICE_READY = 30;
const VOICE_FAILED = 10;
const STEMS_DONE = 2;
const STEMS_FAILED = 3;
const STEMS_POLL_MS = 1500;
const VOICE_POLL_MS = 2000;

function setProgress(bar, p) {
  bar.hidden = false;
  if (p.phase === "upload") {
    bar.value = Math.round((100 * p.loaded) / Math.max(1, p.total));
    bar.setAttribute("aria-valuetext", `Uploading ${bar.value}%`);
  } else {
    bar.removeAttribute("value"); // indeterminate: the server is processing
    bar.setAttribute("aria-valuetext", "Processing");
  }
}

function fileOf(form) {
  return form.elements.file.files?.[0] || null;
}

export class Uploads {
  constructor(app) {
    this.app = app;
    this.loadedFor = null;
    this.voiceTimer = null;
    $("#midi-form").addEventListener("submit", (e) => { e.preventDefault(); this.uploadMidi(); });
    $("#voice-form").addEventListener("submit", (e) => { e.preventDefault(); this.uploadVoice(); });
    $("#stems-form").addEventListener("submit", (e) => { e.preventDefault(); this.splitStems(); });
  }

  show() {
    if (this.loadedFor !== this.app.userId) {
      this.loadedFor = this.app.userId;
      $("#stems-list").replaceChildren();
      this.loadMidi();
      this.loadVoices();
      this.loadStems();
    }
  }

  // MIDI --------------------------------------------------------------------------------------
  async loadMidi() {
    const list = $("#midi-list");
    try {
      const recs = await allPages(this.app.api, "/music/midi/", { user_id: this.app.userId });
      list.replaceChildren(...recs.map((r) => this.midiItem(r)));
      if (!recs.length) list.append(el("li", { class: "help empty" }, "No MIDI files yet."));
    } catch (e) {
      list.replaceChildren(el("li", { class: "error" }, e.message));
    }
  }

  midiItem(r) {
    return el("li", { dataset: { id: r.midiItemId } },
      el("div", { class: "line" },
        el("strong", {}, r.name || "MIDI file"),
        el("button", {
          type: "button", class: "link-danger", "aria-label": `Delete MIDI file ${r.name}`,
          onclick: () => this.deleteItem(`/music/midi/${encodeURIComponent(r.midiItemId)}`, r.name, () => this.loadMidi()),
        }, "Delete")),
      r.midiUrl ? el("a", { href: sameOrigin(r.midiUrl), download: `${r.name || "file"}.mid` }, "Download .mid") : null);
  }

  async uploadMidi() {
    const form = $("#midi-form");
    const bar = $("#midi-progress");
    const name = form.elements.name.value.trim();
    const file = fileOf(form);
    formError(form, "");
    if (!name) return this.invalid(form, "name", "Parameter name is required");
    if (!file) return this.invalid(form, "file", "Choose a MIDI file to upload");
    if (file.size > MIDI_MAX) return this.invalid(form, "file", "The MIDI file is larger than 1 MB");
    if (file.size === 0) return this.invalid(form, "file", "Empty file received");
    await busy(form, async () => {
      try {
        await this.app.api.upload("/music/midi/", { user_id: this.app.userId, name }, file,
          contentTypeOf(file), (p) => setProgress(bar, p));
        form.reset();
        announce(`Uploaded MIDI file ${name}`);
        await this.loadMidi();
        this.app.create.sourcesLoadedFor = null;
      } catch (e) {
        formError(form, e.message);
      } finally {
        bar.hidden = true;
        bar.value = 0;
      }
    });
  }

  // Voices ------------------------------------------------------------------------------------
  async loadVoices() {
    const list = $("#voice-list");
    clearTimeout(this.voiceTimer);
    try {
      const recs = await allPages(this.app.api, "/music/cloned-voices/", { user_id: this.app.userId });
      list.replaceChildren(...recs.map((r) => this.voiceItem(r)));
      if (!recs.length) list.append(el("li", { class: "help empty" }, "No voice samples yet."));
      // Analysis runs after the upload; keep looking until every voice has its result.
      if (recs.some((r) => r.status !== undefined && r.status !== VOICE_READY && r.status !== VOICE_FAILED)) {
        this.voiceTimer = setTimeout(() => { if (!$("#uploads").hidden) this.loadVoices(); }, VOICE_POLL_MS);
      }
    } catch (e) {
      list.replaceChildren(el("li", { class: "error" }, e.message));
    }
  }

  voiceItem(r) {
    const ready = r.status === undefined || r.status === VOICE_READY;
    const failed = Boolean(r.error) || r.status === VOICE_FAILED;
    const state = failed ? `Failed: ${r.error || "analysis failed"}` : ready ? "Ready" : "Analysing…";
    const analysis = r.analysis || r.profile || null;
    const facts = [];
    if (r.labels?.length) facts.push(["Labels", r.labels.join(", ")]);
    if (analysis && typeof analysis === "object") {
      for (const [k, v] of Object.entries(analysis)) {
        if (v === null || typeof v === "object") continue;
        facts.push([k, typeof v === "number" ? String(Math.round(v * 100) / 100) : String(v)]);
      }
    }
    const src = r.vocalUrl || "";
    return el("li", { dataset: { id: r.clonedVoiceItemId, status: String(r.status ?? "") } },
      el("div", { class: "line" },
        el("strong", {}, r.name || "Voice"),
        el("span", { class: failed ? "error" : ready ? "ok" : "help" }, state),
        el("button", {
          type: "button", class: "link-danger", "aria-label": `Delete voice ${r.name}`,
          onclick: () => this.deleteItem(`/music/cloned-voices/${encodeURIComponent(r.clonedVoiceItemId)}`, r.name,
            () => this.loadVoices()),
        }, "Delete")),
      facts.length ? el("dl", { class: "kv", "aria-label": "Analysis" },
        facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])) : null,
      src && /^(\/|https?:)/.test(src) ? el("audio", { controls: true, preload: "none", src: sameOrigin(src) }) : null,
      !ready && !failed ? el("progress", { "aria-label": `Analysing ${r.name}` }) : null);
  }

  async uploadVoice() {
    const form = $("#voice-form");
    const bar = $("#voice-progress");
    const name = form.elements.name.value.trim();
    const file = fileOf(form);
    formError(form, "");
    if (!name) return this.invalid(form, "name", "Parameter name is required");
    if (!file) return this.invalid(form, "file", "Choose a recording to upload");
    if (file.size === 0) return this.invalid(form, "file", "Empty file received");
    await busy(form, async () => {
      try {
        const { status } = await this.app.api.upload("/music/cloned-voices/", { user_id: this.app.userId, name },
          file, contentTypeOf(file), (p) => setProgress(bar, p));
        form.reset();
        announce(status === 202 ? `Uploaded ${name}; analysing` : `Voice ${name} is ready`);
        await this.loadVoices();
        this.app.create.sourcesLoadedFor = null;
      } catch (e) {
        formError(form, e.message);
      } finally {
        bar.hidden = true;
        bar.value = 0;
      }
    });
  }

  // Stems -------------------------------------------------------------------------------------
  /** Past splits from the API (newest first): finished ones unpack on request, since a zip of four
   *  full-length stems is large; unfinished ones are followed until they end. */
  async loadStems() {
    const list = $("#stems-list");
    const uid = this.app.userId;
    try {
      const recs = await allPages(this.app.api, "/music/stems-splitter/", { user_id: uid });
      if (uid !== this.app.userId) return;
      const shown = new Set([...list.children].map((li) => li.dataset.id).filter(Boolean));
      for (const r of recs.filter((x) => !shown.has(x.stemsItemId))) list.append(this.pastSplit(r));
      if (!list.children.length) list.append(el("li", { class: "help empty" }, "No stem splits yet."));
    } catch (e) {
      list.replaceChildren(el("li", { class: "error" }, e.message));
    }
  }

  pastSplit(r) {
    const state = el("span", { class: "help" }, "");
    const bar = el("progress", { max: 100, value: r.progress || 0, "aria-label": `Splitting ${r.title}` });
    const stems = el("ul", { class: "items", "aria-label": `Stems of ${r.title}` });
    const open = el("button", { type: "button", class: "secondary", "aria-label": `Show the stems of ${r.title}` },
      "Show stems");
    const del = el("button", {
      type: "button", class: "link-danger", "aria-label": `Delete the stem split ${r.title}`,
      onclick: () => this.deleteItem(`/music/stems-splitter/${encodeURIComponent(r.stemsItemId)}`, r.title,
        async () => { item.remove(); if (!$("#stems-list").children.length) this.loadStems(); }),
    }, "Delete");
    const item = el("li", { dataset: { id: r.stemsItemId, state: String(r.state ?? "") } },
      el("div", { class: "line" }, el("strong", {}, r.title || "Track"), state,
        el("span", { class: "inline" }, open, del)), bar, stems);
    const finish = (body) => {
      if (body.state === STEMS_FAILED) {
        bar.remove(); open.remove();
        state.className = "error";
        state.textContent = `Failed: ${body.error || "stem separation failed"}`;
        return;
      }
      bar.hidden = true;
      state.textContent = `Done · ${(body.detail || []).length || 4} stems`;
      open.onclick = async () => {
        open.remove();
        bar.hidden = false;
        try {
          await this.showStems(body, bar, state, stems);
        } catch (e) {
          state.textContent = e.message;
        }
      };
    };
    if (r.state === STEMS_DONE || r.state === STEMS_FAILED) finish(r);
    else {
      open.hidden = true;
      state.textContent = r.state === 0 ? "Waiting for a worker…" : `Splitting ${r.progress || 0}%`;
      this.waitForStems(r, bar, state).then((body) => { open.hidden = false; finish(body); })
        .catch((e) => finish({ state: STEMS_FAILED, error: e.message }));
    }
    return item;
  }

  async splitStems() {
    const form = $("#stems-form");
    const file = fileOf(form);
    formError(form, "");
    if (!file) return this.invalid(form, "file", "Choose a track to split");
    if (file.size === 0) return this.invalid(form, "file", "Empty file received");
    const bar = el("progress", { max: 100, value: 0, "aria-label": `Splitting ${file.name}` });
    const state = el("span", { class: "help" }, "Uploading…");
    const stems = el("ul", { class: "items", "aria-label": `Stems of ${file.name}` });
    const item = el("li", {}, el("div", { class: "line" }, el("strong", {}, file.name), state), bar, stems);
    $("#stems-list .empty")?.remove();
    $("#stems-list").prepend(item);
    await busy(form, async () => {
      try {
        let { body } = await this.app.api.upload("/music/stems-splitter/",
          { user_id: this.app.userId, name: file.name }, file,
          contentTypeOf(file), (p) => {
            setProgress(bar, p);
            state.textContent = p.phase === "upload" ? `Uploading ${bar.value}%` : "Splitting…";
          });
        form.reset();
        if (body?.stemsItemId) item.dataset.id = body.stemsItemId;
        body = await this.waitForStems(body || {}, bar, state);
        await this.showStems(body, bar, state, stems);
      } catch (e) {
        bar.remove();
        state.textContent = "";
        item.append(el("p", { class: "error" }, e.message));
        formError(form, e.message);
      }
    });
  }

  /** A split that outlasts the POST answers 202 with a stemsItemId to poll for progress. */
  async waitForStems(body, bar, state) {
    while (!body.stemsZipUrl && body.stemsItemId && body.state !== STEMS_DONE && body.state !== STEMS_FAILED) {
      bar.value = body.progress || 0;
      bar.setAttribute("aria-valuetext", `Splitting ${bar.value}%`);
      state.textContent = body.state === 0 ? "Waiting for a worker…" : `Splitting ${bar.value}%`;
      await new Promise((r) => setTimeout(r, STEMS_POLL_MS));
      body = await this.app.api.get(`/music/stems-splitter/${encodeURIComponent(body.stemsItemId)}`);
    }
    if (body.state === STEMS_FAILED) throw new Error(body.error || "Stem separation failed");
    return body;
  }

  /** The split answers with a zip of stems; unpack it here so each stem gets its own player. */
  async showStems(body, bar, state, list) {
    if (!body.stemsZipUrl) {
      bar.remove();
      state.textContent = body.error || `Not finished (state ${body.state ?? "unknown"})`;
      return;
    }
    state.textContent = "Fetching stems…";
    const res = await fetch(sameOrigin(body.stemsZipUrl));
    if (!res.ok) throw new Error(`Could not fetch the stems (HTTP ${res.status})`);
    const zip = new Uint8Array(await res.arrayBuffer());
    const files = window.fflate.unzipSync(zip);
    const names = Object.keys(files).filter((n) => !n.endsWith("/")).sort();
    for (const name of names) {
      const ext = name.split(".").pop().toLowerCase();
      const type = { flac: "audio/flac", wav: "audio/wav", mp3: "audio/mpeg", m4a: "audio/mp4" }[ext] || "";
      const url = URL.createObjectURL(new Blob([files[name]], { type }));
      const label = name.replace(/^.*\//, "").replace(/\.[^.]+$/, "");
      list.append(el("li", {},
        el("div", { class: "line" }, el("span", {}, label),
          el("a", { href: url, download: name.replace(/^.*\//, "") }, "Download")),
        el("audio", { controls: true, preload: "metadata", src: url, "aria-label": `Stem ${label}` })));
    }
    bar.remove();
    state.textContent = `${names.length} stems`;
    list.append(el("li", {}, el("a", { href: sameOrigin(body.stemsZipUrl), download: "stems.zip" }, "Download all (zip)")));
    announce(`Split into ${names.length} stems`);
  }

  // Shared ------------------------------------------------------------------------------------
  invalid(form, field, message) {
    formError(form, message);
    const input = form.elements[field];
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
    input?.addEventListener("input", () => input.removeAttribute("aria-invalid"), { once: true });
  }

  async deleteItem(path, name, after) {
    if (!(await confirmDelete(`Delete “${name}”?`))) return;
    try {
      await this.app.api.request("DELETE", path);
      announce(`Deleted ${name}`);
      this.app.create.sourcesLoadedFor = null;
      await after();
    } catch (e) {
      announce(e.message);
    }
  }
}
