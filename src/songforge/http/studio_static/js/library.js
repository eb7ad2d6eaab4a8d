// The library: the account's tracks of one type, newest first, one API page at a time as the list
// scrolls (the API's opaque cursor), with generating tracks polled until they are final.

import { $, announce, confirmDelete, el, mmss, when } from "./ui.js";
import { drawThumbnail, forgetWaveform, waveformOf } from "./artwork.js";

const POLL_MS = 1500;
const TYPE_KEY = "songforge.library-type"; // Songs or Instrumentals, as the user last chose
const TYPES = ["song", "instrumental"];

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
    this.generation = 0; // bumps on every reset so stale pages are dropped
    this.reset({ account: true });
    this.checkType();

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
    this.list.replaceChildren();
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
  upsert(record, atTop) {
    const existing = this.rows.get(record.job_id);
    const li = this.render(record);
    if (existing) existing.li.replaceWith(li);
    else if (atTop) this.list.prepend(li);
    else this.list.append(li);
    this.rows.set(record.job_id, { li, record });
    if (this.app.player.record?.job_id === record.job_id) li.classList.add("current");
    $("#library-empty").hidden = true;
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
    const title = rec.titleEn || (done ? "Untitled" : failed ? "Failed" : "Generating…");
    const titleId = `t-${rec.itemId}`;
    const facts = [
      ["Style", m.style], ["Key", m.key], ["BPM", m.bpm || ""], ["Length", m.dur ? mmss(m.dur) : ""],
      ["Model", dto.modelShowName], ["Created", when(rec.createTime)],
    ].filter(([, v]) => v);
    const li = el("li", {
      class: "track", dataset: { jobId: rec.job_id, status: rec.status_name }, "aria-labelledby": titleId,
    },
    el("p", { class: "title", id: titleId }, title),
    el("ul", { class: "facts", "aria-label": "Details" },
      facts.map(([k, v]) => el("li", {}, el("span", { class: "visually-hidden" }, `${k}: `), String(v)))),
    el("div", { class: "actions" },
      el("button", {
        type: "button", class: "play", disabled: !done,
        "aria-label": `Play ${title}`, onclick: () => this.app.player.open(rec, { focus: true }),
      }, "Play"),
      el("button", {
        type: "button", class: "secondary delete", "aria-label": `Delete ${title}`,
        onclick: () => this.remove(rec),
      }, "Delete")));
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
    if (done && m.measured) li.append(measuredView(m));
    if (done) this.addArtwork(li, rec);
    return li;
  }

  /** "Extended from <title> at m:ss": the source's title from its row when listed, else its id. */
  extendedFromView(ext) {
    const source = [...this.rows.values()].find(({ record }) => record.itemId === ext.itemId)?.record;
    const name = source?.titleEn || (source ? "Untitled" : `track ${ext.itemId}`);
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

  async poll() {
    if (!this.app.userId) return;
    const pending = [...this.rows.values()].filter(({ record }) => !record.status_final);
    const gen = this.generation;
    await Promise.all(pending.map(async ({ record }) => {
      try {
        const rec = await this.app.api.get(`/music/${encodeURIComponent(record.job_id)}`);
        if (gen !== this.generation || !this.rows.has(rec.job_id)) return;
        // Re-rendering must not steal keyboard focus from the row being worked with.
        const active = document.activeElement;
        const which = ["play", "delete"].find((c) => active?.classList?.contains(c));
        const focused = which && this.rows.get(rec.job_id).li.contains(active);
        this.upsert(rec, false);
        if (focused) this.rows.get(rec.job_id).li.querySelector(`button.${which}`)?.focus();
        if (rec.status_final) {
          announce(`${rec.titleEn || "A track"} ${rec.status_name === "COMPLETED" ? "is ready" : "failed"}`);
        }
      } catch (e) {
        if (e.status === 404) this.drop(record.job_id);
      }
    }));
  }

  drop(jobId) {
    forgetWaveform(jobId);
    this.rows.get(jobId)?.li.remove();
    this.rows.delete(jobId);
    $("#library-empty").hidden = this.rows.size > 0 || this.hasNext;
  }

  async remove(rec) {
    const title = rec.titleEn || "this track";
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
