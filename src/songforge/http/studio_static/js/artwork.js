// A work's pictures from its record: the cover PNG (`cover`) and the waveform peaks
// (`musicMaterial.waveformUrl`, min/max pairs at a fixed resolution). Thumbnails are drawn from the
// peaks, so the library never downloads or decodes audio to show what a track looks like.

const cache = new Map(); // job_id -> Promise<waveform JSON | null>

/** The record's waveform JSON (fetched once per work; the signed link changes, the file does not). */
export function waveformOf(record) {
  const url = record?.musicMaterial?.waveformUrl;
  if (!url) return Promise.resolve(null);
  if (!cache.has(record.job_id)) {
    cache.set(record.job_id, fetch(url).then((r) => (r.ok ? r.json() : null)).catch(() => null));
  }
  return cache.get(record.job_id);
}

export function forgetWaveform(jobId) { cache.delete(jobId); }

/** Per point, the larger of |min| and |max|, in 0..1. */
export function amplitudes(waveform) {
  const data = waveform?.data || [];
  const scale = 2 ** ((waveform?.bits || 8) - 1) - 1;
  const out = [];
  for (let i = 0; i + 1 < data.length; i += 2) {
    out.push(Math.min(1, Math.max(Math.abs(data[i]), Math.abs(data[i + 1])) / scale));
  }
  return out;
}

/** Mirrored bars of the waveform on `canvas`, in the page's waveform colour. */
export function drawThumbnail(canvas, waveform) {
  const amps = amplitudes(waveform);
  const ctx = canvas.getContext("2d");
  if (!ctx || !amps.length) return;
  const { width, height } = canvas;
  const bars = Math.max(1, Math.floor(width / 3));
  const peak = Math.max(...amps, 1e-6);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--wave").trim() || "#b4aef0";
  for (let b = 0; b < bars; b++) {
    const from = Math.floor((b * amps.length) / bars);
    const to = Math.max(from + 1, Math.floor(((b + 1) * amps.length) / bars));
    const amp = Math.max(...amps.slice(from, to)) / peak;
    const h = Math.max(1, amp * height);
    ctx.fillRect(b * 3, (height - h) / 2, 2, h);
  }
  canvas.dataset.state = "drawn";
}
