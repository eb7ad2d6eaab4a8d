"""The spec's own curl examples, run with the real `curl` binary against a real server.

Every ```bash block of ../shared/spec/useapi-tempolor-v1/*.md is read at test time. Only what a
user would change is changed: the base URL and the token, placeholder ids replaced by real ones,
`@/path/to/your/...` files replaced by real files of the same kind, and `user_id=user_id` by the
real user id. Decisions where the examples are loose:

- The docs' line breaks are lost in the stored copies, so a block is split into commands at each
  `curl` and `\\ ` continuations are dropped; text between commands is a comment.
- Commands are tokenised like a shell would (shlex) but run without a shell, so the one example
  with an unquoted `&` in its URL (GET music/?...&type=instrumental) runs as its author meant.
- The two examples written against `accounts/` without the id (GET and DELETE accounts/user_id)
  get the real user id appended, as their page's path says (`accounts/{user_id}`); DELETE
  scheduler/ gets a job that is still running.
- `cursor=next_page_cursor_token` becomes the cursor the first page returned (empty when there is
  no next page, which the server reads as "first page").
- The examples run in an order that makes each meaningful: the account first, deletions last.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from e2e_helpers import wait_final

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO.parent / "shared" / "spec" / "useapi-tempolor-v1"
HOSTED = "https://api.useapi.net/v1/tempolor"
PLACEHOLDER_ID = re.compile(r"user:12345-tempolor:user_id-(job|midi|voice):abcdef123456789")

# Files in the order their examples run; any other file with examples runs before the deletions.
ORDER = [
    "post-tempolor-accounts.md",
    "get-tempolor-accounts.md",
    "get-tempolor-accounts-user_id.md",
    "post-tempolor-music-midi.md",
    "get-tempolor-music-midi.md",
    "post-tempolor-music-cloned-voices.md",
    "get-tempolor-music-cloned-voices.md",
    "get-tempolor-music-artist-voices.md",
    "post-tempolor-music-instrumental.md",
    "post-tempolor-music-song.md",
    "get-tempolor-music.md",
    "get-tempolor-music-job_id.md",
    "get-tempolor-music-download-job_id.md",
    "get-tempolor-scheduler.md",
    "get-tempolor-scheduler-available.md",
    "del-tempolor-scheduler-job_id.md",
    "post-tempolor-music-stems-splitter.md",
]
LAST = [
    "delete-tempolor-music-midi-midiItemId.md",
    "delete-tempolor-music-cloned-voices-clonedVoiceItemId.md",
    "delete-tempolor-music-job_id.md",
    "del-tempolor-accounts-user_id.md",
]


def extract_examples(spec_dir: Path) -> list[tuple[str, list[str]]]:
    """(file name, curl argv) for every curl command in the bash blocks of the spec."""
    found: list[tuple[str, list[str]]] = []
    for path in sorted(spec_dir.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```\s*bash\b(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\s+", " ", block)  # line continuations
            for part in re.split(r"(?=\bcurl\s)", joined)[1:]:
                command = part.split("\n#", 1)[0].split(" # ", 1)[0].strip()
                found.append((path.name, shlex.split(command)))
    return found


def _run_order(examples: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    def rank(item: tuple[str, list[str]]) -> int:
        name = item[0]
        if name in ORDER:
            return ORDER.index(name)
        if name in LAST:
            return 1000 + LAST.index(name)
        return 500

    return sorted(examples, key=rank)  # stable: a file's examples keep their order


def _mp3(path: Path, audio: np.ndarray, sr: int) -> None:
    from songforge.audio.encode import write_mp3

    write_mp3(path, audio, sr, title=path.stem)


def _voice_sample(path: Path) -> None:
    """Festival speech when it is installed (a real voice), else a voiced harmonic tone."""
    text2wave = shutil.which("text2wave")
    if text2wave:
        wav = path.with_suffix(".wav")
        subprocess.run(
            [text2wave, "-o", str(wav)],
            input=b"I hear the morning calling me, and every road is open wide. "
            b"The river sings a song of home, and I will follow where it leads.",
            check=True,
            timeout=60,
        )
        import soundfile as sf

        audio, sr = sf.read(wav, dtype="float32")
    else:
        sr = 22050
        t = np.arange(sr * 7) / sr
        phase = 2 * np.pi * np.cumsum(150 * 2 ** (0.2 * np.sin(2 * np.pi * 0.3 * t))) / sr
        audio = (0.2 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)
    _mp3(path, np.asarray(audio), sr)


def _midi(path: Path) -> None:
    import mido

    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for note in (57, 60, 64, 69, 64, 60):
        track.append(mido.Message("note_on", note=note, velocity=80, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=240))
    mid.save(str(path))


def _track(path: Path) -> None:
    sr = 44100
    t = np.arange(sr * 5) / sr
    rng = np.random.default_rng(3)
    tone = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * np.sin(2 * np.pi * 440 * t)
    clicks = (rng.random(len(t)) < 0.0005) * rng.standard_normal(len(t))
    _mp3(path, np.stack([tone + clicks, tone - clicks], axis=1).astype(np.float32), sr)


def documented_statuses(spec_dir: Path) -> dict[str, set[int]]:
    """Page -> the statuses its Responses tabs list (`{% tab ..._response 404 %}`)."""
    out: dict[str, set[int]] = {}
    for path in sorted(spec_dir.glob("*.md")):
        found = re.findall(r"\{% tab \w+_response (\d{3}) %\}", path.read_text(encoding="utf-8"))
        if found:
            out[path.name] = {int(x) for x in found}
    return out


def spec_record_example() -> dict[str, Any]:
    """The 200 example of GET music/job_id: the record every field's type is checked against."""
    text = (SPEC_DIR / "get-tempolor-music-job_id.md").read_text(encoding="utf-8")
    for block in re.findall(r"```json\s*(\{.*?\})\s*```", text, flags=re.S):
        body = json.loads(block)
        if "musicMaterial" in body:
            return body
    raise AssertionError("the spec's record example was not found")


def _same_type(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return isinstance(ours, bool) and isinstance(theirs, bool)
    if isinstance(theirs, int | float):
        return isinstance(ours, int | float)
    return type(ours) is type(theirs)


def check_record_against_spec(record: dict[str, Any]) -> None:
    """Every field of the spec's example record, musicMaterial and ltmMaterialExtendDto included,
    has the example's type in ours (issue 19: `inst` was a list); a completed work has a cover PNG
    and a waveform JSON behind signed links that need no token."""
    example = spec_record_example()
    for section in (None, "musicMaterial", "ltmMaterialExtendDto"):
        theirs = example[section] if section else example
        ours = record[section] if section else record
        for key, value in theirs.items():
            assert key in ours, (section, key)
            assert _same_type(ours[key], value), (section, key, ours[key], value)
    material = record["musicMaterial"]
    assert isinstance(material.get("instruments", []), list)
    assert record["canExtend"] is True and record["canEditLyrics"] is False
    cover = httpx.get(record["cover"], timeout=30)
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/png"
    assert cover.content.startswith(b"\x89PNG")
    waveform = httpx.get(material["waveformUrl"], timeout=30)
    assert waveform.status_code == 200 and waveform.headers["content-type"].startswith("application/json")
    peaks = waveform.json()
    assert peaks["length"] == 800 and len(peaks["data"]) == 1600 and len(peaks["peaks"][0]) == 1600
    assert abs(peaks["duration"] - material["dur"]) <= 1.0
    # Signed like downloads: a tampered signature is refused.
    assert httpx.get(record["cover"][:-1] + ("0" if record["cover"][-1] != "0" else "1")).status_code == 403


def _toggle_slash(url: str) -> str:
    path, sep, query = url.partition("?")
    path = path[:-1] if path.endswith("/") else path + "/"
    return path + sep + query


# The as-written run: the order that keeps every call meaningful with the placeholders left in.
AS_WRITTEN_ORDER = [
    "get-tempolor-accounts.md",
    "get-tempolor-accounts-user_id.md",
    "post-tempolor-music-midi.md",
    "get-tempolor-music-midi.md",
    "post-tempolor-music-cloned-voices.md",
    "get-tempolor-music-cloned-voices.md",
    "get-tempolor-music-artist-voices.md",
    "post-tempolor-music-stems-splitter.md",
    "post-tempolor-music-instrumental.md",
    "post-tempolor-music-song.md",
    "get-tempolor-music.md",
    "get-tempolor-music-job_id.md",
    "get-tempolor-music-download-job_id.md",
    "get-tempolor-scheduler.md",
    "get-tempolor-scheduler-available.md",
    "del-tempolor-scheduler-job_id.md",
    "post-tempolor-accounts.md",
    *LAST,
]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")
def test_spec_curls_as_written_answer_their_documented_statuses(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: every curl exactly as the spec writes it (trailing slashes, `accounts/` and
    `scheduler/` without their ids, placeholder ids, `user_id=user_id`), with only the base URL,
    the token and the local file paths changed. Each answers a status its own page lists, never a
    redirect; with a wrong token, 401 before anything else; and the path's other slash form is
    the same route. The user's account is named `user_id`, so `user_id=user_id` names it, until
    the POST accounts example (run late) adds a second one. `cursor=next_page_cursor_token` is
    the one placeholder filled in: it stands for a value the previous page returned, and the list
    pages document no answer for a made-up one."""
    if not SPEC_DIR.is_dir():
        pytest.skip(f"spec folder not found at {SPEC_DIR} (it lives next to the repository)")
    documented = documented_statuses(SPEC_DIR)
    examples = extract_examples(SPEC_DIR)
    server = make_server(workers=1, env={"SONGFORGE_UPLOAD_WAIT_SECONDS": "60"})
    api = httpx.Client(base_url=server.api, headers=server.headers, timeout=60)
    made = api.post("/accounts", json={"requestParams": {"user_id": "user_id"}, "maxJobs": 4})
    assert made.status_code == 200, made.text
    files = {
        "background-music.mid": tmp_path / "background-music.mid",
        "voice-sample.mp3": tmp_path / "voice-sample.mp3",
        "audio-track.mp3": tmp_path / "audio-track.mp3",
    }
    _midi(files["background-music.mid"])
    _voice_sample(files["voice-sample.mp3"])
    _track(files["audio-track.mp3"])

    def as_written(argv: list[str], token: str, toggle: bool = False) -> list[str]:
        out = []
        for arg in argv[1:]:
            if arg.startswith("Authorization: Bearer"):
                arg = f"Authorization: Bearer {token}"
            elif arg.startswith("@/path/to/your/"):
                arg = "@" + str(files[arg.rsplit("/", 1)[1]])
            elif HOSTED in arg:
                arg = arg.replace(HOSTED, server.api)
                if "cursor=next_page_cursor_token" in arg:  # a token from a previous page, not an id
                    first = httpx.get(arg.split("&cursor=")[0], headers=server.headers, timeout=60).json()
                    arg = arg.replace("next_page_cursor_token", first.get("cursor", ""))
                if toggle:
                    arg = _toggle_slash(arg)
            out.append(arg)
        return out

    def run(args: list[str], i: int) -> tuple[int, str, str]:
        out = tmp_path / f"as-written-{i}.json"
        proc = subprocess.run(
            ["curl", "-sS", "--max-time", "120", "-o", str(out), "-w", "%{http_code}", *args],
            capture_output=True,
            text=True,
            timeout=150,
        )
        text = out.read_text(errors="replace") if out.exists() else ""
        return int(proc.stdout.strip() or 0), text, proc.stderr

    rank = {name: i for i, name in enumerate(AS_WRITTEN_ORDER)}
    ordered = sorted(examples, key=lambda e: rank.get(e[0], len(rank)))
    seen: list[tuple[str, int]] = []
    for i, (name, argv) in enumerate(ordered):
        allowed = documented[name]
        posts = "--data-binary" in argv or "-d" in argv
        method = argv[argv.index("-X") + 1] if "-X" in argv else ("POST" if posts else "GET")
        # The token first: a wrong one is 401, in both slash forms, before the path or body is looked at.
        for toggle in (False, True):
            status, text, err = run(as_written(argv, "wrong-token", toggle), i)
            assert status == 401, f"{name} (other slash form: {toggle}), wrong token -> {status} {text}{err}"
            assert json.loads(text) == {"error": "Unauthorized", "code": 401}, text
        status, text, err = run(as_written(argv, server.token), i)
        listed = sorted(allowed)
        assert status in allowed, f"{name}: {' '.join(argv)}\n-> {status} (page lists {listed}) {text}{err}"
        if method == "GET":  # the other slash form of a read is the same route, with the same answer
            again, text2, err2 = run(as_written(argv, server.token, toggle=True), i)
            assert again == status, f"{name} other slash form -> {again} {text2}{err2}, as written {status}"
        seen.append((name, status))
    answered = dict(seen)
    assert {name for name, _a in examples} == set(answered)
    # The three the issue names: no 307, and the pages' own statuses.
    assert answered["get-tempolor-accounts-user_id.md"] == 200  # GET accounts/ is the list
    assert answered["del-tempolor-accounts-user_id.md"] == 404  # no account has the empty id
    assert answered["del-tempolor-scheduler-job_id.md"] == 400  # "job_id has incorrect format"
    assert api.get("/accounts/user_id").status_code == 200  # nothing as written deleted a real account


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")
def test_every_spec_curl_example_succeeds(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not SPEC_DIR.is_dir():
        pytest.skip(f"spec folder not found at {SPEC_DIR} (it lives next to the repository)")
    examples = extract_examples(SPEC_DIR)
    assert len(examples) >= 25, f"expected the spec's ~28 curl examples, found {len(examples)}"
    server = make_server(env={"SONGFORGE_UPLOAD_WAIT_SECONDS": "30"})
    files = {
        "background-music.mid": tmp_path / "background-music.mid",
        "voice-sample.mp3": tmp_path / "voice-sample.mp3",
        "audio-track.mp3": tmp_path / "audio-track.mp3",
    }
    _midi(files["background-music.mid"])
    _voice_sample(files["voice-sample.mp3"])
    _track(files["audio-track.mp3"])

    state: dict[str, Any] = {"ids": {}}
    api = httpx.Client(base_url=server.api, headers=server.headers, timeout=60)
    results: list[tuple[str, int, str]] = []

    def substitute(name: str, argv: list[str]) -> list[str]:
        out: list[str] = []
        for arg in argv:
            if arg.startswith("Authorization: Bearer"):
                arg = f"Authorization: Bearer {server.token}"
            if arg.startswith("@/path/to/your/"):
                arg = "@" + str(files[arg.rsplit("/", 1)[1]])
            if HOSTED in arg:
                arg = arg.replace(HOSTED, server.api)
                arg = PLACEHOLDER_ID.sub(lambda m: state["ids"][m.group(1)], arg)
                arg = arg.replace("user_id=user_id", f"user_id={state.get('user_id', '')}")
                if "cursor=next_page_cursor_token" in arg:
                    first = httpx.get(arg.split("&cursor=")[0], headers=server.headers, timeout=60).json()
                    arg = arg.replace("next_page_cursor_token", first.get("cursor", ""))
                if arg.endswith("/accounts/"):
                    arg += state["user_id"]
                if arg.endswith("/scheduler/") and "DELETE" in argv:
                    arg += state["running_job"]
            out.append(arg)
        return out

    def before(name: str) -> None:
        if name == "get-tempolor-accounts.md" and "user_id" not in state:
            accounts = api.get("/accounts").json()
            state["user_id"] = next(iter(accounts))
        if name == "get-tempolor-music.md" and "waited" not in state:
            for job in state["instrumental_jobs"]:
                assert wait_final(api, job, timeout=240)["status"] == 30
            state["waited"] = True
            state["ids"]["job"] = state["instrumental_jobs"][0]
        if name == "del-tempolor-scheduler-job_id.md":
            r = api.post("/music/instrumental", json={"prompt": "a long slow ambient drone"})
            assert r.status_code == 200, r.text
            state["running_job"] = r.json()["jobs"][0]

    def after(name: str, body: Any) -> None:
        if name == "post-tempolor-accounts.md":
            state["user_id"] = body["user_id"]
        elif name == "post-tempolor-music-midi.md":
            state["ids"]["midi"] = body["midiRenderVO"]["midiItemId"]
        elif name == "post-tempolor-music-cloned-voices.md":
            state["ids"]["voice"] = body["clonedVoiceItemId"]
        elif name == "post-tempolor-music-instrumental.md":
            state["instrumental_jobs"] = body["jobs"]
        elif name == "get-tempolor-music-job_id.md":
            check_record_against_spec(body)

    for i, (name, argv) in enumerate(_run_order(examples)):
        assert argv[0] == "curl", argv
        before(name)
        args = substitute(name, argv)
        out = tmp_path / f"out-{i}.json"
        proc = subprocess.run(
            ["curl", "-sS", "--max-time", "180", "-o", str(out), "-w", "%{http_code}", *args[1:]],
            capture_output=True,
            text=True,
            timeout=200,
        )
        status = int(proc.stdout.strip() or 0)
        text = out.read_text(errors="replace") if out.exists() else ""
        results.append((name, status, " ".join(args[1:])[:160]))
        assert status in (200, 201, 202, 204), f"{name}: {' '.join(args)}\n-> {status} {text}\n{proc.stderr}"
        body = json.loads(text) if text.strip() else None
        assert not (isinstance(body, dict) and "error" in body), f"{name}: {text}"
        after(name, body)

    ran = {name for name, _s, _c in results}
    assert ran == {name for name, _a in examples}
    assert len(results) == len(examples)
    # The last example deleted the account; the server agrees.
    assert api.get(f"/accounts/{state['user_id']}").status_code == 404
