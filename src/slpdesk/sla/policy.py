"""The service level policy as data: loaded from TOML into frozen dataclasses.

Every problem in a policy file is reported as a :class:`PolicyError` whose
message names the offending key (``priorities.P4.resolution: ...``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

from .calendar import WEEKDAYS, CalendarError, CalendarSpec

DEFAULT_POLICY = "connect"
LANGUAGES = ("en", "sv")
TARGETS = ("response", "resolution", "update_interval")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Duration:
    """A business-time duration: ``value`` hours, minutes or business days."""

    value: int
    unit: str  # "h", "m" or "d"

    def seconds(self, calendar: CalendarSpec) -> int:
        if self.unit == "d":
            return self.value * calendar.business_day_seconds
        return self.value * (3600 if self.unit == "h" else 60)

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"


@dataclass(frozen=True)
class Text:
    """A text in every shipped language."""

    en: str
    sv: str

    def get(self, lang: str) -> str:
        return self.sv if lang.startswith("sv") else self.en


@dataclass(frozen=True)
class Priority:
    code: str
    name: Text
    summary: Text
    examples_en: tuple[str, ...]
    examples_sv: tuple[str, ...]
    response: Duration
    resolution: Duration
    update_interval: Duration

    def examples(self, lang: str) -> tuple[str, ...]:
        return self.examples_sv if lang.startswith("sv") else self.examples_en


@dataclass(frozen=True)
class Coded:
    """A code with a name in both languages (exclusions, out-of-scope types)."""

    code: str
    name: Text


@dataclass(frozen=True)
class EscalationLevel:
    level: int
    name: Text
    roles: tuple[str, ...]


@dataclass(frozen=True)
class PhoneLine:
    region: str
    number: str
    calendar: str


@dataclass(frozen=True)
class CalendarRule:
    countries: tuple[str, ...]
    calendar: str


@dataclass(frozen=True)
class Policy:
    id: str
    version: str
    vendor: str
    name: Text
    at_risk_fraction: float
    notice_days: int
    supported_releases: int
    default_calendar: str
    priorities: dict[str, Priority]
    calendars: dict[str, CalendarSpec]
    calendar_names: dict[str, Text]
    calendar_rules: tuple[CalendarRule, ...]
    escalation_levels: tuple[EscalationLevel, ...]
    escalation_subject: str
    escalation_direct_priorities: tuple[str, ...]
    out_of_scope: tuple[Coded, ...]
    out_of_scope_route: Text
    exclusions: tuple[Coded, ...]
    phone_lines: tuple[PhoneLine, ...]

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    def priority(self, code: str) -> Priority:
        try:
            return self.priorities[code]
        except KeyError:
            raise PolicyError(
                f"unknown priority {code!r} (expected one of {', '.join(self.priorities)})"
            ) from None

    def calendar(self, name: str) -> CalendarSpec:
        try:
            return self.calendars[name]
        except KeyError:
            raise PolicyError(
                f"unknown calendar {name!r} (expected one of {', '.join(self.calendars)})"
            ) from None

    def target_seconds(self, priority: str, target: str, calendar: str) -> int:
        """Business seconds of ``target`` (response, resolution, update_interval)
        for ``priority`` on ``calendar``."""
        duration: Duration = getattr(self.priority(priority), target)
        return duration.seconds(self.calendar(calendar))

    def calendar_for_country(self, country: str) -> str:
        """The calendar a site in ``country`` (ISO 3166 code) uses (spec C3)."""
        country = (country or "").upper()
        for rule in self.calendar_rules:
            if country in rule.countries:
                return rule.calendar
        return self.default_calendar


# ---------------------------------------------------------------------- loading
def shipped_policy_text() -> str:
    """The TOML text of the policy slpdesk ships with."""
    return resources.files(__package__).joinpath(f"policies/{DEFAULT_POLICY}.toml").read_text(
        "utf-8")


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; without ``path`` the shipped default."""
    if path is None:
        return policy_from_text(shipped_policy_text(), f"{DEFAULT_POLICY}.toml")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    return policy_from_text(text, str(path))


def policy_from_text(text: str, source: str | None = None) -> Policy:
    """Parse and validate a policy from its TOML ``text``; errors start with
    ``source:`` when it is given."""
    prefix = f"{source}: " if source else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{prefix}not valid TOML: {exc}") from exc
    try:
        return parse_policy(raw)
    except PolicyError as exc:
        raise PolicyError(f"{prefix}{exc}") from None


def parse_policy(raw: dict[str, Any]) -> Policy:
    """Build a :class:`Policy` from a parsed TOML mapping."""
    r = _Reader(raw, "")
    r.only("policy", "priorities", "calendars", "calendar_rules", "escalation_levels",
           "escalation", "out_of_scope", "out_of_scope_route", "exclusions", "phone_lines")
    head = r.table("policy")
    head.only("id", "version", "vendor", "name", "at_risk_fraction", "notice_days",
              "supported_releases", "default_calendar")
    calendars_raw = r.table("calendars")
    calendars: dict[str, CalendarSpec] = {}
    calendar_names: dict[str, Text] = {}
    for name in calendars_raw.raw:
        c = calendars_raw.table(name)
        calendars[name] = _calendar(name, c)
        calendar_names[name] = c.text("name")
    if not calendars:
        raise PolicyError("calendars: at least one calendar is required")

    default_calendar = head.str("default_calendar")
    if default_calendar not in calendars:
        raise PolicyError(f"policy.default_calendar: unknown calendar {default_calendar!r}")

    pr = r.table("priorities")
    priorities = {code: _priority(code, pr.table(code)) for code in pr.raw}
    if not priorities:
        raise PolicyError("priorities: at least one priority is required")

    rules = []
    for k, rule in enumerate(r.array("calendar_rules", required=False)):
        cal = rule.str("calendar")
        if cal not in calendars:
            raise PolicyError(f"calendar_rules[{k}].calendar: unknown calendar {cal!r}")
        rule.only("countries", "calendar")
        rules.append(CalendarRule(tuple(c.upper() for c in rule.strs("countries")), cal))

    levels = []
    for k, lv in enumerate(r.array("escalation_levels")):
        lv.only("level", "name", "roles")
        level = lv.int("level")
        if level != k + 1:
            raise PolicyError(f"escalation_levels[{k}].level: expected {k + 1}, found {level}")
        levels.append(EscalationLevel(level, lv.text("name"), tuple(lv.strs("roles"))))
    esc = r.table("escalation")
    esc.only("email_subject", "direct_to_top_priorities")
    direct = tuple(esc.strs("direct_to_top_priorities"))
    for code in direct:
        if code not in priorities:
            raise PolicyError(f"escalation.direct_to_top_priorities: unknown priority {code!r}")

    phone_lines = []
    for k, line in enumerate(r.array("phone_lines", required=False)):
        line.only("region", "number", "calendar")
        cal = line.str("calendar")
        if cal not in calendars:
            raise PolicyError(f"phone_lines[{k}].calendar: unknown calendar {cal!r}")
        phone_lines.append(PhoneLine(line.str("region"), line.str("number"), cal))

    fraction = head.number("at_risk_fraction")
    if not 0 <= fraction < 1:
        raise PolicyError("policy.at_risk_fraction: must be at least 0 and below 1")
    notice = head.int("notice_days")
    if notice < 0:
        raise PolicyError("policy.notice_days: must not be negative")
    supported = head.int("supported_releases")
    if supported < 1:
        raise PolicyError("policy.supported_releases: must be at least 1")

    return Policy(
        id=head.str("id"),
        version=head.str("version"),
        vendor=head.str("vendor"),
        name=head.text("name"),
        at_risk_fraction=float(fraction),
        notice_days=notice,
        supported_releases=supported,
        default_calendar=default_calendar,
        priorities=priorities,
        calendars=calendars,
        calendar_names=calendar_names,
        calendar_rules=tuple(rules),
        escalation_levels=tuple(levels),
        escalation_subject=esc.str("email_subject"),
        escalation_direct_priorities=direct,
        out_of_scope=tuple(_coded(x) for x in r.array("out_of_scope", required=False)),
        out_of_scope_route=r.text("out_of_scope_route"),
        exclusions=tuple(_coded(x) for x in r.array("exclusions")),
        phone_lines=tuple(phone_lines),
    )


_DURATION = re.compile(r"^\s*(\d+)\s*([hmd])\s*$")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_duration(text: str) -> Duration:
    """``"8h"`` → 8 business hours; ``"30m"``; ``"10d"`` → 10 business days."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) <= 0:
        raise PolicyError(
            f"{text!r} is not a duration (write e.g. \"8h\", \"30m\" or \"10d\", more than 0)"
        )
    return Duration(int(m.group(1)), m.group(2))


def _priority(code: str, p: _Reader) -> Priority:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", code):
        raise PolicyError(f"priorities.{code}: a priority code is 1-16 letters, digits, - or _")
    p.only("name", "summary", "examples", "response", "resolution", "update_interval")
    examples = p.table("examples")
    examples.only(*LANGUAGES)
    return Priority(
        code=code,
        name=p.text("name"),
        summary=p.text("summary"),
        examples_en=tuple(examples.strs("en")),
        examples_sv=tuple(examples.strs("sv")),
        response=p.duration("response"),
        resolution=p.duration("resolution"),
        update_interval=p.duration("update_interval"),
    )


def _calendar(name: str, c: _Reader) -> CalendarSpec:
    c.only("name", "zone", "hours", "holidays", "closed_dates", "business_day_hours")
    hours_r = c.table("hours")
    unknown = set(hours_r.raw) - set(WEEKDAYS)
    if unknown:
        raise PolicyError(f"{hours_r.path}: unknown weekday {sorted(unknown)[0]!r} (use mon..sun)")
    hours = []
    for wd in WEEKDAYS:
        spans = []
        for k, text in enumerate(hours_r.strs(wd, required=False)):
            m = _SPAN.match(text)
            if not m:
                raise PolicyError(f"{hours_r.path}.{wd}[{k}]: {text!r} is not like \"08:00-17:00\"")
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            try:
                opens = time(h1, m1)
                closes = time(0) if (h2, m2) == (24, 0) else time(h2, m2)
            except ValueError:
                raise PolicyError(
                    f"{hours_r.path}.{wd}[{k}]: {text!r} is not a time span"
                ) from None
            spans.append((opens, closes))
        hours.append(tuple(spans))
    hol = c.table("holidays", required=False)
    if hol:
        hol.only("country", "subdiv", "categories")
    closed = []
    closed_raw = c.raw.get("closed_dates", [])
    if not isinstance(closed_raw, list):
        raise PolicyError(f"{c.path}.closed_dates: must be a list of dates")
    for k, d in enumerate(closed_raw):
        if isinstance(d, str):
            try:
                d = date.fromisoformat(d)
            except ValueError:
                d = None
        if type(d) is not date:  # a TOML date-time is a datetime: refuse it too
            raise PolicyError(f"{c.path}.closed_dates[{k}]: not a date (write 2026-12-24)")
        closed.append(d)
    day_hours = c.raw.get("business_day_hours")
    if day_hours is not None and (
        isinstance(day_hours, bool) or not isinstance(day_hours, int | float)
        or not 0 < day_hours <= 24
    ):
        raise PolicyError(f"{c.path}.business_day_hours: must be a number of hours, 0 to 24")
    try:
        return CalendarSpec(
            name=name,
            hours=tuple(hours),
            zone=c.str("zone"),
            holiday_country=hol.str("country", required=False) if hol else None,
            holiday_subdiv=hol.str("subdiv", required=False) if hol else None,
            holiday_categories=tuple(hol.strs("categories", required=False)) if hol else (),
            closed_dates=frozenset(closed),
            business_day_seconds=int(day_hours * 3600) if day_hours else 0,
        )
    except CalendarError as exc:
        raise PolicyError(f"{c.path}: {exc}") from None


def _coded(x: _Reader) -> Coded:
    x.only("code", "name")
    return Coded(x.str("code"), x.text("name"))


class _Reader:
    """Typed access to a TOML table that names the key in every error."""

    def __init__(self, raw: Any, path: str):
        if not isinstance(raw, dict):
            raise PolicyError(f"{path}: must be a table")
        self.raw = raw
        self.path = path

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool):
        if key not in self.raw:
            if required:
                raise PolicyError(f"{self._key(key)}: missing")
            return None
        return self.raw[key]

    def only(self, *allowed: str) -> None:
        """Refuse keys this table does not know (a typo must not silently drop a rule)."""
        unknown = sorted(set(self.raw) - set(allowed))
        if unknown:
            raise PolicyError(f"{self._key(unknown[0])}: unknown key (expected one of "
                              f"{', '.join(allowed)})")

    def table(self, key: str, required: bool = True) -> _Reader:
        v = self._get(key, required)
        if v is None:
            return _Reader({}, self._key(key)) if required else None
        if not isinstance(v, dict):
            raise PolicyError(f"{self._key(key)}: must be a table")
        return _Reader(v, self._key(key))

    def array(self, key: str, required: bool = True) -> list[_Reader]:
        v = self._get(key, required)
        if v is None:
            return []
        if not isinstance(v, list):
            raise PolicyError(f"{self._key(key)}: must be an array of tables")
        return [_Reader(x, f"{self._key(key)}[{k}]") for k, x in enumerate(v)]

    def str(self, key: str, required: bool = True) -> str | None:
        v = self._get(key, required)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise PolicyError(f"{self._key(key)}: must be a non-empty string")
        return v

    def strs(self, key: str, required: bool = True) -> list[str]:
        v = self._get(key, required)
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise PolicyError(f"{self._key(key)}: must be a list of strings")
        return v

    def int(self, key: str) -> int:
        v = self._get(key, True)
        if not isinstance(v, int) or isinstance(v, bool):
            raise PolicyError(f"{self._key(key)}: must be a whole number")
        return v

    def number(self, key: str) -> float:
        v = self._get(key, True)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise PolicyError(f"{self._key(key)}: must be a number")
        return v

    def text(self, key: str) -> Text:
        t = self.table(key)
        t.only(*LANGUAGES)
        for lang in LANGUAGES:
            t.str(lang)
        return Text(en=t.raw["en"], sv=t.raw["sv"])

    def duration(self, key: str) -> Duration:
        v = self._get(key, True)
        try:
            return parse_duration(v)
        except PolicyError as exc:
            raise PolicyError(f"{self._key(key)}: {exc}") from None
