// The page a share link opens: one track, read-only. It needs no API token: the link's token is
// the page's own path, and GET /share/<token>/track gives what the page shows (title, facts,
// timed lyrics) with signed links to the files. Nothing else of the owner's account is asked for.

import { sameOrigin } from "./api.js";
import { waveformOf } from "./artwork.js";
import { activeLine, parseTimedLyrics } from "./lyrics.js";
import { drawWaveform } from "./player.js";
import { $, announce, clock, el, when } from "./ui.js";
import { detailParts } from "./words.js";

const audio = $("#share-audio");
const toggle = $("#share-toggle");
const list = $("#lyrics");
let lines = [];
let active = -1;

function renderLyrics(data) {
  const dto = data.ltmMaterialExtendDto || {};
  lines = parseTimedLyrics(dto.lrcTimestamp);
  list.replaceChildren();
  if (lines.length) {
    // As in the studio's player: timed lines, section tags included, each a button that seeks there.
    lines.forEach((l, i) => {
      list.append(el("li", { class: l.section ? "section" : "", dataset: { index: i, time: l.time } },
        el("button", { type: "button", class: "line", title: `Play from ${clock(l.time)}` }, l.text)));
    });
  } else if (dto.lyricsPrompt) {
    for (const line of dto.lyricsPrompt.split(/\r?\n/).filter((x) => x.trim())) {
      list.append(el("li", { class: /^\s*\[.*\]\s*$/.test(line) ? "section" : "" }, line));
    }
  }
  list.hidden = list.children.length === 0;
}

function highlight() {
  if (!lines.length) return;
  const idx = activeLine(lines, audio.currentTime);
  if (idx === active) return;
  const items = list.children;
  items[active]?.classList.remove("active");
  items[active]?.removeAttribute("aria-current");
  active = idx;
  const li = items[idx];
  if (!li) return;
  li.classList.add("active");
  li.setAttribute("aria-current", "true");
  const top = li.offsetTop - list.offsetTop;
  if (top < list.scrollTop || top + li.offsetHeight > list.scrollTop + list.clientHeight) {
    list.scrollTop = Math.max(0, top - list.clientHeight / 3);
  }
}

function play() {
  audio.play().catch((e) => {
    if (e.name !== "AbortError") $("#share-error").textContent = `Playback failed: ${e.message}`;
  });
}

function syncToggle() {
  const playing = !audio.paused && !audio.ended;
  toggle.textContent = playing ? "Pause" : "Play";
  toggle.setAttribute("aria-pressed", String(playing));
}

async function load() {
  const article = $("article.shared");
  let data;
  try {
    const res = await fetch(`${location.pathname.replace(/\/+$/, "")}/track`, {
      cache: "no-store", headers: { Accept: "application/json" },
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(body?.error || `The track could not be loaded (HTTP ${res.status}).`);
    data = body;
  } catch (e) {
    $("#share-title").textContent = "This track cannot be shown";
    $("#share-error").textContent = e instanceof TypeError ? "The server could not be reached." : e.message;
    article.removeAttribute("aria-busy");
    return;
  }
  document.title = `${data.title} · Songforge`;
  $("#share-title").textContent = data.title;
  $("#share-meta").textContent = detailParts(data).join(" · ");
  const cover = $("#share-cover");
  if (data.cover) {
    cover.src = sameOrigin(data.cover);
    cover.hidden = false;
  }
  const url = sameOrigin(data.audioUrl);
  const link = $("#share-download");
  link.href = url;
  link.download = data.downloadName || "track.mp3";
  $("#share-expires").textContent = `This link works until ${when(data.expires * 1000)}.`;
  renderLyrics(data);
  $("#share-player").hidden = false;
  article.removeAttribute("aria-busy");

  const m = data.musicMaterial || {};
  const w = await waveformOf({ job_id: "shared", musicMaterial: { waveformUrl: sameOrigin(m.waveformUrl) } });
  const peaks = w?.peaks?.length && w.duration > 0 ? [w.peaks, w.duration] : [];
  $("#waveform").dataset.state = "loading";
  await drawWaveform(audio, { wide: 80, phone: 48 }).load(url, ...peaks).catch(() => {});
  announce(`Loaded ${data.title}`);
}

toggle.addEventListener("click", () => { if (audio.paused) play(); else audio.pause(); });
for (const ev of ["play", "pause", "ended"]) audio.addEventListener(ev, syncToggle);
audio.addEventListener("timeupdate", highlight);
audio.addEventListener("error", () => {
  if (audio.getAttribute("src")) $("#share-error").textContent = "This track could not be loaded for playback.";
});
list.addEventListener("click", (e) => {
  const li = e.target.closest("li[data-time]");
  if (!li || !list.contains(li)) return;
  audio.currentTime = Math.max(0, Number(li.dataset.time));
  highlight();
  if (audio.paused) play();
});

load().finally(() => { document.documentElement.dataset.ready = "true"; });
