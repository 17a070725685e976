"""Per-token rate limits: ``SLPDESK_API_RATE`` (``120/m``), counted in fixed windows
in the database, so that every web process on every machine counts against the
same limit (no cache server needed; the embedded SQLite default works as it is).

The rate is parsed by :func:`slpdesk.config.parse_rate`, which the settings module
calls at start-up, so a bad value stops the process with a message naming the
variable.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import NamedTuple

from slpdesk.config import Rate


class Verdict(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends (when refused)


def hit(key: str, rate: Rate, now: datetime) -> Verdict:
    """Count one request of ``key`` in the current window and say whether it is within
    ``rate``. One atomic UPDATE per request; the row is created on first use."""
    from django.db import IntegrityError, transaction
    from django.db.models import Case, F, Value, When

    from .models import RateLimitWindow

    epoch = now.timestamp()
    window = int(epoch // rate.seconds)
    with transaction.atomic():
        bump = {"count": Case(When(window=window, then=F("count") + 1), default=Value(1)),
                "window": Value(window)}
        if not RateLimitWindow.objects.filter(key=key).update(**bump):
            try:
                with transaction.atomic():
                    RateLimitWindow.objects.create(key=key, window=window, count=1)
            except IntegrityError:  # another process created it first
                RateLimitWindow.objects.filter(key=key).update(**bump)
        count = RateLimitWindow.objects.filter(key=key).values_list("count", flat=True).get()
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - epoch))
    return Verdict(count <= rate.requests, rate.requests, max(0, rate.requests - count),
                   retry_after)


def used_up(key: str, rate: Rate, now: datetime) -> Verdict | None:
    """Whether ``key`` has used up ``rate`` in the current window, without counting a
    request: the refusal (as :func:`hit` gives it) or None."""
    from .models import RateLimitWindow

    epoch = now.timestamp()
    window = int(epoch // rate.seconds)
    count = (RateLimitWindow.objects.filter(key=key, window=window)
             .values_list("count", flat=True).first()) or 0
    if count < rate.requests:
        return None
    return Verdict(False, rate.requests, 0,
                   max(1, math.ceil((window + 1) * rate.seconds - epoch)))
