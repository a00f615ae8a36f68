"""Read a publishing time a user typed: once ("tomorrow 9am", "25 dec 10:00", "in 2 hours",
"2026-12-01T09:00+01:00") or repeating ("every monday at 9", "weekdays at 8", "0 9 * * 1-5").

Everything is read on the wall clock of the user's zone and placed on the time line with the
DST rules of `bot.when_cron`: a time in the spring-forward gap fires at the gap's end, an
ambiguous one at its first occurrence. The answer is deterministic given `now`.

Conventions: a day without a time means 09:00 (so does a repeating rule without one); "tonight"
means 20:00, and "tonight at 8" 20:00; "midnight" is the 00:00 that starts the named day, except
that "midnight", "today at midnight" and "tonight at midnight" mean the coming one; "friday" is
the coming Friday (today if the time is still ahead) and "next friday" is never today; a time
alone is today if still ahead, else tomorrow; a date without a year is the next one ahead;
"in 3 days" keeps the wall-clock time while "in 2 hours" counts real hours. An explicit UTC
offset wins over the user's zone. Nothing in the past, nothing more than 366 days ahead.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.when_cron import (
    CRON_EXAMPLES,
    WEEKDAY_NAMES,
    ZONE_EXAMPLES,
    Recurrence,
    WhenError,
    check_cron,
    load_zone,
    local_to_utc,
    ordinal,
    require_aware,
    valid_timezone,
)

__all__ = ["Recurrence", "When", "WhenError", "parse_when", "valid_timezone"]

HORIZON = timedelta(days=366)
DEFAULT_TIME = time(9, 0)
TONIGHT_TIME = time(20, 0)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip


@dataclass(frozen=True)
class When:
    """When to publish: the first firing (aware UTC) and, for a repeating schedule, its rule."""

    first: datetime
    recurrence: Recurrence | None
    timezone: str

    def __post_init__(self) -> None:
        if require_aware(self.first).utcoffset():
            raise ValueError(f"When.first must be in UTC, got {self.first.isoformat()}")
        load_zone(self.timezone)
        if self.recurrence is not None and self.recurrence.timezone != self.timezone:
            raise ValueError("When.timezone and its recurrence's timezone differ")

    def describe(self) -> str:
        """ "Thu 26 Nov at 09:00 (Europe/Berlin)", or the rule and ", first Mon 30 Nov"."""
        local = self.first.astimezone(ZoneInfo(self.timezone))
        if self.recurrence is None:
            return f"{_day_label(local)} at {local:%H:%M} ({self.timezone})"
        return f"{self.recurrence.describe()}, first {_day_label(local)}"


def parse_when(text: str, timezone: str, now: datetime) -> When:
    """Read `text` in `timezone` (anything `valid_timezone` accepts) as seen at the aware
    `now`. Raises WhenError, whose message is ready to send to the user."""
    zone_name = valid_timezone(timezone)
    if zone_name is None:
        raise WhenError(f"I don't know the time zone “{timezone}”.", ZONE_EXAMPLES)
    reader = _Reader(load_zone(zone_name), zone_name, require_aware(now))
    cleaned = _normalize(text)
    if not cleaned:
        raise WhenError("Tell me when to publish it.")
    when = _read_repeating(cleaned, reader) or _read_once(cleaned, reader)
    if when.first > now + HORIZON:
        raise WhenError("That's more than a year away; I can schedule up to a year ahead.")
    return when


# --- shared reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    zone: ZoneInfo
    zone_name: str
    now: datetime

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)

    def instant(self, day: date, clock: time) -> datetime:
        return local_to_utc(datetime.combine(day, clock), self.zone)


_POLITE_END = re.compile(r"(?:[\s.!?]+|\b(?:please|pls|thanks|thank you|ok|okay)\b)+$")
_LEADING_WORDS = re.compile(r"^(?:(?:please|pls|at|on|for)\s+)+")


def _normalize(text: str) -> str:
    text = text.lower().replace("’", "'").replace(",", " ")
    text = re.sub(r"\b([ap])\.m\b\.?", r"\1m", text)
    text = _POLITE_END.sub("", " ".join(text.split()))
    return _LEADING_WORDS.sub("", text)


def _names(table: dict[str, int]) -> dict[str, int]:
    """{"mon monday": 0} to {"mon": 0, "monday": 0}."""
    return {word: number for words, number in table.items() for word in words.split()}


_WEEKDAYS = _names({
    "mon monday": 0, "tue tues tuesday": 1, "wed weds wednesday": 2,
    "thu thur thurs thursday": 3, "fri friday": 4, "sat saturday": 5, "sun sunday": 6,
})  # fmt: skip
"""Python's weekday numbers (Monday = 0)."""
_MONTHS = _names({
    "jan january": 1, "feb february": 2, "mar march": 3, "apr april": 4, "may": 5,
    "jun june": 6, "jul july": 7, "aug august": 8, "sep sept september": 9,
    "oct october": 10, "nov november": 11, "dec december": 12,
})  # fmt: skip
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))


# --- clock times ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    meridiem: bool = False  # "am"/"pm" was given
    midnight: bool = False


_NOT_BEFORE = r"(?<![\w:.\-/])"
_CLOCKS = (
    re.compile(rf"{_NOT_BEFORE}(?P<h>\d{{1,2}}):(?P<m>\d\d)(?::00)?\s*(?P<ap>am|pm)?(?![\w:])"),
    re.compile(rf"{_NOT_BEFORE}(?P<h>\d{{1,2}})(?:\.(?P<m>\d\d))?\s*(?P<ap>am|pm)(?!\w)"),
    re.compile(rf"{_NOT_BEFORE}(?P<h>\d{{1,2}})\s*o'?clock(?!\w)"),
    re.compile(r"(?<!\w)at\s+(?P<h>\d{1,2})(?![\w:.\-/])"),
    re.compile(r"(?<!\w)(?P<name>noon|midday|midnight)(?!\w)"),
)
_BARE_HOUR = re.compile(rf"{_NOT_BEFORE}(?P<h>\d{{1,2}})(?![\w:.\-/])")
"""A lone number is an hour ("tomorrow 9") unless a month name says it is a day ("25 dec")."""
_MONTH_WORD = re.compile(rf"\b(?:{_MONTH})\b")


def _read_clock(text: str) -> tuple[_Clock | None, str]:
    """The time of day in `text`, and `text` without it."""
    for pattern in _CLOCKS:
        match = pattern.search(text)
        if match:
            return _clock(match), _without(text, match)
    match = None if _MONTH_WORD.search(text) else _BARE_HOUR.search(text)
    return (_clock(match), _without(text, match)) if match else (None, text)


def _without(text: str, match: re.Match[str]) -> str:
    return " ".join(f"{text[: match.start()]} {text[match.end() :]}".split())


def _clock(match: re.Match[str]) -> _Clock:
    groups = match.groupdict()
    if groups.get("name"):
        return _Clock(0, 0, midnight=True) if groups["name"] == "midnight" else _Clock(12, 0)
    hour, minute, meridiem = int(groups["h"]), int(groups.get("m") or 0), groups.get("ap")
    limit = (1, 12) if meridiem else (0, 23)
    if not limit[0] <= hour <= limit[1] or minute > 59:
        raise WhenError(f"“{match.group().strip()}” isn't a time of day.", _CLOCK_EXAMPLES)
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return _Clock(hour, minute, meridiem=bool(meridiem))


_CLOCK_EXAMPLES = ("18:30", "6:30pm", "tomorrow at noon")


# --- repeating schedules ----------------------------------------------------------------------

_CRON = re.compile(r"(?:cron\s+)?(?P<rule>[\d*/,\-]+\s+[\d*/,\-]+(?:\s+[\da-z*/,#?\-]+){3})")
_EVERY_UNIT = re.compile(
    r"every\s+(?:(?P<n>\d+|other)\s+)?(?P<unit>minute|min|hour|hr)s?|(?P<hourly>hourly)"
)
_REPEATING = re.compile(
    r"(?:every|each|hourly|daily|weekly|monthly|weekdays|weekends|cron"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)days)\b"
)
_REPEAT_FILLER = frozenset(("every", "each", "at", "on", "the", "of", "and", "&", "in"))
_MONTHLY_EXAMPLES = ("every month on the 1st at 10:00", "monthly on the 15th", "daily at 8")


def _read_repeating(text: str, reader: _Reader) -> When | None:
    if not _REPEATING.match(text) and not _CRON.fullmatch(text):
        return None
    recurrence = Recurrence(_repeat_cron(text), reader.zone_name)
    return When(recurrence.next_after(reader.now), recurrence, reader.zone_name)


def _repeat_cron(text: str) -> str:
    rule = _CRON.fullmatch(text)
    if rule or text.startswith("cron"):
        return check_cron(" ".join(rule["rule"].split()) if rule else text[4:].strip())
    unit = _EVERY_UNIT.fullmatch(text)
    if unit:
        return _unit_cron(unit)
    clock, rest = _read_clock(text)
    if clock is None:
        clock = _Clock(DEFAULT_TIME.hour, DEFAULT_TIME.minute)
    month_day, weekdays = _repeat_days(rest, text)
    return f"{clock.minute} {clock.hour} {month_day} * {weekdays}"


def _unit_cron(match: re.Match[str]) -> str:
    count = {None: 1, "other": 2}.get(match["n"]) or int(match["n"])  # "every other hour": 2
    if match["unit"] in {"hour", "hr"} or match["hourly"]:
        if not 1 <= count <= 23:
            raise WhenError("I can repeat every 1 to 23 hours.", ("every 2 hours", "daily at 8"))
        return "0 * * * *" if count == 1 else f"0 */{count} * * *"
    if not 1 <= count <= 59:
        raise WhenError("I can repeat every 1 to 59 minutes.", ("every 30 minutes", "every hour"))
    return "* * * * *" if count == 1 else f"*/{count} * * * *"


def _repeat_days(rest: str, text: str) -> tuple[str, str]:
    """(day of month, day of week) cron fields for "every day", "weekdays", "mon wed and fri",
    "every month on the 1st", ..."""
    words = [word for word in rest.split() if word not in _REPEAT_FILLER]
    phrase = " ".join(words)
    if phrase in {"day", "days", "daily"}:
        return "*", "*"
    if phrase in {"weekday", "weekdays", "workday", "workdays"}:
        return "*", "1-5"
    if phrase in {"weekend", "weekends", "weekend day", "weekend days"}:
        return "*", "0,6"
    if {"month", "monthly"} & set(words):
        return _month_day([word for word in words if word not in {"month", "monthly"}]), "*"
    weekdays = _weekday_list([word for word in words if word not in {"week", "weekly"}])
    if weekdays is None:
        raise WhenError(f"I couldn't read “{text}” as a repeating schedule.", CRON_EXAMPLES)
    return "*", weekdays


def _weekday_list(words: list[str]) -> str | None:
    """ "mon wed fri" or "mondays" as a cron day-of-week list, "1,3,5"."""
    days = {_WEEKDAYS.get(word.removesuffix("s"), -1) for word in words}
    if not days or -1 in days:
        return None
    return ",".join(str(number) for number in sorted((day + 1) % 7 for day in days))


def _month_day(words: list[str]) -> str:
    if words == ["last", "day"]:
        return "L"
    day = _ORDINAL.fullmatch(" ".join(words))
    if day is None:
        raise WhenError("Which day of the month should it be?", _MONTHLY_EXAMPLES)
    if not 1 <= int(day["d"]) <= 31:
        raise WhenError(f"No month has a {ordinal(int(day['d']))} day.", _MONTHLY_EXAMPLES)
    return day["d"]


# --- one-off times ----------------------------------------------------------------------------

_ORDINAL = re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?")
_ISO = re.compile(r"\d{4}-\d\d-\d\d[t ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:z|[+-]\d\d(?::?\d\d)?)?")
_RELATIVE = re.compile(r"in\s+(?P<span>.+)|(?P<ahead>.+)\s+from\s+now")
_PIECE = (
    r"(?P<n>\d+(?:\.\d+)?|an?|half\s+an?)\s*"
    r"(?P<unit>weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m)\s*(?:and\s+)?"
)
_SPAN = re.compile(rf"(?:{_PIECE})+")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1)}  # fmt: skip
_PAST = re.compile(r"\byesterday\b|\bago\b|\blast\s+(?:night|week|\w+day)\b")


def _read_once(text: str, reader: _Reader) -> When:
    if _PAST.search(text):
        raise WhenError("That's in the past; I can only schedule ahead.")
    instant = _iso_instant(text, reader) or _relative_instant(text, reader)
    if instant is None:
        instant = _calendar_instant(text, reader)
    if instant <= reader.now:
        raise _past(instant, reader)
    return When(instant, None, reader.zone_name)


def _iso_instant(text: str, reader: _Reader) -> datetime | None:
    """ "2026-12-01T09:00+01:00", "2026-12-01t08:00z", "2026-12-01 09:00" (local)."""
    if not _ISO.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.upper().replace(" ", "T", 1).replace(" ", ""))
    except ValueError:
        raise WhenError(f"“{text.upper()}” isn't a real date and time.", _DATE_EXAMPLES) from None
    if moment.tzinfo is None:
        return reader.instant(moment.date(), moment.time())
    return moment.astimezone(UTC)


def _relative_instant(text: str, reader: _Reader) -> datetime | None:
    """ "in 2 hours", "in 1h30m", "in 3 days" (same wall-clock time), "an hour from now"."""
    relative = _RELATIVE.fullmatch(text)
    span = relative and (relative["span"] or relative["ahead"])
    if not span:
        return None
    if not _SPAN.fullmatch(span):
        raise WhenError(
            "I can count ahead in minutes, hours, days or weeks.",
            ("in 2 hours", "in 1h30m", "in 3 days"),
        )
    days, clock_time = timedelta(), timedelta()
    for piece in re.finditer(_PIECE, span):
        step = _count(piece["n"]) * _UNITS[piece["unit"][0]]
        if piece["unit"][0] in "wd":
            days += step
        else:
            clock_time += step
    if not days:
        return reader.now + clock_time
    shifted = reader.local_now.replace(tzinfo=None) + days
    return local_to_utc(shifted, reader.zone) + clock_time


def _count(number: str) -> float:
    """ "2", "1.5", "an", "half a"."""
    if number in {"a", "an"}:
        return 1.0
    return 0.5 if number.startswith("half") else float(number)


def _calendar_instant(text: str, reader: _Reader) -> datetime:
    """A day and/or a time of day: "fri 18:00", "25 dec", "9am", "tonight at 8"."""
    clock, rest = _read_clock(text)
    today = reader.local_now.date()
    days = _read_days(rest, today, text)
    if days is None and clock is None:
        raise WhenError(f"I couldn't read “{text}” as a time.")
    days = days or _Days((today, today + timedelta(days=1)))
    wall, shift = _wall_time(clock, days)
    instants = [reader.instant(day + timedelta(days=shift), wall) for day in days.dates]
    ahead = [instant for instant in instants if instant > reader.now]
    if ahead:
        return ahead[0]
    if days.today:
        local = reader.local_now
        raise WhenError(
            f"Today at {wall:%H:%M} has already passed (it's {local:%H:%M} in {reader.zone_name}).",
            (f"tomorrow at {wall:%H:%M}", "in 2 hours"),
        )
    raise _past(instants[-1], reader)


@dataclass(frozen=True)
class _Days:
    dates: tuple[date, ...]
    """Candidate days, earliest first; the first one still ahead at the given time wins."""
    today: bool = False  # "today"/"tonight": never rolls over to tomorrow
    tonight: bool = False


def _wall_time(clock: _Clock | None, days: _Days) -> tuple[time, int]:
    """The time of day, and how many days after the named day it falls."""
    if clock is None:
        return (TONIGHT_TIME if days.tonight else DEFAULT_TIME), 0
    hour = clock.hour
    if days.tonight and not clock.meridiem and not clock.midnight:
        hour = _evening(hour)
    next_day = (clock.midnight and days.today) or (days.tonight and hour < 5)
    return time(hour, clock.minute), int(next_day)


def _evening(hour: int) -> int:
    """ "tonight at 8" is 20:00, "tonight at 12" midnight; 0 and 13-23 stay as they are."""
    if hour == 12:
        return 0
    return hour + 12 if 1 <= hour <= 11 else hour


_DAY_FILLER = frozenset(("at", "on", "for", "the", "of", "this", "by"))
_DATE_EXAMPLES = ("25 dec 10:00", "1st of december at 9", "2026-12-01 09:00")
_RELATIVE_DAYS = {
    "today": (0, True, False),
    "tonight": (0, True, True),
    **dict.fromkeys(("tomorrow", "tmrw", "tmr"), (1, False, False)),
    "tomorrow night": (1, False, True),
    "day after tomorrow": (2, False, False),
}
"""Word: (days from today, whether it is today, whether it is tonight)."""


def _read_days(rest: str, today: date, text: str) -> _Days | None:
    phrase = " ".join(word for word in rest.split() if word not in _DAY_FILLER)
    if not phrase:
        return None
    for pattern, read in _DAY_PATTERNS:
        match = pattern.fullmatch(phrase)
        if match:
            return read(match, today)
    raise WhenError(f"I couldn't read “{text}” as a time.")


def _relative_day(match: re.Match[str], today: date) -> _Days:
    offset, is_today, tonight = _RELATIVE_DAYS[match.group()]
    return _Days((today + timedelta(days=offset),), is_today, tonight)


def _weekday(match: re.Match[str], today: date) -> _Days:
    ahead = (_WEEKDAYS[match["weekday"]] - today.weekday()) % 7
    if match["next"] and ahead == 0:
        ahead = 7
    first = today + timedelta(days=ahead)
    return _Days((first, first + timedelta(days=7)))


def _calendar_date(match: re.Match[str], today: date) -> _Days:
    groups = match.groupdict()
    month = int(groups["m"]) if groups.get("m") else _MONTHS[groups["month"]]
    year, day = int(groups["y"]) if groups.get("y") else None, int(groups["d"])
    _check_day(year, month, day, match.group())
    years = (year,) if year else (today.year, today.year + 1)
    dates = tuple(date(y, month, day) for y in years if day <= monthrange(y, month)[1])
    if not dates:
        raise WhenError(f"There's no {day} {MONTHS[month - 1]} in the coming year.", _DATE_EXAMPLES)
    return _Days(dates)


def _month_day_ahead(match: re.Match[str], today: date) -> _Days:
    day = int(match["d"])
    if not 1 <= day <= 31:
        raise WhenError(f"No month has a {ordinal(day)} day.", _DATE_EXAMPLES)
    months = ((today.year + (today.month - 1 + k) // 12, (today.month - 1 + k) % 12 + 1)
              for k in range(13))  # fmt: skip
    return _Days(tuple(date(y, m, day) for y, m in months if day <= monthrange(y, m)[1]))


def _ambiguous_date(match: re.Match[str], _today: date) -> _Days:
    raise WhenError(
        f"I can't tell whether “{match.group()}” is day/month or month/day.", _DATE_EXAMPLES
    )


def _check_day(year: int | None, month: int, day: int, written: str) -> None:
    if not 1 <= month <= 12 or day < 1:
        raise WhenError(f"“{written}” isn't a real date.", _DATE_EXAMPLES)
    if day > monthrange(year or 2000, month)[1]:  # 2000: a leap year allows 29 Feb
        where = f" in {year}" if year else ""
        raise WhenError(f"{MONTHS[month - 1]}{where} has no {ordinal(day)}.", _DATE_EXAMPLES)


_DAY_PATTERNS = (
    (re.compile("|".join(_RELATIVE_DAYS)), _relative_day),
    (re.compile(rf"(?P<next>next )?(?P<weekday>{_WEEKDAY})"), _weekday),
    (re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"), _calendar_date),
    (re.compile(rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)? (?P<month>{_MONTH})(?: (?P<y>\d{{4}}))?"),
     _calendar_date),
    (re.compile(rf"(?P<month>{_MONTH}) (?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: (?P<y>\d{{4}}))?"),
     _calendar_date),
    (re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)"), _month_day_ahead),
    (re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?"), _ambiguous_date),
)  # fmt: skip


def _past(instant: datetime, reader: _Reader) -> WhenError:
    local = instant.astimezone(reader.zone)
    return WhenError(f"{_day_label(local, year=True)} at {local:%H:%M} is already in the past.")


def _day_label(local: datetime, *, year: bool = False) -> str:
    """ "Thu 26 Nov", locale-independent; with `year`, "Thu 26 Nov 2026"."""
    weekday = WEEKDAY_NAMES[(local.weekday() + 1) % 7]
    label = f"{weekday[:3]} {local.day} {MONTHS[local.month - 1][:3]}"
    return f"{label} {local.year}" if year else label
