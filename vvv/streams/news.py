"""`news` -> trading.news_headlines, the REST collector's table and identity (source, headline, time).

The socket's headline says `timestamp` where REST says `created_at`; extra fields
(`is_trump_ts`) keep to `extra`. Same identity, so REST and stream never double a headline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vvv.collectors import news
from vvv.streams.base import Declaration, twin_record, twin_validate


def parse(payload: Any, ticker: str | None = None) -> Any:
    return twin_record(payload, news.COLLECTOR, renamed={"timestamp": "created_at"})


def time_of(record: news.Headline) -> datetime:
    return record.created_at


DECLARATION = Declaration(kind="news", spec=news.SPEC, parse=parse, time_of=time_of, validate=twin_validate(news.COLLECTOR),
                          twin="news")
