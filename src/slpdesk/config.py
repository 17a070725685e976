"""Small parsers for settings (:mod:`slpdesk.settings` reads the environment and
imports no app of ours, so what it needs to check a value lives here), and the
readers needed before (or without) Django's settings: ``slpdesk restore`` must know
the data directory without creating anything in it, which importing the settings
would (the secret key).

Each parser takes the variable's text and returns the value, or raises
``ValueError`` with a message that says what is wrong; ``settings.py`` turns
that into ``ImproperlyConfigured`` naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: An authserv-id as MTAs write it: a host name (RFC 8601 §2.5 recommends the
#: receiving host's domain name), letters, digits, dots, hyphens, underscores.
_AUTHSERV_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")


def parse_authserv_ids(value: str) -> tuple[str, ...]:
    """``mx1.example.com, mx2.example.com`` → ``("mx1.example.com", "mx2.example.com")``
    (lower case, in order, each once); empty text → ``()`` (no mail is verified)."""
    ids: list[str] = []
    for part in (value or "").split(","):
        item = part.strip()
        if not item:
            continue
        if not _AUTHSERV_ID.fullmatch(item):
            raise ValueError(f"{item!r} is not an authserv-id (a host name such as "
                             "mx.example.com; separate several with commas)")
        if item.lower() not in ids:
            ids.append(item.lower())
    return tuple(ids)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/slpdesk``, or ``~/.local/share/slpdesk``."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / "slpdesk"


def data_dir() -> Path:
    """The data directory: ``SLPDESK_DATA_DIR``, else :func:`default_data_dir`."""
    return Path(os.environ.get("SLPDESK_DATA_DIR", "").strip()
                or default_data_dir()).expanduser()
