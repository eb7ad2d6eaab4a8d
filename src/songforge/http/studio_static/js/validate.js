// The generation forms check what the API checks, with the API's wording, so most mistakes are
// caught before a request; the server stays the authority and its error text is shown as is.

export const PROMPT_MAX = 2000;
export const LYRICS_MAX = 3000;
export const CHORDS_MAX = 200;
export const BPM_MIN = 50;
export const BPM_MAX = 190;
export const TONALITIES = ["A", "Ab", "B", "Bb", "C#", "C", "D", "E", "Eb", "F#", "F", "G"]
  .flatMap((root) => [`${root}:major`, `${root}:minor`]);

// Root letter, accidental, any quality, optional slash bass: the shape of every chord symbol the
// server knows. Which qualities exist is left to the server, which names the symbol it refused.
const CHORD = /^[A-Ga-g][#b♯♭]?[^\s/|,]*(\/[A-Ga-g][#b♯♭]?)?$/;

function text(value, name, max, required = false) {
  const v = (value ?? "").toString();
  if (!v.trim()) return required ? `Parameter ${name} is required` : null;
  if (v.length > max) return `Parameter ${name} must be at most ${max} characters (got ${v.length})`;
  return null;
}

export function chordsError(value, name = "chords") {
  const base = text(value, name, CHORDS_MAX);
  if (base || !value || !value.trim()) return base;
  const bars = value.replace(/,/g, " ").split("|").map((b) => b.trim().split(/\s+/).filter(Boolean));
  const symbols = bars.flat();
  if (!symbols.length) return `Parameter ${name} contains no chord symbols`;
  const bad = symbols.find((s) => !CHORD.test(s));
  if (bad) return `Parameter ${name}: unknown chord symbol '${bad}'`;
  if (value.includes("|") && bars.some((b) => b.length > 4)) return `Parameter ${name}: at most four chords fit in one bar`;
  return null;
}

/** {field: message} for an instrumental request body; empty when the API should accept it. */
export function validateInstrumental(body) {
  const errors = {};
  const p = text(body.prompt, "prompt", PROMPT_MAX, true);
  if (p) errors.prompt = p;
  if (body.tonality && !TONALITIES.includes(body.tonality)) {
    errors.tonality = `Parameter tonality must be one of: ${[...TONALITIES].sort().join(", ")}`;
  }
  if (body.bpm !== undefined && body.bpm !== "") {
    const n = Number(body.bpm);
    if (!Number.isInteger(n) || n < BPM_MIN || n > BPM_MAX) {
      errors.bpm = `Parameter bpm must be an integer between ${BPM_MIN} and ${BPM_MAX}`;
    }
  }
  const c = chordsError(body.chords);
  if (c) errors.chords = c;
  return errors;
}

/** {field: message} for a song request body. */
export function validateSong(body) {
  const errors = {};
  const p = text(body.prompt, "prompt", PROMPT_MAX, true);
  if (p) errors.prompt = p;
  const l = text(body.lyrics, "lyrics", LYRICS_MAX);
  if (l) errors.lyrics = l;
  if (body.artistVoiceItemId && body.clonedVoiceItemId) {
    errors.base = "Parameters artistVoiceItemId and clonedVoiceItemId cannot be used together";
  } else if (body.midiItemId && (body.artistVoiceItemId || body.clonedVoiceItemId)) {
    errors.base = "Parameter midiItemId cannot be used together with artistVoiceItemId or clonedVoiceItemId";
  }
  return errors;
}

/** Which form field an API error message is about, so it can be shown next to that field. */
export function fieldOfMessage(message) {
  const m = /^Parameters? (\w+)/.exec(message || "");
  if (!m) return null;
  const name = m[1];
  if (name === "chord") return "chords";
  if (["artistVoiceItemId", "clonedVoiceItemId", "midiItemId"].includes(name)) return "base";
  return name;
}
