"""Logging to stderr with loguru: text for people, one JSON object per line for machines.

Every line passes through a redacting sink, so a secret (the API token, a database
password) never reaches the log even if some code, or a library's traceback, tried to print it.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterable
from typing import Any, TextIO

from loguru import logger

REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 4  # a shorter "secret" would redact ordinary words


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of every secret replaced."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    return text


def _text_format(record: dict[str, Any]) -> str:
    extra = record["extra"]
    context = ""
    if "collector" in extra:
        run = f" run={extra['run_id']}" if "run_id" in extra else ""
        context = f"[{extra['collector']}{run}] "
    return "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} " + context.replace("{", "{{").replace("}", "}}") + "{message}\n{exception}"


def _json_line(message: Any, secrets: tuple[str, ...]) -> str:
    """Redacts each value before encoding, so JSON escaping cannot hide a secret."""
    record = message.record
    line = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        **{k: v for k, v in record["extra"].items()},
    }
    if record["exception"] is not None:
        line["exception"] = "".join(traceback.format_exception(*record["exception"])).rstrip()
    line = {k: v if isinstance(v, int | float | None) else redact(_text(v), secrets) for k, v in line.items()}
    return json.dumps(line, ensure_ascii=False) + "\n"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def setup(*, level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Replace loguru's default handler with one redacting sink on stderr."""
    secrets = tuple(s for s in secrets if s)
    out = stream or sys.stderr

    def sink(message: Any) -> None:
        line = _json_line(message, secrets) if fmt == "json" else redact(str(message), secrets)
        out.write(line)
        out.flush()

    logger.remove()
    logger.add(sink, level=level, format=_text_format, backtrace=False, diagnose=False, colorize=False)
