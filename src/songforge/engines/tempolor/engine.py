"""The `tempolor` engine: a job's music made by a TemPolor Open API upstream, brought home.

Why it waits instead of failing on a busy platform: 400007 (queue full) and 400006 (busy) say
"later", and the job already holds its account's slot on our side; waiting inside the job keeps
the account's maxJobs exact and costs the job none of its attempts. Only what the platform says
is final (no points, content refused, a bad parameter) fails the job, with the platform's words.

Extensions, lyrics and stems take the same path: an extension goes to the platform's own extend
endpoint with the platform's item id of its source (stored with the source's task) on the key that
made it, lyrics to its lyrics endpoint, an upload to split to its stems endpoint as a short-lived
link of ours; all are polled and called back like a generation.

Order matters for money: the request is checked (model, inputs) before a key is even reserved,
and the upstream task id is stored the moment the platform returns it, so a worker that dies
while polling is replaced by one that resumes the same task rather than paying for a second.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songforge import config
from songforge.engines.base import (
    SAMPLE_RATE,
    EngineError,
    GenerationRequest,
    GenerationResult,
    ProgressFn,
    VoiceProfile,
)
from songforge.engines.tempolor.client import (
    BadKey,
    InsufficientPoints,
    OpenApiClient,
    PlatformBusy,
    Transient,
    UpstreamError,
    WorkLost,
    download,
)
from songforge.engines.tempolor.ledger import ExtensionSource, KeyLease, TaskLedger
from songforge.engines.tempolor.models import (
    check_request,
    extend_start_seconds,
    from_platform,
    is_platform_voice,
    request_voice_id,
    to_platform,
)

__all__ = ["TempolorEngine", "UpstreamLyrics", "extend_body", "lyrics_body", "platform_body", "voice_record"]

log = logging.getLogger("songforge.engines.tempolor")

_RUNNING = {"waiting", "running", "main_succeeded"}
_DONE = {"succeeded", "part_failed"}
_NAP = 0.25  # seconds between progress reports while waiting (keeps an abandoned job noticed)


def _tonality_tag(tonality: str) -> str:
    """`F#:minor` -> `F# minor`, the spelling the platform's examples use."""
    return tonality.replace(":", " ")


def platform_body(request: GenerationRequest, model: str, callback_url: str) -> dict[str, Any]:
    """The generate body. Instrumentals carry BPM, key, chords and length as the platform's prompt
    tags (its instrumental endpoint has no fields for them); a song's length is the model's, its
    voice the platform's voice id for ours (`models.request_voice_id`)."""
    body: dict[str, Any] = {"model": model, "callback_url": callback_url}
    prompt = request.prompt.strip()
    if request.kind == "instrumental":
        tags = []
        if request.bpm:
            tags.append(f"#BPM {int(request.bpm)}")
        if request.tonality:
            tags.append(f"#key {_tonality_tag(request.tonality)}")
        if request.chords:
            tags.append(f"#chords {','.join(request.chords.split())}")
        if request.seconds:
            tags.append(f"#duration {round(request.seconds)}s")
        prompt = " ".join([prompt, *tags]).strip()
    else:
        if request.lyrics:
            body["lyrics"] = request.lyrics
        if request.voice is not None:
            body["voice_id"] = request_voice_id(request.voice)
    body["prompt"] = prompt
    return body


def voice_record(voice: VoiceProfile) -> dict[str, Any]:
    """The record's `musicMaterial.voice`, as the embedded engine reports the voice that sang (its
    item id, name, kind, and whether the engine chose it), with the platform voice id that was
    asked to sing it. A platform id given as the voice is its own item id, of kind `upstream`."""
    voice_id = request_voice_id(voice)
    if is_platform_voice(voice.item_id):
        return {
            "itemId": voice.item_id,
            "name": "",
            "kind": "upstream",
            "chosen": False,
            "upstreamVoiceId": voice_id,
        }
    return {
        "itemId": voice.item_id,
        "name": str(voice.extra.get("name") or ""),
        "kind": "artist",
        "chosen": False,
        "upstreamVoiceId": voice_id,
    }


def extend_body(request: GenerationRequest, source: ExtensionSource, callback_url: str) -> dict[str, Any]:
    """The song/extend or instrumental/extend body: the platform's own item id of the source and
    where to start, in whole seconds; a song's new lyrics when given. The model is the source's
    (the Open API's extension takes none)."""
    body: dict[str, Any] = {
        "item_id": source.task_id,
        "start_time": extend_start_seconds(source.start_time),
        "callback_url": callback_url,
    }
    if request.kind == "song" and request.lyrics:
        body["lyrics"] = request.lyrics
    return body


def lyrics_body(prompt: str, song_model: str | None, callback_url: str) -> dict[str, Any]:
    """The lyrics/generate body; `song_model` (our profile) as the platform's name, when asked."""
    body: dict[str, Any] = {"prompt": prompt.strip(), "callback_url": callback_url}
    if song_model:
        body["song_model"] = to_platform(song_model, "song")
    return body


@dataclass
class UpstreamLyrics:
    """Lyrics the upstream wrote: its title and text, and which task and key made them."""

    title: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def _has_audio(item: dict[str, Any]) -> bool:
    return bool(item.get("audio_hi_url") or item.get("audio_url"))


def _has_lyric(item: dict[str, Any]) -> bool:
    return bool(item.get("lyric"))


def _has_stems(item: dict[str, Any]) -> bool:
    return bool(item.get("stems_url"))


class TempolorEngine:
    name = "tempolor"

    def __init__(self) -> None:
        self._ledger: TaskLedger | None = None

    def bind_job(self, ledger: TaskLedger) -> None:
        """The worker's pool and task record for the next `generate` (see engines.tempolor.ledger)."""
        self._ledger = ledger

    def _bound(self) -> TaskLedger:
        if self._ledger is None:
            raise EngineError("the tempolor engine runs only in a worker that binds its key pool")
        return self._ledger

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> GenerationResult:
        """A song or instrumental; an extension (the job's ledger names its source) through the
        platform's own extend endpoint, on the key whose account made the source."""
        model = check_request(request)  # refused before any key is reserved or anything sent
        ledger = self._bound()
        timing = config.upstream_timing()
        deadline = time.monotonic() + ledger.timeout_seconds
        recorded = ledger.recorded()
        if recorded is not None:
            lease, task_id = recorded
            log.info("job %s resumes upstream task %s on key %s", ledger.job_id, task_id, lease.key_id)
        else:
            source = ledger.extension()
            if source is not None:
                body = extend_body(request, source, ledger.callback_url)
                lease, task_id = self._send(
                    ledger, request.kind, body, progress, deadline, timing, "extend", source.key_id
                )
            else:
                body = platform_body(request, model, ledger.callback_url)
                lease, task_id = self._send(ledger, request.kind, body, progress, deadline, timing)
        client = OpenApiClient(lease.base_url, lease.api_key, timeout=timing.request_seconds)
        try:
            item = self._poll(ledger, client, request.kind, task_id, progress, deadline, timing, _has_audio)
            result = self._bring_home(request, item, progress, timing)
        except EngineError:
            ledger.finish(ok=False)
            raise
        ledger.finish(ok=True)
        result.extra["upstream"] = {"task_id": task_id, "key_id": lease.key_id}
        return result

    def write_lyrics(self, prompt: str, song_model: str | None, progress: ProgressFn) -> UpstreamLyrics:
        """Lyrics from the platform's lyrics endpoint (`song_model`: our profile they are for)."""
        ledger = self._bound()
        body = lyrics_body(prompt, song_model, ledger.callback_url)  # refused before a key is reserved
        timing = config.upstream_timing()
        deadline = time.monotonic() + ledger.timeout_seconds
        recorded = ledger.recorded()
        if recorded is not None:
            lease, task_id = recorded
            log.info("job %s resumes upstream task %s on key %s", ledger.job_id, task_id, lease.key_id)
        else:
            lease, task_id = self._send(ledger, "lyrics", body, progress, deadline, timing)
        client = OpenApiClient(lease.base_url, lease.api_key, timeout=timing.request_seconds)
        try:
            item = self._poll(ledger, client, "lyrics", task_id, progress, deadline, timing, _has_lyric)
            text = str(item.get("lyric") or "").strip()
            if not text:
                raise EngineError(f"the upstream lyrics task {task_id} succeeded without lyrics")
        except EngineError:
            ledger.finish(ok=False)
            raise
        ledger.finish(ok=True)
        return UpstreamLyrics(
            title=str(item.get("title") or "")[:300],
            text=text,
            extra={"upstream": {"task_id": task_id, "key_id": lease.key_id}},
        )

    def split_stems(self, source_url: Callable[[], str], dest: Path, progress: ProgressFn) -> dict[str, Any]:
        """Stems of an upload from the platform's `POST /stems`, its zip downloaded to `dest`.
        `source_url` makes a fresh short-lived link to the upload each time a task is sent (a
        send may wait long for a key or out a busy platform). Returns what the task record keeps."""
        ledger = self._bound()
        timing = config.upstream_timing()
        deadline = time.monotonic() + ledger.timeout_seconds
        recorded = ledger.recorded()
        if recorded is not None:
            lease, task_id = recorded
            log.info("stems %s resume upstream task %s on key %s", ledger.job_id, task_id, lease.key_id)
        else:
            callback = ledger.callback_url
            lease, task_id = self._send(
                ledger,
                "stems",
                lambda: {"url": source_url(), "callback_url": callback},
                progress,
                deadline,
                timing,
            )
        client = OpenApiClient(lease.base_url, lease.api_key, timeout=timing.request_seconds)
        try:
            item = self._poll(ledger, client, "stems", task_id, progress, deadline, timing, _has_stems)
            url = str(item.get("stems_url") or "")
            if not url:
                raise EngineError(f"the upstream stems task {task_id} succeeded without a stems link")
            progress(85, "downloading")
            download(url, dest, timeout=timing.download_seconds)
        except EngineError:
            ledger.finish(ok=False)
            raise
        ledger.finish(ok=True)
        return {"task_id": task_id, "key_id": lease.key_id}

    # -------------------------------------------------------------------------------- sending

    def _send(
        self,
        ledger: TaskLedger,
        kind: str,
        body: dict[str, Any] | Callable[[], dict[str, Any]],
        progress: ProgressFn,
        deadline: float,
        timing: config.UpstreamTiming,
        action: str = "generate",
        key_id: int | None = None,
    ) -> tuple[KeyLease, str]:
        """`action` is the endpoint (`generate`, `extend`); `key_id` pins the key (an extension's);
        `body` may be made afresh for each send (a stems task's link must not go stale waiting)."""
        backoff = timing.backoff_seconds
        last = "every upstream key is at its parallel-task limit"
        while True:
            if time.monotonic() > deadline:
                raise EngineError(f"Timed out before the upstream accepted the task: {last}")
            lease = ledger.acquire(key_id)
            if lease is None:
                if ledger.attend_unattended(key_id):
                    continue  # a slot's holder ran here meanwhile: its slot may be free now
                _wait(progress, 1, "waiting for an upstream key", timing.poll_seconds, ledger)
                continue
            client = OpenApiClient(lease.base_url, lease.api_key, timeout=timing.request_seconds)
            try:
                task_id = client.generate(kind, body() if callable(body) else body, action)
            except BadKey as exc:
                ledger.release()
                ledger.disable_key(lease.key_id, str(exc))
                log.warning("upstream key %s disabled: %s", lease.key_id, exc)
                last = str(exc)
                continue
            except InsufficientPoints as exc:
                ledger.release()
                ledger.pause_key(lease.key_id, str(exc))
                log.warning("upstream key %s paused: %s", lease.key_id, exc)
                raise
            except (PlatformBusy, Transient) as exc:
                ledger.release()
                last = str(exc)
                log.info("upstream busy for job %s (%s); retrying in %.1f s", ledger.job_id, exc, backoff)
                _wait(progress, 1, "upstream busy, retrying", backoff, ledger)
                backoff = min(backoff * 2, timing.backoff_max_seconds)
                continue
            except UpstreamError:
                ledger.release()
                raise
            ledger.sent(lease, task_id)
            return lease, task_id

    # -------------------------------------------------------------------------------- polling

    def _poll(
        self,
        ledger: TaskLedger,
        client: OpenApiClient,
        kind: str,
        task_id: str,
        progress: ProgressFn,
        deadline: float,
        timing: config.UpstreamTiming,
        ready: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any]:
        """The task's final item. `ready`: whether a callback's successful item carries the
        result (an audio link, the lyric), so it may stand in for a failed query."""
        started = time.monotonic()
        last = "no answer yet"
        while True:
            item: dict[str, Any] | None
            try:
                item = client.query(kind, task_id)
            except (Transient, WorkLost, PlatformBusy) as exc:
                last = str(exc)
                # The query failed; the upstream's callback may have told us the end already.
                item = _ended(ledger.callback_result(), task_id, ready)
            if item is not None:
                status = str(item.get("status") or "")
                if status in _DONE:
                    return item
                if status not in _RUNNING:
                    reason = str(
                        item.get("error") or f"the upstream task ended {status or 'without a status'}"
                    )
                    raise EngineError(reason)
                last = f"upstream task {task_id} is {status}"
            if time.monotonic() > deadline:
                raise EngineError(f"Timed out waiting for upstream task {task_id}: {last}")
            # Progress creeps towards 80 % (downloading follows); an upstream reports none.
            elapsed = time.monotonic() - started
            pct = 5 + int(75 * elapsed / (elapsed + 60))
            _wait(progress, pct, "upstream generating", timing.poll_seconds, ledger)

    # -------------------------------------------------------------------------------- results

    def _bring_home(
        self,
        request: GenerationRequest,
        item: dict[str, Any],
        progress: ProgressFn,
        timing: config.UpstreamTiming,
    ) -> GenerationResult:
        from songforge.audio.decode import decode

        progress(85, "downloading")
        hi, low = str(item.get("audio_hi_url") or ""), str(item.get("audio_url") or "")
        if not hi and not low:
            raise EngineError("the upstream task succeeded without an audio link")
        with tempfile.TemporaryDirectory(prefix="songforge-upstream-") as scratch:
            path = Path(scratch) / ("upstream.wav" if hi else "upstream.mp3")
            try:
                download(hi or low, path, timeout=timing.download_seconds)
            except Transient:
                if not (hi and low):
                    raise
                path = download(low, Path(scratch) / "upstream.mp3", timeout=timing.download_seconds)
            mix = decode(path, target_sr=SAMPLE_RATE)
        progress(95, "downloaded")
        material: dict[str, Any] = {"style": str(item.get("style") or "")}
        if isinstance(item.get("duration"), int | float) and item["duration"]:
            material["dur"] = item["duration"]
        if request.bpm:
            material["bpm"] = request.bpm
        if request.tonality:
            material["key"] = request.tonality
        if request.chords:
            material["chord"] = request.chords
        if request.kind == "song" and request.voice is not None:
            material["voice"] = voice_record(request.voice)
        extra: dict[str, Any] = {
            "upstream_model": item.get("model"),
            "model": from_platform(item.get("model")),
        }
        sections = item.get("lyrics_sections")
        if isinstance(sections, list) and sections:
            # (start_s, end_s, text) triples, as the embedded singer reports its sung lines.
            extra["lyrics_lines"] = [
                [float(s["start"]), float(s["end"]), str(s["text"])]
                for s in sections
                if isinstance(s, dict)
                and isinstance(s.get("start"), int | float)
                and isinstance(s.get("end"), int | float)
                and isinstance(s.get("text"), str)
            ]
        lyrics = item.get("lyrics") if request.kind == "song" else None
        spliced = item.get("extended_from")  # a Songforge upstream's own field: where it spliced
        if isinstance(spliced, dict) and isinstance(spliced.get("splice_at"), int | float):
            extra["extension"] = {"splice_at": spliced["splice_at"]}
        return GenerationResult(
            sample_rate=SAMPLE_RATE,
            mix=mix,
            # The Open API's song item carries one mix, no stems: the stems zip holds that mix.
            stems={"mix": mix},
            title=str(item.get("title") or "")[:300],
            material=material,
            lyrics=str(lyrics) if lyrics else (request.lyrics if request.kind == "song" else None),
            extra=extra,
        )


def _ended(
    item: dict[str, Any] | None, task_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """A callback's item of `task_id` once it reports an end the engine can act on alone: failed,
    or done with its result (`ready`). Anything else waits for the query, which is authoritative."""
    if not item or item.get("item_id") not in (None, task_id):
        return None
    status = str(item.get("status") or "")
    if status in _DONE and ready(item):
        return item
    if status and status not in _RUNNING and status not in _DONE:
        return item
    return None


def _wait(progress: ProgressFn, pct: int, stage: str, seconds: float, ledger: TaskLedger) -> None:
    """Sleeps `seconds` in short naps, reporting progress (an abandoned job raises from it) and
    returning early when the upstream's callback for this job arrives."""
    end = time.monotonic() + seconds
    while True:
        progress(pct, stage)
        left = end - time.monotonic()
        if left <= 0 or ledger.callback_arrived():
            return
        time.sleep(min(_NAP, left))
