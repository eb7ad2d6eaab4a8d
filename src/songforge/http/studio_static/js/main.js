// The studio shell: sign-in, the account picker and the sections. Each section is a module that
// talks to the public API through `app.api`; this file only wires them together.

import { Api } from "./api.js";
import { CreateForms } from "./create.js";
import { Library } from "./library.js";
import { Player } from "./player.js";
import { Queue } from "./queue.js";
import { ShareDialog } from "./share.js";
import { $, $$, announce, busy, plural } from "./ui.js";
import { Uploads } from "./uploads.js";

const TOKEN_KEY = "songforge.token";
const ACCOUNT_KEY = "songforge.user_id";
const SECTIONS = ["create", "library", "uploads", "queue"];

const app = {
  token: localStorage.getItem(TOKEN_KEY),
  userId: null,
  accounts: {},
  voiceNames: new Map(), // item id -> name, of the artist and cloned voices (see create.js)
};
app.api = new Api(() => app.token);

function showOnly(id) {
  for (const s of ["signin", "no-account", ...SECTIONS]) $(`#${s}`).hidden = s !== id;
}

/** The session bar and the section tabs; the tabs only once there is an account to work in (the
 *  "Set up an account" screen has no sections to switch to). */
function signedInChrome(on) {
  $("#session").hidden = !on;
  $("#tabs").hidden = !on || !app.userId;
  if (!on) app.player?.close();
}

/** Keyboard focus on a section's heading, so Tab continues inside the section just shown rather
 *  than from the top of the page (or the body, where a hidden element's focus falls). */
app.focusSection = (name) => {
  const heading = $(`#${name} h2`);
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: false });
};

/** The section the address names (Create when it names none). */
app.section = () => (SECTIONS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "create");

// Set while a route change should move focus (tab clicks, sign-in, submit), not on every re-show.
let focusNext = false;
let goingTo = null; // the section app.go asked for, whose hashchange keeps the focus it chose

app.go = (name, { focus = true } = {}) => {
  focusNext = focus;
  if (location.hash !== `#${name}`) {
    goingTo = name;
    location.hash = name; // the address changes at once; its hashchange event comes later
  }
  route(); // shown now, so the caller can move focus into it
};

function route() {
  if (!app.token || !app.userId) return;
  const name = app.section();
  showOnly(name);
  if (focusNext) app.focusSection(name);
  focusNext = false;
  for (const a of $$("#tabs a")) {
    if (a.dataset.tab === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  ({ create: app.create, library: app.library, uploads: app.uploads, queue: app.queue })[name].show();
  // The player keeps playing everywhere; outside the library it folds into the mini player.
  if (name !== shownSection) app.player.setMini(name !== "library");
  shownSection = name;
}
let shownSection = null;

/** Space plays and pauses, except where it types or presses: fields, buttons, links, the
 *  player's own <audio> controls and open dialogs keep their own meaning of the key. */
function spaceToggles(e) {
  if (e.key !== " " || e.repeat || e.ctrlKey || e.altKey || e.metaKey || !app.player.record) return false;
  if (document.querySelector("dialog[open]")) return false; // a dialog's keys are its own
  const t = e.target;
  if (!(t instanceof Element)) return true;
  return !t.closest("input, textarea, select, button, a[href], audio, video, summary, [contenteditable], [role=slider]");
}

/** Accounts of the token; chooses `prefer`, else the remembered one, else the first. */
app.loadAccounts = async (prefer) => {
  let accounts = {};
  try {
    accounts = (await app.api.get("/accounts")) || {};
  } catch (e) {
    if (e.status !== 404) throw e; // 404: this token has no accounts yet
  }
  app.accounts = accounts;
  const ids = Object.keys(accounts).sort();
  const select = $("#account-select");
  select.replaceChildren(...ids.map((id) => new Option(`${id} · max ${plural(accounts[id].maxJobs, "job")}`, id)));
  const remembered = localStorage.getItem(ACCOUNT_KEY);
  const chosen = [prefer, app.userId, remembered].find((x) => x && ids.includes(x)) || ids[0] || null;
  setAccount(chosen);
  return ids;
};

function setAccount(userId) {
  const changed = userId !== app.userId;
  app.userId = userId;
  if (userId) {
    localStorage.setItem(ACCOUNT_KEY, userId);
    $("#account-select").value = userId;
  }
  if (changed) {
    app.library.reset({ account: true });
    app.player.close();
  }
  if (!userId) {
    signedInChrome(true);
    $("#tabs").hidden = true;
    showOnly("no-account");
    $("#create-first-account").focus();
  } else {
    $("#tabs").hidden = false;
    route();
  }
}

async function signIn(token, { fromStorage = false } = {}) {
  app.token = token;
  try {
    await app.loadAccounts();
  } catch (e) {
    app.token = null;
    const msg = e.status === 401
      ? (fromStorage
        ? "The saved token was refused by the server (401 Unauthorized): it may have been revoked. Sign in again."
        : "The server refused this token (401 Unauthorized). Check that you pasted the whole token, or create a new one.")
      : e.message;
    if (e.status === 401) localStorage.removeItem(TOKEN_KEY);
    signedInChrome(false);
    showOnly("signin");
    $("#signin-error").textContent = msg;
    $("#token-input").setAttribute("aria-invalid", "true");
    $("#token-input").focus();
    return false;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("#signin-error").textContent = "";
  $("#token-input").value = "";
  $("#token-input").removeAttribute("aria-invalid");
  signedInChrome(true);
  if (app.userId) {
    announce("Signed in");
    if (!fromStorage) app.focusSection(app.section());
  }
  return true;
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(ACCOUNT_KEY);
  app.token = null;
  app.userId = null;
  app.accounts = {};
  app.library.reset();
  signedInChrome(false);
  showOnly("signin");
  announce("Signed out; the token was removed from this browser");
  $("#token-input").focus();
}

function init() {
  app.player = new Player(app);
  app.library = new Library(app);
  app.create = new CreateForms(app);
  app.uploads = new Uploads(app);
  app.queue = new Queue(app);
  app.share = new ShareDialog(app);

  $("#signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("#token-input").value.trim();
    if (!token) {
      $("#signin-error").textContent = "Paste your API token first.";
      $("#token-input").focus();
      return;
    }
    await busy(e.target, () => signIn(token));
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#account-select").addEventListener("change", (e) => setAccount(e.target.value));
  $("#create-first-account").addEventListener("click", async (e) => {
    $("#no-account-error").textContent = "";
    await busy(e.target.parentElement, async () => {
      try {
        const acc = await app.api.request("POST", "/accounts", { json: { requestParams: {} } });
        await app.loadAccounts(acc.user_id);
        announce(`Account ${acc.user_id} created`);
        app.focusSection(app.section());
      } catch (err) {
        $("#no-account-error").textContent = err.message;
      }
    });
  });
  window.addEventListener("hashchange", () => {
    if (goingTo && goingTo === app.section()) { goingTo = null; return; } // app.go routed already
    goingTo = null;
    focusNext = true;
    route();
  });
  window.addEventListener("keydown", (e) => {
    if (spaceToggles(e)) {
      e.preventDefault();
      app.player.playPause();
      return;
    }
    const dialog = $("#confirm-dialog");
    if (e.key === "Escape" && !dialog.open && !app.player.panel.hidden && app.player.panel.contains(document.activeElement)) {
      app.player.closeByUser();
    }
  });

  if (app.token) signIn(app.token, { fromStorage: true });
  else { showOnly("signin"); signedInChrome(false); }
  document.documentElement.dataset.ready = "true";
}

init();
