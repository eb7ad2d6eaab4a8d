"""What each singer knob costs or buys, on the vocals benchmark's songs (benchmarks/vocals.py).

Run:  nice -n 10 .venv/bin/python benchmarks/vocals_variants.py --set tuning \
          --variant noparts:female.chorus_parts=false --variant noharm:HIBARI_HARMONY_DB=-300 \
          [--only t01-pop-f,...] [--json out.json]

Each `--variant NAME:SETTING[,SETTING...]` becomes one more candidate beside `neural`, sung on the
same songs in the same run. A SETTING is either `female.KEY=VALUE` / `male.KEY=VALUE` (a voice knob
passed to the singer in the voice's extra, as benchmarks/vocals.py's CANDIDATES do: chorus_parts,
formant, tilt_db, breathiness, vibrato_cents, repitch...) or `NAME=VALUE` for a module constant of
the singer (`singer.NAME` or `harmony.NAME`, e.g. HIBARI_HARMONY_DB, DOUBLE_DB), set while that
candidate sings and restored after. All other options are benchmarks/vocals.py's. Only ever for the
tuning set: the held-out songs are for the closing figures of a change, never for choosing one.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vocals  # noqa: E402
from songforge.engines.singing import harmony, singer  # noqa: E402


def _value(text: str) -> object:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(text)
    except ValueError:
        return text


def parse_variant(spec: str) -> tuple[str, dict[str, dict[str, object]], dict[str, object]]:
    """`NAME:SETTING,...` -> (name, per-gender voice overrides on the neural bases, module constants)."""
    name, _, settings = spec.partition(":")
    voices: dict[str, dict[str, object]] = {g: dict(v) for g, v in vocals.CANDIDATES["neural"].items()}
    constants: dict[str, object] = {}
    for item in filter(None, settings.split(",")):
        key, _, raw = item.partition("=")
        gender, dot, knob = key.partition(".")
        if dot:
            voices[gender][knob] = _value(raw)
        else:
            constants[key] = _value(raw)
    return name, voices, constants


def main() -> int:
    variants: list[str] = []
    rest: list[str] = []
    args = iter(sys.argv[1:])
    for a in args:
        if a == "--variant":
            variants.append(next(args))
        else:
            rest.append(a)
    constants: dict[str, dict[str, object]] = {"neural": {}}
    for spec in variants:
        name, voices, consts = parse_variant(spec)
        vocals.CANDIDATES[name] = voices
        constants[name] = consts
    measure = vocals.measure

    def measured(case, cand, *a, **kw):  # type: ignore[no-untyped-def]
        saved = {}
        for key, value in constants.get(cand, {}).items():
            mod = singer if hasattr(singer, key) else harmony
            saved[key] = (mod, getattr(mod, key))
            setattr(mod, key, value)
        try:
            return measure(case, cand, *a, **kw)
        finally:
            for key, (mod, value) in saved.items():
                setattr(mod, key, value)

    vocals.measure = measured
    if "--candidates" not in rest:
        rest += ["--candidates", ",".join(constants)]
    sys.argv = [sys.argv[0], *rest]
    return vocals.main()


if __name__ == "__main__":
    sys.exit(main())
