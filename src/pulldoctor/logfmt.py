"""Log lines that quoted text cannot forge: the formatter every pulldoctor log handler uses.

A log message quotes what the API server or a registry said (a Status's reason and message, an error).
Each record's message (its format and args, once merged) is masked and escaped into ONE line, so a
``\\n… CRITICAL …`` inside it cannot start a line of its own and an ESC/OSC sequence cannot reach the
terminal that tails the log; tracebacks keep their newlines but lose every other control character.
"""

from __future__ import annotations

import logging
from typing import Any

from pulldoctor.redact import log_safe, log_safe_block

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SafeFormatter(logging.Formatter):
    """``logging.Formatter`` whose message, exception and stack text go through ``redact``'s masks and
    escaping (known secrets, ``Bearer``/``Basic`` values, ``user:password@``; controls, newlines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        merged = record.message
        record.message = log_safe(merged)
        try:
            return super().formatMessage(record)
        finally:
            record.message = merged  # other handlers format the record themselves

    def formatException(self, ei: Any) -> str:
        return log_safe_block(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return log_safe_block(super().formatStack(stack_info))


def configure(stream: Any, level: int = logging.INFO, fmt: str = DEFAULT_FORMAT) -> logging.Handler:
    """``logging.basicConfig`` with a :class:`SafeFormatter`: the root handler for a long-running command."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
    return handler
