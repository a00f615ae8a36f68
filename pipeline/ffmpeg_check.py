"""Whether an ffmpeg binary can run a filter graph: the graph's declared needs, and the verdict.

This module owns two things. `FilterNeed` and `FfmpegNeeds` are how a graph declares what it
uses (pipeline/render.py keeps its table next to its graph). `judge` asks a binary what it has,
cheaply and without rendering anything: `-version`, `-filters`, `-encoders` and `-h filter=NAME`
for the filters whose options older builds may lack, all side by side, and
answers with a `Verdict` that names, in plain words, everything missing. The answer rests on
what the binary reports, never on its version number: distributions patch and backport.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

TIMELINE_OPTION = "enable"
"""Not an option of any one filter: the timeline support a filter reports in `-filters`."""
QUERY_TIMEOUT = 20.0
_VERSION = re.compile(r"ffmpeg version n?(\S+)")
_RELEASE = re.compile(r"\d+(?:\.\d+)+")
_FILTER_LINE = re.compile(r"^ ([T.])[.A-Z]{1,2} (\S+) +\S*->\S*", re.MULTILINE)
_ENCODER_LINE = re.compile(r"^ [VAS][.A-Z]{5} (\S+)", re.MULTILINE)
_OPTION_LINE = re.compile(r"^ {2,4}(\S+) +<", re.MULTILINE)


@dataclass(frozen=True)
class FilterNeed:
    """One filter a graph uses: the options it passes by name, how many values it passes by
    position, and whether `judge` confirms the named options with `-h filter=NAME` (for
    filters whose options changed across releases; the others are only looked up by name)."""

    name: str
    options: tuple[str, ...] = ()
    positional: int = 0
    check_options: bool = False

    def __post_init__(self) -> None:
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"{self.name}: an option is listed twice")
        if self.check_options and not set(self.options) - {TIMELINE_OPTION}:
            raise ValueError(f"{self.name}: check_options with no named options to check")


@dataclass(frozen=True)
class FfmpegNeeds:
    """Everything a graph needs from ffmpeg: its filters and the encoders its output uses."""

    filters: tuple[FilterNeed, ...] = ()
    encoders: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [need.name for need in self.filters]
        if len(set(names)) != len(names):
            raise ValueError("a filter is listed twice")

    def need(self, name: str) -> FilterNeed | None:
        return next((need for need in self.filters if need.name == name), None)


ANY_FFMPEG = FfmpegNeeds()
"""No particular filter or encoder: any ffmpeg that runs."""


@dataclass(frozen=True)
class Verdict:
    """What `judge` found: the version the binary reports (None when it would not run) and
    what it lacks, each item in plain words ("drawtext option text_align")."""

    exe: str
    version: str | None
    missing: tuple[str, ...] = ()
    problem: str = ""
    """Why the binary could not be asked at all, when `version` is None."""

    @property
    def suitable(self) -> bool:
        return self.version is not None and not self.missing

    def describe(self) -> str:
        """One line for a person: "ffmpeg at /usr/bin/ffmpeg (5.1.9) lacks drawtext option
        text_align", or why it could not be run."""
        if self.version is None:
            return f"ffmpeg at {self.exe} could not be run ({self.problem})"
        if not self.missing:
            return f"ffmpeg at {self.exe} ({self.version}) has everything the video needs"
        return f"ffmpeg at {self.exe} ({self.version}) lacks {_and_list(self.missing)}"


def judge(exe: str, needs: FfmpegNeeds) -> Verdict:
    """Ask `exe` what it has and compare it with `needs` (see the module docstring)."""
    try:
        answers = _ask_all(exe, _queries(needs))
    except (OSError, subprocess.SubprocessError) as error:
        return Verdict(exe, None, problem=_plain(error))
    return Verdict(exe, answers.version, missing=tuple(_missing(needs, answers)))


@dataclass
class _Answers:
    version: str = ""
    filters: dict[str, bool] = field(default_factory=dict)
    """Filter name -> whether it supports the timeline (`enable`)."""
    encoders: set[str] = field(default_factory=set)
    options: dict[str, set[str]] = field(default_factory=dict)


def _queries(needs: FfmpegNeeds) -> list[tuple[str, ...]]:
    queries: list[tuple[str, ...]] = [("-version",)]
    if needs.filters:
        queries.append(("-filters",))
    if needs.encoders:
        queries.append(("-encoders",))
    queries += [("-h", f"filter={need.name}") for need in needs.filters if need.check_options]
    return queries


def _ask_all(exe: str, queries: list[tuple[str, ...]]) -> _Answers:
    """Run every query side by side (each is a fresh process of a few tens of ms)."""
    answers = _Answers()
    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        texts = list(pool.map(lambda query: _ask(exe, *query), queries))
    for query, text in zip(queries, texts, strict=True):
        if query[0] == "-version":
            answers.version = _version(text)
        elif query[0] == "-filters":
            answers.filters = {name: flag == "T" for flag, name in _FILTER_LINE.findall(text)}
        elif query[0] == "-encoders":
            answers.encoders = set(_ENCODER_LINE.findall(text))
        else:
            answers.options[query[1].removeprefix("filter=")] = set(_OPTION_LINE.findall(text))
    return answers


def _ask(exe: str, *query: str) -> str:
    done = subprocess.run(
        [exe, "-hide_banner", *query], capture_output=True, timeout=QUERY_TIMEOUT, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise subprocess.SubprocessError(f"`{' '.join(query)}` exited with {done.returncode}: "
                                         f"{tail[0]}")
    return done.stdout.decode("utf-8", "replace")


def _version(text: str) -> str:
    """"5.1.9" from "ffmpeg version 5.1.9-0+deb12u1 …", "9.0.2" from "… version n9.0.2-17-g…";
    the whole token for builds without a release number ("N-121000-g…")."""
    match = _VERSION.search(text)
    if match is None:
        return "unknown version"
    release = _RELEASE.match(match.group(1))
    return release.group(0) if release else match.group(1)


def _missing(needs: FfmpegNeeds, answers: _Answers) -> Iterable[str]:
    for need in needs.filters:
        if need.name not in answers.filters:
            yield f"filter {need.name}"
            continue
        if TIMELINE_OPTION in need.options and not answers.filters[need.name]:
            yield f"timeline support ({TIMELINE_OPTION}) in {need.name}"
        known = answers.options.get(need.name)
        if known is not None:
            yield from (f"{need.name} option {option}" for option in need.options
                        if option != TIMELINE_OPTION and option not in known)
    yield from (f"encoder {name}" for name in needs.encoders if name not in answers.encoders)


def _plain(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, PermissionError):
        return "not executable"
    if isinstance(error, subprocess.TimeoutExpired):
        return f"no answer within {QUERY_TIMEOUT:.0f} s"
    return str(error)


def _and_list(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
