// Plain words for what records say in codes: "A:minor" is "A minor", 90 is "90 BPM", 119 s is
// "1:59", "i3" is "i3 (up to 2 min)". One place, so the library, the player and the queue agree.

import { mmss } from "./ui.js";

/** What each model of this server is, in words. They differ in how long a track may be (the
 *  hosted service's caps, songforge.config.MODEL_PROFILES); the newest is the default. */
export const MODELS = {
  "v4.8": { kind: "song", words: "newest song model, up to 4½ min" },
  "v4.5": { kind: "song", words: "up to 4½ min" },
  "v3.5": { kind: "song", words: "up to 4½ min" },
  v3: { kind: "song", words: "oldest song model, up to 2 min" },
  i4: { kind: "instrumental", words: "newest instrumental model, up to 3 min" },
  "i3.5 beta": { kind: "instrumental", words: "up to 4½ min" },
  i3: { kind: "instrumental", words: "oldest instrumental model, up to 2 min" },
};

/** "i3 (oldest instrumental model, up to 2 min)"; an unknown name as it is. */
export function modelWords(name) {
  if (!name) return "";
  const m = MODELS[name];
  return m ? `${name} (${m.words})` : name;
}

/** "A:minor" -> "A minor", "C#:major" -> "C# major". */
export function keyWords(key) {
  if (!key) return "";
  const [root, mode] = String(key).split(":");
  return mode ? `${root} ${mode}` : root;
}

export function bpmWords(bpm) {
  const n = Number(bpm);
  return Number.isFinite(n) && n > 0 ? `${Math.round(n)} BPM` : "";
}

export function lengthWords(seconds) {
  const t = mmss(seconds);
  return t === "–" ? "" : t;
}

/** The facts of a record in the order people read them: "lofi · 90 BPM · A minor · 1:59". */
export function detailParts(rec) {
  const m = rec.musicMaterial || {};
  return [m.style, bpmWords(m.bpm), keyWords(m.key), lengthWords(m.dur)].filter(Boolean);
}

/** The voice a song was sung with (musicMaterial.voice), named from the artist and cloned voice
 *  lists where the record names none: "Aurora (artist voice, chosen for the prompt)". */
export function voiceWords(rec, names = new Map()) {
  const v = rec.musicMaterial?.voice;
  if (!v || !v.itemId) return "";
  const name = v.name || names.get(v.itemId) || (v.kind === "cloned" ? "your cloned voice" : v.itemId);
  const kind = v.kind === "cloned" ? "cloned voice" : "artist voice";
  return `${name} (${kind}${v.chosen ? ", chosen for the prompt" : ""})`;
}

/** "Title", "Title (2)": the record's title with its variation number (see Library.variations). */
export function titleOf(rec, variation = 1) {
  const done = rec.status_name === "COMPLETED";
  const failed = rec.status_name === "FAILED";
  const base = rec.titleEn || (done ? "Untitled" : failed ? "Failed" : "Generating…");
  return variation > 1 && rec.titleEn ? `${base} (${variation})` : base;
}

/** A short quote of a prompt, for jobs that have no title yet. */
export function promptQuote(prompt, max = 48) {
  const p = String(prompt || "").replace(/\s+/g, " ").trim();
  if (!p) return "";
  return `“${p.length > max ? `${p.slice(0, max - 1).trimEnd()}…` : p}”`;
}
