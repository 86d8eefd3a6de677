"""Logs redact secrets whatever the code tries, and carry the run's context."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from vvv import logs

_secrets = st.from_regex(r"[A-Za-z0-9_\-.]{16,64}", fullmatch=True)  # the shapes API tokens and passwords take


@given(secret=_secrets, before=st.text(max_size=20), after=st.text(max_size=20), fmt=st.sampled_from(["text", "json"]))
def test_a_secret_never_reaches_the_output(secret: str, before: str, after: str, fmt: str) -> None:
    out = io.StringIO()
    logs.setup(fmt=fmt, secrets=[secret], stream=out)
    logger.info("{}{}{}", before, secret, after)
    logger.bind(header=f"Bearer {secret}").warning("extra field")
    try:
        raise RuntimeError(f"failed with {secret}")
    except RuntimeError:
        logger.exception("boom")
    logs.setup()
    text = out.getvalue()
    assert secret not in text
    assert text.count(logs.REDACTED) >= 2


def test_json_lines_carry_collector_and_run_id() -> None:
    out = io.StringIO()
    logs.setup(fmt="json", stream=out)
    with logger.contextualize(collector="news", run_id=42):
        logger.info("pass started")
    logs.setup()
    line = json.loads(out.getvalue())
    assert (line["collector"], line["run_id"], line["message"], line["level"]) == ("news", 42, "pass started", "INFO")


def test_text_lines_carry_collector_and_run_id() -> None:
    out = io.StringIO()
    logs.setup(stream=out)
    with logger.contextualize(collector="news", run_id=42):
        logger.info("pass started")
    logs.setup()
    assert "[news run=42] pass started" in out.getvalue()
