"""Hypothesis strategies for every HTTP route, built from the documented payload shapes.

Each strategy draws a request as the platform documents it (Slack's Events API `event_callback`
and `url_verification`, interactivity `block_actions` in a `payload` form field, slash
commands; Telegram's `Update` with `message` or `callback_query`; our signed media links), with
every field either a plausible value or a hostile one (a wrong type, an empty or huge value, a
number out of range, NUL bytes, deep nesting). Requests are signed or carry the webhook secret,
so they get past the signature check and reach the parsers behind it.

Used by `tests/e2e/test_fuzz_routes.py` (a few hundred cases per route, in `make test`) and
`bench/fuzz_routes.py` (5,000 or more per route).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

JSON = Any

# --- hostile values -------------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63, -(2**63), 10**20, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 1e-300, 0.5]),
)
_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "null", "/make", "/help", "@novacast_bot", "<@UBOTNOVA>",
                     "nc1:approve:0a1b", "nc1:render:ffff", "../../etc/passwd", "é" * 3, "\udcff"]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=2000),
)


def _deep(depth: int) -> JSON:
    value: JSON = []
    for _ in range(depth):
        value = [value]
    return value


_DEEP = st.sampled_from([50, 200, 900]).map(_deep)
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT)
ANY_JSON: st.SearchStrategy[JSON] = st.one_of(
    _SCALARS,
    _DEEP,
    st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=8,
    ),
)


def _same(value: JSON) -> JSON:
    return value


def weighted(*choices: tuple[int, st.SearchStrategy[JSON]]) -> st.SearchStrategy[JSON]:
    """One of the strategies, each drawn about `weight` times in the total. (A plain `one_of`
    flattens nested `one_of`s, so a union of many kinds would crowd out the documented value.)"""
    return st.one_of(*[strategy.map(_same) for weight, strategy in choices for _ in range(weight)])


def sometimes(valid: st.SearchStrategy[JSON]) -> st.SearchStrategy[JSON]:
    """A documented field's value (hostile values come from `mutated`, one field at a time)."""
    return valid


def shaped(
    fields: dict[str, st.SearchStrategy[JSON]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, JSON]]:
    """An object with the documented fields: the `required` ones there, the others often
    missing, and now and then an unknown one."""
    present = {name: value for name, value in fields.items() if name in required}
    optional = {name: value for name, value in fields.items() if name not in required}
    whole = st.fixed_dictionaries(present, optional=optional)
    extra = st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=2)
    return weighted((4, whole), (1, st.tuples(whole, extra).map(lambda p: {**p[1], **p[0]})))


def _paths(value: JSON, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value that could hold something else."""
    found = [here]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*here, index))
    return found


def _replace(value: JSON, path: tuple[Any, ...], new: JSON) -> JSON:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copied = list(value)
    copied[head] = _replace(copied[head], rest, new)
    return copied


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[JSON]) -> JSON:
    """A documented value with one to three places (a field, an element, the whole) replaced
    by anything at all: a wrong type, a number out of range, deep nesting, odd text. Deeper
    places come first, so the simplest draws hit single fields."""
    value = draw(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = sorted(_paths(value), key=len, reverse=True)
        path = paths[draw(st.integers(min_value=0, max_value=len(paths) - 1))]
        value = _replace(value, path, draw(ANY_JSON))
    return value


def documented_or_mutated(valid: st.SearchStrategy[JSON]) -> st.SearchStrategy[JSON]:
    return weighted((1, valid), (2, mutated(valid)))


# --- Slack --------------------------------------------------------------------------------------

TEAM = "T0TEST"
_USERS = st.sampled_from(["U0ALICE", "U0BOB", "U0CAROL", "UBOTNOVA", "U" + "9" * 60])
_CHANNELS = st.sampled_from(["C0GENERAL", "D0ALICE", "G0PRIVATE", "C" + "x" * 80])
_TS = st.one_of(st.sampled_from(["1700000000.000100", "1700000001.000200"]), _TEXT)
_SLACK_TEXTS = st.one_of(
    st.sampled_from(["help", "/make 12s on why the sea is salty", "/status", "more formal",
                     "<@UBOTNOVA> /help", "render", "approve", "<!channel> hi", "undo"]),
    _TEXT,
)
_BUTTON_VALUES = st.one_of(
    st.builds(
        lambda action, project: f"nc1:{action}:{project}",
        st.sampled_from(["render", "revise", "cancel", "approve", "reject", "undo", "publish",
                         "unschedule", "schedule", "zzz"]),
        st.text(alphabet="0123456789abcdef", min_size=1, max_size=33),
    ),
    _TEXT,
)


def _message_event() -> st.SearchStrategy[dict[str, JSON]]:
    return shaped(
        {
            "type": st.sampled_from(["message", "app_mention", "reaction_added", "app_home"]),
            "user": _USERS,
            "text": _SLACK_TEXTS,
            "ts": _TS,
            "channel": _CHANNELS,
            "channel_type": st.sampled_from(["channel", "im", "group", "mpim"]),
            "thread_ts": _TS,
            "subtype": st.sampled_from(["bot_message", "message_changed", "file_share",
                                        "thread_broadcast"]),
            "bot_id": st.sampled_from(["B0OTHER", "BNOVACAST"]),
            "files": st.lists(
                shaped({"id": _TEXT, "name": _TEXT, "mimetype": _TEXT, "size": _NUMBERS}),
                max_size=3,
            ),
        },
        required=("type", "user", "text", "ts", "channel"),
    )


def event_callback(event_ids: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, JSON]]:
    return shaped(
        {
            "token": st.just("deprecated-verification-token"),
            "team_id": st.just(TEAM),
            "api_app_id": st.just("A0NOVACAST"),
            "event": _message_event(),
            "type": st.just("event_callback"),
            "event_id": event_ids,
            "event_time": _NUMBERS,
            "authorizations": st.just(
                [{"team_id": TEAM, "user_id": "UBOTNOVA", "is_bot": True}]
            ),
        },
        required=("team_id", "event", "type", "event_id"),
    )


URL_VERIFICATION = shaped(
    {"token": st.just("x"), "challenge": _TEXT, "type": st.just("url_verification")}
)


def block_actions(response_url: str) -> st.SearchStrategy[dict[str, JSON]]:
    action = shaped(
        {
            "action_id": st.sampled_from(["novacast_render", "novacast_approve", "other"]),
            "block_id": st.just("novacast_buttons"),
            "value": _BUTTON_VALUES,
            "type": st.just("button"),
            "action_ts": _TS,
        },
        required=("action_id", "value"),
    )
    return shaped(
        {
            "type": st.sampled_from(["block_actions", "block_actions", "view_submission",
                                     "shortcut", "message_action"]),
            "user": shaped(
                {"id": _USERS, "username": _TEXT, "name": _TEXT, "team_id": _TEXT}, ("id",)
            ),
            "api_app_id": st.just("A0NOVACAST"),
            "token": st.just("deprecated-verification-token"),
            "container": shaped(
                {"type": st.just("message"), "message_ts": _TS, "channel_id": _CHANNELS,
                 "thread_ts": _TS, "is_ephemeral": st.booleans()},
                ("channel_id",),
            ),
            "trigger_id": _TEXT,
            "team": shaped({"id": st.just(TEAM), "domain": _TEXT}, ("id",)),
            "channel": shaped({"id": _CHANNELS, "name": _TEXT}),
            "message": shaped({"ts": _TS, "thread_ts": _TS, "text": _TEXT}),
            "response_url": st.sampled_from([response_url, "", "not a url"]),
            "actions": st.lists(action, min_size=0, max_size=3),
        },
        required=("type", "user", "container", "team", "actions", "trigger_id"),
    )


def slash_command(response_url: str) -> st.SearchStrategy[dict[str, str]]:
    """Form fields: always strings on the wire, so hostile means odd text, not odd types."""
    text = st.one_of(_SLACK_TEXTS.filter(lambda t: isinstance(t, str)), st.text(max_size=300))
    field = st.one_of(st.text(max_size=20), st.just(""))
    return st.fixed_dictionaries(
        {},
        optional={
            "token": st.just("deprecated-verification-token"),
            "team_id": st.one_of(st.just(TEAM), field),
            "team_domain": field,
            "channel_id": st.one_of(_CHANNELS, field),
            "channel_name": st.sampled_from(["general", "directmessage", ""]),
            "user_id": st.one_of(_USERS, field),
            "user_name": field,
            "command": st.sampled_from(["/make", "/novacast", "/nc", "/status", "/", "/x" * 40]),
            "text": text,
            "api_app_id": st.just("A0NOVACAST"),
            "response_url": st.sampled_from([response_url, "", "not a url"]),
            "trigger_id": field,
        },
    )


def slack_body(response_url: str) -> st.SearchStrategy[bytes]:
    """One request body for `/slack/events`, in the encoding Slack uses for its kind."""
    ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12).map(
        lambda s: "Ev" + s
    )
    as_json = weighted(
        (6, documented_or_mutated(event_callback(ids))), (1, URL_VERIFICATION), (1, ANY_JSON)
    ).map(_dumps)
    interaction = documented_or_mutated(block_actions(response_url)).map(
        lambda p: urlencode({"payload": json.dumps(p)}).encode()
    )
    command = slash_command(response_url).map(
        lambda f: urlencode(f, errors="surrogatepass").encode()  # a lone surrogate: bad UTF-8
    )
    raw = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode))
    odd_payload = ANY_JSON.map(lambda v: urlencode({"payload": json.dumps(v)}).encode())
    return weighted((4, as_json), (4, interaction), (3, command), (1, raw), (1, odd_payload))


def _dumps(value: JSON) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- Telegram -----------------------------------------------------------------------------------

_TG_USERS = st.sampled_from(
    [
        {"id": 4001, "is_bot": False, "first_name": "Ada", "username": "ada"},
        {"id": 4002, "is_bot": False, "first_name": "Bob"},
        {"id": 123456, "is_bot": True, "first_name": "NOVACAST", "username": "novacast_bot"},
    ]
)
_TG_CHATS = st.sampled_from(
    [
        {"id": 4001, "type": "private", "first_name": "Ada"},
        {"id": -1001234567890, "type": "supergroup", "title": "Creators"},
        {"id": -5, "type": "group", "title": "G"},
        {"id": 7, "type": "channel", "title": "C"},
    ]
)
_TG_TEXTS = st.one_of(
    st.sampled_from(["/help", "/make 10s on why cats purr", "/make@novacast_bot 10s on tea",
                     "/status", "more formal", "@novacast_bot hello", "/start", "/assets"]),
    _TEXT,
)
_ENTITY = shaped(
    {"type": st.sampled_from(["bot_command", "mention", "text_mention", "url", "bold"]),
     "offset": st.integers(0, 50), "length": st.integers(0, 50), "user": _TG_USERS},
    required=("type", "offset", "length"),
)


def _tg_message(depth: int = 0) -> st.SearchStrategy[dict[str, JSON]]:
    fields: dict[str, st.SearchStrategy[JSON]] = {
        "message_id": st.integers(min_value=1, max_value=10**6),
        "date": st.integers(min_value=1_600_000_000, max_value=1_900_000_000),
        "chat": _TG_CHATS,
        "from": _TG_USERS,
        "text": _TG_TEXTS,
        "entities": st.lists(_ENTITY, max_size=3),
        "caption": _TG_TEXTS,
        "message_thread_id": st.integers(1, 10**6),
        "is_topic_message": st.booleans(),
        "photo": st.lists(
            shaped({"file_id": _TEXT, "file_unique_id": _TEXT, "width": st.integers(1, 4000),
                    "height": st.integers(1, 4000), "file_size": st.integers(1, 10**9)},
                   required=("file_id", "file_unique_id", "width", "height")),
            max_size=2,
        ),
        "document": shaped({"file_id": _TEXT, "file_unique_id": _TEXT, "mime_type": _TEXT,
                            "file_name": _TEXT, "file_size": st.integers(1, 10**9)},
                           required=("file_id", "file_unique_id")),
    }
    if depth == 0:
        fields["reply_to_message"] = _tg_message(1)
    return shaped(fields, required=("message_id", "date", "chat", "from", "text"))


def telegram_update(update_ids: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, JSON]]:
    query = shaped(
        {"id": _TEXT, "from": _TG_USERS, "message": _tg_message(1), "chat_instance": _TEXT,
         "data": _BUTTON_VALUES},
        required=("id", "from", "message", "chat_instance", "data"),
    )
    kinds = weighted(
        (4, st.fixed_dictionaries({"message": _tg_message()})),
        (3, st.fixed_dictionaries({"callback_query": query})),
        (1, st.fixed_dictionaries({"edited_message": _tg_message()})),
        (1, st.dictionaries(st.text(max_size=12), ANY_JSON, max_size=2)),
    )
    ids = weighted((20, update_ids), (1, ANY_JSON))
    return st.tuples(ids, kinds).map(lambda p: {"update_id": p[0], **p[1]})


def telegram_body() -> st.SearchStrategy[bytes]:
    ids = st.integers(min_value=1, max_value=2**31)
    return weighted(
        (8, documented_or_mutated(telegram_update(ids)).map(_dumps)),
        (1, ANY_JSON.map(_dumps)),
        (1, st.binary(max_size=200)),
    )


# --- media links --------------------------------------------------------------------------------

_MEDIA_PATHS = st.one_of(
    st.sampled_from(
        ["media/T1/p1/video.mp4", "media/T1/p1/narration.wav", "redis/appendonly.aof",
         "link-secret", "logs/bot.log", "../../etc/passwd", "/etc/passwd",
         "media/../redis/appendonly.aof", "media/T1/p1/vid\x00eo.mp4", "media/T1/p1/",
         "published/T1/video.mp4", "media/T1/p1/escape.mp4", ""]
    ),
    st.text(max_size=60),
)
_EXPIRIES = weighted(
    (2, st.just("9999999999")),  # 2286: with the video's path, a link that works
    (3, st.integers(min_value=-(2**40), max_value=2**64).map(str)),
    (2, st.sampled_from(["", "soon", "1e20", "-5", "٣٣", "²", "9" * 5000, "0x10", " 99", "NaN"])),
    (1, st.text(max_size=12)),
)


@dataclass(frozen=True)
class MediaRequest:
    """A `/media/{token}/{name}` path: a payload to sign (or a raw token), and a name."""

    payload: bytes | None
    raw_token: str
    name: str


def media_request() -> st.SearchStrategy[MediaRequest]:
    signed = st.builds(
        lambda expiry, path, name: MediaRequest(
            f"{expiry}:{path}".encode("utf-8", "surrogatepass"), "", name
        ),
        _EXPIRIES,
        _MEDIA_PATHS,
        st.sampled_from(["video.mp4", "x", "%00", "a" * 300]),
    )
    unsigned = st.builds(
        lambda token, name: MediaRequest(None, token, name),
        st.one_of(st.text(max_size=80), st.sampled_from(["a.b", "....", "YQ.YQ", "%00.%00"])),
        st.just("video.mp4"),
    )
    raw_signed = st.builds(
        lambda data: MediaRequest(data, "", "video.mp4"), st.binary(max_size=120)
    )
    return weighted((5, signed), (2, unsigned), (1, raw_signed))

