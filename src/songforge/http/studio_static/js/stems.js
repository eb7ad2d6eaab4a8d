// Per-stem players for a generated work: its stems zip (the API's file_format=stems link) unpacked
// here, one <audio> per stem on one timeline (one Play, one position), each stem muted or soloed.
// Stems are plain <audio> elements so they decode as they play, not all at once into memory; the
// first stem is the clock and the others are pulled back to it when they drift.

import { $$, announce, clock, el } from "./ui.js";

const AUDIO_TYPES = { wav: "audio/wav", flac: "audio/flac", mp3: "audio/mpeg", m4a: "audio/mp4", ogg: "audio/ogg" };
const DRIFT_S = 0.06; // stems further apart than this are put back on the clock

let playingMixer = null; // one mixer plays at a time, and never over the main player

export function stopStemPlayback() {
  playingMixer?.pause();
}

export class StemMixer {
  /** `title`: the work's title as the library shows it (for labels and download names). */
  constructor(app, record, title) {
    this.app = app;
    this.record = record;
    this.title = title;
    this.stems = []; // {name, audio, url, li, state, mute, solo}
    this.muted = new Set();
    this.soloed = new Set();
    this.root = el("div", { class: "mixer", role: "group", "aria-label": `Stems of ${title}` });
    this.status = el("p", { class: "help", role: "status" }, "Fetching the stems…");
    this.root.append(this.status);
  }

  async load() {
    try {
      const url = await this.app.api.downloadUrl(this.record.job_id, "stems");
      const res = await fetch(url);
      if (!res.ok) throw new Error(`The stems could not be fetched (HTTP ${res.status}).`);
      const files = window.fflate.unzipSync(new Uint8Array(await res.arrayBuffer()));
      const names = Object.keys(files)
        .filter((n) => AUDIO_TYPES[n.split(".").pop().toLowerCase()])
        .sort(stemOrder);
      if (!names.length) throw new Error("This work has no stems.");
      this.build(names, files, url);
      announce(`${names.length} stems of ${this.title} ready`);
    } catch (e) {
      this.status.className = "error";
      this.status.textContent = e.message;
    }
  }

  build(names, files, zipUrl) {
    const safe = this.title.replace(/[\\/:*?"<>|]+/g, "_");
    this.play = el("button", { type: "button", class: "mixer-play", "aria-label": `Play all stems of ${this.title}`,
      onclick: () => this.toggle() }, "Play");
    this.seek = el("input", { type: "range", min: 0, max: 0, step: 0.01, value: 0, class: "mixer-seek",
      "aria-label": `Position in the stems of ${this.title}` });
    this.time = el("span", { class: "mixer-time help" }, "0:00");
    this.seek.addEventListener("input", () => this.seekTo(Number(this.seek.value)));
    const list = el("ul", { class: "mixer-stems" });
    for (const file of names) {
      const ext = file.split(".").pop().toLowerCase();
      const name = file.replace(/^.*\//, "").replace(/\.[^.]+$/, "");
      const url = URL.createObjectURL(new Blob([files[file]], { type: AUDIO_TYPES[ext] }));
      const audio = el("audio", { preload: "auto", src: url });
      const stem = { name, audio, url };
      stem.mute = el("button", { type: "button", class: "secondary", "aria-pressed": "false",
        "aria-label": `Mute ${name}`, onclick: () => this.flip(this.muted, name) }, "Mute");
      stem.solo = el("button", { type: "button", class: "secondary", "aria-pressed": "false",
        "aria-label": `Solo ${name}`, onclick: () => this.flip(this.soloed, name) }, "Solo");
      stem.state = el("span", { class: "stem-state help" }, "");
      stem.li = el("li", { dataset: { stem: name } },
        el("span", { class: "stem-name" }, name), stem.state,
        el("span", { class: "inline" }, stem.mute, stem.solo,
          el("a", { href: url, download: `${safe} - ${name}.${ext}`, "aria-label": `Download the ${name} stem` },
            "Download")),
        audio);
      list.append(stem.li);
      this.stems.push(stem);
    }
    const master = this.stems[0].audio;
    master.addEventListener("loadedmetadata", () => {
      this.seek.max = String(master.duration || 0);
      this.showTime();
    });
    master.addEventListener("timeupdate", () => this.tick());
    master.addEventListener("ended", () => this.pause());
    this.status.textContent = `${names.length} stems on one timeline: mute or solo any of them.`;
    this.root.append(
      el("div", { class: "mixer-transport" }, this.play, this.seek, this.time),
      list,
      el("a", { href: zipUrl, class: "mixer-zip" }, "Download all stems (zip)"));
    this.apply();
  }

  flip(set, name) {
    if (set.has(name)) set.delete(name); else set.add(name);
    this.apply();
  }

  audible(name) {
    return this.soloed.size ? this.soloed.has(name) : !this.muted.has(name);
  }

  /** Mute and solo as the buttons say; a soloed stem plays even when muted (as in a mixing desk). */
  apply() {
    for (const s of this.stems) {
      const on = this.audible(s.name);
      s.audio.muted = !on;
      s.mute.setAttribute("aria-pressed", String(this.muted.has(s.name)));
      s.solo.setAttribute("aria-pressed", String(this.soloed.has(s.name)));
      s.li.classList.toggle("silent", !on);
      s.state.textContent = on ? "" : (this.soloed.size ? "silent (another stem is soloed)" : "muted");
    }
  }

  playing() { return this.stems.length > 0 && !this.stems[0].audio.paused; }

  toggle() {
    if (this.playing()) this.pause(); else this.start();
  }

  async start() {
    if (playingMixer && playingMixer !== this) playingMixer.pause();
    this.app.player.pause();
    playingMixer = this;
    const master = this.stems[0].audio;
    if (master.ended || master.currentTime >= (master.duration || Infinity) - 0.05) this.seekTo(0);
    const t = master.currentTime;
    for (const s of this.stems) s.audio.currentTime = t;
    this.play.textContent = "Pause";
    this.play.setAttribute("aria-label", `Pause the stems of ${this.title}`);
    try {
      await Promise.all(this.stems.map((s) => s.audio.play()));
    } catch (e) {
      this.pause();
      this.status.className = "error";
      this.status.textContent = `Playback failed: ${e.message}`;
    }
  }

  pause() {
    for (const s of this.stems) s.audio.pause();
    if (playingMixer === this) playingMixer = null;
    if (!this.play) return;
    this.play.textContent = "Play";
    this.play.setAttribute("aria-label", `Play all stems of ${this.title}`);
  }

  seekTo(t) {
    for (const s of this.stems) s.audio.currentTime = t;
    this.showTime();
  }

  tick() {
    const t = this.stems[0].audio.currentTime;
    if (this.playing()) {
      for (const s of this.stems.slice(1)) {
        if (Math.abs(s.audio.currentTime - t) > DRIFT_S) s.audio.currentTime = t;
      }
    }
    this.seek.value = String(t);
    this.showTime();
  }

  showTime() {
    const audio = this.stems[0]?.audio;
    if (!audio) return;
    this.time.textContent = `${clock(audio.currentTime)} / ${clock(audio.duration)}`;
  }

  /** Stops and frees the unpacked stems (the row was closed, re-rendered or deleted). */
  dispose() {
    this.pause();
    for (const s of this.stems) {
      s.audio.removeAttribute("src");
      URL.revokeObjectURL(s.url);
    }
    this.stems = [];
    for (const n of $$("audio", this.root)) n.remove();
  }
}

/** Vocals first, then the rhythm section, then the rest by name. */
function stemOrder(a, b) {
  const rank = (n) => {
    const i = ["vocals", "drums", "bass"].findIndex((w) => n.toLowerCase().includes(w));
    return i < 0 ? 9 : i;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}
