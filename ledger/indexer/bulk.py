"""Bulk INSERTs at the speed of the database driver.

A Core ``insert()`` (with its ON CONFLICT clause) is compiled once per
dialect, and every batch is handed to the DBAPI's ``executemany`` as plain
tuples (or dicts, for named paramstyles). The columns' own bind processors
(``Uint256``, ``UTCDateTime``, JSON) are applied, but only where a value
needs one; what is skipped is SQLAlchemy's per-row parameter bookkeeping,
which costs more than the INSERT itself at indexer volumes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, insert

Processor = Callable[[Any], Any] | None


def dialect_insert(dialect_name: str, table: Table) -> Any:
    """INSERT with the dialect's ON CONFLICT support where there is one."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    return insert(table)


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...)`` for many rows at once.

    ``conflict``: None (duplicates raise), ``"ignore"`` (ON CONFLICT DO
    NOTHING on ``keys``) or ``"update"`` (ON CONFLICT (``keys``) DO UPDATE the
    other columns). ``json_text`` maps a JSON column to a row key that may
    hold the value already serialised (used as is when not None).
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        conflict: str | None = None,
        keys: Sequence[str] = (),
        json_text: Mapping[str, str] | None = None,
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.conflict = conflict
        self.keys = tuple(keys)
        self.json_text = dict(json_text or {})
        self._plans: dict[str, _Plan] = {}

    def _plan(self, conn: Connection) -> _Plan:
        dialect = conn.dialect
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        stmt = dialect_insert(dialect.name, self.table).values(
            {name: bindparam(name, type_=self.table.c[name].type) for name in self.columns}
        )
        if self.conflict == "ignore" and hasattr(stmt, "on_conflict_do_nothing"):
            stmt = stmt.on_conflict_do_nothing(index_elements=list(self.keys))
        elif self.conflict == "update" and hasattr(stmt, "on_conflict_do_update"):
            stmt = stmt.on_conflict_do_update(
                index_elements=list(self.keys),
                set_={name: stmt.excluded[name] for name in self.columns if name not in self.keys},
            )
        compiled = stmt.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else self.columns
        processors = []
        for index, name in enumerate(order):
            type_ = self.table.c[name].type
            fast = getattr(type_, "bulk_processor", None)
            proc = fast(dialect) if fast is not None else type_.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None or name in self.json_text:
                processors.append((index, proc, self.json_text.get(name)))
        plan = _Plan(str(compiled), order, itemgetter(*order), tuple(processors), bool(compiled.positional))
        self._plans[dialect.name] = plan
        return plan

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        plan = self._plan(conn)
        get = plan.getter
        params: list[Any]
        if not plan.processors:
            params = [get(row) for row in rows]
        else:
            params = []
            for row in rows:
                values = list(get(row))
                for index, proc, text_key in plan.processors:
                    if text_key is not None:
                        text = row.get(text_key)
                        if text is not None:
                            values[index] = text
                            continue
                    value = values[index]
                    if value is not None and proc is not None:
                        values[index] = proc(value)
                params.append(tuple(values))
        if not plan.positional:
            order = plan.order
            params = [dict(zip(order, values, strict=True)) for values in params]
        conn.exec_driver_sql(plan.sql, params)


class _Plan(NamedTuple):
    sql: str
    order: tuple[str, ...]
    getter: Callable[[Mapping[str, Any]], Any]
    processors: tuple[tuple[int, Processor, str | None], ...]
    positional: bool
