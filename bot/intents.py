"""What a line of chat asks for: a small rule-based classifier, no model needed.

Short command-like lines ("render it", "looks good, publish", "undo") are read by vocabulary:
every word must belong to the intent's words or to polite filler, and one word must be a strong
marker. That keeps "render it but shorter" out of RENDER. Requests for a new video and schedules
are read by pattern, and so are preference statements ("always 45 seconds", "from now on square
videos") and "another one like the last". Anything else is UNKNOWN. `classify` reads a line
alone; what a line means in its conversation (an answer to the bot's question, an edit of the
draft) is decided by the reading table in `bot.reading`, which uses it. `bot.intent_model` adds
an embedding fallback with the same signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.preferences import read_statement
from pipeline.media.model import Look


class IntentKind(StrEnum):
    MAKE = "make"
    REFINE = "refine"
    RENDER = "render"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    UNDO = "undo"
    STATUS = "status"
    HELP = "help"
    SCHEDULE = "schedule"
    SCHEDULES = "schedules"
    UNSCHEDULE = "unschedule"
    TIMEZONE = "timezone"
    SMALLTALK = "smalltalk"
    UNKNOWN = "unknown"


class MemoryKind(StrEnum):
    """Intents that lean on what the bot remembers about a user, apart from the core set."""

    PREFERENCE = "preference"


class ReadingKind(StrEnum):
    """What only the reading table (`bot.reading`) makes of a line, never `classify` alone."""

    ANSWER = "answer"
    """The answer to the question the bot is waiting on ("When should it go out?")."""
    UNKNOWN_COMMAND = "unknown_command"
    """A /command the bot doesn't have; the argument is its name."""


class PictureKind(StrEnum):
    """Asks about the pictures under the narration, not its words (`picture_request` reads
    them): they go to `bot.pictures_chat`, never to the writer."""

    ANOTHER = "another_shot"
    """ "another clip for scene 2": the next-best picture for that scene."""
    SEARCH = "search_shot"
    """ "use a beach for the intro": a search with the user's words for that scene."""
    UPLOAD = "use_upload"
    """ "use this for the intro", "use my photo in scene 2": one of the workspace's uploads."""
    LOOK = "look"
    """ "illustrated look", "no stock, just my photos", "plain backgrounds"."""
    ASSETS = "assets"
    """ "/assets" lists the uploads; "/assets delete 3" deletes one (the argument)."""


Kind = IntentKind | MemoryKind | ReadingKind | PictureKind


@dataclass(frozen=True)
class Intent:
    """`argument` is the idea (make), the instruction (refine), the time (schedule), a
    version number (undo "back to v2") or the statement (preference); empty when there is none."""

    kind: Kind
    argument: str = ""


COMMANDS: dict[str, Kind] = {
    "make": IntentKind.MAKE,
    "new": IntentKind.MAKE,
    "video": IntentKind.MAKE,
    "render": IntentKind.RENDER,
    "approve": IntentKind.APPROVE,
    "publish": IntentKind.APPROVE,
    "reject": IntentKind.REJECT,
    "cancel": IntentKind.CANCEL,
    "stop": IntentKind.CANCEL,
    "undo": IntentKind.UNDO,
    "status": IntentKind.STATUS,
    "help": IntentKind.HELP,
    "start": IntentKind.HELP,
    "schedule": IntentKind.SCHEDULE,
    "schedules": IntentKind.SCHEDULES,
    "unschedule": IntentKind.UNSCHEDULE,
    "timezone": IntentKind.TIMEZONE,
    "tz": IntentKind.TIMEZONE,
    "revise": IntentKind.REFINE,
    "edit": IntentKind.REFINE,
    "assets": PictureKind.ASSETS,
    "uploads": PictureKind.ASSETS,
}
"""Slash commands, by name (without the slash)."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FILLER = _words(
    "ok okay k please pls plz now then yes yeah yep sure alright great cool nice perfect good "
    "awesome thanks thank you go ahead and let's lets let us just it this that the video one can "
    "could would will we i me right away do so all fine looks look sounds love like a ready "
    "already to want wanna should i'm im is are hey hi oh well ?"
)


@dataclass(frozen=True)
class _Vocabulary:
    kind: IntentKind
    strong: frozenset[str]
    words: frozenset[str]

    def matches(self, tokens: list[str]) -> bool:
        allowed = self.strong | self.words | _FILLER
        return any(t in self.strong for t in tokens) and all(t in allowed for t in tokens)


def _vocab(kind: IntentKind, strong: str, words: str = "") -> _Vocabulary:
    return _Vocabulary(kind, _words(strong), _words(words))


# Order matters: REJECT before APPROVE ("don't publish"), UNDO before CANCEL ("never mind, undo").
_VOCABULARIES = (
    _vocab(IntentKind.REJECT, "reject rejected", "no nope"),
    _vocab(IntentKind.UNDO, "undo revert back previous", "version last change edit that to v"),
    _vocab(
        IntentKind.CANCEL,
        "cancel cancelled stop abort nevermind never scrap discard forget",
        "mind project whole thing draft render rendering",
    ),
    _vocab(IntentKind.RENDER, "render rendering build produce", "start make"),
    _vocab(IntentKind.APPROVE, "approve approved publish lgtm ship post live", "send out looks"),
    _vocab(
        IntentKind.STATUS,
        "status progress",
        "what's whats what of my on update an give show current how far along",
    ),
    _vocab(IntentKind.HELP, "help commands ?", "what can do how does work use"),
)

_SMALLTALK = _words(
    "hi hello hey yo thanks thank you thx ty cheers good morning evening afternoon night great "
    "cool nice awesome perfect love it looks look lol haha ok okay bye wow sounds amazing this is "
    "that's thats wonderful excellent bot there yes yeah yep no nope sure fine"
)

_REFINE_MARKERS = _words(
    "shorter longer funnier punchier simpler clearer formal casual playful serious friendlier "
    "add remove change replace rewrite rephrase cut drop swap tweak more less instead make "
    "revise edit fix tone hook title ending intro outro joke sentence scene faster slower seconds "
    "words mention include"
)

_MAKE = re.compile(
    r"""^(?:(?:hey|hi|ok(?:ay)?|so|now)[,!.]?\s+)*
    (?P<ask>(?:can|could|would|will)\s+you\s+(?:please\s+)?
      |i(?:\s+want|\s+need|\s+would\s+like|'d\s+like)\s+(?:you\s+to\s+)?
      |let'?s\s+|please\s+)?
    (?P<verb>(?:make|create|generate|produce|write|do|start)\s+(?:me\s+|us\s+)?)?
    (?:(?:a|an|another|some|new)\s+)?
    (?P<spec>(?:(?!(?:the|this|that|it|its|my|our|about|on)\b)[\w:'-]+\s+){0,3}?)
    (?:video|clip|short|reel|explainer|tiktok)s?
    (?:\s+(?:about|on|of|explaining|that\s+explains|showing|for)\b|\s*[:–—-])\s*
    (?P<idea>\S.*)$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_MAKE_ONE = re.compile(
    r"^(?:please\s+)?(?:make|create|do)\s+(?:me\s+)?(?:one|another(?:\s+one)?)\s+"
    r"(?:about|on)\s+(?P<idea>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_MAKE_BARE = re.compile(
    r"^(?:please\s+)?(?:make|create|generate)\s+(?:me\s+)?(?:a|an|another)?\s*(?:new\s+)?"
    r"(?:video|clip|short|reel)s?\W*$",
    re.IGNORECASE,
)
_VERBLESS = re.compile(
    r"^(?:(?:a|an|new)\s+)?(?:[\w:'-]+\s+)?(?:video|clip|reel|explainer)s?"
    r"(?:\s+(?:about|on|explaining)\b|\s*:)",
    re.IGNORECASE,
)
"""Without a verb, only "video about …", "a funny video about …", "new video: …" start a project."""
_SCHEDULE = re.compile(
    r"^(?:please\s+)?(?:can\s+you\s+)?schedule\b(?:\s+(?:it|this|that|the\s+video))?"
    r"(?:\s+(?:for|on|at))?\s*(?P<when>.*?)\W*$",
    re.IGNORECASE | re.DOTALL,
)
_TIMEZONE = re.compile(
    r"^(?:please\s+)?(?:set\s+|change\s+)?(?:my\s+)?time\s*zone"
    r"(?:\s+(?:is|to|as|=)|\s*[:=])?\s*(?P<zone>[\w/+:. -]*?)\W*$"
    r"|^what'?s\s+my\s+time\s*zone\W*$",
    re.IGNORECASE,
)
_LIST_SCHEDULES = re.compile(
    r"^(?:please\s+)?(?:(?:show|list|see)\s+(?:me\s+)?)?(?:my\s+|the\s+|all\s+)?"
    r"(?:schedules|scheduled\s+(?:posts|videos|shows))\W*$"
    r"|^(?:show\s+me\s+)?(?:what'?s|what\s+is|anything|is\s+anything)\s+(?:been\s+)?"
    r"scheduled\b[\w\s]{0,30}\W*$",
    re.IGNORECASE,
)
_UNSCHEDULE = re.compile(
    r"^(?:please\s+)?(?:cancel|delete|remove|drop|stop)\s+(?:the\s+|my\s+|that\s+)?"
    r"(?:schedule|scheduled\s+post|show)(?:\s+(?P<id>[\w-]{4,32}))?\W*$"
    r"|^unschedule(?:\s+(?:it|this|that))?(?:\s+(?P<id2>[\w-]{4,32}))?\W*$",
    re.IGNORECASE,
)
_POST_LATER = re.compile(
    r"^(?:please\s+)?(?:post|publish|send|release)(?:\s+(?:it|this|that|the\s+video))?\s+"
    r"(?:(?:for|on|at)\s+)?(?P<when>(?:tomorrow|today|tonight|next|every|this|mon|tue|wed|thu|"
    r"fri|sat|sun|\d{1,2}(?::\d\d)?\s*(?:am|pm)|\d{4}-\d\d-\d\d).*?)\W*$",
    re.IGNORECASE | re.DOTALL,
)
_STATUS = re.compile(
    r"^(?:so\s+)?(?:how'?s|how\s+is)\s+(?:it|the\s+video|the\s+render|my\s+video|everything)\s+"
    r"(?:going|coming\s+along)|^(?:is\s+(?:it|the\s+video|my\s+video)|are\s+we)\s+"
    r"(?:done|ready|finished)|^where\s+(?:are\s+we|is\s+it|'?s\s+my\s+video)|^what\s+version|"
    r"^any\s+news",
    re.IGNORECASE,
)
_HELP = re.compile(
    r"^(?:what\s+can\s+you\s+do|how\s+does\s+(?:this|it)\s+work|how\s+do\s+i\s+(?:use|start)|"
    r"what\s+do\s+i\s+do|what\s+are\s+the\s+commands)",
    re.IGNORECASE,
)
_DONT_PUBLISH = re.compile(
    r"^(?:no[,.!]?\s+)?(?:please\s+)?(?:don'?t|do\s+not)\s+(?:publish|post)"
    r"(?:\s+(?:it|this|that))?\W*$",
    re.IGNORECASE,
)
_LIKE_LAST = re.compile(
    r"^(?:(?:please|ok(?:ay)?|so|now)[,!]?\s+)*(?:(?:can\s+you\s+)?(?:make|do|create|give)\s+"
    r"(?:me\s+|us\s+)?)?(?:(?:another|one\s+more|a\s+new|a)\s+)?(?:one|video|clip|short)?\s*"
    r"(?:just\s+)?(?:like|same\s+as|similar\s+to)\s+(?:the\s+|my\s+)?(?:last|previous)"
    r"(?:\s+(?:one|video|clip|short|time))?\W*$",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\bv(?:ersion)?\s*(\d{1,3})\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9']+|\?")


def classify(text: str) -> Intent:
    """Read one chat line (a leading `/command` included) as an `Intent`."""
    stripped = text.strip()
    command = slash_command(stripped)
    if command is not None:
        return command
    if not stripped:
        return Intent(IntentKind.UNKNOWN)
    return (
        _preference(stripped)
        or _picture(stripped)
        or _like_last(stripped)
        or _schedules(stripped)
        or _make(stripped)
        or _schedule(stripped)
        or _by_words(stripped)
    )


def is_like_last(text: str) -> bool:
    """True for "like the last one", "another one like the last", "same as last time"."""
    return bool(_LIKE_LAST.match(text.strip().replace("’", "'")))


def slash_command(text: str) -> Intent | None:
    """The intent of a `/command` line ("/make cats", "/make@novacast_bot cats"); None for a
    line that isn't one. Unknown names are UNKNOWN with the name as argument."""
    stripped = text.strip()
    return _command(stripped[1:]) if stripped.startswith("/") else None


def command_intent(name: str, args: str = "") -> Intent:
    """A slash command by name; unknown names are UNKNOWN with the name as argument."""
    kind = COMMANDS.get(name.lower().lstrip("/"))
    if kind is None:
        return Intent(IntentKind.UNKNOWN, name)
    if kind is IntentKind.UNDO:
        return Intent(kind, _version(args))
    return Intent(kind, args.strip())


def _command(body: str) -> Intent:
    name, _, args = body.partition(" ")
    name = name.split("@", 1)[0]  # Telegram's /make@novacast_bot
    return command_intent(name, args)


def _preference(text: str) -> Intent | None:
    return None if read_statement(text) is None else Intent(MemoryKind.PREFERENCE, text)


def _like_last(text: str) -> Intent | None:
    return Intent(IntentKind.MAKE, text) if _LIKE_LAST.match(text.replace("’", "'")) else None


def _make(text: str) -> Intent | None:
    if _MAKE_BARE.match(text):
        return Intent(IntentKind.MAKE)
    one = _MAKE_ONE.match(text)
    if one:
        return Intent(IntentKind.MAKE, one["idea"].strip())
    match = _MAKE.match(text)
    if match is None or not (match["verb"] or match["ask"] or _VERBLESS.match(text)):
        return None
    spec, idea = " ".join(match["spec"].split()), match["idea"].strip()
    return Intent(IntentKind.MAKE, f"a {spec} video about {idea}" if spec else idea)


def _schedules(text: str) -> Intent | None:
    """Time zone, the list of schedules, cancelling one — before make, schedule and cancel."""
    text = text.replace("’", "'")
    zone = _TIMEZONE.match(text)
    if zone is not None:
        return Intent(IntentKind.TIMEZONE, (zone["zone"] or "").strip())
    if _LIST_SCHEDULES.match(text):
        return Intent(IntentKind.SCHEDULES)
    gone = _UNSCHEDULE.match(text)
    if gone is not None:
        return Intent(IntentKind.UNSCHEDULE, gone["id"] or gone["id2"] or "")
    return None


def _schedule(text: str) -> Intent | None:
    match = _SCHEDULE.match(text) or _POST_LATER.match(text)
    return None if match is None else Intent(IntentKind.SCHEDULE, match["when"].strip())


def _by_words(text: str) -> Intent:
    text = text.replace("’", "'")
    if _DONT_PUBLISH.match(text):
        return Intent(IntentKind.REJECT)
    tokens = _TOKEN.findall(_VERSION.sub(" version ", text.lower()))
    for vocabulary in _VOCABULARIES:
        if vocabulary.matches(tokens):
            argument = _version(text) if vocabulary.kind is IntentKind.UNDO else ""
            return Intent(vocabulary.kind, argument)
    return _by_pattern(text, tokens)


def _by_pattern(text: str, tokens: list[str]) -> Intent:
    if _STATUS.match(text):
        return Intent(IntentKind.STATUS)
    if _HELP.match(text):
        return Intent(IntentKind.HELP)
    if tokens and all(t in _SMALLTALK for t in tokens):
        return Intent(IntentKind.SMALLTALK)
    if any(t in _REFINE_MARKERS for t in tokens):
        return Intent(IntentKind.REFINE, text)
    return Intent(IntentKind.UNKNOWN, text)


def _version(text: str) -> str:
    match = _VERSION.search(text)
    return match.group(1) if match else ""


# --- pictures: "another clip for scene 2", "use a beach for the intro", "illustrated look" -------

LAST_SCENE = -1
"""`PictureRequest.scene` for "the ending", "the outro", "the last scene"."""


@dataclass(frozen=True)
class PictureRequest:
    """A line about the pictures, read: which scene (numbered as the user says it, from 1;
    `LAST_SCENE` for the last; None when the line names none), and what to put there."""

    kind: PictureKind
    scene: int | None = None
    query: str = ""
    """SEARCH: the words to search for ("beach", "a lighthouse at night")."""
    upload: str = ""
    """UPLOAD: a number from /assets or an asset id; empty for the latest upload."""
    look: Look | None = None
    """LOOK: the look asked for."""


_NUMBERS = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
]
_ORDINALS = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth",
]
_PLACE = re.compile(
    r"^(?:the\s+|this\s+|my\s+)?(?:"
    r"(?P<first>intro|introduction|hook|opening|opener|beginning|start)(?:\s+(?:scene|part))?"
    r"|(?P<last>ending|end|outro|close|closing|conclusion|finale|last|final)"
    r"(?:\s+(?:scene|part|shot|section|one))?"
    r"|(?:scene|part|shot|section)\s*(?:number\s*|no\.?\s*|#\s*)?(?P<n>\d{1,2}|[a-z]+)"
    r"|(?P<o>[a-z]+|\d{1,2}(?:st|nd|rd|th))\s+(?:scene|part|shot|section))$"
)
_AT_PLACE = re.compile(
    r"^(?P<head>.+)\s+(?:for|in|on|at|during|as|into|to|under|behind)\s+(?P<place>[\w#. ]{3,40})$"
)
_PLACE_FIRST = re.compile(
    r"^(?:for|in|on|during|under)\s+(?P<place>[\w#. ]{3,40}?)\s*[,:;-]\s*(?P<head>.+)$"
)
_LEAD = re.compile(r"^(?:(?:ok(?:ay)?|so|now|hmm+|and|also|please|pls|hey|alright)[,!.]?\s+)+")
_TAIL = re.compile(r"(?:[,\s]+(?:please|pls|thanks|thank\s+you|instead|too))+$|[\s.!?]+$")
_SHOT = (
    r"(?:stock\s+)?(?:clip|picture|pic|photo|image|shot|video|footage|background|visual|b-roll)s?"
)
_UPLOADED = r"(?:photo|picture|pic|image|clip|video|gif|upload|file|footage|selfie)s?"
_ANOTHER = re.compile(
    r"^(?:(?:can|could)\s+(?:you|i|we)\s+(?:have|get|use|try|see|find|pick)\s+"
    r"|(?:give\s+me|show\s+me|try|find(?:\s+me)?|get(?:\s+me)?|use|pick|i\s+want|i'd\s+like)\s+)?"
    rf"(?:an?other|a\s+different|different|a\s+new|new|a\s+better|better|a\s+fresh)\s+(?:one|{_SHOT})$"
    rf"|^(?:change|swap|replace|switch|redo|reroll|re-roll)\s+(?:the\s+|that\s+)?{_SHOT}$"
)
_UPLOAD = re.compile(
    r"^(?:(?:can|could)\s+you\s+)?(?:use|put|show|try|add|place)\s+(?:"
    r"this|that|it|these|this\s+one|that\s+one|mine"
    rf"|my\s+(?:own\s+)?(?:last\s+|latest\s+|new\s+)?{_UPLOADED}"
    rf"|the\s+(?:last\s+|latest\s+|new\s+)?{_UPLOADED}(?:\s+i\s+(?:just\s+)?(?:sent|uploaded|shared))?"
    rf"|(?:my\s+|the\s+)?(?:asset|upload|{_UPLOADED})\s*(?:number\s*|no\.?\s*)?#?\s*(?P<which>\d{{1,3}}|[0-9a-f]{{8,64}})"
    r"|#\s*(?P<hash>\d{1,3}))$"
)
_SEARCH = re.compile(
    r"^(?:(?:can|could|would)\s+you\s+)?(?:use|show|put|find|try|get\s+me|give\s+me|i\s+want"
    r"|i'd\s+like|let's\s+(?:see|have|use))\s+(?P<query>.+)$"
)
_QUERY_LEAD = re.compile(
    rf"^(?:(?:a|an|the|some|more)\s+)?(?:{_SHOT}\s+(?:of|with|showing)\s+)?(?:(?:a|an|the|some)\s+)?"
)
_QUERY_TAIL = re.compile(rf"\s+{_SHOT}$")
_SCRIPT_WORDS = _words(
    "word words sentence sentences line lines tone voice language joke jokes question fact facts "
    "title hook ending intro outro music caption captions font number numbers statistic quote "
    "example examples pun puns emoji hashtag hashtags cta call rhyme slogan this that it"
)
_LOOK_LEAD = (
    r"^(?:(?:make\s+it|give\s+it|go\s+with|switch\s+to|change\s+(?:it\s+)?to|use|try|i\s+want"
    r"|i'd\s+like|let's\s+(?:do|go\s+with|use|try|have)|can\s+we\s+(?:have|do|use|try))\s+)?"
    r"(?:an?\s+|the\s+)?"
)
_LOOK_TAIL = (
    r"(?:\s+(?:look|style|pictures|images|visuals|instead|again|only|for\s+this(?:\s+one|"
    r"\s+video)?))*$"
)
_LOOKS: tuple[tuple[Look, re.Pattern[str]], ...] = (
    (Look.OWN, re.compile(
        _LOOK_LEAD + r"(?:no\s+stock(?:\s+footage)?[,.;:!\s-]*)?(?:(?:just|only)\s+)?(?:use\s+)?"
        r"(?:(?:just|only)\s+)?my\s+(?:own\s+)?(?:photos|pictures|pics|images|clips|videos|"
        r"uploads|media|footage|stuff|files)(?:\s+only)?" + _LOOK_TAIL
    )),
    (Look.ILLUSTRATED, re.compile(
        _LOOK_LEAD + r"(?:illustrated|illustrations?|illustration\s+style|hand[- ]drawn|drawn|"
        r"cartoon|(?:ai[- ])?generated\s+(?:images|pictures|art)|ai\s+(?:images|pictures|art))"
        + _LOOK_TAIL
    )),
    (Look.PLAIN, re.compile(
        _LOOK_LEAD + r"(?:(?:plain|simple|basic|built[- ]in|colou?r|gradient)\s+backgrounds?|"
        r"(?:just|only)\s+(?:the\s+)?(?:backgrounds?|gradients?)|gradients?|"
        r"no\s+(?:stock|pictures|photos|images|footage|visuals)(?:\s+(?:footage|at\s+all))?)"
        + _LOOK_TAIL
    )),
    (Look.STOCK, re.compile(
        _LOOK_LEAD + r"(?:back\s+to\s+)?(?:stock|real)(?:\s+(?:footage|photos|pictures|clips|"
        r"videos|images))?" + _LOOK_TAIL
    )),
)
_LIST_ASSETS = re.compile(
    r"^(?:(?:show|list|see|view|what\s+are)\s+(?:me\s+)?)?(?:all\s+)?(?:my|our)\s+"
    r"(?:uploads|assets|uploaded\s+(?:files|photos|media|pictures|clips))$"
    r"|^(?:show|list|see|view)\s+(?:me\s+)?(?:all\s+)?(?:my|our|the)\s+(?:uploads|assets|"
    r"photos|pictures|clips|files|media)$"
    r"|^what\s+(?:have|did)\s+(?:i|we)\s+upload(?:ed)?$|^(?:assets|uploads)$"
)
_DELETE_ASSET = re.compile(
    r"^(?:delete|remove|drop|forget|trash|rm)\s+(?:the\s+|my\s+)?"
    rf"(?:(?:asset|upload|{_UPLOADED})\s*(?:number\s*|no\.?\s*)?#?\s*|#\s*)"
    r"(?P<which>\d{1,3}|[0-9a-f]{8,64})$"
)


def picture_request(text: str) -> PictureRequest | None:
    """What a line asks of the pictures, or None when it is not about them. Lines the
    writer should see ("use simpler words for the intro") are left alone."""
    line = _TAIL.sub("", _LEAD.sub("", text.strip().lower().replace("’", "'")))
    if not line or len(line) > 200:
        return None
    looked = _look(line)
    if looked is not None:
        return looked
    if _LIST_ASSETS.match(line) or _DELETE_ASSET.match(line):
        return PictureRequest(PictureKind.ASSETS)
    head, scene = _head_and_scene(line)
    if scene is not None:
        return _shot_request(head, scene)
    if _ANOTHER.match(line):
        return PictureRequest(PictureKind.ANOTHER)
    upload = _UPLOAD.match(line) if line.startswith("use ") else None
    return None if upload is None else PictureRequest(PictureKind.UPLOAD, upload=_which(upload))


def assets_argument(text: str) -> str:
    """What an assets line asks: "delete <number or id>", or "" to list them."""
    line = _TAIL.sub("", _LEAD.sub("", text.strip().lower()))
    deleted = _DELETE_ASSET.match(line)
    return f"delete {deleted['which']}" if deleted else ""


def scene_number(place: str) -> int | None:
    """ "scene 2", "the second scene", "the intro" (1), "the ending" (`LAST_SCENE`); None when
    `place` names no scene."""
    match = _PLACE.match(" ".join(place.lower().split()))
    if match is None:
        return None
    if match["first"]:
        return 1
    if match["last"]:
        return LAST_SCENE
    if match["n"]:
        word = match["n"]
        return int(word) if word.isdigit() else _index(_NUMBERS, word)
    word = match["o"]
    return int(word[:-2]) if word[:1].isdigit() else _index(_ORDINALS, word)


def _index(words: list[str], word: str) -> int | None:
    return words.index(word) + 1 if word in words else None


def _look(line: str) -> PictureRequest | None:
    for look, pattern in _LOOKS:
        if pattern.match(line) and (look is not Look.OWN or _own(line)):
            return PictureRequest(PictureKind.LOOK, look=look)
    return None


def _own(line: str) -> bool:
    """ "my photos" alone lists them; "just my photos", "no stock, my own" sets the look."""
    return any(word in line for word in ("stock", "just", "only", "own"))


def _head_and_scene(line: str) -> tuple[str, int | None]:
    """The request and the scene it names. Named first ("for scene 3: a lighthouse"), the
    request may be bare words, so it is read as "show <words>"."""
    match = _AT_PLACE.match(line)
    if match is not None and (scene := scene_number(match["place"])) is not None:
        return match["head"].strip(" ,"), scene
    match = _PLACE_FIRST.match(line)
    if match is not None and (scene := scene_number(match["place"])) is not None:
        head = match["head"].strip(" ,")
        return head if _SEARCH.match(head) or _ANOTHER.match(head) else f"show {head}", scene
    return line, None


def _which(upload: re.Match[str]) -> str:
    return upload["which"] or upload["hash"] or ""


def _shot_request(head: str, scene: int) -> PictureRequest | None:
    if _ANOTHER.match(head):
        return PictureRequest(PictureKind.ANOTHER, scene)
    upload = _UPLOAD.match(head)
    if upload is not None:
        return PictureRequest(PictureKind.UPLOAD, scene, upload=_which(upload))
    search = _SEARCH.match(head)
    if search is None:
        return None
    query = _QUERY_TAIL.sub("", _QUERY_LEAD.sub("", search["query"])).strip(" ,")
    words = query.split()
    if not words or len(words) > 8 or any(w in _SCRIPT_WORDS for w in words):
        return None
    return PictureRequest(PictureKind.SEARCH, scene, query=query)


def _picture(text: str) -> Intent | None:
    request = picture_request(text)
    if request is None:
        return None
    argument = assets_argument(text) if request.kind is PictureKind.ASSETS else text
    return Intent(request.kind, argument)
