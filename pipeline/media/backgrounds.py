"""The built-in backgrounds: two-colour gradients that suit the scene, always available.

A background `Candidate` has kind BACKGROUND, source "background" and an id that is its two
colours, `"1d2b64-2c5364"` (lowercase hex, no '#'); `colours(candidate)` reads them back as
`("#1d2b64", "#2c5364")`. The renderer draws it with ffmpeg's `gradients` source, so nothing is
downloaded; `download` still writes a small still of it for anything that wants a file (the
contact sheet). Palettes are dark pairs (white captions on them keep a 4.5:1 contrast) chosen
by the words of the line: the sea looks blue, a forest green, space deep violet; a line with no
such words keeps the colours its writer gave the scene (the tone's palette). Never fails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pipeline.media.model import Candidate, MediaKind, MediaQuery

NAME = "background"
DEFAULT_TEXT = "a coloured background"
_ID = re.compile(r"^([0-9a-f]{6})-([0-9a-f]{6})$")
_WORD = re.compile(r"[a-z]+")

THEMES: tuple[tuple[str, tuple[str, str], tuple[str, ...]], ...] = (
    # (what it shows, its two colours, the words that call for it, plurals included)
    ("deep sea blue", ("#0b3d5c", "#136a8a"),
     ("ocean", "sea", "water", "beach", "wave", "fish", "octopus", "underwater", "river",
      "lake", "rain", "coral", "whale", "shark", "swim", "boat", "ship", "island")),
    ("night sky violet", ("#0f0c29", "#302b63"),
     ("space", "star", "planet", "galaxy", "moon", "night", "universe", "astronaut", "rocket",
      "orbit", "cosmic", "dream", "sleep")),
    ("open sky blue", ("#1e3c72", "#2a5298"),
     ("sky", "cloud", "bird", "fly", "flight", "wind", "air", "plane", "weather")),
    ("forest green", ("#134e33", "#2f5f3a"),
     ("forest", "tree", "plant", "leaf", "leaves", "garden", "nature", "grass", "jungle",
      "flower", "seed", "farm", "green", "park", "mountain", "hike")),
    ("ember orange", ("#7a1f0b", "#b23a0e"),
     ("fire", "sun", "sunny", "heat", "hot", "desert", "volcano", "summer", "flame", "burn",
      "energy", "lava")),
    ("heart red", ("#5c0a1e", "#9b1b30"),
     ("heart", "blood", "love", "body", "health", "medical", "medicine", "doctor", "hospital",
      "pulse")),
    ("ice teal", ("#1f4e5f", "#3a6073"),
     ("ice", "snow", "winter", "cold", "arctic", "frozen", "glacier", "polar", "penguin")),
    ("circuit navy", ("#141e30", "#243b55"),
     ("tech", "computer", "code", "robot", "data", "phone", "science", "lab", "software",
      "internet", "digital", "machine", "chip", "brain")),
    ("city graphite", ("#232526", "#414345"),
     ("city", "street", "car", "traffic", "building", "urban", "money", "business", "office",
      "work", "market", "bank", "train")),
    ("coffee brown", ("#4e2a1e", "#7b4b2a"),
     ("food", "kitchen", "coffee", "cook", "bread", "chocolate", "tea", "meal", "eat",
      "wood", "autumn")),
    ("old parchment", ("#3e2f1c", "#5a4632"),
     ("history", "ancient", "war", "old", "king", "queen", "empire", "museum", "book")),
)


class Backgrounds:
    """The built-in backgrounds as a `MediaSource` named "background"."""

    name = NAME

    def search(self, query: MediaQuery) -> list[Candidate]:
        """Palettes whose words match the query first, then the others; never empty."""
        return self.palettes(query.text)[: query.limit]

    def palettes(self, text: str) -> list[Candidate]:
        """Every palette, those the words of `text` call for first."""
        words = _words(text)
        scored = sorted(
            range(len(THEMES)),
            key=lambda index: (-_matches(words, THEMES[index][2]), _spread(text, index)),
        )
        return [_themed(index) for index in scored]

    def download(self, candidate: Candidate, into: Path) -> Path:
        """A small still of the gradient (PNG), for a contact sheet or a preview."""
        return still(colours(candidate), into)

    def pick(self, text: str, fallback: tuple[str, str]) -> Candidate:
        """The palette the words call for, else the scene's own colours."""
        words = _words(text)
        best = max(range(len(THEMES)), key=lambda index: _matches(words, THEMES[index][2]))
        if _matches(words, THEMES[best][2]) > 0:
            return _themed(best)
        return background(fallback)


def background(colors: tuple[str, str], text: str = "") -> Candidate:
    """A background candidate for two hex colours ("#1d2b64" or "1d2b64")."""
    first, second = (_hex(color) for color in colors)
    return Candidate(source=NAME, id=f"{first}-{second}", kind=MediaKind.BACKGROUND,
                     width=0, height=0, text=text or DEFAULT_TEXT)


def colours(candidate: Candidate) -> tuple[str, str]:
    """The two colours a background candidate stands for, as "#rrggbb"."""
    match = _ID.match(candidate.id.lower())
    if candidate.kind != MediaKind.BACKGROUND or match is None:
        raise ValueError(f"{candidate.key} is not a built-in background")
    return f"#{match.group(1)}", f"#{match.group(2)}"


def is_background(candidate: Candidate) -> bool:
    return candidate.kind == MediaKind.BACKGROUND


def still(colors: tuple[str, str], into: Path, width: int = 180, height: int = 320) -> Path:
    """Write a diagonal two-colour gradient of `width`×`height` to `into` as PNG."""
    import av  # noqa: PLC0415 (PyAV, ~16 MB: imported when a file is read, not at start)
    start, end = (np.array(_rgb(color), dtype=np.float32) for color in colors)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mix = ((xs / max(width - 1, 1)) + (ys / max(height - 1, 1))) / 2
    pixels = start + (end - start) * mix[..., None]
    frame = av.VideoFrame.from_ndarray(pixels.round().astype(np.uint8), format="rgb24")
    into.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(into), mode="w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return into


def _themed(index: int) -> Candidate:
    label, pair, _ = THEMES[index]
    return background(pair, label)


def _matches(words: Iterable[str], cues: tuple[str, ...]) -> int:
    """How many of `words` are one of `cues` or its plural."""
    return sum(1 for word in words
               if word in cues or (word.endswith("s") and word.removesuffix("s") in cues)
               or (word.endswith("es") and word.removesuffix("es") in cues))


def _spread(text: str, index: int) -> int:
    """A stable order among palettes that match equally, different for different words."""
    return int(hashlib.sha256(f"{text}|{index}".encode()).hexdigest()[:8], 16)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _hex(color: str) -> str:
    value = color.strip().lstrip("#").lower()
    if not re.fullmatch(r"[0-9a-f]{6}", value):
        raise ValueError(f"not a hex colour: {color!r}")
    return value


def _rgb(color: str) -> tuple[int, int, int]:
    value = _hex(color)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
