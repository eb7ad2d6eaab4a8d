// Accounts (with their maxJobs) and the scheduler: what runs now and what waits, refreshed while
// the tab is open. Built on GET /scheduler/available, which reports both in one answer.

import { $, announce, busy, confirmDelete, el, formError, when } from "./ui.js";
import { promptQuote } from "./words.js";

const REFRESH_MS = 2000;

/** The account part of `user:<tenant>-tempolor:<user_id>-job:<item>`, for showing only. */
function accountOf(jobId) {
  const m = /-tempolor:(.*)-job:[^:]*$/.exec(jobId);
  return m ? m[1] : "";
}

export class Queue {
  constructor(app) {
    this.app = app;
    this.timer = null;
    this.records = new Map(); // job_id -> its record, for naming queue entries (fetched once)
    this.accountsShown = null; // what the accounts table last showed, as JSON
    $("#account-form").addEventListener("submit", (e) => { e.preventDefault(); this.createAccount(); });
  }

  show() {
    this.refresh();
  }

  async refresh() {
    clearTimeout(this.timer);
    if ($("#queue").hidden) return;
    let view = { executing: [], available: [] };
    try {
      view = await this.app.api.get("/scheduler/available");
      $("#sched-error").textContent = "";
    } catch (e) {
      $("#sched-error").textContent = e.message;
    }
    await this.fetchRecords(view.executing || []);
    this.renderAccounts(view.available || []);
    this.renderJobs(view.executing || []);
    this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  /** Rebuilt only when what the rows show changes: a rebuild every refresh would take the focus
   * off a Delete button a keyboard user is on. */
  renderAccounts(available) {
    const byUser = new Map(available.map((a) => [a.user_id, a]));
    const accounts = Object.values(this.app.accounts);
    const shown = JSON.stringify(accounts.map((acc) => {
      const slots = byUser.get(acc.user_id) || {};
      return [acc.user_id, acc.maxJobs, slots.executing, slots.available, acc.updated];
    }));
    const body = $("#accounts-table tbody");
    if (shown === this.accountsShown && body.children.length === accounts.length) return;
    this.accountsShown = shown;
    body.replaceChildren(...accounts.map((acc) => {
      const slots = byUser.get(acc.user_id) || {};
      return el("tr", { dataset: { userId: acc.user_id } },
        el("th", { scope: "row" }, acc.user_id),
        el("td", { "data-label": "maxJobs" }, String(acc.maxJobs)),
        el("td", { "data-label": "In use" }, String(slots.executing ?? "–")),
        el("td", { "data-label": "Free" }, String(slots.available ?? "–")),
        el("td", { class: "updated", "data-label": "Updated" }, when(acc.updated)),
        el("td", { class: "actions" }, el("button", {
          type: "button", class: "link-danger", "aria-label": `Delete account ${acc.user_id}`,
          onclick: () => this.deleteAccount(acc.user_id),
        }, "Delete")));
    }));
  }

  /** The records of jobs not seen before (the library's rows first), so entries have names. */
  async fetchRecords(executing) {
    const rows = this.app.library.rows;
    await Promise.all(executing.map(async (j) => {
      const row = rows.get(j.job_id);
      if (row) { this.records.set(j.job_id, row.record); return; }
      if (this.records.has(j.job_id)) return;
      this.records.set(j.job_id, null);
      try {
        this.records.set(j.job_id, await this.app.api.get(`/music/${encodeURIComponent(j.job_id)}`));
      } catch { /* named by its id */ }
    }));
  }

  /** A queue entry by title: the work's title once it has one, else its prompt quoted. */
  nameOf(jobId) {
    const rec = this.records.get(jobId);
    if (!rec) return `Job ${jobId.replace(/^.*-job:/, "")}`;
    if (rec.titleEn) return this.app.library.displayTitle(rec);
    const prompt = rec.settings?.prompt || rec.ltmMaterialExtendDto?.prompt || "";
    return promptQuote(prompt) || "Untitled";
  }

  renderJobs(executing) {
    const kindOf = (j) => ({ song: "song", instrumental: "instrumental" })[this.records.get(j.job_id)?.type] || "track";
    const item = (j) => el("li", { dataset: { jobId: j.job_id }, title: j.job_id },
      el("div", { class: "line" },
        el("span", {}, el("strong", { class: "entry-title" }, this.nameOf(j.job_id)),
          el("span", { class: "help" }, ` · ${kindOf(j)} · account ${accountOf(j.job_id)}`)),
        el("span", { class: "help" },
          j.state === "queued"
            ? `#${j.queuePosition || "?"} in line · waiting ${j.elapsed || ""}`
            : `${j.progress ?? 0}% · ${j.elapsed || ""}`)),
      j.state === "queued" ? null : el("progress", { max: 100, value: j.progress || 0, "aria-label": `Progress of ${this.nameOf(j.job_id)}` }));
    const running = executing.filter((j) => j.state !== "queued");
    const waiting = executing.filter((j) => j.state === "queued")
      .sort((a, b) => (a.queuePosition || 0) - (b.queuePosition || 0));
    $("#sched-running").replaceChildren(...(running.length ? running.map(item) : [el("li", { class: "help" }, "Nothing is running.")]));
    $("#sched-waiting").replaceChildren(...(waiting.length ? waiting.map(item) : [el("li", { class: "help" }, "Nothing is waiting.")]));
  }

  async createAccount() {
    const form = $("#account-form");
    formError(form, "");
    const userId = form.elements.user_id.value.trim();
    const maxRaw = form.elements.maxJobs.value;
    const max = Number(maxRaw);
    if (maxRaw === "" || !Number.isInteger(max) || max < 1 || max > 100) {
      formError(form, "Parameter maxJobs must be an integer between 1 and 100");
      form.elements.maxJobs.focus();
      return;
    }
    const requestParams = userId ? { user_id: userId } : {};
    await busy(form, async () => {
      try {
        const acc = await this.app.api.request("POST", "/accounts", { json: { requestParams, maxJobs: max } });
        form.elements.user_id.value = "";
        await this.app.loadAccounts(acc.user_id); // the account just made is the one to work in
        announce(`Account ${acc.user_id} created and selected`);
        this.refresh();
      } catch (e) {
        formError(form, e.message);
      }
    });
  }

  /** The API deletes the account's settings only: its tracks, uploads and splits stay stored, but
   *  every list (and so the studio) goes through an account, so they drop out of sight until an
   *  account with the same id is created again; by job id the API still serves each track. */
  async deleteAccount(userId) {
    const text = `Delete account “${userId}”? New requests can no longer use it. Its tracks, uploads and `
      + "stem splits are not deleted, but the studio can no longer list them: they come back if you create "
      + `an account named “${userId}” again. Each track stays reachable through the API by its job id.`;
    if (!(await confirmDelete(text))) return;
    try {
      await this.app.api.request("DELETE", `/accounts/${encodeURIComponent(userId)}`);
      announce(`Deleted account ${userId}`);
      await this.app.loadAccounts();
      this.refresh();
    } catch (e) {
      $("#sched-error").textContent = e.message;
    }
  }
}
