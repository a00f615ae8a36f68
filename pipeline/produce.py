"""Production steps shared by the RQ jobs and `novacast make`: each is cached in a work folder.

A work folder belongs to one script fingerprint, so the same inputs give the same artifacts and
a step whose artifact exists does nothing (this is what makes the jobs idempotent). The
fingerprint must include the voice that speaks (its `name`) wherever the voice can vary, or a
folder would hold one voice's narration for another's render.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from pipeline.captions import caption_cues, write_srt, write_vtt
from pipeline.checks import CheckReport, check_video
from pipeline.file_lock import file_lock
from pipeline.narration import Narration, Voice
from pipeline.render import Profile, render
from pipeline.script import Script

PRODUCTION_VERSION = "1"
"""Bump when a change to voice, captions or rendering should invalidate cached artifacts."""

ProgressFn = Callable[[float], None]


def fingerprint(script: Script, music: Path | None = None, *, voice: str | None = None) -> str:
    """A stable digest of everything that decides the rendered output: the script, the music
    bed, and `voice`, the name of the `Voice` that speaks it (engine, voice id, pace, pauses)."""
    digest = hashlib.sha256(PRODUCTION_VERSION.encode())
    digest.update(script.model_dump_json().encode())
    if music is not None:
        digest.update(str(music.resolve()).encode())
    if voice is not None:
        digest.update(b"\x00voice:" + voice.encode())
    return digest.hexdigest()[:16]


class Workdir:
    """Where one fingerprint's artifacts live: narration, captions, preview, video, checks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    narration_wav = property(lambda self: self.root / "narration.wav")
    narration_json = property(lambda self: self.root / "narration.json")
    narration_voice = property(lambda self: self.root / "narration.voice")
    """The name of the voice that spoke the narration (engine, voice, pace, pauses)."""
    srt = property(lambda self: self.root / "captions.srt")
    vtt = property(lambda self: self.root / "captions.vtt")
    checks_json = property(lambda self: self.root / "checks.json")

    def video(self, profile: Profile) -> Path:
        return self.root / ("preview.mp4" if profile is Profile.PREVIEW else "video.mp4")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def make_voice(script: Script, work: Workdir, voice: Voice) -> Narration:
    """Speak the script once; later calls read the cached narration.

    Versions that say the same words (a new title, new scene cards) reuse a sibling work
    folder's narration instead of speaking it again. Two processes speaking into one folder
    (a render's voice step while the narration is spoken ahead of it) do not both speak:
    the second waits for the first and reads what it made.
    """
    made = _made_narration(work)
    if made is not None:
        return made
    with file_lock(work.root / ".narration.lock"):
        made = _made_narration(work)
        if made is not None:
            return made
        spoken = _spoken_elsewhere(script, work, voice)
        if spoken is not None:
            shutil.copyfile(spoken.audio, work.narration_wav)
            narration = spoken.model_copy(update={"audio": work.narration_wav})
        else:
            narration = voice.speak(script.narration, work.narration_wav)
        _write_atomic(work.narration_json, narration.model_dump_json())
        _write_atomic(work.narration_voice, voice.name)
        _write_atomic(work.root / "narration.key", _voice_key(script, voice))
        return narration


def _made_narration(work: Workdir) -> Narration | None:
    if work.narration_json.exists() and work.narration_wav.exists():
        return Narration.model_validate_json(work.narration_json.read_text(encoding="utf-8"))
    return None


def _voice_key(script: Script, voice: Voice) -> str:
    """What decides the narration audio: the voice and the words, nothing visual."""
    words = json.dumps([voice.name, PRODUCTION_VERSION, script.narration])
    return hashlib.sha256(words.encode()).hexdigest()


def _spoken_elsewhere(script: Script, work: Workdir, voice: Voice) -> Narration | None:
    key = _voice_key(script, voice)
    for sibling in work.root.parent.glob("*/narration.key"):
        folder = sibling.parent
        if folder != work.root and sibling.read_text(encoding="utf-8") == key:
            found = Narration.model_validate_json((folder / "narration.json").read_text("utf-8"))
            if found.audio.exists():
                return found
    return None


def make_captions(narration: Narration, work: Workdir) -> tuple[Path, Path]:
    """SRT and VTT caption files for the narration (cheap, always rewritten)."""
    cues = caption_cues(narration.cues)
    write_srt(cues, work.srt)
    write_vtt(cues, work.vtt)
    return work.srt, work.vtt


def make_video(
    script: Script,
    narration: Narration,
    work: Workdir,
    profile: Profile,
    *,
    music: Path | None = None,
    on_progress: ProgressFn | None = None,
    media: Mapping[str, Path] | None = None,
) -> Path:
    """Render one profile unless that video already exists.

    `media` maps each shot's `Candidate.key` to its local, vetted file (see `render`)."""
    out = work.video(profile)
    if out.exists():
        return out
    return render(
        script,
        narration,
        out,
        profile=profile,
        music=music,
        on_progress=on_progress,
        caption_style=script.captions,
        media=media,
    )


def run_checks(narration: Narration, video: Path, work: Workdir) -> CheckReport:
    """Check the full video against the narration; the report is kept beside the video."""
    report = check_video(video, expected_seconds=narration.duration)
    _write_atomic(work.checks_json, json.dumps(report.model_dump(mode="json"), indent=2))
    return report
