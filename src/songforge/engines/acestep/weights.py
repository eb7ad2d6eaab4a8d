"""What a diffusers-format ACE-Step 1.5 checkpoint directory must hold, checked without importing torch.

Why a file check of our own: `from_pretrained(..., local_files_only=True)` on an incomplete directory
fails deep inside diffusers with a message about one file at a time (or, for a path it takes for a hub
id, about the hub). The operator gets one message instead, naming the setting and every missing file,
at startup and in `songforge engines`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SETTING = "SONGFORGE_ACESTEP_WEIGHTS"
PIPELINE_CLASS = "AceStepPipeline"

# component folder -> (file that must exist, weight files: any of these patterns); None: no weights.
_WEIGHTS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "transformer": (("config.json",), _WEIGHTS),
    "vae": (("config.json",), _WEIGHTS),
    "condition_encoder": (("config.json",), _WEIGHTS),
    "text_encoder": (("config.json",), _WEIGHTS),
    "tokenizer": (("tokenizer.json", "tokenizer_config.json"), None),
    "scheduler": (("scheduler_config.json",), None),
}
# Needed only by the cover task (requests with chords or MIDI): the 5 Hz semantic tokenizer and back.
COVER = ("audio_tokenizer", "audio_token_detokenizer")


@dataclass
class WeightsCheck:
    """The outcome of looking at a checkpoint directory: `problems` empty means it can be loaded."""

    path: Path | None
    problems: list[str] = field(default_factory=list)
    cover: bool = False  # the cover task's two components are there
    variant: str = "unknown"  # turbo, sft, base (from the transformer's config), xl added when it says so

    @property
    def ready(self) -> bool:
        return self.path is not None and not self.problems

    def message(self) -> str:
        """One sentence for a log line or a refusal, naming the setting and what is missing."""
        if self.path is None:
            return f"the acestep engine needs {SETTING}: a local diffusers-format ACE-Step 1.5 checkpoint"
        if not self.problems:
            return f"{SETTING}={self.path} is ready ({self.variant})"
        expected = ", ".join(f"{name}/" for name in REQUIRED)
        return (
            f"{SETTING}={self.path} is not a complete diffusers-format ACE-Step 1.5 checkpoint: "
            f"{'; '.join(self.problems)} (expected model_index.json and {expected}, each with its config and "
            f"weights; {' and '.join(f'{name}/' for name in COVER)} for chords and MIDI)"
        )


def _component_problem(root: Path, name: str) -> str | None:
    needed, weights = REQUIRED.get(name, (("config.json",), _WEIGHTS))
    folder = root / name
    if not folder.is_dir():
        return f"{name}/ is missing"
    if not any((folder / f).is_file() for f in needed):
        return f"{name}/{' or '.join(needed)} is missing"
    if weights is not None and not any(any(folder.glob(p)) for p in weights):
        return f"{name}/ has no weights (*.safetensors or *.bin)"
    return None


def _variant(root: Path) -> str:
    try:
        config = json.loads((root / "transformer" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    if not isinstance(config, dict):
        return "unknown"
    version = str(config.get("model_version") or "").lower()
    name = "turbo" if config.get("is_turbo") or version == "turbo" else (version or "sft/base")
    hidden = config.get("hidden_size")
    if isinstance(hidden, int) and hidden >= 2560:  # the XL DiT is wider than the 2B one (2048)
        name = f"xl-{name}"
    return name


def check_weights(path: Path | None) -> WeightsCheck:
    """Looks at `path` (SONGFORGE_ACESTEP_WEIGHTS) without loading anything."""
    if path is None:
        return WeightsCheck(None, [f"{SETTING} is not set"])
    check = WeightsCheck(path)
    if not path.is_dir():
        check.problems.append("it is not a directory")
        return check
    index = path / "model_index.json"
    try:
        listed = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        check.problems.append("model_index.json is missing")
        listed = {}
    except (OSError, ValueError) as exc:
        check.problems.append(f"model_index.json cannot be read ({exc})")
        listed = {}
    if isinstance(listed, dict) and listed and listed.get("_class_name") != PIPELINE_CLASS:
        check.problems.append(f"model_index.json is for {listed.get('_class_name')!r}, not {PIPELINE_CLASS}")
    for name in REQUIRED:
        problem = _component_problem(path, name)
        if problem:
            check.problems.append(problem)
    check.cover = all(_component_problem(path, name) is None for name in COVER)
    if not check.problems:
        check.variant = _variant(path)
    return check
