#!/usr/bin/env bash
# Installs the Debian packages Songforge needs, only when something is missing, so that
# `make run` / `make test` work on a fresh machine and cost nothing on a prepared one.
set -euo pipefail
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
# Rendering: FluidSynth and a General MIDI SoundFont. Decoding/encoding: FFmpeg.
have_cmd fluidsynth || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
have_cmd ffmpeg || need+=(ffmpeg)
have_cmd curl || need+=(curl)
# Singing (engines/singing): festival with its HTS female and diphone male voices.
have_cmd festival || need+=(festival)
[ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || need+=(festvox-us-slt-hts)
[ -d /usr/share/festival/voices/english/kal_diphone ] || need+=(festvox-kallpc16k)
[ -d /usr/share/festival/voices/english/ked_diphone ] || need+=(festvox-kdlpc16k)
# The studio's browser tests: Debian's Chromium, driven by Playwright (never its own browser download).
have_cmd chromium || need+=(chromium)
# `--bench` (make bench): what the benchmarks' outside ears and mixtures need beyond that: espeak-ng as
# one of the separation benchmark's voices, the MuseScore and TimGM6mb SoundFonts as its other instruments.
if [ "${1:-}" = "--bench" ]; then
  have_cmd espeak-ng || need+=(espeak-ng)
  [ -f /usr/share/sounds/sf3/MuseScore_General.sf3 ] || need+=(musescore-general-soundfont)
  [ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
