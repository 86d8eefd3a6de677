"""The registry of collectors. Adding one: write its module, list it here, add its migration."""

from __future__ import annotations

from types import ModuleType

from vvv.collectors import darkpool, economic_calendar, news, options_flow
from vvv.core.base import Collector


def _bind(module: ModuleType) -> Collector:
    return Collector(
        spec=module.SPEC,
        next_request=module.next_request,
        parse=module.parse,
        validate=module.validate,
        advance=module.advance,
        scopes=getattr(module, "scopes", None),
        begin=getattr(module, "begin", None),
        warnings=getattr(module, "warnings", None),
        finished=getattr(module, "finished", None),
        window=getattr(module, "window", None),
    )


COLLECTORS: dict[str, Collector] = {c.spec.name: c for c in map(_bind, [news, darkpool, options_flow, economic_calendar])}
