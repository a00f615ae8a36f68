"""Shots benchmark: a 30 s 1080x1920 video with 9 stock-like shots, our `render()` against a
hand-written ffmpeg command and a MoviePy composition of the same shots, and the preview alone.

Run `python bench/shots_bench.py [--repeats N] [--no-moviepy]`. It makes the media once (in
var/bench/shots: 1080x1920 and 1920x1080 H.264 clips of 6-10 s with grain, so they decode like
stock footage, and two large stills) and a ~30 s Piper narration, then runs each variant in a
fresh child process, alternating, N times each. The parent samples the child's whole process
tree (the Python process and every ffmpeg it starts) from /proc every 20 ms for peak memory;
the child times only the composition itself and reports the CPU seconds it and its ffmpeg
used (steadier than wall time on a shared machine).

- ours: `render(..., media=...)` at the full profile (1080x1920, 30 fps, x264 veryfast).
- hand: the same composition typed out as one ffmpeg command: the same crops and scales, still
  pans, 0.35 s cross-fades, caption shade, hook title, burned captions and encoder settings.
- preview: `render(..., profile=PREVIEW)` alone from the original files.
- proxied: the same preview from the clips' preview proxies, as the product does it (the
  prefetch job makes them while the draft is read; made before timing starts, once).
- moviepy: bench/moviepy_shots.py, composed as MoneyPrinterTurbo does, same x264 preset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline.captions import caption_cues, write_ass  # noqa: E402
from pipeline.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from pipeline.footage import beats  # noqa: E402
from pipeline.media.model import Candidate, Crop, MediaKind, Shot  # noqa: E402
from pipeline.narration import Narration  # noqa: E402
from pipeline.proxies import make_proxies, with_proxies  # noqa: E402
from pipeline.render import RENDER_NEEDS, Profile, render, scene_spans  # noqa: E402
from pipeline.script import Scene, Script  # noqa: E402

VARIANTS = ("ours", "hand", "preview", "proxied", "moviepy")
PREPARE = "prepare"
FPS = 30
GRAIN = "noise=alls=5:allf=t"
"""Temporal grain, with an 8 Mb/s rate: clips that decode like real stock footage."""

# name: (kind, width, height, seconds, lavfi source); stills are one frame.
MEDIA = {
    "reef": ("video", 1080, 1920, 8, "testsrc2=s=1080x1920:r=30,hue=h=40*t"),
    "deep": ("video", 1920, 1080, 8, "mandelbrot=s=1920x1080:r=30:start_scale=2:end_scale=0.2"),
    "shell": ("photo", 3000, 2000, 0, "testsrc2=s=3000x2000,hue=h=200"),
    "kelp": ("video", 1080, 1920, 7, "life=s=540x960:r=30:mold=10:ratio=0.2:death_color=#0b3d2e"
             ":life_color=#8fd694,scale=1080:1920:flags=neighbor"),
    "gills": ("video", 1920, 1080, 9, "gradients=s=1920x1080:r=30:n=5:speed=0.03"),
    "heart": ("video", 1080, 1920, 6, "cellauto=s=1080x1920:r=30:rule=110:full=0"
              ",colorchannelmixer=rr=0.9:gg=0.3:bb=0.4"),
    "diver": ("photo", 1080, 1920, 0, "gradients=s=1080x1920:n=4:seed=7,drawgrid=w=120:h=120"
              ":t=4:c=white@0.6"),
    "sand": ("video", 1920, 1080, 10, "testsrc2=s=1920x1080:r=30,hue=s=0.4"),
    "crawl": ("video", 1080, 1920, 8, "smptehdbars=s=1080x1920:r=30,hue=h=90*t,"
              "rotate=a=0.1*sin(t):c=black"),
}


def _shot(name: str, line: int, seconds: float, crop: Crop | None = None) -> Shot:
    kind, width, height, duration, _ = MEDIA[name]
    media = Candidate(source="bench", id=name, kind=MediaKind(kind), width=width, height=height,
                      duration=float(duration) if duration else None)
    return Shot(media=media, line=line, seconds=seconds, start=1.0 if duration else 0.0,
                crop=crop or Crop())


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
        Scene(title="Blue blood", sentences=[0, 1, 2],
              shots=[_shot("reef", 0, 3), _shot("deep", 1, 3, Crop(x=0.35)),
                     _shot("shell", 2, 3, Crop(x=0.6))]),
        Scene(title="Two hearts for the gills", sentences=[3, 4], colors=("#0f2027", "#2c5364"),
              shots=[_shot("kelp", 4, 3), _shot("gills", 5, 3, Crop(x=0.7)),
                     _shot("heart", 5, 2)]),
        Scene(title="Why they crawl", sentences=[5, 6, 7], colors=("#42275a", "#734b6d"),
              shots=[_shot("diver", 6, 3), _shot("sand", 7, 3, Crop(x=0.4, y=0.5)),
                     _shot("crawl", 8, 4)]),
    ],
    target_seconds=30, writer="bench",
)


def media_files(workdir: Path) -> dict[str, Path]:
    return {f"bench:{name}": workdir / (f"{name}.jpg" if MEDIA[name][0] == "photo"
                                        else f"{name}.mp4") for name in MEDIA}


def make_media(workdir: Path) -> None:
    for key, path in media_files(workdir).items():
        if path.exists():
            continue
        kind, _width, _height, seconds, source = MEDIA[key.split(":")[1]]
        if kind == "photo":
            args = ["-f", "lavfi", "-i", f"{source},{GRAIN}", "-frames:v", "1", "-q:v", "3"]
        else:
            args = ["-f", "lavfi", "-i", f"{source},{GRAIN},format=yuv420p", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "10M",
                    "-bufsize", "16M", "-g", "60"]
        run_ffmpeg([*args, "-y", str(path)], duration=seconds or 1)


def prepare(workdir: Path) -> None:
    """Make the media and the narration once, and the hand-written run's captions."""
    from pipeline.voice import PiperTTS

    workdir.mkdir(parents=True, exist_ok=True)
    make_media(workdir)
    if not (workdir / "narration.json").exists():
        narration = PiperTTS().speak(SCRIPT.narration, workdir / "narration.wav")
        (workdir / "narration.json").write_text(narration.model_dump_json())
    narration = Narration.model_validate_json((workdir / "narration.json").read_text())
    write_ass(caption_cues(narration.cues, 24), workdir / "hand.ass", 1080, 1920,
              words=narration.words)


# --- the hand-written command -----------------------------------------------------------------
# Typed out per kind of shot; the placeholders are the file, the beat's frame count, its cue
# time and the crop numbers for that file's known size (a 1920x1080 clip: a 608x1080 slice).

PORTRAIT_CLIP = ("[{n}:v]fps=30,scale=1080:1920:flags=bilinear,setsar=1,format=yuv420p,"
                 "trim=end_frame={frames},setpts=PTS-STARTPTS[s{k}]")
LANDSCAPE_CLIP = ("[{n}:v]fps=30,crop=608:1080:{x}:0,scale=1080:1920:flags=bilinear,setsar=1,"
                  "format=yuv420p,trim=end_frame={frames},setpts=PTS-STARTPTS[s{k}]")
STILL = ("[{n}:v]crop={cw}:{ch}:{x}:{y},scale=1210:2150:flags=bicubic,setsar=1,format=yuv420p,"
         "loop=loop={frames}:size=1,settb=1/30,setpts=N,fps=30,trim=end_frame={frames},"
         "crop=1080:1920:'max(0,min(130,65+{vx}*(t-{mid})))':'max(0,min(230,115+{vy}*(t-{mid})))'"
         "[s{k}]")
# The cross-fades: only the 10 fading frames go through xfade; the rest is concatenated.
FIRST = ("[s0]split=2[s0b][s0t];[s0b]trim=end_frame={n}[b0];"
         "[s0t]trim=start_frame={n},setpts=PTS-STARTPTS[t0]")
MIDDLE = ("[s{k}]split=3[s{k}h][s{k}b][s{k}t];[s{k}h]trim=end_frame=10[h{k}];"
          "[t{p}][h{k}]xfade=transition=fade:duration=0.3333:offset=0[f{k}];"
          "[s{k}b]trim=start_frame=10:end_frame={n},setpts=PTS-STARTPTS[b{k}];"
          "[s{k}t]trim=start_frame={n},setpts=PTS-STARTPTS[t{k}]")
LAST = ("[s{k}]split=2[s{k}h][s{k}b];[s{k}h]trim=end_frame=10[h{k}];"
        "[t{p}][h{k}]xfade=transition=fade:duration=0.3333:offset=0[f{k}];"
        "[s{k}b]trim=start_frame=10,setpts=PTS-STARTPTS[b{k}]")
JOIN = "[b0][f1][b1][f2][b2][f3][b3][f4][b4][f5][b5][f6][b6][f7][b7][f8][b8]concat=n=17:v=1:a=0[x8]"
SHADE = ("color=c=black:s=2x240:r=1:d=1,format=rgba,geq=r=0:g=0:b=0:a='153*min(1,Y/(H*0.32))',"
         "scale=1080:960:flags=bilinear[shade]")
FINAL = ("[x8][shade]overlay=x=0:y=960,"
         "drawtext=fontfile={fonts}/Lato-Black.ttf:text='Blue blood':expansion=none:fontsize=96"
         ":fontcolor=white:borderw=6:bordercolor=black@0.75:shadowx=3:shadowy=3"
         ":shadowcolor=black@0.4:line_spacing=16:text_align=C:x=(w-text_w)/2:y=250"
         ":alpha='min(1,max(0,t/0.6))':enable='between(t,0,{hook_end})',"
         "ass=hand.ass:fontsdir={fonts},format=yuv420p[v]")
OUTPUTS = ["-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "21",
           "-pix_fmt", "yuv420p", "-r", "30", "-c:a", "aac", "-b:a", "160k", "-ar", "48000",
           "-ac", "2", "-movflags", "+faststart"]


def hand_command(workdir: Path, narration: Narration) -> list[str]:
    import font_lato

    files = media_files(workdir)
    timeline = [beat for span in scene_spans(SCRIPT, narration, FPS)
                for beat in beats(span.first_frame, span.frames, span.colours, span.shots, files)]
    inputs = ["-i", str(Path(narration.audio).resolve())]
    chains = []
    for k, beat in enumerate(timeline):
        assert beat.shot is not None
        kind, width, height, _, _ = MEDIA[beat.shot.media.id]
        frames = beat.frames + (10 if k < len(timeline) - 1 else 0)
        values: dict[str, object] = {"n": k + 1, "k": k, "frames": frames}
        if kind == "photo":
            inputs += ["-protocol_whitelist", "file", "-f", "jpeg_pipe", "-i", f"file:{beat.file}"]
            cw, ch = min(width, height * 1080 // 1920), min(height, width * 1920 // 1080)
            x = max(0, min(width - cw, round(width * beat.shot.crop.x - cw / 2)))
            y = max(0, min(height - ch, round(height * beat.shot.crop.y - ch / 2)))
            sign = 1 if k % 2 == 0 else -1
            values |= {"cw": cw, "ch": ch, "x": x, "y": y, "vx": 21.6 * sign, "vy": 38.4 * sign,
                       "mid": f"{frames / FPS / 2:.3f}"}
            chains.append(STILL.format(**values))
            continue
        inputs += ["-protocol_whitelist", "file", "-f", "mov", "-enable_drefs", "0",
                   "-stream_loop", "-1", "-ss", f"{beat.shot.start:.3f}",
                   "-t", f"{frames / FPS + 0.2:.3f}", "-an", "-i", f"file:{beat.file}"]
        if width > height:
            values["x"] = max(0, min(1920 - 608, round(1920 * beat.shot.crop.x - 304)))
            chains.append(LANDSCAPE_CLIP.format(**values))
        else:
            chains.append(PORTRAIT_CLIP.format(**values))
    for k, beat in enumerate(timeline):
        template = FIRST if k == 0 else LAST if k == len(timeline) - 1 else MIDDLE
        chains.append(template.format(k=k, p=k - 1, n=beat.frames))
    chains.append(JOIN)
    chains.append(SHADE)
    hook_end = narration.cues[1].start - 0.001
    chains.append(FINAL.format(fonts=font_lato.font_directory, hook_end=f"{hook_end:.3f}"))
    return [ffmpeg_exe(RENDER_NEEDS), "-hide_banner", "-loglevel", "error", "-nostats",
            *inputs, "-filter_complex", ";".join(chains), *OUTPUTS,
            "-t", f"{narration.duration:.3f}", "-y", str(workdir / "hand.mp4")]


# --- running and measuring --------------------------------------------------------------------


def child(variant: str, workdir: Path) -> None:
    """Run one variant and print its wall time and CPU seconds (its own and its ffmpeg's)."""
    workdir = workdir.resolve()
    narration = Narration.model_validate_json((workdir / "narration.json").read_text())
    media = media_files(workdir)
    if variant == "proxied":
        make_proxies(workdir / "proxies", SCRIPT, media)
        media = with_proxies(workdir / "proxies", SCRIPT, media)
    cpu_before = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                     for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    began = time.perf_counter()
    if variant == "hand":
        subprocess.run(hand_command(workdir, narration), check=True, cwd=workdir)
    elif variant == "moviepy":
        from moviepy_shots import compose

        compose(SCRIPT, narration, media_files(workdir), workdir / "moviepy.mp4")
    else:
        profile = Profile.FULL if variant == "ours" else Profile.PREVIEW
        render(SCRIPT, narration, workdir / f"{variant}.mp4", profile=profile, media=media)
    seconds = time.perf_counter() - began
    cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"seconds": seconds, "cpu": cpu - cpu_before}))


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, from /proc (0 once it is gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(p) for p in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(variant: str, workdir: Path) -> dict[str, float]:
    """Run one variant in a fresh child; sample its process tree's memory while it runs."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", variant, "--workdir", str(workdir)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{variant} failed")
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    figures["tree_mb"] = peak[0] / 1024
    return figures


def report(runs: dict[str, list[dict[str, float]]], duration: float) -> None:
    print(f"\nnarration: {duration:.1f} s, 9 shots; cores: {os.cpu_count()}; "
          f"runs per variant: {len(runs['ours'])}\n")
    print(f"{'variant':<10}{'median s':>10}{'min s':>8}{'x realtime':>12}{'cpu s':>8}"
          f"{'tree MB':>9}")
    for variant, results in runs.items():
        times = [run["seconds"] for run in results]
        print(f"{variant:<10}{statistics.median(times):>10.2f}{min(times):>8.2f}"
              f"{duration / statistics.median(times):>12.2f}"
              f"{statistics.median(run['cpu'] for run in results):>8.1f}"
              f"{max(run['tree_mb'] for run in results):>9.0f}")
    median = {v: statistics.median(run["seconds"] for run in runs[v]) for v in runs}
    cpu = {v: statistics.median(run["cpu"] for run in runs[v]) for v in runs}
    memory = {v: max(run["tree_mb"] for run in runs[v]) for v in runs}
    print(f"\nours / hand-written: time {median['ours'] / median['hand']:.2f}, "
          f"cpu {cpu['ours'] / cpu['hand']:.2f}, memory {memory['ours'] / memory['hand']:.2f}"
          "  (target <= 1.1)")
    print(f"preview alone:       {median['preview']:.2f} s, {cpu['preview']:.1f} cpu s"
          "  (from the original clips)")
    print(f"preview, proxied:    {median['proxied']:.2f} s, {cpu['proxied']:.1f} cpu s"
          "  (target < 5 s on 2 cores; what Render does once the prefetch ran)")
    if "moviepy" in median:
        print(f"moviepy / ours:      time {median['moviepy'] / median['ours']:.1f}x, "
              f"cpu {cpu['moviepy'] / cpu['ours']:.1f}x  (target >= 10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "shots")
    parser.add_argument("--child", choices=[*VARIANTS, PREPARE])
    parser.add_argument("--no-moviepy", action="store_true", help="skip the slow MoviePy run")
    args = parser.parse_args()
    if args.child == PREPARE:
        prepare(args.workdir)
        return
    if args.child:
        child(args.child, args.workdir)
        return
    subprocess.run([sys.executable, __file__, "--child", PREPARE, "--workdir", str(args.workdir)],
                   check=True)
    narration = Narration.model_validate_json((args.workdir / "narration.json").read_text())
    variants = [v for v in VARIANTS if not (args.no_moviepy and v == "moviepy")]
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    for repeat in range(args.repeats):
        for variant in variants:
            if variant == "moviepy" and repeat > 0:
                continue  # one MoviePy run is enough to see the ratio; it is slow
            runs[variant].append(measure(variant, args.workdir))
            print(f"{variant}: {runs[variant][-1]['seconds']:.2f} s, "
                  f"{runs[variant][-1]['cpu']:.1f} cpu s, "
                  f"{runs[variant][-1]['tree_mb']:.0f} MB", flush=True)
    report(runs, narration.duration)


if __name__ == "__main__":
    main()
