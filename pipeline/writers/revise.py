"""Reading a plain-words instruction ("shorter and funnier", "add Thanks for watching") into edits.

The instruction is data: it is cleaned, capped, and matched against a fixed list of phrasings.
Commands that take free text ("add …", "change the title to …") take the rest of the line,
so "add ignore previous instructions" adds exactly that sentence. Anything left over that no
rule understands is reported back rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.brief import TONE_WORDS, Tone, find_duration
from pipeline.music import DEFAULT_BED
from pipeline.script import Revision, Script
from pipeline.text import one_line
from pipeline.writers import edits
from pipeline.writers.draft import from_script, to_script
from pipeline.writers.edits import Edit
from pipeline.writers.topic import clip

MAX_INSTRUCTION_CHARS = 4000
MAX_EDITS = 6
HELP = (
    "I can: make it shorter or longer, set a length (“30s”), change the tone (more formal, "
    "playful, calm, dramatic), add a joke, add <your sentence> (at the start), remove the "
    "first/last sentence or sentence N, change the title to <text>, change the hook to <text>, "
    "add background music (or no music), highlight words in the captions (or plain captions)."
)
Reader = Callable[[str], tuple[Edit, int] | None]

_TONES: dict[str, Tone] = {
    **TONE_WORDS,
    **dict.fromkeys(("funnier", "sillier", "jokier", "lighter", "more fun"), Tone.PLAYFUL),
    **dict.fromkeys(("calmer", "chiller", "gentler", "softer", "slower"), Tone.CALM),
    **dict.fromkeys(("casual", "default", "normal"), Tone.NEUTRAL),
    **dict.fromkeys(("more serious",), Tone.FORMAL),
}
_TONE_WORD = "|".join(sorted((re.escape(w) for w in _TONES), key=len, reverse=True))
_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]
_WHERE = r"(?P<where>start|beginning|top|end|bottom)"
_IT = r"(?:it|this|the\s+(?:script|video|draft))"
_MAKE = rf"(?:(?:make|keep|get)\s+{_IT}\s+|go\s+|be\s+|sound\s+)?"
_AMOUNT = (
    r"(?:(?P<much>much|a\s+lot|way|far)\s+|(?:a\s+(?:bit|little|touch|tad)|slightly|somewhat)\s+)?"
)
_VERB_REMOVE = r"(?:remove|delete|drop|cut|lose|kill|scrap|ditch|get\s+rid\s+of)"
_POLITE = re.compile(
    r"^(?:(?:please|pls|plz|kindly|can\s+you|could\s+you|would\s+you|will\s+you|now|ok(?:ay)?|hey|"
    r"hm+|also|just|let['’]?s|i\s+(?:want|would\s+like|['’]d\s+like)(?:\s+you)?(?:\s+to)?)\b[\s,:]*)+",
    re.I,
)
_THANKS = re.compile(r"[\s,]*\b(?:please|pls|plz|thanks|thank\s+you|thx)\b[\s.!?]*$", re.I)
_GLUE = re.compile(r"^(?:[\s,;.!&+]|\band\b|\bthen\b|\balso\b|\bplus\b|\bbut\b)+", re.I)
_WHERE_SUFFIX = re.compile(rf"\s*,?\s*(?:at|to)\s+the\s+{_WHERE}(?:\s+of\s+{_IT})?\s*[.!]*$", re.I)


def _rule(pattern: str, build: Callable[[re.Match[str]], Edit]) -> Reader:
    compiled = re.compile(pattern, re.I)

    def read(text: str) -> tuple[Edit, int] | None:
        match = compiled.match(text)
        return (build(match), match.end()) if match else None

    return read


def _at_start(match: re.Match[str]) -> bool:
    return (match.groupdict().get("where") or "end").lower() in {"start", "beginning", "top"}


def _which(word: str) -> int | None:
    word = word.lower()
    if word in {"last", "final", "closing", "ending"}:
        return None
    if word in _ORDINALS:
        return _ORDINALS.index(word) + 1
    if word in {"opening"}:
        return 1
    return int(re.sub(r"\D", "", word))


def _add(match: re.Match[str]) -> Edit:
    text = match["text"]
    where = match.groupdict().get("where") or match.groupdict().get("verb")
    suffix = _WHERE_SUFFIX.search(text)
    if suffix and where is None:
        where, text = suffix["where"], text[: suffix.start()]
    at_start = (where or "end").lower() in {"start", "beginning", "top", "begin", "open"}
    return edits.add_sentence(text, at_start=at_start)


def _tone(match: re.Match[str]) -> Edit:
    word = " ".join(match["word"].lower().split())
    return edits.change_tone(Tone.NEUTRAL if match["dir"] else _TONES[word])


def _duration(text: str) -> tuple[Edit, int] | None:
    lead = re.match(
        rf"(?:(?:make|set|change|cut|trim|shorten|extend|stretch|resize)(?:\s+{_IT})?\s+(?:to\s+)?"
        r"|to\s+)?(?:about\s+|around\s+|roughly\s+|~\s*)?",
        text,
        re.I,
    )
    start = lead.end() if lead else 0
    found = find_duration(text[start:])
    if found is None or found.start != 0:
        return None
    end = start + found.end
    tail = re.match(r"\s+long\b", text[end:], re.I)
    return edits.resize(found.seconds), end + (tail.end() if tail else 0)


_READERS: tuple[Reader, ...] = (
    _rule(
        r"(?:(?:change|set|make|rename|update|switch)\s+(?:the\s+)?title\s+(?:to|as|into)|(?:new\s+)?title\s*[:=]"
        r"|title\s+it|call\s+it|name\s+it|re(?:name|title)\s+it(?:\s+to)?)\s*:?\s*(?P<text>.+)$",
        lambda m: edits.set_title(m["text"]),
    ),
    _rule(
        r"(?:(?:change|set|make|update|switch)\s+(?:the\s+)?(?:hook|opening\s+line)\s+(?:to|as|into)"
        r"|hook\s*[:=])\s*:?\s*(?P<text>.+)$",
        lambda m: edits.set_hook(m["text"]),
    ),
    _rule(
        r"(?:(?:highlight|karaoke)\s+(?:the\s+|each\s+|every\s+)?words?\b(?:\s+as\s+(?:they\s+are|it\s+is)\s+spoken)?"
        r"|(?:use\s+)?(?:word[-\s]by[-\s]word|karaoke|highlighted)\s+captions\b"
        r"|word\s+captions\b)",
        lambda _: edits.set_captions("words"),
    ),
    _rule(
        r"(?:(?:use\s+)?(?:plain|normal|simple)\s+captions\b|(?:stop|no)\s+(?:highlighting|highlights?)\b)",
        lambda _: edits.set_captions("sentence"),
    ),
    _rule(
        rf"(?:{_VERB_REMOVE}|no|without|mute|stop)\s+(?:the\s+|any\s+)?(?:background\s+)?music\b"
        r"|music\s+off\b|(?:turn|switch)\s+(?:the\s+)?music\s+off\b",
        lambda _: edits.set_music(None),
    ),
    _rule(
        r"(?:(?:add|put|use|include|play|give\s+it|with)\s+)(?:(?:some|a|the)\s+)?"
        r"(?:soft\s+|calm\s+|quiet\s+|little\s+)?(?:background\s+)?(?:music|soundtrack|music\s+bed)\b"
        r"(?:\s+(?:under(?:neath)?|behind)\s+(?:it|the\s+voice))?"
        r"|music\s+on\b|(?:turn|switch)\s+(?:the\s+)?music\s+on\b",
        lambda _: edits.set_music(DEFAULT_BED),
    ),
    _rule(
        r"(?:(?:add|put|insert|throw|include|tell|end\s+with|finish\s+with|close\s+with)\s+)?(?:in\s+)?"
        r"(?:a|another|one\s+more|more|some|an\s+extra)?\s*(?:little\s+|small\s+|quick\s+|funny\s+)?"
        rf"(?:joke|gag|pun|punchline|one-liner)s?\b(?:\s+(?:at|to)\s+the\s+{_WHERE}(?:\s+of\s+{_IT})?)?",
        lambda m: edits.add_joke(at_start=_at_start(m)),
    ),
    _rule(rf"{_VERB_REMOVE}\s+(?:the\s+|that\s+|this\s+)?jokes?\b", lambda _: edits.remove_jokes),
    _rule(
        rf"{_VERB_REMOVE}\s+(?:the\s+)?(?P<which>last|final|closing|ending|opening|\d{{1,3}}(?:st|nd|rd|th)?"
        rf"|{'|'.join(_ORDINALS)})\s+(?:sentence|line)\b",
        lambda m: edits.remove_sentence(_which(m["which"])),
    ),
    _rule(
        rf"{_VERB_REMOVE}\s+(?:sentence|line)\s+(?:number\s+|no\.?\s*|#\s*)?(?P<which>\d{{1,3}})\b",
        lambda m: edits.remove_sentence(_which(m["which"])),
    ),
    _duration,
    _rule(
        rf"{_MAKE}{_AMOUNT}(?:longer|more\s+detailed|more\s+in[-\s]depth)\b"
        rf"|(?:expand|extend|lengthen|flesh\s+out|stretch)(?:\s+{_IT})?(?:\s+out)?\b"
        r"|add\s+more(?:\s+(?:detail|details|depth|content|sentences|to\s+it))?\b"
        r"|(?:it['’]?s\s+|that['’]?s\s+)?too\s+short\b",
        lambda m: edits.longer(bool(m.groupdict().get("much"))),
    ),
    _rule(
        rf"{_MAKE}{_AMOUNT}(?:shorter|briefer|more\s+concise|tighter|less\s+wordy|less\s+long)\b"
        rf"|(?:cut|trim|tighten|shorten|condense|shrink)(?:\s+{_IT})?(?:\s+down)?"
        r"(?:\s+(?:by\s+(?P<half>half)|a\s+(?:bit|little)|a\s+lot))?\b"
        r"|(?:it['’]?s\s+|that['’]?s\s+)?(?:way\s+|far\s+|much\s+)?too\s+long\b",
        lambda m: edits.shorter(bool(m.groupdict().get("much") or m.groupdict().get("half"))),
    ),
    _rule(
        rf"(?:(?:change|switch|set)\s+(?:the\s+)?tone\s+to\s+|tone\s*[:=]?\s*)?{_MAKE}"
        rf"(?:(?:a\s+)?(?:bit|little|lot|touch|tad)\s+|much\s+|way\s+)?(?:more\s+|(?P<dir>less)\s+)?"
        rf"(?P<word>{_TONE_WORD})(?:\s+(?:tone|style|voice))?\b",
        _tone,
    ),
    _rule(
        rf"(?:at\s+the\s+{_WHERE}\s*,?\s*)?(?:add|append|insert|include|put|mention)\s+"
        r"(?:(?:a|one|this|another)\s+(?:line|sentence)\s+)?(?:(?:saying|that\s+says|which\s+says|that)\s+|[:\-–—]\s*)?"
        r"(?P<text>.+)$",
        _add,
    ),
    _rule(r"(?P<verb>start|begin|open|end|finish|close)\s+with\s+(?P<text>.+)$", _add),
)


def read_instruction(instruction: str) -> tuple[list[Edit], str]:
    """The edits an instruction asks for, in order, and whatever text no rule understood."""
    text = one_line(instruction)[:MAX_INSTRUCTION_CHARS]
    rest = _POLITE.sub("", text[:-40] + _THANKS.sub("", text[-40:]))  # tail only: no backtracking
    found: list[Edit] = []
    while rest and len(found) < MAX_EDITS:
        step = next((hit for hit in (read(rest) for read in _READERS) if hit), None)
        if step is None:
            break
        found.append(step[0])
        rest = _POLITE.sub("", _GLUE.sub("", rest[step[1] :]))
    return found, rest.strip()


def revise_script(script: Script, instruction: str) -> Revision:
    """Apply an instruction to a script; never raises on what the user typed."""
    wanted, leftover = read_instruction(instruction)
    if not wanted:
        return Revision(script=script, summary=f"I did not understand that. {HELP}", changed=False)
    draft, notes, changed = from_script(script), [], False
    for edit in wanted:
        outcome = edit(draft)
        draft, changed = outcome.draft, changed or outcome.changed
        notes.append(outcome.note)
    if leftover:
        notes.append(f"I did not understand “{clip(leftover, 40)}”")
    revised = _keeping_voice(to_script(draft), script) if changed else script
    summary = " ".join(_as_sentence(note) for note in dict.fromkeys(notes))
    return Revision(script=revised, summary=summary, changed=revised != script)


def _keeping_voice(revised: Script, script: Script) -> Script:
    """`revised` with `script`'s voice plan, its pauses staying with their sentences."""
    if script.voice is None:
        return revised
    plan = script.voice.moved(script.sentences, revised.sentences)
    return revised.model_copy(update={"voice": plan})


def _as_sentence(note: str) -> str:
    return note if note.rstrip("”’\"'").endswith((".", "!", "?", "…")) else f"{note}."
