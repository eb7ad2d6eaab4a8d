"""A work's cover picture, drawn from what the work is: its style and mood pick the palette, its
seed the layout, its title is written on it and its own waveform runs across it.

Hosted services give every work a picture, and players, galleries and chat previews expect one.
Ours is drawn by our own code (Pillow, no model and no download), and deterministic: the same
seed and material always give the same PNG, byte for byte with one Pillow version, so a cover
regenerated after a restore is the same picture. Nothing here reads Python's `hash()`, which is
salted per process.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 640
_BARS = 96

# Moods nudge the palette: (lightness, saturation) of the two gradient ends.
_MOOD_TONE: dict[str, tuple[float, float]] = {
    "dark": (0.16, 0.45),
    "sad": (0.24, 0.30),
    "melancholic": (0.26, 0.32),
    "calm": (0.42, 0.35),
    "peaceful": (0.46, 0.35),
    "dreamy": (0.48, 0.45),
    "romantic": (0.44, 0.55),
    "happy": (0.52, 0.75),
    "uplifting": (0.50, 0.70),
    "energetic": (0.46, 0.85),
    "epic": (0.30, 0.65),
    "tense": (0.22, 0.60),
    "angry": (0.28, 0.80),
}


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def _rgb(h: float, lightness: float, saturation: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, min(max(lightness, 0.0), 1.0), min(max(saturation, 0.0), 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _tone(mood: str) -> tuple[float, float]:
    for word, tone in _MOOD_TONE.items():
        if word in mood:
            return tone
    return 0.36, 0.55


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow built without FreeType: the bitmap font, unscaled
        return ImageFont.load_default()


def _bars(amplitudes: np.ndarray, count: int) -> np.ndarray:
    if amplitudes.size == 0:
        return np.zeros(count, dtype=np.float32)
    edges = np.linspace(0, amplitudes.size, count + 1).astype(int)
    out = np.array(
        [amplitudes[a : max(b, a + 1)].max() for a, b in zip(edges[:-1], edges[1:], strict=True)],
        dtype=np.float32,
    )
    peak = float(out.max())
    return out / peak if peak > 0 else out


def draw_cover(
    seed: int, material: Mapping[str, Any], title: str, amplitudes: np.ndarray, size: int = SIZE
) -> bytes:
    """The PNG. `amplitudes` is the waveform outline in 0..1 (see `songforge.audio.peaks`)."""
    style = str(material.get("style") or "").strip()
    mood = str(material.get("mood") or "").strip().lower()
    # The palette belongs to the style and mood (works of one style look related); the layout
    # and the exact hues to the seed and title (no two works look the same).
    hue = _digest("hue", style.lower(), mood)[0] / 255.0
    rng = np.random.default_rng(int.from_bytes(_digest("layout", int(seed), title, style, mood)[:8], "big"))
    lightness, saturation = _tone(mood)
    shift = float(rng.uniform(0.06, 0.22)) * (1 if rng.random() < 0.5 else -1)
    top = np.array(_rgb(hue, lightness + 0.12, saturation), dtype=np.float32)
    bottom = np.array(_rgb(hue + shift, lightness - 0.08, saturation * 0.9), dtype=np.float32)

    # Background: a diagonal gradient at a seeded angle.
    angle = float(rng.uniform(0, np.pi))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    t = np.clip((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) + 0.5, 0.0, 1.0)[..., None]
    image = Image.fromarray((top * (1 - t) + bottom * t).astype(np.uint8), "RGB").convert("RGBA")

    # Soft shapes: a few large translucent circles in the accent colour, blurred.
    shapes = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    accent = _rgb(hue + 0.5 + shift, 0.62, min(1.0, saturation + 0.2))
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(-0.1, 1.1, 2) * size
        r = float(rng.uniform(0.12, 0.45)) * size
        alpha = int(rng.integers(28, 80))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*accent, alpha))
    image = Image.alpha_composite(image, shapes.filter(ImageFilter.GaussianBlur(size / 40)))

    # The work's own waveform, mirrored about a line in the lower part of the picture.
    wave = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(wave)
    bars = _bars(np.asarray(amplitudes, dtype=np.float32), _BARS)
    margin = size * 0.08
    centre = size * float(rng.uniform(0.62, 0.72))
    step = (size - 2 * margin) / _BARS
    height = size * 0.16
    for i, amp in enumerate(bars):
        x0 = margin + i * step
        h = max(1.5, float(amp) * height)
        draw.rounded_rectangle(
            (x0 + step * 0.18, centre - h, x0 + step * 0.82, centre + h),
            radius=step * 0.3,
            fill=(255, 255, 255, 190),
        )
    image = Image.alpha_composite(image, wave)

    # Title and what the work is, top left.
    text = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(text)
    big, small = _font(int(size * 0.075)), _font(int(size * 0.036))
    y = margin
    for line in textwrap.wrap(title.strip() or "Untitled", width=18)[:3]:
        draw.text((margin, y), line, font=big, fill=(255, 255, 255, 240))
        y += size * 0.09
    caption = " · ".join(p for p in (style, mood) if p)
    if caption:
        draw.text((margin, y + size * 0.01), caption[:48], font=small, fill=(255, 255, 255, 200))
    image = Image.alpha_composite(image, text)

    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
