// Share links: a row's Share asks the server for a signed link to a read-only page with the
// track's player, lyrics and download (POST /music/{job_id}/share), shows it in a dialog and
// copies it. The link needs no token to open and names nothing else of the account.

import { $, announce, when } from "./ui.js";

export class ShareDialog {
  constructor(app) {
    this.app = app;
    this.dialog = $("#share-dialog");
    this.url = $("#share-url");
    this.note = $("#share-copy-note");
    this.error = $("#share-dialog-error");
    this.copyButton = $("#share-copy");
    this.openLink = $("#share-open");
    this.opener = null;
    this.copyButton.addEventListener("click", () => this.copy());
    this.url.addEventListener("focus", () => this.url.select());
    // Focus goes back to the Share button the dialog was opened from.
    this.dialog.addEventListener("close", () => { if (this.opener?.isConnected) this.opener.focus(); });
  }

  /** Makes a link for `rec` and shows it; an error is shown in the same dialog. */
  async open(rec, title, button) {
    this.opener = button;
    button.disabled = true;
    let res = null;
    let failure = "";
    try {
      res = await this.app.api.request("POST", `/music/${encodeURIComponent(rec.job_id)}/share`);
    } catch (e) {
      failure = e.message;
    } finally {
      button.disabled = false;
    }
    $("#share-dialog-title").textContent = `Share “${title}”`;
    this.note.textContent = "";
    this.error.textContent = failure ? `No link was made: ${failure}` : "";
    const ok = Boolean(res?.url);
    for (const node of [this.url, this.url.labels?.[0], this.copyButton, this.openLink]) {
      if (node) node.hidden = !ok;
    }
    $("#share-dialog-text").textContent = ok
      ? `Anyone with this link can listen to “${title}”, read its lyrics and download it, until `
        + `${when(res.expires * 1000)}. The page shows this track only, nothing else of your account.`
      : "";
    if (ok) {
      this.url.value = res.url;
      this.openLink.href = res.url;
    }
    this.dialog.showModal();
    if (ok) this.copyButton.focus();
  }

  /** To the clipboard; where the browser refuses (no permission, an insecure origin), the link is
   *  selected in its field and the note says how to copy it by hand. */
  async copy() {
    this.note.textContent = "";
    try {
      if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
      await navigator.clipboard.writeText(this.url.value);
      this.note.textContent = "Link copied.";
      announce("Share link copied");
    } catch {
      this.url.focus();
      this.url.select();
      this.note.textContent = "This browser did not let the page copy: the link is selected in the field, "
        + "press Ctrl+C (⌘C on a Mac) or use your browser's Copy to copy it.";
    }
  }
}
