"""The clock side of scheduling: time zone names, the DST rules, and repeating schedules as a
5-field cron rule read on a local wall clock.

croniter walks NAIVE local datetimes, so "0 9 * * *" in Europe/Berlin means 09:00 on the wall
whatever the offset (08:00Z in winter, 07:00Z in summer). `local_to_utc` then places a wall
time on the time line: a time that does not exist (the spring-forward gap) becomes the gap's
end, an ambiguous one (the fall-back hour) its first occurrence (fold=0). One-off times use the
same function, so both kinds of schedule follow one rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import islice, pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter  # type: ignore[import-untyped]

GENERAL_EXAMPLES = ("tomorrow 9am", "friday at 18:00", "every monday at 9")
CRON_EXAMPLES = ("every monday at 9", "weekdays at 8:30", "0 9 * * 1-5")
ZONE_EXAMPLES = ("Europe/Berlin", "UTC", "Tokyo")

WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
"""Indexed by cron's day-of-week number (0 = Sunday)."""

_CRON_FIELD = re.compile(r"[0-9a-z*/,#?\-]+", re.IGNORECASE)
_UNPREDICTABLE = re.compile(r"(?:^|[,/\-])[hr]", re.IGNORECASE)
"""croniter's hashed (H) and random (R) fields: not deterministic enough to promise a user."""
_ANCHOR = datetime(2001, 1, 1)  # a Monday; `min_interval` counts from here
_SAMPLE = 50


class WhenError(ValueError):
    """A time the user typed that can't be scheduled. `str(error)` is a reply for the chat:
    what was wrong, then a few examples that would work."""

    def __init__(self, problem: str, examples: Sequence[str] = GENERAL_EXAMPLES) -> None:
        self.problem = problem
        self.examples = tuple(examples)
        super().__init__(f"{problem} Try {quote_list(self.examples)}.")

    def __reduce__(self) -> tuple[type[WhenError], tuple[str, tuple[str, ...]]]:
        return WhenError, (self.problem, self.examples)  # survives pickling (RQ, multiprocessing)


def quote_list(items: Sequence[str]) -> str:
    """`“a”, “b” or “c”`."""
    quoted = [f"“{item}”" for item in items]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def ordinal(number: int) -> str:
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10)
    return f"{number}{suffix or 'th'}"


@cache
def zone_names() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "Factory"})


_ABBREVIATIONS = {
    **dict.fromkeys(("utc", "gmt", "z", "zulu"), "UTC"),
    **dict.fromkeys(("et", "est", "edt", "eastern"), "America/New_York"),
    **dict.fromkeys(("ct", "cst", "cdt", "central"), "America/Chicago"),
    **dict.fromkeys(("mt", "mst", "mdt", "mountain"), "America/Denver"),
    **dict.fromkeys(("pt", "pst", "pdt", "pacific"), "America/Los_Angeles"),
    **dict.fromkeys(("akst", "akdt"), "America/Anchorage"),
    "hst": "Pacific/Honolulu",
    "bst": "Europe/London",
    **dict.fromkeys(("wet", "west"), "Europe/Lisbon"),
    **dict.fromkeys(("cet", "cest"), "Europe/Berlin"),
    **dict.fromkeys(("eet", "eest"), "Europe/Athens"),
    "msk": "Europe/Moscow",
    "ist": "Asia/Kolkata",
    "sgt": "Asia/Singapore",
    "hkt": "Asia/Hong_Kong",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    **dict.fromkeys(("aest", "aedt"), "Australia/Sydney"),
    **dict.fromkeys(("acst", "acdt"), "Australia/Adelaide"),
    "awst": "Australia/Perth",
    **dict.fromkeys(("nzst", "nzdt"), "Pacific/Auckland"),
}
"""Common abbreviations, each read as the zone most chat users mean by it (so "EST" follows New
York's DST, and the ambiguous "CST", "IST", "BST" are US Central, India and Britain)."""
_CITY_ALIASES = {
    "nyc": "America/New_York",
    "washington": "America/New_York",
    "san_francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "beijing": "Asia/Shanghai",
    **dict.fromkeys(("delhi", "new_delhi", "mumbai", "bangalore"), "Asia/Kolkata"),
    **dict.fromkeys(("munich", "frankfurt", "hamburg"), "Europe/Berlin"),
}
"""Big cities that are not the name of their zone."""
_REGIONS = frozenset(
    ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
     "Indian", "Pacific")
)  # fmt: skip


def valid_timezone(name: str) -> str | None:
    """The IANA name for an IANA name in any case ("europe/berlin"), a zone's city ("tokyo",
    "new york"), a few big cities and the common abbreviations above; else None."""
    key = "_".join(name.lower().split())
    if not key:
        return None
    return _ABBREVIATIONS.get(key) or _zone_index().get(key)


@cache
def _zone_index() -> dict[str, str]:
    """Lower-case key to IANA name. Later tables win: legacy top-level names ("Japan"), then
    cities (the first zone in sorted order to claim one), then full names."""
    names = sorted(zone_names())
    cities: dict[str, str] = {}
    for name in names:
        if name.split("/")[0] in _REGIONS:
            cities.setdefault(name.rsplit("/", 1)[1].lower(), name)
    legacy = {name.lower(): name for name in names if "/" not in name}
    full = {name.lower(): name for name in names if "/" in name}
    return legacy | cities | full | _CITY_ALIASES


def load_zone(name: str) -> ZoneInfo:
    """The zone for an exact IANA name; WhenError for anything else."""
    if name not in zone_names():
        raise WhenError(f"I don't know the time zone “{name}”.", ZONE_EXAMPLES)
    return ZoneInfo(name)


def require_aware(moment: datetime) -> datetime:
    """Naive datetimes are a programming error here, not a user's: plain ValueError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return moment


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time means in `zone`, in UTC: the gap's end when the time
    does not exist (clocks jump forward over it), the first occurrence when it is ambiguous."""
    instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local:
        return instant
    return _gap_end(local, zone)


def _gap_end(local: datetime, zone: ZoneInfo) -> datetime:
    # Inside a gap, fold=1 reads `local` with the later offset (an instant before the change)
    # and fold=0 with the earlier one (an instant after it); bisect for the change itself.
    before = local.replace(tzinfo=zone, fold=1, microsecond=0).astimezone(UTC)
    after = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle + 1
    return before + timedelta(seconds=low)


def check_cron(cron: str) -> str:
    """`cron` if it is a 5-field rule croniter can always satisfy, else WhenError."""
    fields = cron.split()
    usable = (
        len(fields) == 5
        and all(_CRON_FIELD.fullmatch(field) for field in fields)
        and not any(_UNPREDICTABLE.search(field) for field in fields)
        and croniter.is_valid(cron, strict=True)
    )
    if not usable:
        raise WhenError(
            f"“{cron}” isn't a cron rule I can use: it needs five fields "
            "(minute hour day month weekday) that can all match.",
            CRON_EXAMPLES,
        )
    return cron


def wall_times(cron: str, start: datetime) -> Iterator[datetime]:
    """Naive local times matching `cron`, strictly after the naive `start`, forever."""
    walk = croniter(cron, start)
    while True:
        found: datetime = walk.get_next(datetime)
        yield found


@dataclass(frozen=True)
class Recurrence:
    """A cron rule on the wall clock of `timezone`. Validates on construction (WhenError)."""

    cron: str
    timezone: str

    def __post_init__(self) -> None:
        check_cron(self.cron)
        load_zone(self.timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after the aware `moment`, in UTC."""
        require_aware(moment)
        zone = load_zone(self.timezone)
        start = moment.astimezone(zone).replace(tzinfo=None, fold=0)
        instants = (local_to_utc(local, zone) for local in wall_times(self.cron, start))
        return next(instant for instant in instants if instant > moment)

    def describe(self) -> str:
        return f"{describe_cron(self.cron)} ({self.timezone})"

    def min_interval(self) -> timedelta:
        """The smallest gap between 50 consecutive firings, on the wall clock from a fixed
        Monday, so it does not depend on today's date. (A clock change can bring two real
        firings up to an hour closer, once a year; policy checks care about the rule.)"""
        firings = list(islice(wall_times(self.cron, _ANCHOR), _SAMPLE))
        return min(later - earlier for earlier, later in pairwise(firings))


class _Fields(NamedTuple):
    """croniter's expanded fields: ints, or ["*"] for any, ["l"] for the last day of a month."""

    minutes: list[int | str]
    hours: list[int | str]
    days: list[int | str]
    weekdays: list[int | str]


def describe_cron(cron: str) -> str:
    """Plain words for the common shapes, else `cron “…”`."""
    (minutes, hours, days, months, weekdays), nth_weekday = croniter.expand(cron)
    fields = _Fields(minutes, hours, days, weekdays)
    words = None
    if months == ["*"] and not nth_weekday:
        words = _daily_shape(fields) or _clockwork_shape(fields)
    return words or f"cron “{cron}”"


def _daily_shape(fields: _Fields) -> str | None:
    """A few times of day on some days: "every day at 07:00", "weekdays at 08:30", ..."""
    clocks = _clocks(fields.minutes, fields.hours)
    if clocks is None:
        return None
    if fields.weekdays == ["*"]:
        return _monthly_words(fields.days, clocks)
    if fields.days != ["*"]:
        return None
    if fields.weekdays == [1, 2, 3, 4, 5]:
        return f"weekdays at {clocks}"
    if fields.weekdays == [0, 6]:
        return f"weekends at {clocks}"
    names = [WEEKDAY_NAMES[int(day)] for day in _monday_first(fields.weekdays)]
    return f"every {_and_list(names)} at {clocks}"


def _clocks(minutes: list[int | str], hours: list[int | str]) -> str | None:
    """ "09:00", "09:00 and 17:00": up to four times of day."""
    if "*" in minutes + hours or len(minutes) * len(hours) > 4:
        return None
    return _and_list([f"{hour:02}:{minute:02}" for hour in hours for minute in minutes])


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _monthly_words(days: list[int | str], clocks: str) -> str | None:
    if days == ["*"]:
        return f"every day at {clocks}"
    if days == ["l"]:
        return f"every month on the last day at {clocks}"
    if len(days) == 1 and isinstance(days[0], int):
        return f"every month on the {ordinal(days[0])} at {clocks}"
    return None


def _clockwork_shape(fields: _Fields) -> str | None:
    """Every day, several times an hour or every few hours."""
    minutes, hours, days, weekdays = fields
    if days != ["*"] or weekdays != ["*"]:
        return None
    if minutes == ["*"]:
        return "every minute" if hours == ["*"] else None
    step = _step(minutes, 60)
    if hours == ["*"] and step and 60 % step == 0:
        return f"every {step} minutes"
    if len(minutes) != 1:
        return None
    minute = minutes[0]
    if hours == ["*"]:
        return "every hour on the hour" if minute == 0 else f"every hour at minute {minute}"
    step = _step(hours, 24)
    return f"at minute {minute} past every {ordinal(step)} hour" if step else None


def _step(values: list[int | str], size: int) -> int | None:
    """n when `values` is 0, n, 2n, ... below `size`."""
    if len(values) < 2 or values[0] != 0 or not isinstance(values[1], int):
        return None
    step = values[1]
    return step if values == list(range(0, size, step)) else None


def _monday_first(weekdays: list[int | str]) -> list[int | str]:
    return sorted(weekdays, key=lambda day: (int(day) + 6) % 7)
