"""`vvv sql` and `vvv psql`: the collected data at hand, read only, with the database vvv uses.

A query runs in a READ ONLY transaction through the extended protocol, so it is one
statement (a `COMMIT; DELETE ...` cannot slip out of the transaction), and `--param`
values are bound by the server, never pasted into the text. Placeholders are written
`%(name)s`; a lone `%` (as in `LIKE 'A%'`) stays literal.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

import psycopg
from attrs import frozen
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vvv.errors import UsageError

_PLACEHOLDER = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")


@frozen
class Result:
    columns: tuple[str, ...]
    text_rows: list[tuple[str | None, ...]]  # PostgreSQL's own text of each value
    rows: list[tuple[Any, ...]]  # the same values as Python objects (Decimal, datetime, ...)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs from `--param`; a malformed or repeated one is a usage error naming it."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"--param: expected NAME=VALUE, got {pair!r}")
        if name in params:
            raise UsageError(f"--param: {name} is given twice")
        params[name] = value
    return params


def bind(query: str, params: Mapping[str, str]) -> tuple[str, list[str]]:
    """The query with `%(name)s` turned into `$1, $2, ...` and the values in that order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match[1]
        if name not in params:
            raise UsageError(f"the query uses %({name})s but no --param {name}=VALUE is given")
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    text = _PLACEHOLDER.sub(number, query)
    unused = sorted(set(params) - set(order))
    if unused:
        raise UsageError(f"--param {unused[0]}: the query has no %({unused[0]})s")
    return text, [params[name] for name in order]


def run_query(conn: psycopg.Connection, query: str, params: Mapping[str, str]) -> Result:
    """Run one statement read only; a statement that writes fails with PostgreSQL's error."""
    text, values = bind(query, params)
    conn.read_only = True
    with conn.transaction(force_rollback=True), psycopg.RawCursor(conn) as cur:
        cur.execute(text, values, prepare=True)  # prepared: one statement only, whatever the text
        if cur.description is None:
            return Result(columns=(), text_rows=[], rows=[])
        columns = tuple(c.name for c in cur.description)
        result = cur.pgresult
        assert result is not None
        width = len(columns)
        text_rows = [
            tuple(_text(result.get_value(i, j)) for j in range(width)) for i in range(result.ntuples)
        ]
        rows = cur.fetchall()
    return Result(columns=columns, text_rows=text_rows, rows=rows)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def render_table(result: Result) -> str:
    """An aligned table as psql prints one: numbers to the right, NULL as nothing, then the row count."""
    if not result.columns:
        return "(no rows: the statement returns none)"
    rows = [tuple("" if v is None else v for v in row) for row in result.text_rows]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(result.columns)]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows if row[i]) for i in range(len(widths))]
    lines = [" | ".join(name.center(w) for name, w in zip(result.columns, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        cells = [v.rjust(w) if right else v.ljust(w) for v, w, right in zip(row, widths, numeric)]
        lines.append(" | ".join(cells).rstrip())
    count = len(rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|NaN|-?Infinity", text) is not None


def render_csv(result: Result) -> str:
    """CSV with a header line, values in PostgreSQL's text form, NULL as an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.text_rows)
    return out.getvalue()


def as_json(result: Result) -> dict[str, Any]:
    """Rows as objects; NUMERIC as a decimal string (a float would round it), times in ISO 8601."""
    rows = [dict(zip(result.columns, (_jsonable(v) for v in row))) for row in result.rows]
    return {"ok": True, "columns": list(result.columns), "rows": rows, "row_count": len(rows)}


def _jsonable(value: Any) -> Any:
    from datetime import date, datetime, time
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def display_url(url: str, *, show_password: bool) -> str:
    """The URL as a URI other programs take; its password replaced unless asked for."""
    from vvv.config import mask_dsn

    if "://" not in url:  # a key=value string: as a URI, which every client takes
        url = make_conninfo_uri(conninfo_to_dict(url))
    url = re.sub(r"^(postgres(?:ql)?://[^:/@?]*):@", r"\1@", url)  # pgserver's `postgres:@`: no password at all
    return url if show_password else mask_dsn(url)


def make_conninfo_uri(params: Mapping[str, Any]) -> str:
    """`postgresql://user:password@host:port/dbname?other=...` from libpq's parameters."""
    from urllib.parse import quote, urlencode

    rest = {k: v for k, v in params.items() if k not in ("user", "password", "host", "port", "dbname")}
    host = params.get("host") or ""
    if host.startswith("/"):  # a unix socket dir goes in the query, where every client reads it
        rest = {"host": host, **rest}
        host = ""
    user = quote(params.get("user") or "", safe="")
    password = params.get("password")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    port = f":{params['port']}" if params.get("port") and host else ""
    query = f"?{urlencode(rest, safe='/')}" if rest else ""
    if params.get("port") and not host:
        query = f"{query}{'&' if query else '?'}port={params['port']}"
    return f"postgresql://{auth}{host}{port}/{quote(params.get('dbname') or '', safe='')}{query}"


def psql_environment(url: str, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """psql's connection string without its password, which goes in PGPASSWORD: argv is public (ps)."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    child = dict(env)
    if password:
        child["PGPASSWORD"] = password
    child.setdefault("PGAPPNAME", "vvv psql")
    return make_conninfo(**params), child
