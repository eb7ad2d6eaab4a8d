// The studio's only way to the server: the public /v1/tempolor API with the user's Bearer token.
// Errors carry the API's own {"error", "code"} text so the page can show exactly what the API said.

export const BASE = "/v1/tempolor";

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function messageOf(status, body, fallback) {
  if (body && typeof body === "object" && typeof body.error === "string" && body.error) return body.error;
  if (status === 0) return "The server could not be reached. Is Songforge running?";
  return fallback || `Request failed (HTTP ${status})`;
}

function parseJson(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

export class Api {
  /** @param {() => string|null} token */
  constructor(token) {
    this.token = token;
  }

  url(path, query = {}) {
    const u = new URL(BASE + path, location.origin);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
    }
    return u.pathname + u.search;
  }

  headers(extra = {}) {
    const h = { Accept: "application/json", ...extra };
    const t = this.token();
    if (t) h.Authorization = `Bearer ${t}`;
    return h;
  }

  /** JSON in, JSON out; a non-2xx answer throws ApiError with the API's message. */
  async request(method, path, { query = {}, json } = {}) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetch(this.url(path, query), init);
    } catch {
      throw new ApiError(0, messageOf(0));
    }
    const body = parseJson(await res.text());
    if (!res.ok) throw new ApiError(res.status, messageOf(res.status, body, res.statusText), body);
    return body;
  }

  get(path, query) { return this.request("GET", path, { query }); }

  /** A raw-body upload, as the spec's upload endpoints take it, reporting bytes sent as they go.
   *  XMLHttpRequest because fetch() has no upload progress. */
  upload(path, query, file, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.url(path, query));
      for (const [k, v] of Object.entries(this.headers({ "Content-Type": contentType }))) {
        xhr.setRequestHeader(k, v);
      }
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress?.({ phase: "upload", loaded: e.loaded, total: e.total });
      };
      xhr.upload.onload = () => onProgress?.({ phase: "processing" });
      xhr.onerror = () => reject(new ApiError(0, messageOf(0)));
      xhr.onload = () => {
        const body = parseJson(xhr.responseText);
        if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
        else reject(new ApiError(xhr.status, messageOf(xhr.status, body, xhr.statusText), body));
      };
      xhr.send(file);
    });
  }

  /** A signed download link for a finished job, made same-origin (see `sameOrigin`). */
  async downloadUrl(jobId, format) {
    const r = await this.get(`/music/download/${encodeURIComponent(jobId)}`, { file_format: format });
    return sameOrigin(r.url);
  }
}

/** Download links are signed over their path and expiry, not the host, and the server names itself
 *  by its listen address. Loading them from the origin the studio came from keeps them working when
 *  the page was opened under another name (localhost vs 127.0.0.1, a LAN address) and keeps every
 *  request inside the page's Content-Security-Policy. */
export function sameOrigin(url) {
  if (!url) return url;
  try {
    const u = new URL(url, location.origin);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** Every page of a cursor-paginated list; for the short lists (voices, MIDI files, artist voices). */
export async function allPages(api, path, query = {}, limit = 20) {
  const out = [];
  let cursor = "";
  for (let i = 0; i < limit; i++) {
    const page = await api.get(path, { ...query, cursor });
    out.push(...(page?.records || []));
    if (!page?.hasNext || !page.cursor) break;
    cursor = page.cursor;
  }
  return out;
}
