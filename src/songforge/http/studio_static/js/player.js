// The player: one <audio> element (its own controls stay visible, so it works by keyboard and with
// screen readers) drawn as a waveform by wavesurfer.js, timed lyrics, and the download buttons.

import WaveSurfer from "../vendor/wavesurfer.esm.js";
import { $, $$, announce, clock, el, mmss } from "./ui.js";
import { activeLine, parseTimedLyrics } from "./lyrics.js";
import { waveformOf } from "./artwork.js";
import { stopStemPlayback } from "./stems.js";
import { detailParts, voiceWords } from "./words.js";

// "0" when the user turned Autoplay next off; on by default, as music players continue with the
// next track of the list (the library's order: its search, filter and sort), stopping at its end.
const AUTOPLAY_KEY = "songforge.autoplay";

/** A waveform of `media` drawn by wavesurfer.js in #waveform, in the page's theme colours, `wide`
 *  or (on a phone's narrow screen) `phone` pixels tall. #waveform's data-state says "ready" or
 *  "error"; on an error the <audio> element still plays, only the drawing is missing. The share
 *  page draws its one track with it too, so both look alike. */
export function drawWaveform(media, { wide, phone }) {
  const css = getComputedStyle(document.documentElement);
  const ws = WaveSurfer.create({
    container: "#waveform",
    media,
    height: matchMedia("(max-width: 600px)").matches ? phone : wide,
    waveColor: css.getPropertyValue("--wave").trim() || "#b4aef0",
    progressColor: css.getPropertyValue("--wave-done").trim() || "#4f3fd0",
    cursorColor: css.getPropertyValue("--ink").trim() || "#000",
    barWidth: 2,
    barGap: 1,
    barRadius: 2,
    dragToSeek: true,
  });
  ws.on("error", () => { $("#waveform").dataset.state = "error"; });
  ws.on("ready", () => { $("#waveform").dataset.state = "ready"; });
  return ws;
}

export class Player {
  constructor(app) {
    this.app = app;
    this.panel = $("#player");
    this.audio = $("#player-audio");
    this.toggle = $("#player-toggle");
    this.error = $("#player-error");
    this.lyricsList = $("#lyrics");
    this.record = null;
    this.lines = [];
    this.active = -1;
    this.ws = null;

    this.toggle.addEventListener("click", () => this.playPause());
    this.prevButton = $("#player-prev");
    this.nextButton = $("#player-next");
    this.sizeButton = $("#player-size");
    this.timeLabel = $("#player-time");
    this.prevButton.addEventListener("click", () => this.step(-1));
    this.nextButton.addEventListener("click", () => this.step(1));
    this.sizeButton.addEventListener("click", () => this.setMini(!this.mini));
    this.mini = false;
    this.lyricsList.addEventListener("click", (e) => {
      const li = e.target.closest("li[data-time]");
      if (li && this.lyricsList.contains(li)) this.seekTo(Number(li.dataset.time), { play: true });
    });
    this.mediaSession();
    this.extendButton = $("#player-extend");
    this.extendButton.addEventListener("click", () => this.extend());
    $("#player-close").addEventListener("click", () => this.closeByUser());
    for (const b of $$("[data-format]", this.panel)) {
      b.addEventListener("click", () => this.download(b.dataset.format, b));
    }
    this.audio.addEventListener("play", () => { stopStemPlayback(); this.syncToggle(); });
    this.audio.addEventListener("pause", () => this.syncToggle());
    this.audio.addEventListener("ended", () => { this.syncToggle(); this.playNextOnEnd(); });
    this.autoplayBox = $("#player-autoplay");
    this.autoplayBox.checked = localStorage.getItem(AUTOPLAY_KEY) !== "0";
    this.autoplayBox.addEventListener("change", () => {
      localStorage.setItem(AUTOPLAY_KEY, this.autoplayBox.checked ? "1" : "0");
      announce(this.autoplayBox.checked ? "Autoplay on: the next track plays when one ends" : "Autoplay off");
    });
    this.audio.addEventListener("timeupdate", () => { this.highlight(); this.showTime(); });
    this.audio.addEventListener("durationchange", () => this.showTime());
    // The page leaves room below its content for the player as tall as it really is.
    new ResizeObserver(() => {
      document.body.style.setProperty("--player-h", `${this.panel.offsetHeight}px`);
    }).observe(this.panel);
    this.audio.addEventListener("error", () => {
      if (this.record) this.error.textContent = "This track could not be loaded for playback.";
    });
  }

  ensureWaveform() {
    if (this.ws) return this.ws;
    this.ws = drawWaveform(this.audio, { wide: 64, phone: 40 }); // phones: see studio.css
    return this.ws;
  }

  /** Opens `record` and, with `play`, plays it; with `focus`, keyboard focus moves to the player's
   *  Play button, so the player is one key away from the row that opened it, not past every other
   *  row. The player lives outside the sections, so it keeps playing while the user moves on. */
  async open(record, { focus = false, play = false } = {}) {
    this.record = record;
    this.error.textContent = "";
    this.panel.hidden = false;
    document.body.classList.add("has-player");
    if (focus) this.toggle.focus();
    const title = this.app.library.displayTitle(record);
    this.title = title;
    $("#player-title").textContent = title;
    $("#player-meta").textContent = detailParts(record).join(" · ");
    const voice = voiceWords(record, this.app.voiceNames);
    $("#player-voice").textContent = voice ? `Sung by ${voice}` : "";
    $("#player-voice").hidden = !voice;
    const cover = $("#player-cover");
    cover.hidden = !record.cover;
    if (record.cover) cover.src = record.cover; else cover.removeAttribute("src");
    this.renderLyrics(record);
    this.extendButton.hidden = !(record.canExtend && record.status_name === "COMPLETED");
    this.timeLabel.textContent = "";
    this.syncNav();
    this.app.library.nowPlaying(record.job_id, false);
    this.mediaMetadata(record, title);
    try {
      const url = await this.app.api.downloadUrl(record.job_id, "mp3");
      if (this.record !== record) return; // another track was chosen meanwhile
      $("#waveform").dataset.state = "loading";
      // The work's own peaks draw the waveform at once, without decoding the whole mp3 first.
      const w = await waveformOf(record);
      const peaks = w?.peaks?.length && w.duration > 0 ? [w.peaks, w.duration] : [];
      if (this.record !== record) return;
      await this.ensureWaveform().load(url, ...peaks).catch(() => {});
      if (this.record !== record) return;
      announce(`Loaded ${title}`);
      if (play) this.play();
    } catch (e) {
      this.error.textContent = e.message;
    }
    this.syncToggle();
  }

  /** The track `delta` rows away in the library as shown (its search, filter and sort), played. */
  step(delta) {
    const rec = this.record && this.app.library.neighbour(this.record.job_id, delta);
    if (rec) this.open(rec, { play: true });
  }

  /** A track ended: with Autoplay next on, the library's next track (as shown) plays; after the
   *  last one, or with the setting off, the player stays on the track that ended. */
  playNextOnEnd() {
    if (!this.autoplayBox.checked || !this.record) return;
    const next = this.app.library.neighbour(this.record.job_id, 1);
    if (!next) return;
    announce(`Playing the next track: ${this.app.library.displayTitle(next)}`);
    this.open(next, { play: true });
  }

  /** Previous and Next are there only where the library has a track before or after this one. */
  syncNav() {
    if (!this.app.library) return; // while the studio starts
    const id = this.record?.job_id;
    this.prevButton.disabled = !(id && this.app.library.neighbour(id, -1));
    this.nextButton.disabled = !(id && this.app.library.neighbour(id, 1));
  }

  /** The mini player: one line (cover, title, time, previous / play / next), the rest folded away.
   *  The studio folds it outside the library, where the sections need the room. */
  setMini(on) {
    this.mini = on;
    this.panel.classList.toggle("mini", on);
    this.sizeButton.setAttribute("aria-expanded", String(!on));
    this.sizeButton.setAttribute("aria-label", on ? "Expand the player" : "Minimize the player");
    this.sizeButton.textContent = on ? "\u25B4" : "\u25BE";
  }

  showTime() {
    const d = this.audio.duration;
    this.timeLabel.textContent = Number.isFinite(d) && d > 0
      ? `${clock(this.audio.currentTime)} / ${clock(d)}` : "";
  }

  seekTo(t, { play = false } = {}) {
    if (!this.audio.src || !Number.isFinite(t)) return;
    this.audio.currentTime = Math.max(0, t);
    this.highlight();
    if (play && this.audio.paused) this.play();
  }

  /** The operating system's media keys and lock-screen controls, where the browser has them. */
  mediaSession() {
    const ms = navigator.mediaSession;
    if (!ms) return;
    const on = (action, fn) => { try { ms.setActionHandler(action, fn); } catch { /* unsupported */ } };
    on("play", () => this.play());
    on("pause", () => this.pause());
    on("previoustrack", () => this.step(-1));
    on("nexttrack", () => this.step(1));
  }

  mediaMetadata(record, title) {
    if (!navigator.mediaSession || typeof MediaMetadata === "undefined") return;
    const artwork = record.cover ? [{ src: record.cover, sizes: "512x512", type: "image/png" }] : [];
    navigator.mediaSession.metadata = new MediaMetadata({ title, artist: "Songforge", artwork });
  }

  renderLyrics(record) {
    const dto = record.ltmMaterialExtendDto || {};
    this.lines = parseTimedLyrics(dto.lrcTimestamp);
    this.active = -1;
    this.lyricsList.replaceChildren();
    if (this.lines.length) {
      // Timed lines, section tags included, each a button that seeks there.
      this.lines.forEach((l, i) => {
        this.lyricsList.append(el("li", {
          class: l.section ? "section" : "", dataset: { index: i, time: l.time },
        }, el("button", { type: "button", class: "line", title: `Play from ${clock(l.time)}` }, l.text)));
      });
    } else if (dto.lyricsPrompt && record.type !== "instrumental") {
      for (const line of dto.lyricsPrompt.split(/\r?\n/).filter((x) => x.trim())) {
        this.lyricsList.append(el("li", { class: /^\s*\[.*\]\s*$/.test(line) ? "section" : "" }, line));
      }
    }
    this.lyricsList.hidden = this.lyricsList.children.length === 0;
  }

  highlight() {
    if (!this.lines.length) return;
    const idx = activeLine(this.lines, this.audio.currentTime);
    if (idx === this.active) return;
    const items = this.lyricsList.children;
    items[this.active]?.classList.remove("active");
    items[this.active]?.removeAttribute("aria-current");
    this.active = idx;
    const li = items[idx];
    if (li) {
      li.classList.add("active");
      li.setAttribute("aria-current", "true");
      // Scrolls the lyrics only: scrollIntoView would scroll the player (and the page) as well.
      const list = this.lyricsList;
      const top = li.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top + li.offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  playPause() {
    if (!this.audio.src) return;
    if (this.audio.paused) this.play(); else this.pause();
  }

  play() {
    if (!this.audio.src) return;
    this.audio.play().catch((e) => {
      if (e.name !== "AbortError") this.error.textContent = `Playback failed: ${e.message}`;
    });
  }

  pause() { this.audio.pause(); }

  playing() { return Boolean(this.record) && !this.audio.paused && !this.audio.ended; }

  syncToggle() {
    const playing = this.playing();
    this.toggle.textContent = playing ? "Pause" : "Play";
    this.toggle.setAttribute("aria-pressed", String(playing));
    if (this.record) this.app.library.nowPlaying(this.record.job_id, playing);
    if (navigator.mediaSession) navigator.mediaSession.playbackState = playing ? "playing" : "paused";
  }

  async download(format, button) {
    if (!this.record) return;
    this.error.textContent = "";
    button.disabled = true;
    try {
      const url = await this.app.api.downloadUrl(this.record.job_id, format);
      const ext = format === "stems" ? "zip" : format;
      const safe = (this.title || this.record.itemId || "track").replace(/[\\/:*?"<>|]+/g, "_");
      const a = el("a", { href: url, download: `${safe}.${ext}`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      announce(`Downloading ${format.toUpperCase()}`);
    } catch (e) {
      this.error.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  }

  /** Extend: a new work that is this one up to the playing position (to 0.1 s; the server splices
   *  at the bar line before it), then continues the song. A song may be given new lyrics to sing
   *  from there; left empty, the continuation writes its own. The new work joins the library. */
  async extend() {
    const record = this.record;
    if (!record) return;
    this.error.textContent = "";
    const start = Math.round(this.audio.currentTime * 10) / 10;
    if (!(start > 0)) {
      this.error.textContent = "Play or seek to where the extension should start, then choose Extend.";
      return;
    }
    const body = { job_id: record.job_id, start_time: start };
    if (record.type !== "instrumental") {
      const lyrics = window.prompt(`Lyrics to sing from ${mmss(start)} on (leave empty for new ones):`, "");
      if (lyrics === null) return; // cancelled
      if (lyrics.trim()) body.lyrics = lyrics;
    }
    this.extendButton.disabled = true;
    try {
      const res = await this.app.api.request("POST", "/music/extend", { json: body });
      announce(`Extending ${record.titleEn || "the track"} from ${mmss(start)}`);
      await this.app.library.addJobs(record.type === "instrumental" ? "instrumental" : "song", res.jobs);
    } catch (e) {
      this.error.textContent = e.message;
    } finally {
      this.extendButton.disabled = false;
    }
  }

  /** Called when a track is deleted: a player must not keep offering a file that is gone. */
  forget(jobId) {
    if (this.record?.job_id === jobId) this.close();
  }

  /** Closed by its button or Escape: focus goes back to the row it was opened from (rows are
   *  re-rendered while polling, so it is found again by job id), else to the library heading. */
  closeByUser() {
    const jobId = this.record?.job_id;
    this.close();
    const row = jobId && document.querySelector(`.track[data-job-id="${CSS.escape(jobId)}"]`);
    const play = row && !row.closest("[hidden]") ? row.querySelector("button.play") : null;
    if (play) play.focus();
    else this.app.focusSection(this.app.section());
  }

  close() {
    this.audio.pause();
    this.ws?.empty();
    this.audio.removeAttribute("src");
    this.audio.load();
    this.record = null;
    this.panel.hidden = true;
    document.body.classList.remove("has-player");
    this.app.library.nowPlaying(null, false);
  }
}
