"""Logging for every slpdesk process: one line per record on standard error, as text
or as JSON lines (``SLPDESK_LOG_FORMAT``), each with the id of the HTTP request it
belongs to (``-`` outside a request).

``settings.LOGGING`` names the classes here by their dotted paths, so settings
import nothing of ours. What is logged never carries a password, a token, a query
string or a message body: the request line has the path without its query, and
records' ``extra`` fields are only written when they are plain values (a request
object Django attaches is left out).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

#: The id of the HTTP request being served in this thread (set by the middleware).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

#: Attributes every LogRecord has; anything else on a record came in ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message", "asctime", "request_id"}
_PLAIN = (str, int, float, bool, type(None))


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``record.request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (so a test that
    captures standard error sees the log, and a daemon's redirection is honoured)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; sys.stderr is read instead
        pass


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-07-06T14:00:00.123Z INFO slpdesk.request [3f2a…] GET /portal/ 200 12 ms``,
    then the traceback, if any, on the following lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{_time(record)} {record.levelname} {record.name} "
                f"[{getattr(record, 'request_id', '-')}] {record.getMessage()}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``request_id``,
    ``message``, the record's plain ``extra`` fields, and ``traceback``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and isinstance(value, _PLAIN):
                out[key] = value
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def config(*, level: str, fmt: str) -> dict:
    """The ``LOGGING`` dictionary: everything to standard error at ``level`` in ``fmt``
    (``text`` or ``json``)."""
    quiet = {"level": "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"text": {"()": TextFormatter}, "json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": fmt,
                                "filters": ["request_id"]}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # Django's own handlers (a console when DEBUG, mail to ADMINS) are dropped:
            # everything goes through the root's one handler.
            "django": {"handlers": [], "level": level, "propagate": True},
            # 4xx are in the request line already; 5xx come with their traceback.
            "django.request": {"level": "ERROR"},
            # SQL with its parameters (passwords' hashes, message bodies): never.
            "django.db.backends": quiet,
            "mail.log": quiet,  # aiosmtpd: a line per SMTP command
            "asyncio": quiet,
            "PIL": quiet,
        },
    }
