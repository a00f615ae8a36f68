"""`novacast make`: the production steps in this process, with a progress bar on stderr.

The script is written by the writer the chat uses (`writer_from_env`: a language model when a
provider is configured, with the offline template writer standing in when none answers, else
the offline writer), and spoken by the voice the chat would choose for it. Which writer wrote
it is said on stderr, and the script is kept as script.json beside the media it made.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from novacast.wiring import require_ffmpeg
from pipeline import produce
from pipeline.brief import parse_brief
from pipeline.errors import PipelineError
from pipeline.llm.config import ModelsError
from pipeline.media.cache import MediaCache
from pipeline.media.director import Director, director_from_env
from pipeline.media.storyboard import credits, storyboard_lines
from pipeline.prompting import PromptError
from pipeline.render import Profile
from pipeline.script import Aspect, Script, Writer
from pipeline.settings import Settings, load_settings
from pipeline.text import one_line
from pipeline.voice.select import voice_for_script
from pipeline.writers.choose import writer_from_env
from policy import MaxChars, Rule, content_rule, load_policy

WORKSPACE = "cli:local"
"""How `novacast make` names its workspace to the director (no uploads, no history here)."""
NO_PICTURE_KEYS = (
    "pictures: no stock source is set up (PEXELS_API_KEY, PIXABAY_API_KEY), "
    "so the video uses the built-in backgrounds"
)


@dataclass(frozen=True)
class MakeRequest:
    idea: str
    seconds: int | None = None
    aspect: Aspect | None = None
    out: str | None = None
    music: str | None = None


def _script(request: MakeRequest, writer: Writer) -> Script:
    """The same checks a chat applies (policy limits and blocked topics), then `writer`."""
    policy = load_policy()
    idea = one_line(request.idea)
    if not idea:
        raise click.UsageError("IDEA is empty: say what the video is about.")
    refusal = Rule(MaxChars(policy.limits.max_idea_chars, "idea"), content_rule(policy))(idea)
    if refusal is not None:
        raise click.UsageError(refusal.reason)
    brief = parse_brief(idea)
    seconds = request.seconds or brief.seconds or policy.limits.default_seconds
    aspect = request.aspect or brief.aspect or Aspect.VERTICAL
    return writer.script(idea, seconds, aspect)


def written_by(script: Script) -> str:
    """The line that says who wrote `script`: "script by gpt-4o-mini via openai", "script by
    offline template writer", and when it stood in for a model, "… (fallback: no language model
    answered)" (`Script.writer` as the writers sign it)."""
    return f"script by {script.writer}"


def make_video_file(request: MakeRequest, settings: Settings, bar: Progress) -> Path:
    task = bar.add_task("writing", total=100)
    script = _script(request, writer_from_env())
    say = _printer(bar)
    say(written_by(script))
    bar.update(task, completed=4, description="pictures")
    director = director_from_env(None, settings, WORKSPACE)
    script = _storyboard(director, script, say)
    music = Path(request.music) if request.music else None
    voice = voice_for_script(script)
    work = produce.Workdir(
        settings.data_dir / "media" / "cli" / produce.fingerprint(script, music, voice=voice.name)
    )
    (work.root / "script.json").write_text(script.model_dump_json(indent=2), encoding="utf-8")
    bar.update(task, completed=8, description="fetching")
    media = _fetch(
        director, script, MediaCache(settings.media_cache_dir, settings.media_cache_bytes), say
    )
    bar.update(task, completed=15, description="speaking")
    narration = produce.make_voice(script, work, voice)
    bar.update(task, completed=25, description="captions")
    produce.make_captions(narration, work)
    bar.update(task, completed=30, description="rendering")

    def rendered(fraction: float) -> None:
        bar.update(task, completed=30 + 65 * fraction)

    video = produce.make_video(
        script, narration, work, Profile.FULL, music=music, on_progress=rendered, media=media
    )
    bar.update(task, completed=96, description="checking")
    report = produce.run_checks(narration, video, work)
    if not report.ok:
        raise PipelineError("the video failed its checks: " + "; ".join(report.problems))
    bar.update(task, completed=100, description="done")
    delivered = _deliver(video, request.out)
    _write_sidecar(delivered, script)
    return delivered


def _printer(bar: Progress) -> Callable[[str], None]:
    def say(line: str) -> None:
        bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

    return say


def _storyboard(director: Director, script: Script, say: Callable[[str], None]) -> Script:
    """The script with its shots chosen; the storyboard printed a line per shot."""
    if not director.sources:
        say(NO_PICTURE_KEYS)
    boarded = director.storyboard(script, WORKSPACE)
    for line in storyboard_lines(boarded.script):
        say(line)
    if director.sources:  # without one, NO_PICTURE_KEYS said it already, naming the variables
        for note in boarded.notes:
            say(note)
    return boarded.script


def _fetch(
    director: Director, script: Script, cache: MediaCache, say: Callable[[str], None]
) -> dict[str, Path]:
    """Every shot's file through the media cache; what could not be had is said."""
    fetched = director.fetch(script, cache)
    if cache.hits or cache.misses:
        say(f"pictures: {cache.misses} downloaded, {cache.hits} from the cache")
    for note in fetched.notes:
        say(note)
    return fetched.files


def _write_sidecar(video: Path, script: Script) -> Path:
    """`<video>.json` beside the video: the title, the words, the shots, and the credits
    their licences ask for (to paste into a post's description)."""
    shots = [
        {
            "scene": number,
            "source": shot.media.source,
            "id": shot.media.id,
            "credit": shot.media.credit,
            "licence": shot.media.licence,
            "page": shot.media.page_url,
        }
        for number, scene in enumerate(script.scenes, start=1)
        for shot in scene.shots
    ]
    record = {
        "title": script.title,
        "sentences": script.narration,
        "video": video.name,
        "credits": credits(script),
        "shots": shots,
    }
    sidecar = video.with_suffix(".json")
    sidecar.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    return sidecar


def _deliver(video: Path, out: str | None) -> Path:
    if out is None:
        return video.resolve()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, target)
    return target.resolve()


def make_video(request: MakeRequest, settings: Settings) -> Path:
    """Write, speak, caption, render and check one video; plain-words errors exit 1 (a broken
    models.yaml or prompt too, as the chat would refuse to start with one)."""
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            return make_video_file(request, settings, bar)
    except (PipelineError, ModelsError, PromptError) as error:
        raise click.ClickException(str(error)) from None


@click.command("make")
@click.argument("idea")
@click.option("--seconds", type=click.IntRange(10, 120), default=None, help="Target length.")
@click.option("--aspect", type=click.Choice([a.value for a in Aspect]), default=None)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), default=None, help="Where to write the MP4."
)
@click.option(
    "--music",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Background music, ducked under the voice.",
)
def command(
    idea: str, seconds: int | None, aspect: str | None, out: str | None, music: str | None
) -> None:
    """Make one video from IDEA, end to end, and print its path."""
    require_ffmpeg()
    request = MakeRequest(
        idea=idea, seconds=seconds, aspect=Aspect(aspect) if aspect else None, out=out, music=music
    )
    path = make_video(request, load_settings())
    click.echo(str(path))
