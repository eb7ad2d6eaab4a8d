"""Loading ACE-Step's diffusers pipeline once per process, from local files only, and keeping it warm.

Why a module-level cache: the registry builds a new engine object for every job, and loading the
checkpoint (several GB for the real model) is far slower than a turbo generation. The cache is keyed by
what the pipeline was built from (directory, device, dtype, offload), so a changed setting loads again
and an unchanged one never does. A lock makes two threads asking at once load it once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from songforge import config
from songforge.engines.acestep.weights import WeightsCheck, check_weights
from songforge.errors import EngineError

log = logging.getLogger(__name__)

__all__ = [
    "EngineNotReady",
    "Loaded",
    "can_repaint",
    "get_pipeline",
    "load_pipeline",
    "resolve_device",
    "unload",
]


class EngineNotReady(EngineError):
    """The acestep engine cannot run here: weights missing or incomplete, libraries or device absent."""


@dataclass
class Loaded:
    """A pipeline ready to call, and what it was built from (the records quote it)."""

    pipe: Any  # diffusers.AceStepPipeline
    path: Path
    device: str  # where it runs ("cpu", "cuda", "cuda:1")
    dtype: str  # "bfloat16" or "float32"
    offload: bool
    variant: str
    cover: bool  # the cover task's components are loaded
    repaint: bool  # the pipeline has the repaint task (extensions), as `can_repaint` reads it
    sample_rate: int  # the VAE's rate (48 kHz for the real checkpoints)
    latent_rate: float  # latent frames a second (25 for the real checkpoints)
    load_seconds: float


_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str, str, bool], Loaded] = {}


def resolve_device(setting: str) -> tuple[str, Any]:
    """(device, torch dtype): bf16 on CUDA, fp32 on CPU. `auto` takes CUDA when there is one."""
    import torch

    cuda = torch.cuda.is_available()
    if setting == "auto":
        device = "cuda" if cuda else "cpu"
    else:
        device = setting
    if device.startswith("cuda") and not cuda:
        raise EngineNotReady(f"SONGFORGE_ACESTEP_DEVICE={setting} but PyTorch sees no CUDA device")
    return device, (torch.bfloat16 if device.startswith("cuda") else torch.float32)


def _import_pipeline_class() -> Any:
    config.forbid_hub_downloads()
    try:
        from diffusers import AceStepPipeline  # type: ignore[attr-defined, unused-ignore]
    except ImportError as exc:
        raise EngineNotReady(
            f"the acestep engine needs the neural extra (torch, diffusers, transformers): {exc}"
        ) from exc
    return AceStepPipeline


REPAINT_INPUTS = ("task_type", "src_audio", "repainting_start", "repainting_end")


def can_repaint(pipe: Any) -> bool:
    """Whether `pipe` has ACE-Step's repaint task, read from its own API rather than assumed: the
    task list its module declares (when it declares one) and the arguments its `__call__` takes.
    A pipeline class without them (another revision, a fork) extends by making a new track."""
    import inspect
    import sys

    try:
        params = inspect.signature(type(pipe).__call__).parameters
    except (TypeError, ValueError):
        return False
    if not all(name in params for name in REPAINT_INPUTS):
        return False
    tasks = getattr(sys.modules.get(type(pipe).__module__), "TASK_TYPES", None)
    return tasks is None or "repaint" in tasks


def load_pipeline(settings: config.AceStepSettings) -> Loaded:
    """Builds the pipeline from `settings.weights` (never downloading), on the configured device."""
    check: WeightsCheck = check_weights(settings.weights)
    if not check.ready or settings.weights is None:
        raise EngineNotReady(check.message())
    cls = _import_pipeline_class()
    device, dtype = resolve_device(settings.device)
    t0 = time.perf_counter()
    try:
        pipe = cls.from_pretrained(str(settings.weights), local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise EngineNotReady(f"{check.message()}, but loading it failed: {exc}") from exc
    offload = bool(settings.offload and device.startswith("cuda"))
    if settings.offload and not offload:
        log.info("SONGFORGE_ACESTEP_OFFLOAD ignored: the pipeline runs on %s", device)
    if offload:
        gpu = int(device.split(":", 1)[1]) if ":" in device else None
        pipe.enable_model_cpu_offload(gpu_id=gpu)
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    seconds = time.perf_counter() - t0
    loaded = Loaded(
        pipe=pipe,
        path=settings.weights,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        offload=offload,
        variant=check.variant,
        cover=bool(check.cover and getattr(pipe, "audio_tokenizer", None) is not None),
        repaint=can_repaint(pipe),
        sample_rate=int(pipe.sample_rate),
        latent_rate=float(pipe.latents_per_second),
        load_seconds=seconds,
    )
    log.info(
        "acestep: loaded %s (%s) on %s as %s%s in %.1f s",
        settings.weights,
        check.variant,
        device,
        loaded.dtype,
        " with CPU offload" if offload else "",
        seconds,
    )
    return loaded


def get_pipeline(settings: config.AceStepSettings | None = None) -> Loaded:
    """The warm pipeline for the current settings, loaded on first use in this process."""
    settings = settings or config.acestep_settings()
    if settings.weights is None:
        raise EngineNotReady(check_weights(None).message())
    key = (str(settings.weights.resolve()), settings.device, "", settings.offload)
    with _LOCK:
        loaded = _CACHE.get(key)
        if loaded is None:
            loaded = load_pipeline(settings)
            _CACHE[key] = loaded
        return loaded


def unload() -> None:
    """Drops every cached pipeline (tests; an operator's process never needs it)."""
    with _LOCK:
        _CACHE.clear()
