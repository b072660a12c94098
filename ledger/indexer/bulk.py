"""Bulk INSERTs at the speed of the database driver.

A Core ``insert()`` (with its ON CONFLICT clause) is compiled once per
dialect, and every batch is handed to the DBAPI's ``executemany`` as plain
tuples (or dicts, for named paramstyles); on PostgreSQL bigger batches go
through COPY instead, in binary format (psycopg's per-row executemany
machinery costs several times what the server does, and text COPY makes the
server parse every number, time and document). The columns' own bind processors
(``Uint256``, ``UTCDateTime``, JSON) are applied, but only where a value
needs one, by a list comprehension generated per table and dialect; what is
skipped is SQLAlchemy's per-row parameter bookkeeping, which costs more than
the INSERT itself at indexer volumes. Columns that are NULL in every row of a
batch are left out of the statement (another compiled variant, cached).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Processor = Callable[[Any], Any] | None
#: From this many rows on, PostgreSQL gets COPY instead of executemany.
COPY_MIN_ROWS = 50


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
        self._narrow: dict[tuple[str, tuple[int, ...]], tuple[_Plan, Callable[[Any], tuple[Any, ...]]]] = {}
        #: PostgreSQL: the table's column type oids by name (see _binary_copy_types).
        self._copy_oids: dict[str, int] | None = None

    def _statement(self, dialect: Dialect, columns: Sequence[str]) -> tuple[str, tuple[str, ...], bool]:
        """The INSERT of ``columns``: its SQL, the columns in parameter order,
        and whether its parameters are positional."""
        stmt = dialect_insert(dialect.name, self.table).values(
            {name: bindparam(name, type_=self.table.c[name].type) for name in columns}
        )
        if self.conflict == "ignore" and hasattr(stmt, "on_conflict_do_nothing"):
            stmt = stmt.on_conflict_do_nothing(index_elements=list(self.keys))
        elif self.conflict == "update" and hasattr(stmt, "on_conflict_do_update"):
            stmt = stmt.on_conflict_do_update(
                index_elements=list(self.keys),
                set_={name: stmt.excluded[name] for name in columns if name not in self.keys},
            )
        compiled = stmt.compile(dialect=dialect)
        if compiled.positional:
            return str(compiled), tuple(compiled.positiontup or ()), True
        return str(compiled), tuple(columns), False

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        sql, order, positional = self._statement(dialect, self.columns)
        processors = []
        for index, name in enumerate(order):
            type_ = self.table.c[name].type
            fast = getattr(type_, "bulk_processor", None)
            proc = fast(dialect) if fast is not None else type_.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None or name in self.json_text:
                processors.append((index, proc, self.json_text.get(name)))
        convert = _compile_converter(self.table.name, order, processors)
        # Columns an INSERT may leave out: NULL by default, and not part of
        # an upsert (whose SET clause names every column).
        optional = (
            ()
            if self.conflict == "update"
            else tuple(
                index
                for index, name in enumerate(order)
                if self.table.c[name].nullable
                and not self.table.c[name].primary_key
                and self.table.c[name].default is None
                and self.table.c[name].server_default is None
            )
        )
        plan = _Plan(sql, order, convert, positional, optional)
        self._plans[dialect.name] = plan
        return plan

    def params(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The rows as DBAPI parameter tuples for ``dialect`` (in the order of
        the compiled statement), bind conversions applied."""
        return self._plan(dialect).convert(rows)

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]], known_new: bool = False) -> None:
        """Insert ``rows``. ``known_new``: the caller checked, under its write
        lock, that none of them is stored yet, so PostgreSQL can COPY straight
        into the table instead of merging through a staging table."""
        if rows:
            self.execute_params(conn, self.params(conn.dialect, rows), known_new)

    def execute_params(self, conn: Connection, params: list[tuple[Any, ...]], known_new: bool = False) -> None:
        """Insert rows already turned into parameter tuples by :meth:`params`."""
        if not params:
            return
        plan = self._plan(conn.dialect)
        copy = conn.dialect.name == "postgresql" and len(params) >= COPY_MIN_ROWS
        if not (copy and self.conflict is not None and not known_new):  # the staging table has every column
            plan, params = self._without_null_columns(conn.dialect, plan, params)
        if copy:
            self._copy(conn, plan.order, params, known_new)
            return
        if not plan.positional:
            order = plan.order
            conn.exec_driver_sql(plan.sql, [dict(zip(order, values, strict=True)) for values in params])
        else:
            conn.exec_driver_sql(plan.sql, params)

    def _without_null_columns(
        self, dialect: Dialect, plan: _Plan, params: list[tuple[Any, ...]]
    ) -> tuple[_Plan, list[tuple[Any, ...]]]:
        """The statement and rows without the optional columns that are NULL
        in every row: they get NULL anyway, and each bound parameter costs
        (a new invoice's 13 empty columns were a quarter of its insert time
        on SQLite)."""
        omit = tuple(i for i in plan.optional if all(row[i] is None for row in params))
        if not omit:
            return plan, params
        key = (dialect.name, omit)
        narrow = self._narrow.get(key)
        if narrow is None:
            keep = [name for index, name in enumerate(plan.order) if index not in omit]
            sql, order, positional = self._statement(dialect, keep)
            positions = [plan.order.index(name) for name in order]
            pick = itemgetter(*positions) if len(positions) > 1 else (lambda row: (row[positions[0]],))
            narrow = (_Plan(sql, order, plan.convert, positional, ()), pick)
            self._narrow[key] = narrow
        narrow_plan, pick = narrow
        return narrow_plan, [pick(row) for row in params]

    def _copy(self, conn: Connection, order: Sequence[str], params: list[Any], known_new: bool) -> None:
        """PostgreSQL: COPY the rows (psycopg streams them in C), through a
        temporary staging table when conflicts must be ignored or merged.
        psycopg's errors are raised as SQLAlchemy's, as from any statement."""
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            self._copy_rows(conn, order, params, known_new)
        except dbapi_error as exc:
            lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
            if lost:
                conn.invalidate()
            raise DBAPIError.instance(
                f"COPY {self.table.name}", None, exc, dbapi_error, connection_invalidated=lost, dialect=conn.dialect
            ) from exc

    def _copy_rows(self, conn: Connection, order: Sequence[str], params: list[Any], known_new: bool) -> None:
        quote = conn.dialect.identifier_preparer.quote
        table = quote(self.table.name)
        columns = ", ".join(quote(name) for name in order)
        dbapi: Any = conn.connection.dbapi_connection  # psycopg's own connection: COPY is its API
        with dbapi.cursor() as cursor:
            types = self._binary_copy_types(cursor, order)
            if types is not None:
                cursor.adapters.register_dumper(None, _json_text_binary_dumper())
            target = table
            if self.conflict is not None and not known_new:
                target = quote(f"stage_{self.table.name}")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS "
                    f"AS SELECT {columns} FROM {table} WITH NO DATA"
                )
            binary = " (FORMAT BINARY)" if types is not None else ""
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN{binary}") as copy:
                if types is not None:
                    copy.set_types(types)
                for values in params:
                    copy.write_row(values)
            if target == table:
                return
            stage = target
            keys = ", ".join(quote(name) for name in self.keys)
            if self.conflict == "ignore":
                action = "DO NOTHING"
            else:
                action = "DO UPDATE SET " + ", ".join(
                    f"{quote(name)} = EXCLUDED.{quote(name)}" for name in order if name not in self.keys
                )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT ({keys}) {action}"
            )
            cursor.execute(f"DELETE FROM {stage}")

    def _binary_copy_types(self, cursor: Any, order: Sequence[str]) -> list[int] | None:
        """The type oids of ``order``'s columns, read from the server once, for
        COPY in binary format; None if a column has a type outside
        _BINARY_COPY_TYPES or is not known yet (then COPY sends text)."""
        if self._copy_oids is None:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped",
                [self.table.name],
            )
            self._copy_oids = {str(name): int(oid) for name, oid in cursor.fetchall()}
        oids = [self._copy_oids.get(name, 0) for name in order]
        return oids if all(oid in _BINARY_COPY_TYPES for oid in oids) else None


#: Oids of the column types COPY sends in binary format (the server then
#: parses no text): int2, int4, int8, bool, text, varchar, numeric, date,
#: timestamptz and jsonb (from JSON text: _json_text_binary_dumper).
_BINARY_COPY_TYPES = frozenset({21, 23, 20, 16, 25, 1043, 1700, 1082, 1184, 3802})


@cache
def _json_text_binary_dumper() -> Any:
    from psycopg.types.json import JsonbBinaryDumper

    class JsonTextBinaryDumper(JsonbBinaryDumper):  # type: ignore[misc]
        """jsonb in COPY's binary format (a version byte, then the text) from
        JSON text already serialised, as the decoders write the events'
        args; other values (psycopg's Jsonb wrappers) as psycopg dumps them."""

        def dump(self, obj: Any) -> Any:
            if isinstance(obj, str):
                return b"\x01" + obj.encode()
            return super().dump(obj)

    return JsonTextBinaryDumper


def _compile_converter(
    table: str, order: Sequence[str], processors: Sequence[tuple[int, Processor, str | None]]
) -> Callable[[Sequence[Mapping[str, Any]]], list[tuple[Any, ...]]]:
    """Generate ``convert(rows)``: one list comprehension building each row's
    tuple in ``order``, with each column's bind conversion inlined (applied to
    values that are not None; a JSON column takes its ready-made text when the
    row has one). Per row that is one tuple and no Python-level loop: the
    parameter building costs a fraction of a generic loop over the columns."""
    namespace: dict[str, Any] = {}
    by_index = {index: (proc, text_key) for index, proc, text_key in processors}
    exprs = []
    for index, name in enumerate(order):
        value = f"r[{name!r}]"
        if index in by_index:
            proc, text_key = by_index[index]
            if proc is not None:
                namespace[f"p{index}"] = proc
                value = f"(None if (v{index} := r[{name!r}]) is None else p{index}(v{index}))"
            if text_key is not None:
                value = f"(t{index} if (t{index} := r.get({text_key!r})) is not None else {value})"
        exprs.append(value)
    source = f"def convert(rows):\n    return [({', '.join(exprs)},) for r in rows]\n"
    exec(compile(source, f"<bulk parameters of {table}>", "exec"), namespace)  # noqa: S102 - our own template
    return namespace["convert"]  # type: ignore[no-any-return]


class _Plan(NamedTuple):
    sql: str
    order: tuple[str, ...]
    convert: Callable[[Sequence[Mapping[str, Any]]], list[tuple[Any, ...]]]
    positional: bool
    #: Positions (in ``order``) of the columns an INSERT may leave out.
    optional: tuple[int, ...]
