// The library: the account's tracks of one type, newest first, one API page at a time as the list
// scrolls (the API's opaque cursor), with generating tracks polled until they are final.

import { $, $$, announce, confirmDelete, el, mmss, when } from "./ui.js";
import { drawThumbnail, forgetWaveform, waveformOf } from "./artwork.js";
import { StemMixer } from "./stems.js";
import { bpmWords, detailParts, keyWords, modelWords, titleOf, voiceWords } from "./words.js";

const POLL_MS = 1500;
const TYPE_KEY = "songforge.library-type"; // Songs or Instrumentals, as the user last chose
const TYPES = ["song", "instrumental"];
const NOTIFY_KEY = "songforge.notify"; // the user asked for browser notifications
const PAGE_TITLE = "Songforge Studio";

/** Lower case without accents, for searching. */
function folded(text) {
  return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

/** What the request asked (the record's `settings`, a field of our own), else what the record says. */
export function settingsOf(rec) {
  if (rec.settings && typeof rec.settings === "object") return rec.settings;
  const dto = rec.ltmMaterialExtendDto || {};
  const model = dto.modelShowName;
  const out = { prompt: dto.prompt || rec.musicMaterial?.otherInfo || "" };
  if (model) out[rec.type === "song" ? "model_song" : "model_instrumental"] = model;
  return out;
}

const SORTS = {
  newest: apiOrder,
  oldest: (a, b) => apiOrder(b, a),
  title: (a, b, lib) => lib.displayTitle(a).localeCompare(lib.displayTitle(b)) || apiOrder(a, b),
  longest: (a, b) => (b.musicMaterial?.dur || 0) - (a.musicMaterial?.dur || 0) || apiOrder(a, b),
};

/** The API's order for lists: newest first, then by item id, descending. */
function apiOrder(a, b) {
  return (b.createTime || 0) - (a.createTime || 0) || (a.itemId < b.itemId ? 1 : a.itemId > b.itemId ? -1 : 0);
}

const MASTER_TARGET = "−14 LUFS, peak ≤ −1 dBTP"; // what the engine masters every track to

function num(v, digits) {
  return Number.isFinite(v) ? v.toFixed(digits).replace("-", "−") : "–";
}

/** What the track was asked to be beside what its rendered audio measures as (musicMaterial.measured). */
export function measuredView(m) {
  const x = m.measured || {};
  const est = x.estimator || {};
  const conf = Number.isFinite(x.keyConfidence) ? ` (confidence ${num(x.keyConfidence, 2)})` : "";
  const chords = Number.isFinite(x.chordsMatched)
    ? `${Math.round(x.chordsMatched * 100)}% of ${x.chordsCounted || 0} bars` : "–";
  const rows = [
    ["Key", m.key || "–", `${x.key || "–"}${conf}`, est.key],
    ["BPM", m.bpm || "–", num(x.bpm, 1), est.bpm],
    ["Chords", m.chord || "–", chords, est.chordsMatched],
    ["Loudness", MASTER_TARGET, `${num(x.lufs, 1)} LUFS, peak ${num(x.truePeak, 1)} dBTP`,
      [est.lufs, est.truePeak].filter(Boolean).join("; ")],
  ];
  return el("details", { class: "measured" },
    el("summary", {}, "Asked vs measured"),
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, ""), el("th", { scope: "col" }, "Asked"),
        el("th", { scope: "col" }, "Measured"))),
      el("tbody", {}, rows.map(([name, asked, heard, how]) => el("tr", {},
        el("th", { scope: "row" }, name), el("td", {}, String(asked)),
        el("td", { title: how || null }, heard))))));
}

function modelOf(rec) {
  return rec.ltmMaterialExtendDto?.modelShowName || "";
}

const TITLE_MAX = 100; // what PATCH /music/{job_id} takes (trimmed)

/** The voice a song was sung with, for the voice filter: "Aurora (artist voice)". */
function voiceLabel(v, names) {
  const name = v.name || names?.get(v.itemId) || (v.kind === "cloned" ? "Your cloned voice" : v.itemId);
  // kind "upstream": a TemPolor platform voice id the upstream engine was given as the voice.
  const kind = { cloned: "cloned voice", upstream: "TemPolor voice" }[v.kind] || "artist voice";
  return `${name} (${kind})`;
}

export class Library {
  constructor(app) {
    this.app = app;
    this.list = $("#track-list");
    this.sentinel = $("#library-sentinel");
    this.more = $("#load-more");
    this.errorBox = $("#library-error");
    const stored = localStorage.getItem(TYPE_KEY);
    this.type = TYPES.includes(stored) ? stored : "song";
    this.rows = new Map(); // job_id -> {li, record}
    this.mixers = new Map(); // job_id -> StemMixer, kept while its row is re-rendered
    this.current = { jobId: null, playing: false }; // the player's track, for the row's state
    this.tools = { query: "", sort: "newest", model: "", voice: "", favorites: false };
    this.editing = null; // the row being renamed: {jobId, value, error}, kept while rows re-render
    this.labelledAt = new Map(); // job_id -> when a rename or star last came back (stale polls lose)
    this.unseen = []; // tracks finished while the user looked elsewhere (for the page title)
    this.generation = 0; // bumps on every reset so stale pages are dropped
    this.reset({ account: true });
    this.checkType();
    this.setupTools();
    this.setupNotifications();

    for (const r of document.querySelectorAll('input[name="lib-type"]')) {
      r.addEventListener("change", () => { if (r.checked) this.setType(r.value); });
    }
    this.more.addEventListener("click", () => this.loadMore());
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.visible()) this.loadMore();
    }, { rootMargin: "200px" }).observe(this.sentinel);
    setInterval(() => this.poll(), POLL_MS);
  }

  visible() { return !$("#library").hidden; }

  /** Empties the list. `account`: a new account (or page load) is shown, so its first page may pick
   *  the other type when this one is empty (an account with only instrumentals opens on them). */
  reset({ account = false } = {}) {
    if (account) this.autoPick = true;
    this.generation += 1;
    this.cursor = "";
    this.hasNext = true;
    this.loading = false;
    this.loaded = false;
    this.rows.clear();
    for (const m of this.mixers.values()) m.dispose();
    this.mixers.clear();
    this.list.replaceChildren();
    this.editing = null;
    this.modelOptions?.();
    this.applyTools();
    this.errorBox.textContent = "";
    $("#library-empty").hidden = true;
    this.more.hidden = true;
  }

  checkType() {
    for (const r of document.querySelectorAll('input[name="lib-type"]')) r.checked = r.value === this.type;
  }

  /** Shows `type`; what the user chose (not what was picked for them) is kept for the next visit. */
  setType(type, { remember = true } = {}) {
    this.type = type;
    if (remember) {
      localStorage.setItem(TYPE_KEY, type);
      this.autoPick = false;
    }
    this.checkType();
    this.reset();
    if (this.visible()) this.loadMore();
  }

  /** Whether the account has tracks of the type not shown. */
  async otherHasTracks() {
    const other = TYPES.find((t) => t !== this.type);
    try {
      const page = await this.app.api.get("/music/", { user_id: this.app.userId, type: other });
      return (page?.records || []).length ? other : null;
    } catch {
      return null;
    }
  }

  show() {
    if (!this.loaded) this.loadMore();
    this.app.create.loadSourcesOnce(); // names of the voices songs were sung with
    this.seen();
  }

  // Search, sort and filter -------------------------------------------------------------------
  /** Over the tracks loaded so far (the API lists by type and cursor only): the note under the
   *  tools says so, and scrolling on loads the next pages, which the tools then include. */
  setupTools() {
    const search = $("#library-search");
    const sort = $("#library-sort");
    const model = $("#library-model");
    search.addEventListener("input", () => { this.tools.query = search.value; this.applyTools(); });
    sort.addEventListener("change", () => { this.tools.sort = sort.value; this.applyTools(); });
    model.addEventListener("change", () => { this.tools.model = model.value; this.applyTools(); });
    const voice = $("#library-voice");
    voice.addEventListener("change", () => { this.tools.voice = voice.value; this.applyTools(); });
    const favorites = $("#library-favorites");
    favorites.addEventListener("change", () => { this.tools.favorites = favorites.checked; this.applyTools(); });
    this.modelOptions = () => {
      this.voiceOptions();
      const names = [...new Set([...this.rows.values()].map(({ record }) => modelOf(record)).filter(Boolean))].sort();
      const keep = names.includes(model.value) ? model.value : "";
      const now = [...model.options].map((o) => o.value).join("|");
      if (now === ["", ...names].join("|")) return;
      model.replaceChildren(el("option", { value: "" }, "All models"),
        ...names.map((n) => el("option", { value: n }, n)));
      model.value = keep;
      if (keep !== this.tools.model) { this.tools.model = keep; }
    };
    /** The voices the loaded works were sung with (musicMaterial.voice); none, no filter. */
    this.voiceOptions = () => {
      const found = new Map();
      for (const { record } of this.rows.values()) {
        const v = record.musicMaterial?.voice;
        if (v?.itemId && !found.has(v.itemId)) found.set(v.itemId, voiceLabel(v, this.app.voiceNames));
      }
      const voices = [...found].sort((a, b) => a[1].localeCompare(b[1]));
      $("#library-voice-field").hidden = voices.length === 0;
      const keep = found.has(voice.value) ? voice.value : "";
      const now = [...voice.options].map((o) => `${o.value}=${o.textContent}`).join("|");
      if (now !== ["=All voices", ...voices.map(([id, label]) => `${id}=${label}`)].join("|")) {
        voice.replaceChildren(el("option", { value: "" }, "All voices"),
          ...voices.map(([id, label]) => el("option", { value: id }, label)));
      }
      voice.value = keep;
      this.tools.voice = keep;
    };
  }

  matches(rec) {
    const { query, model, voice, favorites } = this.tools;
    if (model && modelOf(rec) !== model) return false;
    if (voice && rec.musicMaterial?.voice?.itemId !== voice) return false;
    if (favorites && !rec.favorite) return false;
    const words = folded(query).split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    const m = rec.musicMaterial || {};
    const hay = folded([this.displayTitle(rec), settingsOf(rec).prompt, rec.ltmMaterialExtendDto?.prompt, m.style]
      .join(" \n "));
    return words.every((w) => hay.includes(w));
  }

  /** Shows the rows that match, in the chosen order; rows only move when their place changes
   *  (moving a node would take keyboard focus from a button in it). */
  applyTools() {
    const all = [...this.rows.values()].map(({ record }) => record);
    const cmp = SORTS[this.tools.sort] || apiOrder;
    all.sort((a, b) => cmp(a, b, this));
    let shown = 0;
    all.forEach((rec, i) => {
      const li = this.rows.get(rec.job_id).li;
      const ok = this.matches(rec);
      li.hidden = !ok;
      if (ok) shown += 1;
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });
    const { query, model, voice, favorites } = this.tools;
    const filtering = Boolean(query.trim() || model || voice || favorites);
    const note = $("#library-tools-note");
    const loaded = all.length;
    note.textContent = filtering
      ? `${shown} of the ${loaded} loaded track${loaded === 1 ? "" : "s"} match${shown === 1 ? "es" : ""}`
        + (this.hasNext ? "; more are loaded as you scroll." : ".")
      : `Search, sort and filter work on the ${loaded} track${loaded === 1 ? "" : "s"} loaded so far`
        + (this.hasNext ? "; scrolling loads more." : ".");
    $("#library-nomatch").hidden = !(filtering && shown === 0 && loaded > 0);
    this.app.player.syncNav();
  }

  /** The completed, shown track `delta` rows from `jobId`, in the order the list shows. */
  neighbour(jobId, delta) {
    const rows = $$(":scope > li.track[data-status=COMPLETED]:not([hidden])", this.list);
    const i = rows.findIndex((li) => li.dataset.jobId === jobId);
    if (i < 0) return null;
    const li = rows[i + delta];
    return li ? this.rows.get(li.dataset.jobId)?.record || null : null;
  }

  // Titles ------------------------------------------------------------------------------------
  /** 1 for the first variation of its request with its title, 2 for the next: the order the API
   *  lists them in, as the server names their downloads ("Title (2).mp3"). */
  variationOf(rec) {
    const batch = rec.musicMaterial?.batchId;
    if (!batch || !rec.titleEn) return 1;
    const same = [...this.rows.values()].map(({ record }) => record)
      .filter((r) => r.job_id !== rec.job_id && r.musicMaterial?.batchId === batch && r.titleEn === rec.titleEn);
    return 1 + same.filter((r) => apiOrder(r, rec) < 0).length;
  }

  displayTitle(rec) { return titleOf(rec, this.variationOf(rec)); }

  // Now playing -------------------------------------------------------------------------------
  /** The player's track and whether it plays: its row says so, and its Play button pauses it. */
  nowPlaying(jobId, playing) {
    this.current = { jobId, playing };
    for (const { li, record } of this.rows.values()) this.showPlaying(li, record);
  }

  showPlaying(li, rec) {
    const on = this.current.jobId === rec.job_id;
    const playing = on && this.current.playing;
    li.classList.toggle("current", on);
    if (on) li.setAttribute("aria-current", "true"); else li.removeAttribute("aria-current");
    const badge = li.querySelector(".now");
    if (badge) {
      badge.hidden = !on;
      badge.textContent = playing ? "Now playing" : "Paused";
    }
    const play = li.querySelector("button.play");
    if (play) {
      play.textContent = playing ? "Pause" : "Play";
      play.setAttribute("aria-label", `${playing ? "Pause" : "Play"} ${this.displayTitle(rec)}`);
    }
  }

  playFromRow(rec) {
    const player = this.app.player;
    if (player.record?.job_id === rec.job_id) player.playPause();
    else player.open(rec, { focus: true, play: true });
  }

  // Notifications -----------------------------------------------------------------------------
  setupNotifications() {
    const box = $("#notify-toggle");
    const supported = typeof Notification !== "undefined";
    box.closest("label").hidden = !supported;
    box.checked = supported && localStorage.getItem(NOTIFY_KEY) === "1" && Notification.permission === "granted";
    box.addEventListener("change", async () => {
      const help = $("#notify-help");
      help.textContent = "";
      if (!box.checked) { localStorage.removeItem(NOTIFY_KEY); return; }
      let permission = Notification.permission;
      if (permission === "default") permission = await Notification.requestPermission();
      if (permission !== "granted") {
        box.checked = false;
        help.textContent = "The browser does not allow notifications from this page (see its site settings).";
        return;
      }
      localStorage.setItem(NOTIFY_KEY, "1");
    });
    document.addEventListener("visibilitychange", () => this.seen());
  }

  /** Whether the user is looking at the library, where a finished track shows itself. */
  attended() {
    return document.visibilityState === "visible" && this.visible();
  }

  /** A track finished: the page title says so until the user looks at the library, and a browser
   *  notification, when asked for, tells a user who is elsewhere. */
  finished(rec) {
    const title = this.displayTitle(rec);
    const ok = rec.status_name === "COMPLETED";
    const text = ok ? `“${title}” is ready` : `“${title}” failed`;
    announce(text);
    if (this.attended()) return;
    this.unseen.push(text);
    document.title = this.unseen.length === 1
      ? `${text} · ${PAGE_TITLE}` : `(${this.unseen.length}) tracks finished · ${PAGE_TITLE}`;
    if ($("#notify-toggle").checked && typeof Notification !== "undefined" && Notification.permission === "granted") {
      try {
        const n = new Notification(text, {
          body: ok ? detailParts(rec).join(" · ") : rec.error || "", tag: rec.job_id,
          icon: rec.cover || "/studio/static/favicon.svg",
        });
        n.onclick = () => { window.focus(); this.app.go("library"); n.close(); };
      } catch { /* some browsers allow notifications only from a service worker */ }
    }
  }

  seen() {
    if (!this.attended() || !this.unseen.length) return;
    this.unseen = [];
    document.title = PAGE_TITLE;
  }

  // More like this ----------------------------------------------------------------------------
  /** Sends the work's request again (its `settings`): two new variations, titled apart. */
  async regenerate(rec, button) {
    const title = this.displayTitle(rec);
    const kind = rec.type === "song" ? "song" : "instrumental";
    button.disabled = true;
    this.errorBox.textContent = "";
    try {
      const body = { ...settingsOf(rec), user_id: this.app.userId };
      const res = await this.app.api.request("POST", `/music/${kind}`, { json: body });
      announce(`Regenerating ${title}: ${res.jobs.length} new variation${res.jobs.length === 1 ? "" : "s"}`);
      await this.addJobs(kind, res.jobs);
    } catch (e) {
      this.errorBox.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  }

  settingsView(rec, title) {
    const st = settingsOf(rec);
    const m = rec.musicMaterial || {};
    const song = rec.type === "song";
    const chosen = (asked, got) => (asked ? null : got ? `chosen from the prompt: ${got}` : "chosen from the prompt");
    const rows = [
      ["Prompt", st.prompt],
      song ? ["Lyrics", st.lyrics || "written from the prompt"] : null,
      ["Model", modelWords(st.model_song || st.model_instrumental) || "the server's default"],
      song ? null : ["Key", keyWords(st.tonality) || chosen(st.tonality, keyWords(m.key))],
      song ? null : ["BPM", bpmWords(st.bpm) || chosen(st.bpm, bpmWords(m.bpm))],
      song ? null : ["Chords", st.chords || chosen(st.chords, m.chord)],
      song ? ["Voice or base", this.app.create.sourceWords(st)] : null,
    ].filter(Boolean);
    const regen = el("button", { type: "button", class: "secondary", "aria-label": `Regenerate ${title}` }, "Regenerate");
    regen.addEventListener("click", () => this.regenerate(rec, regen));
    return el("details", { class: "settings" },
      el("summary", {}, "Settings · more like this"),
      el("dl", { class: "kv" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: k === "Lyrics" ? "pre" : "" }, v)])),
      el("div", { class: "inline" },
        el("button", {
          type: "button", class: "secondary", "aria-label": `Use the settings of ${title}`,
          onclick: () => this.app.create.load(rec, title),
        }, "Use these settings"),
        regen));
  }

  /** The settings panel, filled when first opened (the voice and MIDI names are loaded by then). */
  lazySettings(rec, title) {
    const details = el("details", { class: "settings" }, el("summary", {}, "Settings · more like this"));
    details.addEventListener("toggle", async () => {
      if (!details.open || details.dataset.filled) return;
      details.dataset.filled = "1";
      if (rec.type === "song") await this.app.create.loadSourcesOnce();
      details.append(...[...this.settingsView(rec, title).children].slice(1));
    });
    return details;
  }

  stemsView(rec, title) {
    const details = el("details", { class: "stems" }, el("summary", {}, "Stems"));
    let mixer = this.mixers.get(rec.job_id);
    if (mixer) {
      details.open = true;
      details.append(mixer.root);
    }
    details.addEventListener("toggle", () => {
      if (!details.open || this.mixers.has(rec.job_id)) {
        if (!details.open) this.mixers.get(rec.job_id)?.pause();
        return;
      }
      mixer = new StemMixer(this.app, rec, title);
      this.mixers.set(rec.job_id, mixer);
      details.append(mixer.root);
      mixer.load();
    });
    return details;
  }

  async download(rec, button) {
    button.disabled = true;
    this.errorBox.textContent = "";
    try {
      const url = await this.app.api.downloadUrl(rec.job_id, "mp3");
      const a = el("a", { href: url, download: `${this.displayTitle(rec)}.mp3`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      announce(`Downloading ${this.displayTitle(rec)}`);
    } catch (e) {
      this.errorBox.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  }

  async loadMore() {
    if (this.loading || !this.hasNext || !this.app.userId) return;
    this.loading = true;
    const gen = this.generation;
    const firstPage = this.cursor === "";
    let switchTo = null;
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await this.app.api.get("/music/", {
        user_id: this.app.userId, type: this.type, cursor: this.cursor,
      });
      if (gen !== this.generation) return;
      if (firstPage && this.autoPick) {
        this.autoPick = false;
        if (!(page.records || []).length) switchTo = await this.otherHasTracks();
        if (gen !== this.generation) return;
      }
      for (const rec of page.records || []) this.upsert(rec, false);
      this.hasNext = Boolean(page.hasNext && page.cursor);
      this.cursor = page.cursor || "";
      this.loaded = true;
      this.errorBox.textContent = "";
    } catch (e) {
      if (gen !== this.generation) return;
      // 404 "no records" style answers are an empty library, not an error.
      if (e.status === 404) { this.hasNext = false; this.loaded = true; } else this.errorBox.textContent = e.message;
    } finally {
      if (gen === this.generation) {
        this.loading = false;
        this.list.removeAttribute("aria-busy");
        this.more.hidden = !this.hasNext;
        $("#library-empty").hidden = this.rows.size > 0 || this.hasNext;
        this.applyTools(); // the note says whether more pages are to come
        // Keep filling while the sentinel is still on screen (tall screens, short pages).
        if (this.hasNext && this.sentinelOnScreen()) setTimeout(() => this.loadMore(), 0);
      }
    }
    if (switchTo && gen === this.generation) {
      this.setType(switchTo, { remember: false });
      announce(`Showing ${switchTo === "song" ? "songs" : "instrumentals"}: this account has none of the other kind`);
    }
  }

  sentinelOnScreen() {
    const r = this.sentinel.getBoundingClientRect();
    return this.visible() && r.top < window.innerHeight + 200;
  }

  /** Show a record: replace its row if present, else add it (at the top for new jobs). */
  upsert(record, atTop, { siblings = true } = {}) {
    const existing = this.rows.get(record.job_id);
    this.rows.set(record.job_id, { li: existing?.li, record }); // counted for its variation number
    const focus = existing && this.focusedControl(existing.li);
    const li = this.render(record);
    if (existing) existing.li.replaceWith(li);
    else if (atTop) this.list.prepend(li);
    else this.list.append(li);
    this.rows.set(record.job_id, { li, record });
    this.showPlaying(li, record);
    if (focus) this.refocus(li, focus);
    if (this.app.player.record?.job_id === record.job_id) {
      this.app.player.record = record;
      const title = this.displayTitle(record);
      if (this.app.player.title !== title) {
        this.app.player.title = title;
        $("#player-title").textContent = title;
      }
    }
    $("#library-empty").hidden = true;
    // A variation that got its title may number its sibling: "Title" and "Title (2)".
    if (siblings) {
      const batch = record.musicMaterial?.batchId;
      for (const { li: other, record: rec } of [...this.rows.values()]) {
        if (rec.job_id === record.job_id || !batch || rec.musicMaterial?.batchId !== batch) continue;
        if (other.querySelector(".title-text")?.textContent !== this.displayTitle(rec)) {
          this.upsert(rec, false, { siblings: false });
        }
      }
    }
    this.modelOptions();
    this.applyTools();
  }

  /** New jobs from the create form: show their type and put them on top right away. */
  /** Variations of one request share their creation time; they go on top in the order the API
   *  lists them, so the pair keeps its order after a reload. */
  async addJobs(kind, jobIds) {
    if (this.type !== kind) this.setType(kind);
    else this.autoPick = false;
    const records = [];
    for (const jobId of jobIds) {
      try {
        records.push(await this.app.api.get(`/music/${encodeURIComponent(jobId)}`));
      } catch (e) {
        this.errorBox.textContent = e.message;
      }
    }
    for (const rec of records.sort(apiOrder).reverse()) this.upsert(rec, true);
  }

  render(rec) {
    const m = rec.musicMaterial || {};
    const dto = rec.ltmMaterialExtendDto || {};
    const done = rec.status_name === "COMPLETED";
    const failed = rec.status_name === "FAILED";
    const title = this.displayTitle(rec);
    const titleId = `t-${rec.itemId}`;
    const voice = voiceWords(rec, this.app.voiceNames);
    const more = [
      dto.modelShowName ? `Model ${modelWords(dto.modelShowName)}` : "",
      voice ? `Sung by ${voice}` : "",
      rec.createTime ? `made ${when(rec.createTime)}` : "",
    ].filter(Boolean);
    const li = el("li", {
      class: "track", dataset: { jobId: rec.job_id, status: rec.status_name }, "aria-labelledby": titleId,
    },
    el("p", { class: "title", id: titleId }, el("span", { class: "title-text" }, title),
      el("span", { class: "now", hidden: true }, "")),
    el("p", { class: "facts" }, detailParts(rec).join(" · ")),
    el("p", { class: "more-facts" }, more.join(" · ")),
    el("div", { class: "actions" },
      el("button", {
        type: "button", class: "secondary favorite", "aria-pressed": String(Boolean(rec.favorite)),
        "aria-label": `Favourite ${title}`, title: rec.favorite ? "Remove from favourites" : "Add to favourites",
        onclick: (e) => this.toggleFavorite(rec, e.currentTarget),
      }, rec.favorite ? "\u2605" : "\u2606"),
      el("button", {
        type: "button", class: "play", disabled: !done,
        "aria-label": `Play ${title}`, onclick: () => this.playFromRow(rec),
      }, "Play"),
      done ? el("button", {
        type: "button", class: "secondary download", "aria-label": `Download ${title} (MP3)`,
        onclick: (e) => this.download(rec, e.currentTarget),
      }, "Download") : null,
      done ? el("button", {
        type: "button", class: "secondary share", "aria-label": `Share ${title}`,
        title: "A link to a page with this track's player, for anyone to listen",
        onclick: (e) => this.app.share.open(rec, title, e.currentTarget),
      }, "Share") : null,
      el("button", {
        type: "button", class: "secondary rename", "aria-label": `Rename ${title}`,
        onclick: () => this.startRename(rec),
      }, "Rename"),
      el("button", {
        type: "button", class: "secondary delete", "aria-label": `Delete ${title}`,
        onclick: () => this.remove(rec),
      }, "Delete")));
    if (this.editing?.jobId === rec.job_id) this.addRenameForm(li, rec, title);
    if (!rec.status_final) {
      const stage = rec.stage === "queued" ? "Waiting in the queue" : "Generating";
      li.append(el("div", { class: "progress" },
        el("progress", { max: 100, value: rec.progress || 0, "aria-label": `${stage}: ${title}` }),
        el("span", {}, `${stage} ${rec.progress || 0}%`)));
    }
    if (failed) li.append(el("p", { class: "failed" }, `Failed: ${rec.error || "no reason given"}`));
    if (rec.extendedFrom) li.append(this.extendedFromView(rec.extendedFrom));
    // What the prompt asked that this track does not do ("a song in Spanish" sung in English...)
    for (const note of [m.languageNote, m.lengthNote, m.vocalsNote].filter(Boolean)) {
      li.append(el("p", { class: "notice", role: "note" }, note));
    }
    const extras = el("div", { class: "extras" });
    if (done && m.measured) extras.append(measuredView(m));
    if (rec.status_final) extras.append(this.lazySettings(rec, title));
    if (done) extras.append(this.stemsView(rec, title));
    if (extras.children.length) li.append(extras);
    if (done) this.addArtwork(li, rec);
    return li;
  }

  /** "Extended from <title> at m:ss": the source's title from its row when listed, else its id. */
  extendedFromView(ext) {
    const source = [...this.rows.values()].find(({ record }) => record.itemId === ext.itemId)?.record;
    const name = source ? this.displayTitle(source) : `track ${ext.itemId}`;
    return el("p", { class: "extended-from", dataset: { itemId: ext.itemId } },
      `Extended from ${name} at ${mmss(ext.startTime)}`);
  }

  /** The cover beside the title and a waveform thumbnail under the facts, drawn from the work's
   * peaks (musicMaterial.waveformUrl), not from its audio. Both are decorative: the row's text
   * says everything, so they are hidden from assistive technology. */
  addArtwork(li, rec) {
    const waveUrl = rec.musicMaterial?.waveformUrl;
    if (!rec.cover && !waveUrl) return;
    li.classList.add("with-art");
    li.prepend(el("div", { class: "art", "aria-hidden": "true" },
      rec.cover ? el("img", { class: "cover", src: rec.cover, alt: "", width: 56, height: 56, loading: "lazy" }) : null));
    if (!waveUrl) return;
    const canvas = el("canvas", { class: "thumb", width: 240, height: 28, "aria-hidden": "true" });
    li.querySelector(".facts")?.after(canvas);
    waveformOf(rec).then((w) => { if (w) drawThumbnail(canvas, w); });
  }

  // Focus across re-renders -------------------------------------------------------------------
  /** Which of the row's controls has keyboard focus (re-rendering a row must not take it away):
   *  a button by its class, or the rename field with its caret. */
  focusedControl(li) {
    const active = document.activeElement;
    if (!active || !li.contains(active)) return null;
    if (active.matches("input.rename-input")) {
      return { selector: "input.rename-input", start: active.selectionStart, end: active.selectionEnd };
    }
    const which = ["favorite", "play", "download", "share", "rename", "delete", "rename-save", "rename-cancel"]
      .find((c) => active.classList.contains(c));
    return which ? { selector: `button.${which}` } : null;
  }

  refocus(li, { selector, start, end }) {
    const node = li.querySelector(selector);
    if (!node) return;
    node.focus();
    if (start !== undefined && node.setSelectionRange) node.setSelectionRange(start, end);
  }

  // Rename and favourites (server state: PATCH /music/{job_id}, a route of Songforge's own) -----
  startRename(rec) {
    const li = this.rows.get(rec.job_id)?.li;
    if (!li) return;
    if (this.editing?.jobId !== rec.job_id) {
      if (this.editing) this.closeRename(this.editing.jobId);
      const current = this.rows.get(rec.job_id).record;
      this.editing = { jobId: rec.job_id, value: current.titleEn ? this.displayTitle(current) : "", error: "" };
      this.addRenameForm(li, current, this.displayTitle(current));
    }
    const input = li.querySelector("input.rename-input");
    input.focus();
    input.select();
  }

  /** The title's line as a field: Enter saves, Escape cancels (both also as buttons, for touch). */
  addRenameForm(li, rec, title) {
    const state = this.editing;
    const p = li.querySelector("p.title");
    const errorId = `rename-error-${rec.itemId}`;
    const input = el("input", {
      type: "text", class: "rename-input", value: state.value, maxlength: TITLE_MAX, autocomplete: "off",
      spellcheck: "false", "aria-label": `New title for ${title}`, "aria-describedby": errorId,
      "aria-invalid": state.error ? "true" : null,
    });
    input.addEventListener("input", () => { state.value = input.value; });
    input.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      e.stopPropagation();
      this.cancelRename(rec);
    });
    const form = el("form", { class: "rename-form", "aria-label": `Rename ${title}`, novalidate: true },
      input,
      el("button", { type: "submit", class: "rename-save" }, "Save"),
      el("button", { type: "button", class: "secondary rename-cancel", onclick: () => this.cancelRename(rec) },
        "Cancel"),
      el("p", { class: "error", id: errorId, role: "alert" }, state.error || ""));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.saveRename(rec); });
    p.hidden = true;
    p.after(form);
  }

  cancelRename(rec) {
    if (this.editing?.jobId !== rec.job_id) return;
    this.closeRename(rec.job_id);
    this.rows.get(rec.job_id)?.li.querySelector("button.rename")?.focus();
  }

  closeRename(jobId) {
    if (this.editing?.jobId === jobId) this.editing = null;
    const li = this.rows.get(jobId)?.li;
    if (!li) return;
    li.querySelector("form.rename-form")?.remove();
    li.querySelector("p.title").hidden = false;
  }

  async saveRename(rec) {
    const state = this.editing;
    if (!state || state.jobId !== rec.job_id || state.saving) return;
    const title = state.value.trim();
    // The row may re-render while the request runs (it polls while generating): the error goes on
    // the form that is there when it comes back.
    const showError = (text) => {
      state.error = text;
      const form = this.rows.get(rec.job_id)?.li.querySelector("form.rename-form");
      if (!form) return;
      const input = form.querySelector("input.rename-input");
      form.querySelector(".error").textContent = text;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    };
    if (!title) return showError("Type a title (1 to 100 characters), or press Escape to keep this one.");
    if (title.length > TITLE_MAX) return showError(`A title can have at most ${TITLE_MAX} characters.`);
    const current = this.rows.get(rec.job_id)?.record || rec;
    if (current.titleEn && title === this.displayTitle(current)) { this.cancelRename(rec); return; }
    state.saving = true;
    try {
      const updated = await this.app.api.request("PATCH", `/music/${encodeURIComponent(rec.job_id)}`, {
        json: { title },
      });
      if (this.editing === state) this.editing = null;
      this.labelledAt.set(rec.job_id, performance.now());
      if (!this.rows.has(rec.job_id)) return;
      this.upsert(updated, false);
      this.rows.get(rec.job_id).li.querySelector("button.rename")?.focus();
      announce(`Renamed to ${this.displayTitle(updated)}`);
    } catch (e) {
      if (this.editing === state) showError(e.message);
    } finally {
      state.saving = false;
    }
  }

  async toggleFavorite(rec, button) {
    const current = this.rows.get(rec.job_id)?.record || rec;
    const favorite = !current.favorite;
    const title = this.displayTitle(current);
    button.disabled = true;
    this.errorBox.textContent = "";
    try {
      const updated = await this.app.api.request("PATCH", `/music/${encodeURIComponent(rec.job_id)}`, {
        json: { favorite },
      });
      this.labelledAt.set(rec.job_id, performance.now());
      if (!this.rows.has(rec.job_id)) return;
      this.upsert(updated, false);
      const li = this.rows.get(rec.job_id).li;
      // Unmarked under "Favourites only", the row leaves the list: focus stays near it.
      if (li.hidden) $("#library-favorites").focus();
      else li.querySelector("button.favorite")?.focus();
      announce(favorite ? `Added ${title} to favourites` : `Removed ${title} from favourites`);
    } catch (e) {
      button.disabled = false;
      this.errorBox.textContent = e.message;
    }
  }

  async poll() {
    if (!this.app.userId) return;
    const pending = [...this.rows.values()].filter(({ record }) => !record.status_final);
    const gen = this.generation;
    await Promise.all(pending.map(async ({ record }) => {
      try {
        const sent = performance.now();
        const rec = await this.app.api.get(`/music/${encodeURIComponent(record.job_id)}`);
        if (gen !== this.generation || !this.rows.has(rec.job_id)) return;
        // Read before a rename or a star came back: it would show the old labels for a moment.
        if ((this.labelledAt.get(rec.job_id) || 0) > sent) return;
        this.upsert(rec, false); // keeps keyboard focus on the row's control (see focusedControl)
        if (rec.status_final) this.finished(rec);
      } catch (e) {
        if (e.status === 404) this.drop(record.job_id);
      }
    }));
  }

  drop(jobId) {
    if (this.editing?.jobId === jobId) this.editing = null;
    this.labelledAt.delete(jobId);
    forgetWaveform(jobId);
    this.mixers.get(jobId)?.dispose();
    this.mixers.delete(jobId);
    this.rows.get(jobId)?.li.remove();
    this.rows.delete(jobId);
    $("#library-empty").hidden = this.rows.size > 0 || this.hasNext;
    this.modelOptions();
    this.applyTools();
  }

  async remove(rec) {
    const title = rec.titleEn ? this.displayTitle(rec) : "this track";
    if (!(await confirmDelete(`Delete “${title}” and its files? This cannot be undone.`))) return;
    try {
      await this.app.api.request("DELETE", `/music/${encodeURIComponent(rec.job_id)}`);
      this.app.player.forget(rec.job_id);
      this.drop(rec.job_id);
      announce(`Deleted ${title}`);
      this.list.querySelector("button")?.focus();
    } catch (e) {
      this.errorBox.textContent = e.message;
    }
  }
}
