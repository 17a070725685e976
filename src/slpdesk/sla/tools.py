"""``sla due`` and ``sla replay``: the clock's own tools, for every entry point.

``slpdesk sla due|replay`` and the API's ``POST /api/v1/sla/due|replay`` both
call these (same input, same answer). Pure Python, like the rest of
:mod:`slpdesk.sla`. Bad input raises :class:`InputError` (a ``ValueError``)
naming what is wrong, as do the engine's own errors.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from . import calendar_for
from .calendar import get_zone
from .clocks import Event, replay


class InputError(ValueError):
    """Input the tools cannot use; the message names the field."""


def parse_instant(text: str, tz, what: str) -> datetime:
    """An ISO 8601 time; without an offset it is local to ``tz``."""
    if not isinstance(text, str):
        raise InputError(f"{what}: expected an ISO 8601 time, got {text!r}")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        # Through UTC, so that a wall time skipped by a DST change gets the offset
        # that is really in force at that instant.
        return dt.astimezone(UTC).astimezone(tz)
    except (OverflowError, ValueError):
        raise InputError(f"{what}: {text!r} is out of range") from None


def sla_due(policy, *, priority: str, received: str, time_zone: str,
            calendar: str | None = None, received_name: str = "received") -> dict:
    """The deadlines of a case received at ``received`` (``slpdesk sla due``, and the
    API's ``POST /api/v1/sla/due``); errors name the input ``received_name``."""
    tz = get_zone(time_zone)
    prio = policy.priority(priority)
    cal_name = calendar or policy.default_calendar
    cal = calendar_for(policy, cal_name, time_zone)
    received_at = parse_instant(received, tz, received_name)

    def iso(dt):
        return dt.astimezone(tz).isoformat()

    return {
        "priority": prio.code,
        "calendar": cal_name,
        "time_zone": time_zone,
        "received": iso(received_at),
        "clock_starts": iso(cal.next_open(received_at)),
        "response_due": iso(cal.add(received_at, policy.target_seconds(prio.code, "response",
                                                                       cal_name))),
        "resolution_due": iso(cal.add(received_at, policy.target_seconds(
            prio.code, "resolution", cal_name))),
        "update_interval_seconds": policy.target_seconds(prio.code, "update_interval", cal_name),
    }


def read_replay_input(text: str):
    """Parse the JSON document of ``slpdesk sla replay``."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise InputError(f"malformed JSON: {str(exc) or type(exc).__name__}") from None
    return parse_replay_document(doc)


def parse_replay_document(doc):
    """The parts of a replay document (already parsed from JSON): ``(time_zone, tz,
    calendar, now, events)``; raises InputError naming what is wrong."""
    if not isinstance(doc, dict):
        raise InputError("input must be a JSON object")
    for key in ("time_zone", "now", "events"):
        if key not in doc:
            raise InputError(f"{key}: missing")
    if not isinstance(doc["time_zone"], str):
        raise InputError("time_zone: must be a string")
    tz = get_zone(doc["time_zone"])
    now = parse_instant(doc["now"], tz, "now")
    if not isinstance(doc["events"], list):
        raise InputError("events: must be a list")
    events = []
    for n, raw in enumerate(doc["events"]):
        if not isinstance(raw, dict):
            raise InputError(f"events[{n}]: must be an object")
        if "at" not in raw or "type" not in raw:
            raise InputError(f"events[{n}]: needs 'at' and 'type'")
        # Other fields (an actor, a message id...) are carried by other tools and
        # ignored here; a null optional field counts as absent.
        if not isinstance(raw["type"], str):
            raise InputError(f"events[{n}].type: must be a string")
        for key in ("priority", "kind", "resolution"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise InputError(f"events[{n}].{key}: must be a string")
        events.append(Event(
            at=parse_instant(raw["at"], tz, f"events[{n}].at"),
            type=raw["type"],
            priority=raw.get("priority"),
            kind=raw.get("kind"),
            resolution=raw.get("resolution"),
        ))
    calendar = doc.get("calendar")
    if calendar is not None and not isinstance(calendar, str):
        raise InputError("calendar: must be a string")
    return doc["time_zone"], tz, calendar, now, events


def sla_replay(policy, parsed) -> dict:
    """The SLA state of a case from a parsed replay document (``slpdesk sla replay``,
    and the API's ``POST /api/v1/sla/replay``)."""
    zone, tz, cal_name, now, events = parsed
    cal_name = cal_name or policy.default_calendar
    cal = calendar_for(policy, cal_name, zone)
    return replay(events, policy, cal, now, cal_name).as_dict(tz)
