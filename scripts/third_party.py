"""Writes THIRD_PARTY.md: every runtime dependency with its version and licence, and the system assets.

Why generated: a hand-kept list goes stale with the next pin bump, and the licence of a transitive
dependency is exactly what nobody rechecks by hand. The Python part is read from the installed
metadata (importlib.metadata) of the transitive closure of pyproject's [project.dependencies] (and,
in its own section, of the `neural` extra), so run it inside the project's virtualenv after `make venv`:

    .venv/bin/python scripts/third_party.py          # rewrite THIRD_PARTY.md
    .venv/bin/python scripts/third_party.py --check  # exit 1 when the file is not what it would write

The system assets (SoundFont, festival and its voices, FluidSynth, FFmpeg, curl, Chromium) are not Python
distributions: their rows are a static table below, checked against the Debian packages'
/usr/share/doc/<package>/copyright.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "THIRD_PARTY.md"
OPTIONAL_EXTRAS = ("neural", "voices")  # runtime extras an operator may install; dev/bench are not shipped

# (asset, Debian package, how Songforge uses it, licence as the package's copyright file states it)
SYSTEM_ASSETS: list[tuple[str, str, str, str]] = [
    (
        "FluidR3 GM SoundFont",
        "fluid-soundfont-gm",
        "renders every instrument (`FluidR3_GM.sf2`)",
        "MIT (Frank Wen)",
    ),
    (
        "FluidSynth",
        "fluidsynth, libfluidsynth3",
        "renders MIDI with the SoundFont (a subprocess)",
        "LGPL-2.1-or-later",
    ),
    (
        "Festival",
        "festival",
        "speaks the lyrics the singer re-pitches (a subprocess)",
        "Festival licence (CSTR, University of Edinburgh: free use, modification and redistribution, "
        "X11-style)",
    ),
    (
        "CMU ARCTIC SLT HTS voice",
        "festvox-us-slt-hts",
        "the female singing voice",
        "EST-2003 (Carnegie Mellon University; X11-style), some files BSD-3-Clause and EST-2000",
    ),
    (
        "kal diphone voice",
        "festvox-kallpc16k",
        "the male singing voice",
        "Festival voice licence (Alan W Black and Kevin Lenzo, 1998; X11-style)",
    ),
    (
        "ked diphone voice",
        "festvox-kdlpc16k",
        "a second male voice",
        "Festival voice licence (CSTR, University of Edinburgh, 1997; X11-style)",
    ),
    (
        "Festival lexicons (CMU, POS)",
        "festlex-cmu, festlex-poslex",
        "pronunciations for the voices above",
        "Festival licence (CSTR; festlex-cmu derived from CMUdict, BSD-style)",
    ),
    (
        "FFmpeg",
        "ffmpeg (libavcodec, libavformat, ...)",
        "decoding and encoding uploads and results",
        "LGPL-2.1-or-later; Debian's build enables GPL parts (GPL-2.0-or-later, some GPL-3.0-or-later)",
    ),
    (
        "eSpeak NG",
        "espeak-ng",
        "benchmarks only (`make bench`): one of the separation mixtures' voices (a subprocess)",
        "GPL-3.0-or-later (some files under other free licences, per the package's copyright file)",
    ),
    (
        "MuseScore General SoundFont",
        "musescore-general-soundfont",
        "benchmarks only (`make bench`): the separation mixtures' instruments",
        "MIT (S. Christian Collins; parts public domain or CC0)",
    ),
    (
        "TimGM6mb SoundFont",
        "timgm6mb-soundfont",
        "benchmarks only (`make bench`): the separation benchmark's held-out instruments",
        "GPL-2 (Tim Brechbill)",
    ),
    (
        "Chromium",
        "chromium",
        "tests only: the studio's browser tests, through Playwright",
        "BSD-3-Clause (with bundled third-party code under its own licences)",
    ),
    (
        "curl",
        "curl",
        "tests only: the spec's curl examples, run as written",
        "curl licence (MIT/X11-style)",
    ),
    (
        "fflate",
        "vendored: http/studio_static/vendor/fflate.min.js",
        "the studio unpacks stems archives in the browser",
        "MIT (see fflate.LICENSE.txt beside it)",
    ),
    (
        "wavesurfer.js",
        "vendored: http/studio_static/vendor/wavesurfer.esm.js",
        "the studio's waveform player",
        "BSD-3-Clause (see wavesurfer.LICENSE.txt beside it)",
    ),
]

_CLASSIFIER_PREFIXES = ("License :: OSI Approved :: ", "License :: ")


def canonical(name: str) -> str:
    """PEP 503 normalised name: how `Pretty_MIDI` in one place and `pretty-midi` in another compare."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Package:
    name: str
    version: str
    licence: str
    wanted_by: set[str] = field(default_factory=set)  # canonical names of the packages that require it


# Licences known to be compatible with GPL-3.0-or-later, as packages spell them (SPDX ids, trove
# classifier names, licence-file titles). Anything else is listed under "To review" in the output
# rather than silently called compatible: GPL-2.0-only, for one, is not.
_COMPATIBLE = re.compile(
    r"""\b(?:
        MIT(?:-0|-CMU)?(?:\ License)? | 0BSD | BSD(?:-[23]-Clause)?(?:\ (?:3-Clause\ )?License)?
        | 3-Clause\ BSD\ License | ISC(?:\ License)?(?:\ \(ISCL\))?
        | Apache(?:-2\.0|\ Software\ License|\ License(?:\ 2\.0)?|\ 2\.0\ License)
        | LLVM-exception | PSF-2\.0 | MPL-2\.0 | Zlib | CC0-1\.0 | BSL-1\.0 | Unlicense
        | LGPL-(?:2\.1|3\.0)-(?:only|or-later) | GPL-(?:2\.0-or-later|3\.0-only|3\.0-or-later)
        | GNU\ (?:Lesser\ )?General\ Public\ License\ v3(?:\ or\ later)?\ \(L?GPLv3\+?\)
    )""",
    re.VERBOSE,
)
_CONNECTIVES = re.compile(r"\b(?:AND|OR|WITH)\b|\(licence file\)|[()/;,\s]")


def compatible(licence: str) -> bool:
    """True when every licence the string names is on the compatible list (and it names one)."""
    rest = _CONNECTIVES.sub("", _COMPATIBLE.sub("", licence))
    return bool(_COMPATIBLE.search(licence)) and not rest


def _classifier_names(meta: metadata.PackageMetadata) -> str:
    names = []
    for c in meta.get_all("Classifier") or []:
        for prefix in _CLASSIFIER_PREFIXES:
            if c.startswith(prefix):
                names.append(c[len(prefix) :])
                break
    return "; ".join(names)


def _licence_file_title(dist: metadata.Distribution) -> str:
    for file in dist.files or []:
        if re.search(r"(LICEN[CS]E|COPYING)", file.name, re.IGNORECASE):
            lines = [ln.strip() for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if lines:
                return f"{lines[0][:80]} (licence file)"
    return ""


def licence_of(dist: metadata.Distribution) -> str:
    """What the package states, most precise first: its SPDX License-Expression, its License field
    when that is a name (some hold the whole text, some "Dual License"), its trove classifiers, the
    title of its licence file. The first one that names a known licence wins; else the first stated."""
    meta = dist.metadata
    text = (meta.get("License") or "").strip()
    field = text if text and "\n" not in text and len(text) <= 80 and text.upper() != "UNKNOWN" else ""
    candidates = [
        (meta.get("License-Expression") or "").strip(),
        field,
        _classifier_names(meta),
        _licence_file_title(dist),
        f"{text.splitlines()[0][:80]} (License field)" if text else "",
    ]
    stated = [c for c in candidates if c]
    return next((c for c in stated if compatible(c)), stated[0] if stated else "not stated in its metadata")


def _wanted(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in extras | {""})


def closure(
    requirements: list[str], skip: frozenset[str] = frozenset(), required: bool = True
) -> dict[str, Package]:
    """Installed distributions reachable from `requirements`, extras and environment markers honoured.
    A missing one stops the script when `required` (the file would lie), else is listed as missing."""
    found: dict[str, Package] = {}
    todo: list[tuple[Requirement, str]] = [(Requirement(r), "") for r in requirements]
    seen_extras: dict[str, set[str]] = {}
    while todo:
        req, parent = todo.pop()
        key = canonical(req.name)
        if parent and not _wanted(req, seen_extras.get(parent, set())):
            continue
        if key in skip:
            continue
        if key in found:
            found[key].wanted_by.add(parent)
            if set(req.extras) <= seen_extras[key]:
                continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            if not required:
                missing = found.setdefault(key, Package(req.name, "not installed here", "-"))
                missing.wanted_by.add(parent)
                continue
            wanted_by = parent or "pyproject.toml"
            sys.exit(f"{req.name} (needed by {wanted_by}) is not installed: run `make venv` first")
        if key not in found:
            found[key] = Package(dist.metadata["Name"], dist.version, licence_of(dist), {parent})
        seen_extras[key] = seen_extras.get(key, set()) | set(req.extras)
        for line in dist.requires or []:
            todo.append((Requirement(line), key))
    return found


def _rows(packages: dict[str, Package], names: dict[str, str]) -> list[str]:
    rows = ["| Package | Version | Licence | Why |", "| --- | --- | --- | --- |"]
    for key in sorted(packages):
        p = packages[key]
        parents = sorted(names.get(k, k) for k in p.wanted_by if k)
        why = "direct" if "" in p.wanted_by else "via " + ", ".join(parents)
        if "" in p.wanted_by and parents:
            why += " (also via " + ", ".join(parents) + ")"
        rows.append(f"| {p.name} | {p.version} | {p.licence.replace('|', '/')} | {why} |")
    return rows


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = closure(project["dependencies"])
    extras = project["optional-dependencies"]
    listed = frozenset(runtime)
    optional = {extra: closure(extras[extra], listed, required=False) for extra in OPTIONAL_EXTRAS}
    names = {k: p.name for k, p in runtime.items()}
    for packages in optional.values():
        names.update({k: p.name for k, p in packages.items()})
    everything = [*runtime.values(), *(p for packages in optional.values() for p in packages.values())]
    review = [p for p in everything if p.version != "not installed here" and not compatible(p.licence)]
    verdict = (
        "every dependency below is under a licence known to be GPL-3.0-compatible."
        if not review
        else 'the licences under "To review" at the end are not on the known-compatible list yet.'
    )
    lines = [
        "# Third-party software",
        "",
        "<!-- Generated by scripts/third_party.py from the installed packages' metadata: do not edit;",
        "     rerun `.venv/bin/python scripts/third_party.py` after changing a dependency. -->",
        "",
        f"Songforge is licensed under {project['license']} (see LICENSE). It links GPL-3.0 code",
        "(pedalboard), so the licence of the whole is the GPL:",
        f"{verdict} Versions are those installed where this file was generated.",
        "",
        f"## Python runtime dependencies ({len(runtime)})",
        "",
        "The transitive closure of `[project.dependencies]` in pyproject.toml.",
        "",
        *_rows(runtime, names),
    ]
    for extra, packages in optional.items():
        lines += [
            "",
            f"## The optional `{extra}` extra ({len(packages)} more)",
            "",
            f"Installed only with `pip install 'songforge[{extra}]'`; packages listed above are left out.",
            "",
            *_rows(packages, names),
        ]
    lines += [
        "",
        "## System packages and assets",
        "",
        "Installed by scripts/setup-system.sh from Debian (or vendored in the package); used at run time",
        "as separate programs or data files, not linked into Songforge.",
        "",
        "| Asset | Debian package | Used for | Licence |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {pkg} | {use} | {lic} |" for a, pkg, use, lic in SYSTEM_ASSETS),
        "",
    ]
    if review:
        lines += ["## To review", "", "Not on this script's list of GPL-3.0-compatible licences:", ""]
        lines += [f"- {p.name} {p.version}: {p.licence}" for p in review] + [""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if THIRD_PARTY.md is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text:
            return 0
        print(f"{OUTPUT.name} is out of date: run .venv/bin/python scripts/third_party.py", file=sys.stderr)
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
