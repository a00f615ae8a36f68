"""Render benchmark: our `render()` against a hand-written ffmpeg command, and FULL against PREVIEW.

Run `python bench/render_bench.py [--repeats N]`. It synthesizes a ~30 s narration once, then
runs each variant in a fresh child process (alternating, N times each) so that wall time and
peak memory are measured per run: the child times only the render itself and reports its own
peak RSS and the peak RSS of its children (ffmpeg) from `getrusage`. The hand-written command
below is the same composition typed out literally: the same gradients, title cards, burned
ASS captions, narration and looped, ducked music, in one ffmpeg run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.captions import caption_cues, write_ass  # noqa: E402
from pipeline.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from pipeline.narration import Narration  # noqa: E402
from pipeline.render import RENDER_NEEDS, Profile, render, scene_spans  # noqa: E402
from pipeline.script import Scene, Script  # noqa: E402

VARIANTS = ("ours", "hand", "preview")
PREPARE = "prepare"
FPS = 30

SCRIPT = Script(
    idea="why octopuses have three hearts", title="Three hearts",
    hook="Why does an octopus need three hearts?",
    sentences=[
        "Octopuses are strange animals, and their blood is stranger still.",
        "It is blue, because it carries oxygen with copper instead of iron.",
        "Copper based blood is thick and not very good at carrying oxygen.",
        "So two small hearts push that blood through the gills.",
        "A third heart sends it around the rest of the body.",
        "When an octopus swims, that main heart simply stops beating.",
        "That is why octopuses would rather crawl than swim.",
        "Next time you see one walking along the sea floor, you will know why.",
    ],
    scenes=[
        Scene(title="Blue blood", sentences=[0, 1, 2]),
        Scene(title="Two hearts for the gills", sentences=[3, 4], colors=("#0f2027", "#2c5364")),
        Scene(title="Why they crawl", sentences=[5, 6, 7], colors=("#42275a", "#734b6d")),
    ],
    target_seconds=30, writer="bench",
)

# The hand-written command. Placeholders are only the inputs' paths and the numbers that come
# from the narration's timing (scene lengths in frames, title times, duration).
HAND_WRITTEN = [
    "-i", "{voice}", "-stream_loop", "-1", "-i", "{music}",
    "-filter_complex",
    "gradients=s=134x240:r=30:c0=0x1d2b64:c1=0xf8cdda:n=2:x0=0:y0=0:x1=134:y1=240:speed=0.008"
    ":seed=1,trim=end_frame={frames0},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[g0];"
    "gradients=s=134x240:r=30:c0=0x0f2027:c1=0x2c5364:n=2:x0=0:y0=0:x1=134:y1=240:speed=0.008"
    ":seed=1,trim=end_frame={frames1},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[g1];"
    "gradients=s=134x240:r=30:c0=0x42275a:c1=0x734b6d:n=2:x0=0:y0=0:x1=134:y1=240:speed=0.008"
    ":seed=1,trim=end_frame={frames2},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[g2];"
    "[g0][g1][g2]concat=n=3:v=1:a=0,scale=1080:1920:flags=bilinear,"
    "drawtext=fontfile={fonts}/Lato-Black.ttf:text='Blue blood':expansion=none:fontsize=96"
    ":fontcolor=white:borderw=6:bordercolor=black@0.75:shadowx=3:shadowy=3"
    ":shadowcolor=black@0.4:x=(w-text_w)/2:y=250"
    ":alpha='min(1,max(0,(t-{start0})/0.6))':enable='between(t,{start0},{end0})',"
    "drawtext=fontfile={fonts}/Lato-Black.ttf:text='Two hearts for':expansion=none:fontsize=96"
    ":fontcolor=white:borderw=6:bordercolor=black@0.75:shadowx=3:shadowy=3"
    ":shadowcolor=black@0.4:x=(w-text_w)/2:y=250"
    ":alpha='min(1,max(0,(t-{start1})/0.6))':enable='between(t,{start1},{end1})',"
    "drawtext=fontfile={fonts}/Lato-Black.ttf:text='the gills':expansion=none:fontsize=96"
    ":fontcolor=white:borderw=6:bordercolor=black@0.75:shadowx=3:shadowy=3"
    ":shadowcolor=black@0.4:x=(w-text_w)/2:y=362"
    ":alpha='min(1,max(0,(t-{start1})/0.6))':enable='between(t,{start1},{end1})',"
    "drawtext=fontfile={fonts}/Lato-Black.ttf:text='Why they crawl':expansion=none:fontsize=96"
    ":fontcolor=white:borderw=6:bordercolor=black@0.75:shadowx=3:shadowy=3"
    ":shadowcolor=black@0.4:x=(w-text_w)/2:y=250"
    ":alpha='min(1,max(0,(t-{start2})/0.6))':enable='between(t,{start2},{end2})',"
    "ass={ass}:fontsdir={fonts},format=yuv420p[v];"
    "[0:a]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,asplit=2[voice][key];"
    "[1:a]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,volume=-10dB[bed];"
    "[bed][key]sidechaincompress=threshold=0.015:ratio=8:attack=15:release=350[ducked];"
    "[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]",
    "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "21",
    "-pix_fmt", "yuv420p", "-r", "30", "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2",
    "-movflags", "+faststart", "-t", "{duration}", "-y", "{out}",
]


def prepare(workdir: Path) -> None:
    """Synthesize the narration and music once, and write the hand-written run's inputs."""
    from pipeline.voice import PiperTTS

    workdir.mkdir(parents=True, exist_ok=True)
    narration = PiperTTS().speak(SCRIPT.narration, workdir / "narration.wav")
    (workdir / "narration.json").write_text(narration.model_dump_json())
    chord = ("aevalsrc=0.2*sin(2*PI*220*t)+0.15*sin(2*PI*277.2*t)+0.15*sin(2*PI*329.6*t)"
             ":s=44100:d=8")
    run_ffmpeg(["-f", "lavfi", "-i", chord, "-ac", "2", "-y", str(workdir / "music.wav")],
               duration=8)
    write_ass(caption_cues(narration.cues, 24), workdir / "hand.ass", 1080, 1920)


def hand_command(workdir: Path, narration: Narration) -> list[str]:
    import font_lato

    spans = scene_spans(SCRIPT, narration, FPS)
    values: dict[str, object] = {
        "voice": narration.audio, "music": workdir / "music.wav", "ass": "hand.ass",
        "fonts": font_lato.font_directory, "duration": f"{narration.duration:.3f}",
        "out": workdir / "hand.mp4",
    }
    for index, span in enumerate(spans):
        start, end = span.seconds(FPS)
        values |= {f"frames{index}": span.frames, f"start{index}": f"{start:.3f}",
                   f"end{index}": f"{end - 0.001:.3f}"}
    return [ffmpeg_exe(RENDER_NEEDS), "-hide_banner", "-loglevel", "error", "-nostats",
            *(part.format(**values) for part in HAND_WRITTEN)]


def child(variant: str, workdir: Path) -> None:
    """Run one variant, then print its wall time and peak memory as JSON."""
    narration = Narration.model_validate_json((workdir / "narration.json").read_text())
    began = time.perf_counter()
    if variant == "hand":
        subprocess.run(hand_command(workdir, narration), check=True, cwd=workdir)
    else:
        profile = Profile.FULL if variant == "ours" else Profile.PREVIEW
        render(SCRIPT, narration, workdir / f"{variant}.mp4", profile=profile,
               music=workdir / "music.wav")
    seconds = time.perf_counter() - began
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "python_kb": own, "ffmpeg_kb": children}))


def measure(variant: str, workdir: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--workdir", str(workdir)],
        check=True, capture_output=True, text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def report(runs: dict[str, list[dict[str, float]]], duration: float) -> None:
    print(f"\nnarration: {duration:.1f} s; runs per variant: {len(runs['ours'])}\n")
    print(f"{'variant':<10}{'median s':>10}{'min s':>8}{'x realtime':>12}"
          f"{'ffmpeg MB':>11}{'python MB':>11}{'tree MB':>9}")
    for variant in VARIANTS:
        times = [run["seconds"] for run in runs[variant]]
        ffmpeg_mb = max(run["ffmpeg_kb"] for run in runs[variant]) / 1024
        python_mb = max(run["python_kb"] for run in runs[variant]) / 1024
        print(f"{variant:<10}{statistics.median(times):>10.2f}{min(times):>8.2f}"
              f"{duration / statistics.median(times):>12.2f}{ffmpeg_mb:>11.0f}{python_mb:>11.0f}"
              f"{ffmpeg_mb + python_mb:>9.0f}")
    median = {v: statistics.median(run["seconds"] for run in runs[v]) for v in VARIANTS}
    print(f"\nours / hand-written: {median['ours'] / median['hand']:.2f}  (target <= 1.2)")
    print(f"full / preview:      {median['ours'] / median['preview']:.2f}  (target >= 4)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--child", choices=[*VARIANTS, PREPARE])
    args = parser.parse_args()
    if args.child == PREPARE:
        prepare(args.workdir)
        return
    if args.child:
        child(args.child, args.workdir)
        return
    # In a child too, so this process stays small: a forked child starts with its parent's
    # peak RSS on Linux, which would inflate every later measurement.
    subprocess.run([sys.executable, __file__, "--child", PREPARE, "--workdir", str(args.workdir)],
                   check=True)
    narration = Narration.model_validate_json((args.workdir / "narration.json").read_text())
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            runs[variant].append(measure(variant, args.workdir))
            print(f"{variant}: {runs[variant][-1]['seconds']:.2f} s", flush=True)
    report(runs, narration.duration)


if __name__ == "__main__":
    main()
