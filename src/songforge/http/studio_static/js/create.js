// The song and instrumental forms: checked like the API checks them, sent as the JSON the API
// documents, and the API's own error text shown next to the field it names.

import { allPages, sameOrigin } from "./api.js";
import { $, $$, announce, busy, el } from "./ui.js";
import { fieldOfMessage, TONALITIES, validateInstrumental, validateSong } from "./validate.js";
import { keyWords, MODELS } from "./words.js";

const PICKS = { artist: "artistVoiceItemId", cloned: "clonedVoiceItemId", midi: "midiItemId" };

const PROMPT_FIRST = "Write a prompt first: the lyrics are written from it.";

/** Whether lyrics have a line to sing: a line that is not a section tag. */
function hasWords(text) {
  return String(text || "").split(/\r?\n/).map((l) => l.trim()).some((l) => l && !/^\[[^\]]*\]$/.test(l));
}
const MODEL_PICKERS = [["#s-model", "song"], ["#i-model", "instrumental"]];

/** "a", "a and b", "a, b and c". */
function listWords(items) {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

export class CreateForms {
  constructor(app) {
    this.app = app;
    this.song = $("#song-form");
    this.inst = $("#instrumental-form");
    this.sourcesLoadedFor = null;

    for (const r of $$('input[name="kind"]')) {
      r.addEventListener("change", () => {
        const kind = $('input[name="kind"]:checked').value;
        this.inst.hidden = kind !== "instrumental";
        this.song.hidden = kind !== "song";
      });
    }
    // Model names described: what each one is, here and in the library.
    for (const select of [$("#i-model"), $("#s-model")]) {
      for (const opt of select.options) {
        if (opt.value && MODELS[opt.value]) opt.textContent = `${opt.value} · ${MODELS[opt.value].words}`;
        else if (!opt.value) {
          const kind = select.id === "s-model" ? "song" : "instrumental";
          const newest = Object.keys(MODELS).find((k) => MODELS[k].kind === kind);
          opt.textContent = `Server default (${newest}, the newest)`;
        }
      }
    }
    // Every model the page knows, as decorated above: what `offerModels` filters down to the ones
    // the server can make now. A note under each picker says why a model is not offered.
    this.modelOptions = {};
    this.modelWarning = {}; // select id -> "the model this work used is not available" (see `load`)
    for (const [sel, kind] of MODEL_PICKERS) {
      const select = $(sel);
      this.modelOptions[sel] = [...select.options].map((o) => ({ value: o.value, text: o.textContent }));
      const note = el("p", { id: `${select.id}-note`, class: "notice", role: "status", hidden: true });
      select.setAttribute("aria-describedby", note.id);
      select.closest(".field").append(note);
      select.addEventListener("change", () => {
        delete this.modelWarning[select.id];
        this.offerModels(select, kind);
      });
    }
    this.models = null;
    const key = $("#i-key");
    key.append(el("option", { value: "" }, "Auto (from the prompt)"));
    for (const t of TONALITIES) key.append(el("option", { value: t }, keyWords(t)));

    for (const ta of $$("textarea[maxlength]")) {
      const counter = document.getElementById(`${ta.id}-count`);
      const update = () => {
        if (!counter) return;
        counter.textContent = `${ta.value.length} / ${counter.dataset.max}`;
        counter.classList.toggle("over", ta.value.length > Number(counter.dataset.max));
      };
      ta.addEventListener("input", update);
      update();
    }
    for (const b of $$(".tagbar .tag")) b.addEventListener("click", () => this.insertTag(b.dataset.tag));
    this.rovingToolbar($(".tagbar"));
    $("#s-lyrics").addEventListener("input", () => { this.noteTagsOnly(); this.syncWriteLyrics(); });
    this.noteTagsOnly();
    this.writeButton = $("#s-write-lyrics");
    this.writeButton.addEventListener("click", () => this.writeLyrics());
    this.syncWriteLyrics();
    for (const r of $$('input[name="base"]')) r.addEventListener("change", () => this.showBase());
    $("#s-artist-preview").addEventListener("click", () => this.preview());
    $("#s-artist").addEventListener("change", () => this.stopPreview());
    $("#s-artist-audio").addEventListener("ended", () => this.stopPreview());

    this.inst.addEventListener("submit", (e) => { e.preventDefault(); this.submit("instrumental"); });
    this.song.addEventListener("submit", (e) => { e.preventDefault(); this.submit("song"); });
  }

  show() {
    this.loadSourcesOnce();
    this.loadModels();
  }

  /** Which models the server can make now (GET /models, for this account: its engine makes the
   *  models without a route), asked each time the form is shown, since workers come and go. A server
   *  that cannot say leaves every model offered, as before. */
  async loadModels() {
    const uid = this.app.userId;
    if (!uid) return;
    let answer;
    try {
      answer = await this.app.api.get("/models", { user_id: uid });
    } catch {
      return;
    }
    if (uid !== this.app.userId || !Array.isArray(answer?.models)) return;
    this.models = answer.models;
    for (const [sel, kind] of MODEL_PICKERS) this.offerModels($(sel), kind);
  }

  /** Puts in `select` only the models of `kind` that are available (the "server default" entry only
   *  while the default model is), keeps the current choice when it is still offered (else the server
   *  default, else the newest offered), and says in words what is missing and why. With nothing of
   *  the kind available the picker and the form's button are disabled. */
  offerModels(select, kind, wanted = select.value) {
    if (!this.models) return select.value;
    const mine = (this.models || []).filter((m) => m.kind === kind);
    const served = new Set(mine.filter((m) => m.available).map((m) => m.model));
    const fallback = mine.find((m) => m.default);
    const offered = this.modelOptions[`#${select.id}`].filter((o) =>
      o.value ? served.has(o.value) : Boolean(fallback && served.has(fallback.model)));
    select.replaceChildren(...offered.map((o) => new Option(o.text, o.value)));
    const values = offered.map((o) => o.value);
    select.value = values.includes(wanted) ? wanted : values[0] ?? "";
    const none = offered.length === 0;
    if (none) select.replaceChildren(new Option("None available now", ""));
    select.disabled = none;
    const button = $('button[type="submit"]', select.form);
    if (button) button.disabled = none;
    // Named in the picker's order (newest first), as the user knows them.
    const order = this.modelOptions[`#${select.id}`].map((o) => o.value);
    const rank = (m) => (order.includes(m.model) ? order.indexOf(m.model) : order.length);
    const missing = mine.filter((m) => !m.available).sort((a, b) => rank(a) - rank(b));
    const note = document.getElementById(`${select.id}-note`);
    let words = "";
    if (missing.length) {
      // One sentence per engine chain: "i4, i3.5 beta and i3 are made by the acestep engine, ...".
      const byChain = new Map();
      for (const m of missing) {
        const chain = (m.engines || []).join(" or ");
        byChain.set(chain, [...(byChain.get(chain) || []), m.model]);
      }
      const why = [...byChain].map(([chain, names]) => {
        const several = chain.includes(" or ");
        return `${listWords(names)} ${names.length > 1 ? "are" : "is"} made by the ${chain} engine, `
          + `${several ? "none of which" : "which"} no running worker has ready`;
      }).join("; ");
      words = none
        ? `No ${kind} model can be made right now: ${why}. Try again when a worker with `
          + "that engine is running, or ask the server's operator."
        : `Not offered now: ${why}.`;
    }
    words = [this.modelWarning[select.id], words].filter(Boolean).join(" ");
    note.textContent = words;
    note.hidden = !words;
    select.dataset.models = "served";
    return select.value;
  }

  /** The account's voices and MIDI files, loaded once per account (an upload asks again). */
  loadSourcesOnce() {
    if (this.sourcesLoadedFor !== this.app.userId || !this.sourcesLoading) this.sourcesLoading = this.loadSources();
    return this.sourcesLoading;
  }

  /** What a song's settings used for its voice or base, in words. */
  sourceWords(st) {
    const name = (select, id) => [...$(select).options].find((o) => o.value === id)?.textContent;
    if (st.artistVoiceItemId) return `Artist voice ${name("#s-artist", st.artistVoiceItemId)?.split(" — ")[0] || st.artistVoiceItemId}`;
    if (st.clonedVoiceItemId) return `Cloned voice ${name("#s-cloned", st.clonedVoiceItemId) || st.clonedVoiceItemId}`;
    if (st.midiItemId) return `MIDI base ${name("#s-midi", st.midiItemId) || st.midiItemId}`;
    return "Automatic (a voice chosen for the prompt)";
  }

  /** "Use these settings": the work's request back in the form, every control as it was asked,
   *  and the form shown, so the user can change something and generate again. */
  async load(rec, title) {
    const st = rec.settings || { prompt: rec.ltmMaterialExtendDto?.prompt || "" };
    const kind = rec.type === "song" ? "song" : "instrumental";
    $(`input[name="kind"][value="${kind}"]`).checked = true;
    this.inst.hidden = kind !== "instrumental";
    this.song.hidden = kind !== "song";
    const form = kind === "song" ? this.song : this.inst;
    for (const e of $$(".error", form)) e.textContent = "";
    for (const e of $$("[aria-invalid]", form)) e.setAttribute("aria-invalid", "false");
    const set = (name, value) => {
      const field = form.elements[name];
      if (!field) return;
      field.value = value ?? "";
      field.dispatchEvent(new Event("input"));
    };
    set("prompt", st.prompt);
    let missing = "";
    for (const [sel] of MODEL_PICKERS) delete this.modelWarning[$(sel).id];
    // The work's model; when it is not offered now, the picker's own choice and a note saying so.
    const model = (name) => {
      const select = form.elements[name];
      const asked = st[name] || "";
      set(name, asked);
      if (select.value === asked && select.selectedIndex >= 0) return;
      if (!this.models) {
        select.selectedIndex = 0; // a name this page does not know: the first entry, as a fresh form has
        return;
      }
      this.offerModels(select, kind, asked);
      if (!asked) return; // the server default is not offered now: the note already says why
      const label = select.selectedOptions[0]?.textContent;
      this.modelWarning[select.id] = `The model this work used, ${asked}, is not available now`
        + `${label ? `: ${label} is chosen instead` : ""}.`;
      this.offerModels(select, kind);
    };
    if (kind === "instrumental") {
      model("model_instrumental");
      set("tonality", st.tonality);
      set("bpm", st.bpm);
      set("chords", st.chords);
    } else {
      $("#s-lyrics-written").hidden = true; // these are the work's lyrics, not freshly written ones
      set("lyrics", st.lyrics);
      model("model_song");
      const base = st.artistVoiceItemId ? "artist" : st.clonedVoiceItemId ? "cloned" : st.midiItemId ? "midi" : "none";
      $(`input[name="base"][value="${base}"]`).checked = true;
      this.showBase();
      const pick = PICKS[base];
      if (pick) {
        await this.loadSourcesOnce();
        const select = form.elements[pick];
        select.value = st[pick];
        if (select.value !== st[pick]) {
          select.value = "";
          missing = "The voice or MIDI file this work used is no longer available: choose another.";
        }
      }
      $("#s-base-error").textContent = missing;
    }
    this.app.go("create", { focus: false });
    const prompt = form.elements.prompt;
    prompt.focus();
    prompt.setSelectionRange(prompt.value.length, prompt.value.length);
    announce(`The settings of ${title} are in the form`);
  }

  /** Voices and MIDI files the song form can pick, for the selected account. */
  async loadSources() {
    const uid = this.app.userId;
    if (!uid) return;
    this.sourcesLoadedFor = uid;
    const fill = async (select, path, label, value, keep = () => true) => {
      select.replaceChildren(el("option", { value: "" }, "Loading…"));
      try {
        const recs = (await allPages(this.app.api, path, { user_id: uid })).filter(keep);
        select.replaceChildren(el("option", { value: "" }, recs.length ? "Choose…" : "None available"));
        for (const r of recs) select.append(el("option", { value: value(r), dataset: { src: r.vocalUrl || r.resourceUrl || "" } }, label(r)));
      } catch (e) {
        select.replaceChildren(el("option", { value: "" }, `Unavailable: ${e.message}`));
      }
    };
    // Names by item id, for saying which voice a song was sung with (musicMaterial.voice).
    const names = (r) => { if (r.itemId && r.name) this.app.voiceNames.set(r.itemId, r.name); return true; };
    await Promise.all([
      fill($("#s-artist"), "/music/artist-voices/", (r) => [r.name, (r.labels || []).join(", ")].filter(Boolean).join(" — "), (r) => r.itemId, names),
      fill($("#s-cloned"), "/music/cloned-voices/", (r) => r.name, (r) => r.clonedVoiceItemId,
        (r) => names(r) && (r.status === undefined || r.status === 30)),
      fill($("#s-midi"), "/music/midi/", (r) => r.name, (r) => r.midiItemId),
    ]);
  }

  /** A toolbar is one Tab stop; the arrow keys, Home and End move between its buttons (the ARIA
   *  toolbar pattern, with a roving tabindex). */
  rovingToolbar(bar) {
    const buttons = $$("button", bar);
    const select = (i, focus) => {
      buttons.forEach((b, j) => { b.tabIndex = j === i ? 0 : -1; });
      if (focus) buttons[i].focus();
    };
    select(0, false);
    bar.addEventListener("focusin", (e) => {
      const i = buttons.indexOf(e.target);
      if (i >= 0) select(i, false);
    });
    bar.addEventListener("keydown", (e) => {
      const i = buttons.indexOf(document.activeElement);
      if (i < 0) return;
      const n = buttons.length;
      const to = { ArrowRight: (i + 1) % n, ArrowDown: (i + 1) % n, ArrowLeft: (i - 1 + n) % n,
        ArrowUp: (i - 1 + n) % n, Home: 0, End: n - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      select(to, true);
    });
  }

  /** "Write lyrics" is offered while the box has no words to sing (empty, or section tags only). */
  syncWriteLyrics() {
    const words = hasWords($("#s-lyrics").value);
    $("#s-write-lyrics-row").hidden = words;
    if (!words) $("#s-lyrics-written").hidden = true;
  }

  /** Lyrics written from the prompt by the server (POST /music/lyrics: the writer a song without
   *  lyrics would use), put in the box to read and change; the song then sings what the box says.
   *  Writing takes a moment, so the answer carries the lyrics and there is nothing to poll. */
  async writeLyrics() {
    const prompt = $("#s-prompt").value;
    const error = $("#s-lyrics-error");
    error.textContent = "";
    const promptError = $("#s-prompt-error");
    if (!prompt.trim()) {
      this.showErrors(this.song, "song", { prompt: PROMPT_FIRST });
      return;
    }
    if (promptError.textContent === PROMPT_FIRST) { // asked for, and given now
      promptError.textContent = "";
      $("#s-prompt").setAttribute("aria-invalid", "false");
    }
    const ta = $("#s-lyrics");
    const button = this.writeButton;
    button.disabled = true;
    button.textContent = "Writing…";
    ta.setAttribute("aria-busy", "true");
    try {
      const res = await this.app.api.request("POST", "/music/lyrics", { json: { prompt } });
      ta.value = String(res.lyrics || "").trimEnd();
      ta.dispatchEvent(new Event("input"));
      const note = $("#s-lyrics-written");
      note.textContent = "Lyrics written from your prompt. Read them and change anything you like: "
        + "the song will be sung with the words in the box.";
      note.hidden = !hasWords(ta.value);
      ta.focus();
      ta.setSelectionRange(0, 0);
      ta.scrollTop = 0;
      announce("Lyrics written from the prompt; they are in the Lyrics box to edit");
    } catch (e) {
      error.textContent = `The lyrics could not be written: ${e.message}`;
    } finally {
      ta.removeAttribute("aria-busy");
      button.disabled = false;
      button.textContent = "Write lyrics";
    }
  }

  /** Lyrics that are only section tags have no words to sing: the engine writes lyrics from the
   *  prompt instead, as for empty lyrics. Say so while the user types, not after the song is made. */
  noteTagsOnly() {
    const lines = $("#s-lyrics").value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const tagsOnly = lines.length > 0 && lines.every((l) => /^\[[^\]]*\]$/.test(l));
    const note = $("#s-lyrics-note");
    note.textContent = tagsOnly
      ? "These lyrics are only section tags, so there are no words to sing: the lyrics will be written "
        + "from the prompt (your tags are not kept). Add lines under the tags to have your own words sung."
      : "";
    note.hidden = !tagsOnly;
  }

  insertTag(tag) {
    const ta = $("#s-lyrics");
    const { selectionStart: a, selectionEnd: b, value } = ta;
    const before = value.slice(0, a);
    const prefix = before === "" || before.endsWith("\n") ? "" : "\n";
    const insert = `${prefix}${tag}\n`;
    ta.value = before + insert + value.slice(b);
    ta.focus();
    ta.selectionStart = ta.selectionEnd = a + insert.length;
    ta.dispatchEvent(new Event("input"));
  }

  base() { return $('input[name="base"]:checked')?.value || "none"; }

  showBase() {
    for (const d of $$(".base-pick")) d.hidden = d.dataset.base !== this.base();
    this.stopPreview();
  }

  preview() {
    const audio = $("#s-artist-audio");
    const button = $("#s-artist-preview");
    if (!audio.paused) { this.stopPreview(); return; }
    const opt = $("#s-artist").selectedOptions[0];
    const src = opt?.dataset.src;
    if (!src) { $("#s-base-error").textContent = "Choose an artist voice to preview."; return; }
    $("#s-base-error").textContent = "";
    audio.src = sameOrigin(src);
    audio.play().then(() => {
      button.textContent = "Stop preview";
      button.setAttribute("aria-pressed", "true");
    }).catch((e) => { $("#s-base-error").textContent = `Preview failed: ${e.message}`; });
  }

  stopPreview() {
    const audio = $("#s-artist-audio");
    audio.pause();
    $("#s-artist-preview").textContent = "Preview";
    $("#s-artist-preview").setAttribute("aria-pressed", "false");
  }

  body(kind) {
    const form = kind === "song" ? this.song : this.inst;
    const v = (name) => form.elements[name]?.value ?? "";
    const body = { user_id: this.app.userId, prompt: v("prompt") };
    if (kind === "instrumental") {
      if (v("model_instrumental")) body.model_instrumental = v("model_instrumental");
      if (v("tonality")) body.tonality = v("tonality");
      // A number input reports "" for text it cannot parse; keep that visible as an invalid bpm.
      const bpm = form.elements.bpm;
      if (bpm.validity.badInput) body.bpm = "not a number";
      else if (bpm.value !== "") body.bpm = Number(bpm.value);
      if (v("chords").trim()) body.chords = v("chords").trim();
    } else {
      if (v("lyrics").trim()) body.lyrics = v("lyrics");
      if (v("model_song")) body.model_song = v("model_song");
      const pick = PICKS[this.base()];
      if (pick) body[pick] = v(pick);
    }
    return body;
  }

  showErrors(form, kind, errors) {
    const prefix = kind === "song" ? "s" : "i";
    const map = { prompt: "prompt", lyrics: "lyrics", tonality: "key", bpm: "bpm", chords: "chords", base: "base" };
    for (const [field, id] of Object.entries(map)) {
      const box = document.getElementById(`${prefix}-${id}-error`);
      if (!box) continue;
      box.textContent = errors[field] || "";
      const input = document.getElementById(`${prefix}-${id}`);
      if (input) input.setAttribute("aria-invalid", errors[field] ? "true" : "false");
    }
    const first = Object.keys(map).find((f) => errors[f]);
    if (first) document.getElementById(`${prefix}-${map[first]}`)?.focus();
    return Boolean(first);
  }

  async submit(kind) {
    const form = kind === "song" ? this.song : this.inst;
    const formError = $(".form-error", form);
    formError.textContent = "";
    const picker = form.elements[kind === "song" ? "model_song" : "model_instrumental"];
    if (picker.disabled) { // no model of this kind can be made now: the note under it says why
      formError.textContent = document.getElementById(`${picker.id}-note`).textContent;
      return;
    }
    const body = this.body(kind);
    const errors = kind === "song" ? validateSong(body) : validateInstrumental(body);
    const pick = PICKS[this.base()];
    if (kind === "song" && pick && !body[pick]) errors.base = "Choose one from the list, or pick Automatic.";
    this.showErrors(form, kind, errors);
    if (Object.keys(errors).length) {
      formError.textContent = "Please fix the marked fields.";
      return;
    }
    await busy(form, async () => {
      try {
        const res = await this.app.api.request("POST", `/music/${kind}`, { json: body });
        announce(`Started ${res.jobs.length} ${kind === "song" ? "song" : "instrumental"} variation${res.jobs.length === 1 ? "" : "s"}`);
        this.app.go("library");
        await this.app.library.addJobs(kind, res.jobs);
      } catch (e) {
        // The API's own words, once: next to the field it names (the note above the button then
        // points there, as for the form's own checks), else above the button.
        const field = fieldOfMessage(e.message);
        const shown = field ? this.showErrors(form, kind, { [field]: e.message }) : false;
        formError.textContent = shown ? "Please fix the marked fields." : e.message;
      }
    });
  }
}
