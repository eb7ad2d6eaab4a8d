// The song and instrumental forms: checked like the API checks them, sent as the JSON the API
// documents, and the API's own error text shown next to the field it names.

import { allPages, sameOrigin } from "./api.js";
import { $, $$, announce, busy, el } from "./ui.js";
import { fieldOfMessage, TONALITIES, validateInstrumental, validateSong } from "./validate.js";
import { keyWords, MODELS } from "./words.js";

const PICKS = { artist: "artistVoiceItemId", cloned: "clonedVoiceItemId", midi: "midiItemId" };

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
    $("#s-lyrics").addEventListener("input", () => this.noteTagsOnly());
    this.noteTagsOnly();
    for (const r of $$('input[name="base"]')) r.addEventListener("change", () => this.showBase());
    $("#s-artist-preview").addEventListener("click", () => this.preview());
    $("#s-artist").addEventListener("change", () => this.stopPreview());
    $("#s-artist-audio").addEventListener("ended", () => this.stopPreview());

    this.inst.addEventListener("submit", (e) => { e.preventDefault(); this.submit("instrumental"); });
    this.song.addEventListener("submit", (e) => { e.preventDefault(); this.submit("song"); });
  }

  show() {
    this.loadSourcesOnce();
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
    if (kind === "instrumental") {
      set("model_instrumental", st.model_instrumental);
      set("tonality", st.tonality);
      set("bpm", st.bpm);
      set("chords", st.chords);
    } else {
      set("lyrics", st.lyrics);
      set("model_song", st.model_song);
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
