"""The SQL one API request runs, captured from the service itself and turned into a pgbench script.

Each scenario's baseline is pgbench running exactly these statements, in order, on the same
database with the same number of clients: what the service would cost if Python were free.
Values that must differ between requests (the customer, the till's transaction id, keys) are
marked in the captured request and become pgbench variables; ids a statement returns and a
later one uses become `\\gset` variables.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx

from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.store import database

PARAM = re.compile(r"\$(\d+)")
MIN_RETURNED_ID = 100_000_000  # the generated program starts its ids far above any amount


@dataclass
class Step:
    query: str
    args: tuple[Any, ...]
    result: Any


@dataclass
class Recorder:
    steps: list[Step] = field(default_factory=list)
    on: bool = False


RECORDER = Recorder()


class RecordingConnection(asyncpg.Connection):
    """A connection that notes every statement it runs while the recorder is on.

    The overrides keep asyncpg's own signatures, timeout included.
    """

    def _note(self, query: str, args: tuple[Any, ...], result: Any) -> None:
        if RECORDER.on:
            RECORDER.steps.append(Step(query, args, result))

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        result = await super().execute(query, *args, timeout=timeout)
        self._note(query, args, None)
        return result

    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: Any = None,
    ) -> Any:
        result = await super().fetch(query, *args, timeout=timeout, record_class=record_class)
        self._note(query, args, result)
        return result

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,
        record_class: Any = None,
    ) -> Any:
        result = await super().fetchrow(query, *args, timeout=timeout, record_class=record_class)
        self._note(query, args, [result] if result is not None else [])
        return result

    async def fetchval(
        self,
        query: str,
        *args: Any,
        column: int = 0,
        timeout: float | None = None,
    ) -> Any:
        result = await super().fetchval(query, *args, column=column, timeout=timeout)
        self._note(query, args, result)
        return result


async def _init(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def recording_app(dsn: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service in this process, on a pool of recording connections."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=4,
        init=_init,
        reset=database._reset_connection,  # as the service's own pool does
        connection_class=RecordingConnection,
    )
    assert pool is not None
    app = create_app(settings, pool=pool)
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task: asyncio.Task[None] = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
        await pool.close()


async def capture(client: httpx.AsyncClient, body: dict[str, Any], key: str) -> list[Step]:
    """The statements one request runs (run it once before, so caches are warm)."""
    RECORDER.steps = []
    RECORDER.on = True
    try:
        response = await client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    finally:
        RECORDER.on = False
    payload = response.json()
    assert response.status_code == 200 and "errors" not in payload, payload
    return RECORDER.steps


COLON_NAME = re.compile(r":(?=[A-Za-z_])")


def _quote(text: str) -> str:
    """A string literal pgbench leaves alone: it would take `:name` in it for a variable, so
    such colons are written as the escape \\x3a."""
    if not COLON_NAME.search(text):
        return "'" + text.replace("'", "''") + "'"
    escaped = text.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
    return "E'" + escaped + "'"


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, dict | list) and not isinstance(value, str):
        return json.dumps(value)
    return str(value)


@dataclass
class Script:
    """Render captured steps as a pgbench script, with markers turned into variables."""

    markers: dict[str, str]  # marker text -> pgbench expression giving the text
    # Whole values made up afresh by each request (a voucher's code): pattern -> expression.
    fresh: dict[str, str] = field(default_factory=dict)
    returned: dict[int, str] = field(default_factory=dict)  # a returned id -> its variable
    # A row a SKIP LOCKED query found is the row the next statement changes: its values stand
    # in that statement as variables, so concurrent clients spread as the service's do.
    carried: dict[int, str] = field(default_factory=dict)

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return self.carried.get(value, self.returned.get(value, str(value)))
        if isinstance(value, list | tuple):
            if not value:
                return "'{}'"
            # An ARRAY[...] expression, so an id a statement returned can stand in it.
            return "ARRAY[" + ", ".join(self.literal(v) for v in value) + "]"
        return self._text(_scalar_text(value))

    def _text(self, text: str) -> str:
        """A quoted literal, with each marker in it spliced in as a pgbench variable."""
        for pattern, expression in self.fresh.items():
            if re.fullmatch(pattern, text):
                return re.sub(pattern, expression, text)
        for marker, expression in self.markers.items():
            if marker in text:
                parts = text.split(marker)
                return "(" + f" || {expression} || ".join(_quote(part) for part in parts) + ")"
        return _quote(text)

    def statement(self, step: Step, index: int) -> list[str]:
        query = " ".join(step.query.split())  # before the literals go in: they keep their spaces
        sql = PARAM.sub(lambda m: self.literal(step.args[int(m.group(1)) - 1]), query).rstrip(";")
        self.carried = {}
        found = step.result if isinstance(step.result, list) else []
        if "SKIP LOCKED" in step.query.upper() and len(found) == 1:
            prefix = f"s{index}_"
            row = found[0]
            # When every row is taken the service backs off and tries again; here the
            # client takes the row it found at capture and waits for it, so \gset has a row.
            fallback = ", ".join(self.literal(value) for value in row.values())
            self.carried = {
                value: f"(:{prefix}{column})::int"
                for column, value in row.items()
                if isinstance(value, int)
            }
            sql = (
                f"WITH found AS ({sql}) SELECT * FROM found "
                f"UNION ALL SELECT {fallback} WHERE NOT EXISTS (SELECT FROM found)"
            )
            return [sql, f"\\gset {prefix}"]
        ids = _returned_ids(step)
        if not ids:
            return [sql + ";"]
        prefix = f"r{index}_"
        for column, value in ids.items():
            self.returned[value] = f"(:{prefix}{column})::bigint"
        return [sql, f"\\gset {prefix}"]

    def render(self, steps: Sequence[Step], setup: Sequence[str]) -> str:
        out = list(setup)
        for index, step in enumerate(steps):
            out.extend(self.statement(step, index))
        return "\n".join(out) + "\n"


def _returned_ids(step: Step) -> dict[str, int]:
    """An id an INSERT hands back, which later statements quote: it becomes a variable."""
    if "RETURNING" not in step.query.upper() or "INSERT" not in step.query.upper():
        return {}
    rows = step.result if isinstance(step.result, list) else None
    if rows is None:
        return (
            {"id": step.result}
            if isinstance(step.result, int) and step.result > MIN_RETURNED_ID
            else {}
        )
    if len(rows) != 1 or "id" not in rows[0].keys():  # noqa: SIM118 (a Record, not a dict)
        return {}
    value = rows[0]["id"]
    return {"id": value} if isinstance(value, int) and value > MIN_RETURNED_ID else {}
