"""RFC 5545 recurrence rules, checked before anything expands them.

``dateutil`` accepts rules the RFC forbids and gives them surprising meanings (``INTERVAL=0``
never returns; ``BYMONTHDAY=0`` repeats every day) and it loops, without yielding, through
every year up to 9999 when a rule's parts can never coincide (``BYMONTH=2;BYMONTHDAY=30``). A
calendar rule therefore passes :func:`check_rrule` first: every part is known, given once and
inside its RFC range; parts that cannot meet are refused; and the work of the rule is bounded
(no frequency finer than hourly, at most :data:`MAX_PER_YEAR` occurrences in a year), so any
accepted rule expands in milliseconds.
"""

from __future__ import annotations

import calendar as _cal
import re
from datetime import date, datetime, timedelta

FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
SERVED = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
MAX_PER_YEAR = 1000
"""Occurrences a rule may have in one year: a daily rule has 365, an hourly one with a few
``BYHOUR`` values some hundreds; beyond that, expanding several years would no longer take
milliseconds."""
MAX_INTERVAL = 1000
MAX_COUNT = 100_000

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_RANGES: dict[str, tuple[int, int, bool]] = {
    # part: (lowest, highest, negative values allowed) -- RFC 5545 section 3.3.10
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_KNOWN = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST", *_RANGES)
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_INT = re.compile(r"^[+-]?\d{1,6}$")
# Parts that RFC 5545 forbids with a frequency.
_NOT_WITH = {
    "BYWEEKNO": ("MONTHLY", "WEEKLY", "DAILY", "HOURLY"),
    "BYYEARDAY": ("MONTHLY", "WEEKLY", "DAILY"),
    "BYMONTHDAY": ("WEEKLY",),
}


def normalize(text: str) -> str:
    """The rule without an ``RRULE:`` prefix and surrounding blanks."""
    rule = text.strip()
    return rule[6:] if rule.upper().startswith("RRULE:") else rule


def check_rrule(text: str, dtstart: datetime | None) -> None:
    """Raise ``ValueError`` naming the part and what is valid when ``text`` is not an RFC 5545
    rule seasongate can expand quickly; ``dtstart`` anchors the occurrence count probe."""
    rule = normalize(text)
    if not rule:
        raise ValueError("empty rule (e.g. FREQ=MONTHLY;BYDAY=2TU)")
    if any(c in rule for c in "\r\n"):
        raise ValueError("one rule on one line (DTSTART goes into dtstart:, not into the rule)")
    parts: dict[str, str] = {}
    for item in rule.upper().split(";"):
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise ValueError(f"{item!r} is not NAME=VALUE")
        if name not in _KNOWN:
            raise ValueError(f"unknown part {name} (known: {', '.join(_KNOWN)})")
        if name in parts:
            raise ValueError(f"{name} is given twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise ValueError("FREQ is required (YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY)")
    if freq not in FREQUENCIES:
        raise ValueError(f"FREQ={freq} is not a frequency ({', '.join(FREQUENCIES)})")
    if freq not in SERVED:
        raise ValueError(
            f"FREQ={freq}: seasongate expands every occurrence into a period and serves rules no finer "
            "than HOURLY; describe the window with weekly/daily and a duration instead"
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL together are not allowed (RFC 5545): give one of them")
    _bounded_int(parts, "INTERVAL", 1, MAX_INTERVAL)
    _bounded_int(parts, "COUNT", 1, MAX_COUNT)
    values = {name: _int_list(name, parts[name]) for name in _RANGES if name in parts}
    for name, forbidden in _NOT_WITH.items():
        if name in parts and freq in forbidden:
            raise ValueError(f"{name} is not allowed with FREQ={freq} (RFC 5545)")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, byweekno="BYWEEKNO" in parts)
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise ValueError(f"WKST={parts['WKST']}: use one of {', '.join(_WEEKDAYS)}")
    if "BYSETPOS" in parts and not (set(parts) & {"BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH",
                                                    "BYHOUR", "BYMINUTE", "BYSECOND"}):  # fmt: skip
        raise ValueError("BYSETPOS needs another BYxxx part to pick from (RFC 5545)")
    anchor = dtstart or datetime(2000, 1, 1)  # noqa: DTZ001 - local wall time
    _check_coincide(freq, parts, values, anchor)
    _check_work(rule, anchor)


def _bounded_int(parts: dict[str, str], name: str, low: int, high: int) -> None:
    if name not in parts:
        return
    raw = parts[name]
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name}={raw}: must be a whole number from {low} to {high}")


def _int_list(name: str, raw: str) -> list[int]:
    low, high, negative = _RANGES[name]
    out = []
    for item in raw.split(","):
        item = item.strip()
        number = int(item) if _INT.match(item) else None
        inside = number is not None and (low <= number <= high or (negative and -high <= number <= -low))
        if not inside:
            allowed = f"{low}..{high}" + (f" or -{high}..-{low}" if negative else "")
            zero = " (0 is not a position)" if number == 0 and negative else ""
            raise ValueError(f"{name}={raw}: {item} is outside {allowed}{zero}")
        out.append(int(item))
    return out


def _check_byday(raw: str, freq: str, *, byweekno: bool) -> None:
    for item in raw.split(","):
        match = _BYDAY.match(item.strip())
        if match is None:
            raise ValueError(
                f"BYDAY={raw}: {item} is not a weekday (MO..SU, optionally with a position like 2TU or -1FR)"
            )
        if match.group(2) is None:
            continue
        n = int(match.group(2))
        if freq not in ("MONTHLY", "YEARLY") or byweekno:
            raise ValueError(f"BYDAY={raw}: a position ({item}) needs FREQ=MONTHLY or YEARLY without BYWEEKNO")
        limit = 5 if freq == "MONTHLY" else 53
        if not 1 <= n <= limit:
            raise ValueError(f"BYDAY={raw}: position {n} in {item} is outside 1..{limit} (0 is not a position)")


_DAY_PARTS = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY")
SCAN_YEARS = 28
"""Day parts that can never meet are found by scanning this many years from the rule's
anchor (the weekday pattern of the years 1901-2099 repeats every 28 years)."""


def _check_coincide(freq: str, parts: dict[str, str], values: dict[str, list[int]], anchor: datetime) -> None:
    """Refuse a rule whose parts never select a day: dateutil would search until the year 9999
    for its first occurrence. Single-part rules always select some day; combined ones are
    scanned day by day (a few thousand days, only for such rules)."""
    byday = [_BYDAY.match(item.strip()) for item in parts.get("BYDAY", "").split(",")] if "BYDAY" in parts else []
    nth = any(m is not None and m.group(2) for m in byday)
    combined = sum(name in values for name in _DAY_PARTS) + bool(byday)
    interval = int(parts.get("INTERVAL", "1"))
    if combined < 2 and not nth and "BYSETPOS" not in values and not (interval > 1 and combined):
        return
    plain = {_WEEKDAYS.index(m.group(3)) for m in byday if m is not None and not m.group(2)}
    ordinal = {(_WEEKDAYS.index(m.group(3)), int(m.group(1) + m.group(2))) for m in byday if m and m.group(2)}
    wkst = _WEEKDAYS.index(parts.get("WKST", "MO"))
    per_day = 1
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if not (freq == "HOURLY" and name == "BYHOUR"):
            per_day *= len(values.get(name, [0]))
    positions = values.get("BYSETPOS")
    groups: dict[int, int] = {}
    month_scope = freq == "MONTHLY" or "BYMONTH" in values
    day = anchor.date()
    stop = date(min(anchor.year + SCAN_YEARS, 9998), 1, 1)
    one = timedelta(days=1)
    first_period = _period_index(day, freq, wkst)
    while day < stop:
        in_phase = interval == 1 or freq == "HOURLY" or (_period_index(day, freq, wkst) - first_period) % interval == 0
        if in_phase and _selects(day, values, plain, ordinal, month_scope=month_scope):
            if positions is None:
                return
            key = _period_index(day, freq, wkst)
            groups[key] = groups.get(key, 0) + per_day
            if any(abs(pos) <= groups[key] for pos in positions):
                return
        day += one
    what = "BYSETPOS picks a position no period has" if positions and groups else "its parts never select a day"
    raise ValueError(f"{what} in {SCAN_YEARS} years: the rule would have no occurrence")


def _selects(day: date, values: dict[str, list[int]], plain: set[int], ordinal: set[tuple[int, int]],
             *, month_scope: bool) -> bool:  # fmt: skip
    if "BYMONTH" in values and day.month not in values["BYMONTH"]:
        return False
    if "BYMONTHDAY" in values:
        length = _cal.monthrange(day.year, day.month)[1]
        if day.day not in values["BYMONTHDAY"] and day.day - length - 1 not in values["BYMONTHDAY"]:
            return False
    if "BYYEARDAY" in values:
        number = day.timetuple().tm_yday
        length = 366 if _cal.isleap(day.year) else 365
        if number not in values["BYYEARDAY"] and number - length - 1 not in values["BYYEARDAY"]:
            return False
    if "BYWEEKNO" in values:
        iso_year, week, _ = day.isocalendar()
        weeks = date(iso_year, 12, 28).isocalendar()[1]
        if week not in values["BYWEEKNO"] and week - weeks - 1 not in values["BYWEEKNO"]:
            return False
    if plain or ordinal:
        weekday = day.weekday()
        if weekday in plain:
            return True
        if month_scope:
            first = (day.day - 1) // 7 + 1
            last = -((_cal.monthrange(day.year, day.month)[1] - day.day) // 7 + 1)
        else:
            number = day.timetuple().tm_yday
            first = (number - 1) // 7 + 1
            last = -(((366 if _cal.isleap(day.year) else 365) - number) // 7 + 1)
        return (weekday, first) in ordinal or (weekday, last) in ordinal
    return True


def _period_index(day: date, freq: str, wkst: int) -> int:
    """A running number of the rule's period (year, month, week or day) that holds ``day``."""
    if freq == "YEARLY":
        return day.year
    if freq == "MONTHLY":
        return day.year * 12 + day.month
    if freq == "WEEKLY":
        return (day.toordinal() - (day.weekday() - wkst) % 7) // 7
    return day.toordinal()  # DAILY; HOURLY periods are hours: every day has some


def _check_work(rule: str, anchor: datetime) -> None:
    """Count the occurrences of one year (stopping past the limit) from the rule's anchor."""
    from dateutil.rrule import rrulestr

    try:
        parsed = rrulestr(rule, dtstart=anchor, ignoretz=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid RFC 5545 rule: {exc}") from None
    stop = datetime(anchor.year + 1, 1, 1) + (anchor - datetime(anchor.year, 1, 1))  # noqa: DTZ001
    for count, occurrence in enumerate(parsed, start=1):
        if occurrence >= stop:
            break
        if count > MAX_PER_YEAR:
            raise ValueError(
                f"more than {MAX_PER_YEAR} occurrences a year: seasongate expands every occurrence into a "
                "period and serves rules that stay below that (use weekly/daily windows for frequent ones)"
            )
