// Timed lyrics. A record's `ltmMaterialExtendDto.lrcTimestamp` is a string; engines write it either
// as LRC text ("[01:02.50]line") or as JSON: a list of {start, end, text} sections like the
// TemPolor callbacks' `lyrics_sections`. Both become [{time, end, text, section}] sorted by time.

const LRC_TIME = /\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]/g;
const SECTION = /^\s*\[[^\]]+\]\s*$/;

function seconds(min, sec) {
  return Number(min) * 60 + Number(String(sec).replace(":", "."));
}

function fromJson(data) {
  const list = Array.isArray(data) ? data : (data?.lines || data?.lyrics_sections || data?.sections);
  if (!Array.isArray(list)) return [];
  return list
    .map((x) => {
      const time = Number(x.start ?? x.time ?? x.startTime ?? x.begin);
      const end = x.end ?? x.endTime;
      const text = String(x.text ?? x.line ?? x.words ?? "");
      return { time, end: end === undefined ? undefined : Number(end), text };
    })
    .filter((x) => Number.isFinite(x.time));
}

function fromLrc(text) {
  const out = [];
  for (const raw of text.split(/\r?\n/)) {
    const times = [...raw.matchAll(LRC_TIME)];
    if (!times.length) continue;
    const body = raw.replace(LRC_TIME, "").trim();
    for (const m of times) out.push({ time: seconds(m[1], m[2]), text: body });
  }
  return out;
}

export function parseTimedLyrics(value) {
  if (!value) return [];
  let lines = [];
  if (typeof value === "object") {
    lines = fromJson(value);
  } else {
    const s = String(value).trim();
    if (s.startsWith("[{") || s.startsWith("{")) {
      try { lines = fromJson(JSON.parse(s)); } catch { lines = []; }
    }
    if (!lines.length) lines = fromLrc(s);
  }
  lines = lines.filter((l) => l.text.trim() !== "").sort((a, b) => a.time - b.time);
  return lines.map((l) => ({ ...l, section: SECTION.test(l.text) }));
}

/** Index of the line being sung at `t` seconds, or -1 before the first one. */
export function activeLine(lines, t) {
  let idx = -1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].time <= t + 0.05) idx = i;
    else break;
  }
  if (idx >= 0 && lines[idx].end !== undefined && t > lines[idx].end + 0.25) {
    const next = lines[idx + 1];
    if (!next || next.time > t) return idx; // keep the last line lit through short gaps
  }
  return idx;
}
