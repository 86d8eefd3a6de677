"""The registry of collectors. Adding one: write its module (one `COLLECTOR` declaration), list it
here, add its migration."""

from __future__ import annotations

from vvv.collectors import darkpool, economic_calendar, news, options_flow
from vvv.core.base import Collector

COLLECTORS: dict[str, Collector] = {
    module.COLLECTOR.spec.name: module.COLLECTOR for module in (news, darkpool, options_flow, economic_calendar)
}
