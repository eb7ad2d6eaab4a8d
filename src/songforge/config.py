"""Runtime settings, from CLI flags and SONGFORGE_* environment variables.

Why one module: every `SONGFORGE_*` variable is read here and nowhere else in `src/`, so this
docstring is the complete list an operator can set, and a test can point a server process at a
setting by its environment alone. Two kinds of reads, kept as they were:

- `Settings` fields read their variable when a `Settings` is built (once per server or worker
  process, after the CLI flags, which win).
- The accessor functions below read theirs at *call* time, because some are set per test or per
  call site after the process started (the engines and the audio layer have no `Settings`), and
  one (`lease_seconds`) is read once, when `core.queue` is imported.

Settings fields (empty or unset means the default):

  SONGFORGE_DATA_DIR            data dir: SQLite db, blobs, link-signing secret (./data)
  SONGFORGE_WORKERS             generation worker processes (one per core)
  SONGFORGE_API_PROCESSES       processes answering HTTP on `songforge serve`'s socket (2 where the
                                process may run on two cores or more, else 1)
  SONGFORGE_DATABASE_URL        SQLAlchemy URL (SQLite under the data dir)
  SONGFORGE_QUEUE               Redis URL of the distributed task queue (unset: in-process workers)
  SONGFORGE_BLOB_STORE          s3://bucket/prefix blob store (unset: the data dir)
  SONGFORGE_S3_ENDPOINT         S3 endpoint URL (unset: boto3's own AWS_ENDPOINT_URL handling)
  SONGFORGE_JOB_TIMEOUT         seconds before a running generation ends FAILED (1800)
  SONGFORGE_WORKER_ENGINES      comma-separated engines whose jobs a `songforge worker` takes, e.g.
                                acestep on a GPU machine, embedded,tempolor on CPU ones (unset: every
                                engine ready in that process)
  SONGFORGE_MAX_MIDI_BYTES      MIDI upload cap in bytes (1 MiB)
  SONGFORGE_MAX_AUDIO_BYTES     audio upload cap in bytes (50 MiB)
  SONGFORGE_DOWNLOAD_TTL        signed download link lifetime, seconds (3600)
  SONGFORGE_SHARE_TTL           share link (/share/<token>, a read-only page with one work's player)
                                lifetime, seconds (2592000: 30 days)
  SONGFORGE_MAX_BODY_BYTES      cap on a parameter (JSON or form) body, counted while it streams (1 MiB)
  SONGFORGE_PUBLIC_URL          the server's public base URL, e.g. https://music.example.com: the host
                                of every download link, Open API file link and the upstream engine's
                                callback URL (unset: see
                                `songforge.http.public_url`; the raw Host header is never trusted)
  SONGFORGE_TRUSTED_HOSTS       comma-separated host names links may use when they come in a request's
                                Host header (unset: loopback names and the bind address only)
  SONGFORGE_TRUSTED_PROXIES     comma-separated proxy addresses or networks (10.0.0.0/8) whose
                                X-Forwarded-Host and X-Forwarded-Proto are honoured (unset: none)
  SONGFORGE_BODY_TIMEOUT        seconds a client may take to send a parameter body, or stay silent
                                mid-upload, before the request is refused with 408 (30)
  SONGFORGE_AUTH_FAILURES       failed authentications one client address may make per minute before
                                it is answered 429 with Retry-After (30; see songforge.http.auth_guard)

Read at call time (the function that reads each):

  SONGFORGE_UPLOAD_WAIT_SECONDS  how long an upload POST waits for analysis or splitting before
                                 answering 202 (20); `Settings.upload_wait_seconds` overrides it
                                 -> `upload_wait_seconds()`
  SONGFORGE_MAX_UPLOAD_SECONDS   longest accepted upload, seconds (audio's default, 600)
  SONGFORGE_MAX_UPLOAD_RATE      highest accepted sample rate, Hz (192000)
  SONGFORGE_MAX_UPLOAD_CHANNELS  most accepted channels (8)  -> `upload_limits()`
  SONGFORGE_SOUNDFONT            the SoundFont FluidSynth renders with (the engine's FluidR3_GM path)
  SONGFORGE_FLUIDSYNTH           the fluidsynth binary (the one on PATH)
  SONGFORGE_FLUID_INTERP         FluidSynth interpolation: 0 none, 1 linear, 4 fourth order,
                                 7 seventh order; anything else is 1 (1)
  SONGFORGE_ENGINE_THREADS       FluidSynth processes per job, at least 1; not digits: 2 (2)
  SONGFORGE_DEMUCS_WEIGHTS       htdemucs weights file for the stems splitter (unset: classical
                                 separation)  -> `engine_settings()`
  SONGFORGE_CALLBACK_RETRY_SCALE multiplies the callback retry delays (1); tests shrink it;
                                 `Settings.callback_retry_scale` overrides it
                                 -> `callback_retry_scale()`
  SONGFORGE_MAX_ACCOUNTS_PER_TENANT  most accounts one tenant may configure (1000)
  SONGFORGE_MAX_QUEUED_PER_TENANT    most jobs (variations) one tenant may have queued at once,
                                 over all its accounts (10000)  -> `tenant_limits()`
  SONGFORGE_MAX_SECONDS_OVERRIDE test-only cap on generated length, seconds (unset: none)
                                 -> `max_seconds_override()`
  SONGFORGE_SINGER               the singing voices' speech: neural (default; the hibari-tts /
                                 piper-tts wheels) or festival  -> `singer_engine()`
  SONGFORGE_CHORUS_PARTS         1 (default): choruses get a double and a harmony line; 0: the lead alone
                                 -> `chorus_parts()`

  SONGFORGE_UPSTREAM_SECRET      the Fernet key (urlsafe base64, 32 bytes) that encrypts the
                                 upstream engine's API keys at rest (unset: the data dir's
                                 upstream.key, created 0600 on first use)  -> `upstream_secret()`
  SONGFORGE_UPSTREAM_POLL_SECONDS  seconds between the upstream engine's status queries (5)
  SONGFORGE_UPSTREAM_BACKOFF     first wait after the upstream's 400006/400007, doubling to 60 s (2)
  SONGFORGE_UPSTREAM_TIMEOUT     seconds one upstream API call may take (30)  -> `upstream_timing()`
  SONGFORGE_UPSTREAM_MODELS      comma-separated model names (`v4.5,v4.8`) whose requests the
                                 upstream (`tempolor`) engine makes, whatever engine the account
                                 chose; extensions stay on the account's engine (unset: none)
                                 -> `upstream_models()`
  SONGFORGE_UPSTREAM_VOICES      comma-separated `voice=SV000002` pairs: which TemPolor platform
                                 voice id sings each of our artist voices on the upstream engine;
                                 `voice` is an artistVoiceItemId (`voice_velvet`) or a catalogue
                                 name (`Velvet`, any case); a voice without a pair is refused on
                                 upstream accounts (unset: none)  -> `upstream_voices()`
  SONGFORGE_MODEL_ENGINES        comma-separated `model=engine` routes, an engine chain tried in order
                                 (`v4.8=acestep|embedded,i4=acestep`): a request for that model is
                                 made by the first engine of the chain that is ready here, whatever
                                 engine the account chose; extensions stay on the account's engine;
                                 SONGFORGE_UPSTREAM_MODELS is the same as `model=tempolor` routes
                                 (unset: none)  -> `model_engines()`

  SONGFORGE_ACESTEP_WEIGHTS      a local diffusers-format ACE-Step 1.5 checkpoint directory (turbo,
                                 sft, base or XL; model_index.json at its top); never downloaded
                                 (unset: the acestep engine is not ready)
  SONGFORGE_ACESTEP_DEVICE       auto (CUDA when there is one), cuda, cuda:N or cpu (auto)
  SONGFORGE_ACESTEP_OFFLOAD      1: diffusers' model CPU offload on CUDA (less GPU memory) (0)
  SONGFORGE_ACESTEP_COVER_STRENGTH  how closely the cover task follows the embedded engine's guide
                                 arrangement when a request has chords or MIDI, 0..1 (0.8)
  SONGFORGE_ACESTEP_STEPS        denoising steps (unset: 8 for turbo checkpoints, 50 otherwise)
  SONGFORGE_ACESTEP_GUIDANCE     guidance scale for non-turbo checkpoints (7; turbo ignores it)
  SONGFORGE_ACESTEP_SHIFT        timestep shift (3)  -> `acestep_settings()`

Read once, at import of `songforge.core.queue`:

  SONGFORGE_LEASE_SECONDS        a running job's lease, renewed every quarter of it (at most 5 s) while
                                 generating (30)
                                 -> `lease_seconds()`

`AWS_*` variables belong to boto3 and are read by `store/s3.py` and boto3 itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def default_api_processes() -> int:
    """2 where this process may use two cores or more, else 1.

    Why 2: one Python process answers on one core at a time, and on a 2-core machine with both
    workers generating it topped out near 3,900 status reads/s at p99 27 ms and submissions at p99
    107-117 ms; two answered 7,000-7,400/s at p99 17 ms and 47 ms (`benchmarks/api_load.py`). More
    than two gained nothing there, and each costs about 110 MB. The cores counted are the ones this
    process may run on (a container's CPU set), not the machine's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


def _env_days(name: str) -> int | None:
    """A whole number of days, or None (unset or empty) for "forever"; under 1 is refused, since
    0 would delete every finished job the hour it finishes."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    days = int(value)
    if days < 1:
        raise ValueError(f"{name} must be a whole number of days, at least 1 (unset: keep forever)")
    return days


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (os.environ.get(name) or "").split(",") if part.strip())


def default_data_dir() -> Path:
    return Path(os.environ.get("SONGFORGE_DATA_DIR", "./data"))


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=lambda: _env_int("SONGFORGE_WORKERS", os.cpu_count() or 1))
    # `songforge serve --api-processes`: the first runs everything, the others the API alone.
    api_processes: int = field(
        default_factory=lambda: _env_int("SONGFORGE_API_PROCESSES", default_api_processes())
    )
    # default: sqlite under data_dir
    database_url: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_DATABASE_URL") or None)
    # Scale-out (all unset in the embedded default): a Redis URL for the distributed task queue,
    # an s3://bucket/prefix blob store and its endpoint (else boto3's AWS_ENDPOINT_URL handling).
    queue_url: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_QUEUE") or None)
    blob_store: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_BLOB_STORE") or None)
    s3_endpoint: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_S3_ENDPOINT") or None)
    # The engines whose queues a distributed worker consumes (`songforge worker --engines`); empty:
    # every engine ready in the process (`workers.distributed.worker_engines`).
    worker_engines: tuple[str, ...] = field(default_factory=lambda: _env_list("SONGFORGE_WORKER_ENGINES"))
    # A generation running longer than this ends FAILED (a hung engine must not hold a slot forever).
    job_timeout_seconds: int = field(default_factory=lambda: _env_int("SONGFORGE_JOB_TIMEOUT", 1800))
    # Private/loopback callback targets. The deployment's policy is stored in its database and wins
    # (songforge.store.deployment); this is `songforge serve`'s flag, which writes it, and the
    # process's fallback while nothing is stored. None: allowed only when listening on loopback.
    allow_private_callbacks: bool | None = None
    max_midi_bytes: int = field(default_factory=lambda: _env_int("SONGFORGE_MAX_MIDI_BYTES", 1024 * 1024))
    max_audio_bytes: int = field(
        default_factory=lambda: _env_int("SONGFORGE_MAX_AUDIO_BYTES", 50 * 1024 * 1024)
    )
    download_ttl_seconds: int = field(default_factory=lambda: _env_int("SONGFORGE_DOWNLOAD_TTL", 3600))
    # Share links are sent to other people, who open them days later; still they end, since a
    # stateless link cannot be revoked but by deleting its work (songforge.http.signing).
    share_ttl_seconds: int = field(default_factory=lambda: _env_int("SONGFORGE_SHARE_TTL", 30 * 24 * 3600))
    # Parameter bodies are small (a 2000-char prompt, 3000 chars of lyrics); uploads have their own caps.
    max_body_bytes: int = field(default_factory=lambda: _env_int("SONGFORGE_MAX_BODY_BYTES", 1024 * 1024))
    body_timeout_seconds: float = field(
        default_factory=lambda: float(os.environ.get("SONGFORGE_BODY_TIMEOUT") or 30)
    )
    # The host of download links: see songforge.http.public_url (never the raw Host header).
    public_base_url: str | None = field(
        default_factory=lambda: os.environ.get("SONGFORGE_PUBLIC_URL") or None
    )
    trusted_hosts: tuple[str, ...] = field(default_factory=lambda: _env_list("SONGFORGE_TRUSTED_HOSTS"))
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: _env_list("SONGFORGE_TRUSTED_PROXIES"))
    auth_failures_per_minute: int = field(default_factory=lambda: _env_int("SONGFORGE_AUTH_FAILURES", 30))
    # Finished (completed/failed) jobs older than this many days lose their rows, files and outbox
    # rows (`songforge prune`, and hourly in the server); None keeps them forever.
    retention_days: int | None = field(default_factory=lambda: _env_days("SONGFORGE_RETENTION_DAYS"))
    # Overrides of call-time variables (tests set them on one server's Settings); None: from the
    # environment at each use, see upload_wait_seconds() and callback_retry_scale().
    upload_wait_seconds: float | None = None
    callback_retry_scale: float | None = None

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'songforge.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def private_callbacks_allowed(self) -> bool:
        if self.allow_private_callbacks is not None:
            return self.allow_private_callbacks
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")


def deployment_problem(settings: Settings) -> str | None:
    """Why `settings` cannot work as one process of a deployment, or None. Checked before an API or
    a worker starts: such a process used to start, accept jobs and never run them (a queue without a
    shared database) or hand out links to files another machine holds (a shared database, local files)."""
    try:
        upstream_models()
        model_engines()
        upstream_voices()
        acestep_settings()
    except ValueError as exc:
        return str(exc)
    url = settings.database_url or ""
    shared_db = bool(url) and not url.startswith("sqlite")
    if settings.queue_url and not shared_db:
        return (
            "--queue needs a database every API and worker shares: give --database-url "
            "postgresql://user@host/db (a SQLite file belongs to one machine, so jobs accepted here "
            "would never reach a worker elsewhere)"
        )
    if shared_db and not settings.blob_store:
        return (
            "a shared database needs a shared blob store: give --blob-store s3://bucket/prefix (and "
            "--s3-endpoint for MinIO); files kept in one machine's data dir cannot be served by the "
            "other processes"
        )
    return None


# ---------------------------------------------------------------------------- read at call time
# Each function reads its variables when called, never caching: see the module docstring.


def upload_wait_seconds(settings: Settings | None = None) -> float:
    """How long an upload POST waits for its result before answering 202 (never negative)."""
    value = getattr(settings, "upload_wait_seconds", None)
    if value is None:
        value = float(os.environ.get("SONGFORGE_UPLOAD_WAIT_SECONDS") or 20)
    return max(0.0, float(value))


@dataclass(frozen=True)
class UploadLimits:
    """The operator's upload audio limits; None keeps the audio layer's own default."""

    max_duration_s: float | None
    max_sample_rate: int | None
    max_channels: int | None


def upload_limits() -> UploadLimits:
    seconds = os.environ.get("SONGFORGE_MAX_UPLOAD_SECONDS")
    rate = os.environ.get("SONGFORGE_MAX_UPLOAD_RATE")
    channels = os.environ.get("SONGFORGE_MAX_UPLOAD_CHANNELS")
    return UploadLimits(
        max_duration_s=float(seconds) if seconds else None,
        max_sample_rate=int(rate) if rate else None,
        max_channels=int(channels) if channels else None,
    )


FLUID_INTERP_VALUES = ("0", "1", "4", "7")


@dataclass(frozen=True)
class EngineSettings:
    """What the engines read from the environment. None: the engine's own default."""

    soundfont: Path | None
    fluidsynth: str | None
    fluid_interp: str  # one of FLUID_INTERP_VALUES
    engine_threads: int  # >= 1
    demucs_weights: Path | None


def engine_settings() -> EngineSettings:
    interp = os.environ.get("SONGFORGE_FLUID_INTERP", "1").strip()
    threads = os.environ.get("SONGFORGE_ENGINE_THREADS", "").strip()
    weights = os.environ.get("SONGFORGE_DEMUCS_WEIGHTS", "").strip()
    soundfont = os.environ.get("SONGFORGE_SOUNDFONT")
    return EngineSettings(
        soundfont=Path(soundfont) if soundfont else None,
        fluidsynth=os.environ.get("SONGFORGE_FLUIDSYNTH") or None,
        fluid_interp=interp if interp in FLUID_INTERP_VALUES else "1",
        engine_threads=max(1, int(threads)) if threads.isdigit() else 2,
        demucs_weights=Path(weights) if weights else None,
    )


def callback_retry_scale(settings: Settings | None = None) -> float:
    """The factor on the callback retry delays: `settings.callback_retry_scale`, else the env."""
    scale = getattr(settings, "callback_retry_scale", None)
    if scale is None:
        scale = float(os.environ.get("SONGFORGE_CALLBACK_RETRY_SCALE", "1") or 1)
    return float(scale)


@dataclass(frozen=True)
class TenantLimits:
    """Per-tenant caps: what one token may hold, whatever its accounts' maxJobs add up to."""

    max_accounts: int
    max_queued: int


def tenant_limits() -> TenantLimits:
    """Generous defaults: the caps stop abuse (an account per request, a backlog of millions), not use."""
    return TenantLimits(
        max_accounts=max(1, _env_int("SONGFORGE_MAX_ACCOUNTS_PER_TENANT", 1000)),
        max_queued=max(1, _env_int("SONGFORGE_MAX_QUEUED_PER_TENANT", 10_000)),
    )


def max_seconds_override() -> float | None:
    """The test-only cap on a generated track's length; None in production."""
    value = os.environ.get("SONGFORGE_MAX_SECONDS_OVERRIDE")
    return float(value) if value else None


def singer_engine() -> str:
    """The speech the singer's voices are built on: "neural" (the hibari-tts / piper-tts wheels; the
    default since they won the untouched songs of the vocals benchmark: Whisper WER 11.1 % against
    20.4 %, DNSMOS OVRL 2.73 against 2.57) or "festival", the fallback an operator may choose."""
    value = (os.environ.get("SONGFORGE_SINGER") or "neural").strip().lower()
    return value if value in ("neural", "festival") else "neural"


def chorus_parts() -> bool:
    """Whether sung choruses get a double of the lead and a harmony line (default on); `0` turns them
    off for every voice, e.g. to compare intelligibility with and without them."""
    value = (os.environ.get("SONGFORGE_CHORUS_PARTS") or "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def upstream_secret() -> str | None:
    """The operator's Fernet key for the upstream API keys, or None (the data dir's key file)."""
    return (os.environ.get("SONGFORGE_UPSTREAM_SECRET") or "").strip() or None


@dataclass(frozen=True)
class UpstreamTiming:
    """How the upstream engine paces itself against a TemPolor Open API (seconds)."""

    poll_seconds: float
    backoff_seconds: float
    backoff_max_seconds: float
    request_seconds: float
    download_seconds: float


def upstream_timing() -> UpstreamTiming:
    poll = float(os.environ.get("SONGFORGE_UPSTREAM_POLL_SECONDS") or 5)
    backoff = float(os.environ.get("SONGFORGE_UPSTREAM_BACKOFF") or 2)
    request = float(os.environ.get("SONGFORGE_UPSTREAM_TIMEOUT") or 30)
    return UpstreamTiming(
        poll_seconds=max(0.05, poll),
        backoff_seconds=max(0.05, backoff),
        backoff_max_seconds=max(backoff, 60.0),
        request_seconds=max(1.0, request),
        download_seconds=max(10.0, 4 * request),
    )


# The platform's voice ids: `SV` and digits (`SV000002`, `SV000013` are the ones seen; its table
# of them, "Voice ID option table", was never retrieved, so no list of valid ids is kept here).
PLATFORM_VOICE_ID = re.compile(r"^SV\d{1,12}$")


def upstream_voices() -> dict[str, str]:
    """SONGFORGE_UPSTREAM_VOICES as {our voice, as written: the platform's voice id}. Only the
    form is checked here (`voice=SV<digits>`, each voice once); which of our voices a name means
    is the upstream engine's business (`engines.tempolor.models.voice_table`), since this module
    knows no catalogue. Raises ValueError naming the bad pair, so a typo stops the server at start
    instead of sending every song without the voice asked for."""
    table: dict[str, str] = {}
    for raw in _env_list("SONGFORGE_UPSTREAM_VOICES"):
        voice, sep, voice_id = raw.partition("=")
        voice, voice_id = voice.strip(), voice_id.strip()
        if not sep or not voice or not PLATFORM_VOICE_ID.match(voice_id):
            raise ValueError(
                f"SONGFORGE_UPSTREAM_VOICES: {raw!r} is not voice=SV<digits> (e.g. voice_velvet=SV000002)"
            )
        if voice.casefold() in (v.casefold() for v in table):
            raise ValueError(f"SONGFORGE_UPSTREAM_VOICES: {voice!r} is mapped twice")
        table[voice] = voice_id
    return table


def lease_seconds() -> float:
    """A running job's lease. `core.queue` reads it once, at import.

    Why 30 s and not less: the lease is only the backstop. A killed `songforge worker` is seen by the
    others when its named Redis connection closes (`workers.presence`: 5.2-5.6 s from kill to the new
    attempt, `benchmarks/recovery.py --queue`), a local pool's by its server at once; only a worker
    that vanishes without closing its connection (a host lost) is waited out, 28-29 s with 30 s. 8 s
    would shorten that, but on a loaded 2-core machine the in-process acestep engine's render kept
    the heartbeat thread from renewing for longer than 8 s, and a live job lost its lease three
    times and failed."""
    return float(os.environ.get("SONGFORGE_LEASE_SECONDS") or 30)


# ---------------------------------------------------------------------------- model catalogue
# Why one table: the dialects check the model a request names against it, the engines cap a
# track's length by it and the platform dialect maps its own model names onto it. Scattered copies
# of these facts drifted apart before; a new model is now one line here.

ModelKind = Literal["song", "instrumental"]


@dataclass(frozen=True)
class ModelProfile:
    """One model a request may name, and what the engines owe a request for it."""

    name: str  # the canonical name: what /v1/tempolor accepts and what a job stores
    kind: ModelKind
    max_seconds: float  # the length cap, as the hosted service documents it
    aliases: tuple[str, ...] = ()  # other spellings real clients send (the vendor's Postman says "v4.5+")


MODEL_PROFILES: tuple[ModelProfile, ...] = (
    ModelProfile("v3", "song", 120.0),
    ModelProfile("v3.5", "song", 270.0),
    ModelProfile("v4.5", "song", 270.0, aliases=("v4.5+",)),
    ModelProfile("v4.8", "song", 270.0),
    ModelProfile("i3", "instrumental", 120.0),
    ModelProfile("i3.5 beta", "instrumental", 270.0, aliases=("i3.5", "i3.5-beta")),
    ModelProfile("i4", "instrumental", 180.0),
)
MODELS: dict[str, ModelProfile] = {p.name: p for p in MODEL_PROFILES}
# What a request that names no model gets: the newest of its kind.
DEFAULT_MODELS: dict[ModelKind, str] = {"song": "v4.8", "instrumental": "i4"}
_ALIASES: dict[str, str] = {alias: p.name for p in MODEL_PROFILES for alias in p.aliases}


def model_names(kind: ModelKind) -> tuple[str, ...]:
    """The canonical names of `kind`'s models, in catalogue order (oldest first)."""
    return tuple(p.name for p in MODEL_PROFILES if p.kind == kind)


def model_profile(name: str | None) -> ModelProfile | None:
    """The profile for a canonical name, or None: aliases are resolved where a request is read
    (`canonical_model`), so code that receives a stored name never guesses."""
    return MODELS.get(name) if name is not None else None


def canonical_model(name: str) -> str:
    """`name` with an alias replaced by the model it stands for; any other name is returned as is."""
    return _ALIASES.get(name, name)


# ---------------------------------------------------------------------------- engines
# The engines an account may be served by (`requestParams.engine`); `songforge.engines.registry`
# maps each name to its implementation. Listed here so the domain can check a name without
# importing any engine.
ENGINE_NAMES: tuple[str, ...] = ("embedded", "tempolor", "acestep")
DEFAULT_ENGINE = "embedded"
UPSTREAM_ENGINE = "tempolor"  # the engine SONGFORGE_UPSTREAM_MODELS routes to
ACESTEP_ENGINE = "acestep"  # ACE-Step 1.5 through diffusers (SONGFORGE_ACESTEP_WEIGHTS)


def upstream_models() -> frozenset[str]:
    """The canonical names of the models routed to the upstream engine (SONGFORGE_UPSTREAM_MODELS).
    Aliases are accepted (`v4.5+`); a name that is no model raises ValueError naming it, so a typo
    fails the server at start rather than quietly routing nothing."""
    names = set()
    for raw in _env_list("SONGFORGE_UPSTREAM_MODELS"):
        name = canonical_model(raw)
        if name not in MODELS:
            known = ", ".join(MODELS)
            raise ValueError(f"SONGFORGE_UPSTREAM_MODELS: {raw!r} is not a model (one of: {known})")
        names.add(name)
    return frozenset(names)


def model_engines() -> dict[str, tuple[str, ...]]:
    """Canonical model name -> the engines that may make its requests, first ready one first
    (SONGFORGE_MODEL_ENGINES, with SONGFORGE_UPSTREAM_MODELS as `model=tempolor` routes). A name that
    is no model or no engine, or a model routed twice, raises ValueError naming it."""
    routes: dict[str, tuple[str, ...]] = {name: (UPSTREAM_ENGINE,) for name in upstream_models()}
    upstream = set(routes)
    for raw in _env_list("SONGFORGE_MODEL_ENGINES"):
        model_raw, sep, chain_raw = raw.partition("=")
        model = canonical_model(model_raw.strip())
        if not sep or model not in MODELS:
            known = ", ".join(MODELS)
            raise ValueError(f"SONGFORGE_MODEL_ENGINES: {raw!r} is not model=engine (models: {known})")
        chain = tuple(part.strip() for part in chain_raw.split("|") if part.strip())
        bad = [name for name in chain if name not in ENGINE_NAMES]
        if not chain or bad:
            engines = ", ".join(ENGINE_NAMES)
            raise ValueError(
                f"SONGFORGE_MODEL_ENGINES: {raw!r} names no engine or an unknown one ({engines})"
            )
        if model in routes:
            where = "SONGFORGE_UPSTREAM_MODELS and here" if model in upstream else "twice"
            raise ValueError(f"SONGFORGE_MODEL_ENGINES: {model!r} is routed {where}")
        routes[model] = chain
    return routes


@dataclass(frozen=True)
class AceStepSettings:
    """The acestep engine's settings (SONGFORGE_ACESTEP_*)."""

    weights: Path | None  # None: not configured
    device: str  # "auto", "cpu", "cuda" or "cuda:N"
    offload: bool
    cover_strength: float  # 0..1
    steps: int | None  # None: by the checkpoint (turbo 8, else 50)
    guidance: float
    shift: float


def _env_float(name: str, default: float) -> float:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def acestep_settings() -> AceStepSettings:
    """Read at each call; a value that cannot work raises ValueError naming its variable."""
    weights = (os.environ.get("SONGFORGE_ACESTEP_WEIGHTS") or "").strip()
    device = (os.environ.get("SONGFORGE_ACESTEP_DEVICE") or "auto").strip().lower()
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise ValueError(f"SONGFORGE_ACESTEP_DEVICE must be auto, cpu, cuda or cuda:N, got {device!r}")
    strength = _env_float("SONGFORGE_ACESTEP_COVER_STRENGTH", 0.8)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"SONGFORGE_ACESTEP_COVER_STRENGTH must be between 0 and 1, got {strength:g}")
    steps_raw = (os.environ.get("SONGFORGE_ACESTEP_STEPS") or "").strip()
    if steps_raw and not (steps_raw.isdigit() and int(steps_raw) >= 1):
        raise ValueError(f"SONGFORGE_ACESTEP_STEPS must be a whole number, at least 1, got {steps_raw!r}")
    shift = _env_float("SONGFORGE_ACESTEP_SHIFT", 3.0)
    if shift <= 0:
        raise ValueError(f"SONGFORGE_ACESTEP_SHIFT must be above 0, got {shift:g}")
    return AceStepSettings(
        weights=Path(weights).expanduser() if weights else None,
        device=device,
        offload=(os.environ.get("SONGFORGE_ACESTEP_OFFLOAD") or "").strip().lower() in ("1", "true", "yes"),
        cover_strength=strength,
        steps=int(steps_raw) if steps_raw else None,
        guidance=max(0.0, _env_float("SONGFORGE_ACESTEP_GUIDANCE", 7.0)),
        shift=shift,
    )


def forbid_hub_downloads() -> None:
    """Tells huggingface_hub, transformers and diffusers, before they are imported, that this process
    is offline: the acestep engine loads local files only (`local_files_only=True` as well), and no
    telemetry leaves. An operator's own values of these variables are kept."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")
