"""Judge a warehouse relation against a pandera model where the data is, in DuckDB.

Why not `model.validate(con.sql(sql).pl())`: at a million events, reading the large tables
into polars and validating them there took about 16% of a `credits run` (bench/results.md).
So DuckDB evaluates every rule of the model in one pass over the relation, and pandera
validates only what it must see: the schema (every column and its exact dtype, strictly) on
an empty frame, and, when some rows break a rule, a few of those rows, to report them in
pandera's terms. The rules DuckDB evaluates are read off the model itself (its fields'
checks and its `row_rule`s), so the model stays the one place that says what a table is.
"""

# ruff: noqa: S608 - every query here is built from a model and the fixed table of checks.
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pandera.errors
import pandera.polars as pa

from credits_warehouse.checks.models import ROW_RULE_SQL

EXAMPLES = 100  # failing rows handed to pandera for the report


class UntranslatedCheck(NotImplementedError):
    """A pandera check with no SQL here: translate it in `_check_sql` (or write it as a row
    rule) before a model uses it. Raised when a model's rules become SQL, which
    tests/dagster/test_pandera_checks.py does for every model before any run does."""


@dataclass(frozen=True)
class Verdict:
    """What a model made of a relation: its rows, how many broke a rule, and which rules."""

    rows: int
    failing: int = 0  # rows that break a rule; for a schema failure, its failure cases
    broken: dict[str, int] = field(default_factory=dict)  # rule -> rows that break it
    summary: str | None = None

    @property
    def passed(self) -> bool:
        return not self.broken


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _check_sql(col: str, check: pa.Check) -> str:
    """The SQL predicate of one of pandera's built-in column checks."""
    stats = check.statistics
    comparisons = {
        "equal_to": ("=", "value"),
        "not_equal_to": ("<>", "value"),
        "greater_than": (">", "min_value"),
        "greater_than_or_equal_to": (">=", "min_value"),
        "less_than": ("<", "max_value"),
        "less_than_or_equal_to": ("<=", "max_value"),
    }
    if check.name in comparisons:
        op, arg = comparisons[check.name]
        return f"{col} {op} {_literal(stats[arg])}"
    if check.name == "in_range":
        low = ">=" if stats.get("include_min", True) else ">"
        high = "<=" if stats.get("include_max", True) else "<"
        return (
            f"{col} {low} {_literal(stats['min_value'])}"
            f" and {col} {high} {_literal(stats['max_value'])}"
        )
    if check.name in ("isin", "notin"):
        values = stats["allowed_values" if check.name == "isin" else "forbidden_values"]
        listed = ", ".join(_literal(v) for v in values)
        return f"{col} {'in' if check.name == 'isin' else 'not in'} ({listed})"
    if check.name == "str_matches":
        # pandera anchors the pattern at the start and searches from there; so does this.
        pattern = stats["pattern"]
        pattern = pattern if pattern.startswith("^") else "^" + pattern
        return f"regexp_matches({col}, {_literal(pattern)})"
    if check.name == "str_length":
        if stats.get("exact_value") is not None:
            return f"length({col}) = {stats['exact_value']}"
        bounds = []
        if stats.get("min_value") is not None:
            bounds.append(f"length({col}) >= {stats['min_value']}")
        if stats.get("max_value") is not None:
            bounds.append(f"length({col}) <= {stats['max_value']}")
        return " and ".join(bounds) or "true"
    raise UntranslatedCheck(f"no SQL for the pandera check {check.name!r} on {col}")


def sql_rules(model: type[pa.DataFrameModel]) -> dict[str, str]:
    """Every rule of a model as a SQL predicate that a good row satisfies, named as pandera
    names it (`column: check`, or the row rule's name).

    Column checks let nulls pass, as pandera's do; nullability is its own rule.
    """
    schema = model.to_schema()
    rules: dict[str, str] = {}
    for name, column in schema.columns.items():
        col = _quote(name)
        if not column.nullable:
            rules[f"{name}: not_nullable"] = f"{col} is not null"
        if column.unique:
            rules[f"{name}: field_uniqueness"] = (
                f"{col} is null or count(*) over (partition by {col}) = 1"
            )
        for check in column.checks:
            rules[f"{name}: {check.error or check.name}"] = (
                f"{col} is null or ({_check_sql(col, check)})"
            )
    for base in inspect.getmro(model):
        for attr, value in vars(base).items():
            sql = getattr(value, ROW_RULE_SQL, None)
            if sql is not None and attr not in rules:
                rules[attr] = sql
    custom = {check.name for check in schema.checks}
    untranslated = custom - set(rules)
    if untranslated:
        raise UntranslatedCheck(f"{model.__name__}: checks without SQL: {sorted(untranslated)}")
    return rules


def _summary(err: pandera.errors.SchemaErrors) -> str:
    first = err.failure_cases.row(0, named=True)
    return f"{first.get('column')}: {first.get('check')} (e.g. {first.get('failure_case')})"


def judge(con: duckdb.DuckDBPyConnection, model: type[pa.DataFrameModel], sql: str) -> Verdict:
    """Judge the relation `sql` reads against `model`: the schema by pandera, the rows by
    DuckDB, and a few failing rows by pandera again for the report."""
    relation = f"({sql}) as checked"
    try:
        model.validate(con.sql(f"select * from {relation} limit 0").pl(), lazy=True)
    except pandera.errors.SchemaErrors as err:
        # Columns missing, extra or mistyped: the row rules may not even bind, so stop here.
        [[rows]] = con.sql(f"select count(*) from {relation}").fetchall()
        cases = err.failure_cases
        broken = {f"{c['column']}: {c['check']}": rows for c in cases.iter_rows(named=True)}
        return Verdict(rows, cases.height, broken, _summary(err))

    rules = sql_rules(model)
    flags = [f"__rule_{i}" for i in range(len(rules))]
    judged = "with judged as (select *, {} from {})".format(
        ", ".join(
            f"coalesce(({p}), false) as {f}" for p, f in zip(rules.values(), flags, strict=True)
        ),
        relation,
    )
    good = " and ".join(flags)
    [[rows, failing, *per_rule]] = con.sql(
        f"{judged} select count(*), count(*) filter (where not ({good})), "
        + ", ".join(f"count(*) filter (where not {f})" for f in flags)
        + " from judged"
    ).fetchall()
    broken = {rule: n for rule, n in zip(rules, per_rule, strict=True) if n}
    if not broken:
        return Verdict(rows)

    examples = con.sql(
        f"{judged} select * exclude ({', '.join(flags)}) from judged"
        f" where not ({good}) limit {EXAMPLES}"
    ).pl()
    try:
        model.validate(examples, lazy=True)
        # A rule over a group (a journal's balance) may hold on a part of the group.
        rule, n = next(iter(broken.items()))
        summary = f"{rule} ({n} rows)"
    except pandera.errors.SchemaErrors as err:
        summary = _summary(err)
    return Verdict(rows, failing, broken, summary)
