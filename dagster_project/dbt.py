"""dbt inside Dagster: the project, one translator, the dbt assets, and the run's values.

The manifest is parsed on first use (or when a model changed since), so a fresh clone needs
no separate step; `make install` parses it up front.
"""

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, AssetKey, Failure, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from credits_warehouse import spark_warehouse
from credits_warehouse.incremental import dbt_build_args, dbt_env, plan_build, record_build
from credits_warehouse.spark_warehouse import engine
from credits_warehouse.warehouse import MODEL_SCHEMAS
from dagster_project.dbt_ahead import real_dbt
from dagster_project.partitions import dbt_vars
from dagster_project.resources import DBT_PROJECT_DIR, CreditsSettings

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


def _project_files() -> list[Path]:
    roots = [DBT_PROJECT_DIR / d for d in ("models", "macros", "tests", "seeds")]
    files = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
    return files + [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]


def _manifest_is_fresh() -> bool:
    if not MANIFEST_PATH.exists():
        return False
    built = MANIFEST_PATH.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in _project_files())


def ensure_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file.

    Processes that start together (pytest's workers, say) parse one at a time, and the new
    manifest replaces the old one whole, so no process reads a half-written file.
    """
    if _manifest_is_fresh():
        return MANIFEST_PATH
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(MANIFEST_PATH.parent / ".parse.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # wait for a parse already under way
        if _manifest_is_fresh():
            return MANIFEST_PATH
        with tempfile.TemporaryDirectory(dir=MANIFEST_PATH.parent, prefix=".parse-") as target:
            subprocess.run(
                [
                    real_dbt(),
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    target,
                ],
                check=True,
                cwd=DBT_PROJECT_DIR,
                env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            )
            os.replace(Path(target) / "manifest.json", MANIFEST_PATH)
    return MANIFEST_PATH


class CreditsTranslator(DagsterDbtTranslator):
    """dbt models become `<layer>/<model>` assets in a group per layer; sources are `raw/<table>`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        return self._layer(dbt_resource_props)

    @staticmethod
    def _layer(props: Mapping[str, Any]) -> str:
        fqn = props.get("fqn", [])
        return next((part for part in fqn if part in MODEL_SCHEMAS), "marts")


TRANSLATOR = CreditsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=ensure_manifest(), dagster_dbt_translator=TRANSLATOR)
def credits_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, settings: CreditsSettings
):
    """Every dbt model and test, built against the run's warehouse with the run's clock and,
    in a partitioned run, its billing period's window. Incremental unless asked otherwise or
    the catalog or models changed (credits_warehouse/incremental.py)."""
    resolved = settings.resolve()
    period = context.partition_key if context.has_partition_key else None
    with settings.connection() as con:  # dbt opens the file next, in another process
        plan = plan_build(con, MANIFEST_PATH, settings.full_refresh, resolved.as_of)
    variables = dbt_vars(resolved.as_of, period, plan.resume_from)
    if engine() == "spark":
        yield from _build_on_spark(context, settings, plan, variables)
        return
    args = dbt_build_args(plan)
    if plan.full_refresh:
        context.log.info(f"dbt rebuilds everything from raw: {plan.full_refresh_reason}")
    elif plan.closes_only:
        context.log.info("only periods closed since the last build: dbt rebuilds the invoices")
    target = _target_with_kept_parse(resolved.warehouse)
    # dbt runs as a subprocess and finds the warehouse through its profile's env_var; set
    # only while it starts, so that this process's settings (the real warehouse, when a run
    # writes a working copy) are left as they were.
    dbt_process_env = {
        **dbt_env(variables),
        "CREDITS_WAREHOUSE": str(resolved.warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": os.environ.get("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
    }
    with environment(dbt_process_env):  # dbt's process starts here, with them
        invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
    try:
        if plan.closes_only:  # reported while dbt's process runs (0.8 s of events)
            yield from _left_as_built(context, plan.left_alone)
        yield from invocation.stream()
        if not invocation.is_successful():
            raise Failure(failed_nodes_message(invocation.get_artifact("run_results.json")))
        with settings.connection() as con:
            record_build(con, plan, resolved.as_of)
        keep_parse(target, kept_parse_path(resolved.warehouse))
    finally:
        # The build's target folder (beside the warehouse); its artifacts have been read.
        shutil.rmtree(invocation.target_path, ignore_errors=True)


def _build_on_spark(
    context: AssetExecutionContext,
    settings: CreditsSettings,
    plan,
    variables: Mapping[str, str],
) -> Iterator:
    """CREDITS_ENGINE=spark: the models built by Spark and named in the run's DuckDB file
    (credits_warehouse/spark_warehouse.py), the same run values as on DuckDB. Every selected
    model is built each time (no close-only shortcut); a rebuild from raw drops Spark's own
    tables first. Fails, naming them, if a model or a dbt test failed on Spark, or (when the
    whole project is selected) a model was not built or a dbt test not run."""
    resolved = settings.resolve()
    folder = spark_warehouse.spark_dir(resolved.warehouse)
    select = spark_warehouse.selection()
    with settings.connection() as con:
        prepared = spark_warehouse.prepare(con, folder, plan.full_refresh_reason, resolved.as_of)
    rebuilt = f"; Spark's tables rebuilt from raw: {prepared.rebuilt}" if prepared.rebuilt else ""
    context.log.info(
        f"Spark build {prepared.build_id} in {folder}: {len(prepared.raw.written)} raw files"
        f" written, {len(prepared.raw.removed)} removed; models {' '.join(select)}{rebuilt}"
    )
    summary = spark_warehouse.build(folder, prepared, select, dbt_env(variables), sys.stdout.write)
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    if summary["failed"]:
        raise Failure(failed_nodes_message(summary["run_results"]) + " (on Spark)")
    models = summary["models"]
    if select == spark_warehouse.EVERY_MODEL:
        missing = sorted(
            {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
            - set(models)
        )
        if missing:
            raise Failure(f"not built on Spark: {', '.join(missing[:5])} ({len(missing)} models)")
    # The dbt tests the Spark build ran, as the checks' results.
    checks = {}
    for result in summary["run_results"].get("results", []):
        check = get_asset_check_key_for_test(manifest, TRANSLATOR, result["unique_id"], None)
        if check is not None and check in context.selected_asset_check_keys:
            checks[check] = result.get("status") == "pass"
    not_run = sorted(
        f"{c.asset_key.path[-1]}:{c.name}" for c in context.selected_asset_check_keys - set(checks)
    )
    if select == spark_warehouse.EVERY_MODEL and not_run:
        # A blocking check that never ran would let what it guards proceed unchecked.
        raise Failure(
            f"dbt tests not run on Spark: {', '.join(not_run[:3])} ({len(not_run)} tests)"
        )
    with settings.connection() as con:
        spark_warehouse.publish(con, prepared, models, manifest, resolved.as_of)
        record_build(con, plan, resolved.as_of)
    _live_views_on_duckdb(resolved.warehouse, variables)
    context.log.info(f"Spark build {prepared.build_id}: {len(models)} models, {summary['timings']}")
    by_name = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for model in models:
        key = TRANSLATOR.get_asset_key(by_name[model])
        if key in context.selected_asset_keys:
            yield Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key),
                metadata={"engine": "spark", "spark_build": prepared.build_id},
            )
    # With CREDITS_SPARK_SELECT (the port under way) a test not run on Spark is reported as
    # not executed; Dagster then lets what it guards proceed, and says so in the run's log.
    for check, passed in sorted(checks.items(), key=lambda item: item[0].to_user_string()):
        yield AssetCheckResult(
            asset_key=check.asset_key,
            check_name=check.name,
            passed=passed,
            metadata={"engine": "spark"},
        )


def run_dbt_cli(
    args: Sequence[str],
    warehouse: Path,
    variables: Mapping[str, str],
    target: Path,
    log_path: Path | None = None,
    *,
    in_folder: bool = False,
) -> subprocess.CompletedProcess:
    """dbt's CLI with `args` against `warehouse` (the profile's DuckDB target), the run's
    values in its environment as the dbt asset hands them (`dbt_env`), artifacts in
    `target`; the finished process, its output captured. Outside a Dagster step: the
    dbt asset itself goes through dagster-dbt.

    `in_folder`: dbt runs in the warehouse's folder and the profile names the file by its
    name alone. dbt parses the whole project again whenever the profile's path differs
    (kept_parse_path), so a partial parse made for one warehouse then serves every other
    file of the same name: the tests' many small warehouses, each built once or twice."""
    logs = ["--log-path", str(log_path)] if log_path else []
    path = warehouse.name if in_folder else str(warehouse)
    return subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [
            real_dbt(),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            *logs,
        ],
        cwd=warehouse.parent if in_folder else DBT_PROJECT_DIR,
        env={
            **os.environ,
            "CREDITS_WAREHOUSE": path,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **dbt_env(dict(variables)),
        },
        capture_output=True,
        text=True,
        check=False,
    )


def _live_views_on_duckdb(warehouse: Path, variables: Mapping[str, str]) -> None:
    """The views over control tables a close writes after its build, made by dbt's DuckDB
    target in the run's DuckDB file (spark_warehouse.LIVE_VIEWS), so they read them live as
    on DuckDB. Raises Failure with dbt's last line if dbt fails."""
    target = _target_with_kept_parse(warehouse)
    try:
        result = run_dbt_cli(
            ["run", "--quiet", "--select", *spark_warehouse.LIVE_VIEWS],
            warehouse,
            variables,
            target,
        )
        if result.returncode != 0:
            said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
            last = said[-1] if said else f"exit {result.returncode}"
            raise Failure(f"the views over control tables failed on DuckDB: {last}")
        keep_parse(target, kept_parse_path(warehouse))
    finally:
        shutil.rmtree(target, ignore_errors=True)


PARTIAL_PARSE = "partial_parse.msgpack"


def kept_parse_path(warehouse: Path) -> Path:
    """Where dbt's partial parse for builds of this warehouse file is kept between runs.
    Per file: dbt parses again whenever the profile's path differs."""
    return warehouse.with_name(f"{warehouse.name}.{PARTIAL_PARSE}")


def build_target_path(warehouse: Path) -> Path:
    """dbt's target folder for a build of this warehouse file, beside it. Builds of a file
    run one at a time (the run holds its writer lock), so the folder a killed build left
    is cleared by the next build instead of piling up, as one folder per build did."""
    return warehouse.with_name(f"{warehouse.name}.dbt-target")


def _target_with_kept_parse(warehouse: Path) -> Path:
    """A fresh dbt target folder for this build, holding the last build's partial parse,
    which dbt checks file by file (1.5 s of each build, against a parse of everything)."""
    target = build_target_path(warehouse)
    shutil.rmtree(target, ignore_errors=True)
    seed_parse(target, kept_parse_path(warehouse))
    return target


def seed_parse(target: Path, kept: Path) -> None:
    """Start dbt's target folder from the partial parse kept at `kept`, if one is kept and
    the folder has none of its own."""
    target.mkdir(parents=True, exist_ok=True)
    if kept.exists() and not (target / PARTIAL_PARSE).exists():
        shutil.copyfile(kept, target / PARTIAL_PARSE)


def keep_parse(target: Path, kept: Path) -> None:
    """Keep a successful build's parse at `kept` for the next build, atomically: staged
    under a name of this process's own, so that two processes keeping one file at once
    (the tests' workers) never write the same staged file."""
    parsed = target / PARTIAL_PARSE
    if parsed.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        staged = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
        shutil.copyfile(parsed, staged)
        os.replace(staged, kept)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in this process's environment while the block runs, then restored."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The `build` note on a model a close-only build left alone (its pandera check reads it).
LEFT_AS_BUILT = "unchanged: only periods closed since the last build, which built and tested it"


def _left_as_built(context: AssetExecutionContext, models: tuple[str, ...]) -> Iterator:
    """The models a close-only build left alone are what the last build made and tested:
    they are reported as materialized (unchanged), so the steps that read them (statements,
    alerts, pandera checks) run, and their dbt tests as passed at that build."""
    names = set(models)
    selected = {key.path[-1]: key for key in context.selected_asset_keys}
    for key in (selected[name] for name in models if name in selected):
        yield Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={"build": LEFT_AS_BUILT},
        )
    for check in sorted(
        context.selected_asset_check_keys, key=lambda c: (c.asset_key.path, c.name)
    ):
        if check.asset_key.path[-1] in names:
            yield AssetCheckResult(
                asset_key=check.asset_key,
                check_name=check.name,
                passed=True,
                metadata={"build": LEFT_AS_BUILT},
            )


def failed_nodes_message(run_results: Mapping[str, Any]) -> str:
    """One line naming what failed in a dbt build: the models and checks, first few."""
    failed = [
        r["unique_id"].split(".")[-1]
        for r in run_results.get("results", [])
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    if not failed:
        return "dbt build failed"
    more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
    return f"dbt check or model failed: {', '.join(failed[:3])}{more}"
