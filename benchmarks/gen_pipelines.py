"""Generate N pipelines of one realistic shape in every form the parse benchmark compares.

    .venv/bin/python benchmarks/gen_pipelines.py OUT_DIR -n 1000 [--checks 3 --alerts 1]

writes, under OUT_DIR:

  ours/pipelines/<domain>/<name>.yaml + _defaults.yaml, ours/dags/generate.py (a copy of the repo's)
  hand/dags/handwritten.py              the same DAGs written directly in Python, with our operators
  hand_empty/dags/handwritten_empty.py  the same DAGs with EmptyOperator tasks (what dag-factory gets)
  dagfactory/pipelines/<domain>/<name>.yaml + defaults.yml, dagfactory/dags/load_dagfactory.py
                                        astronomer's dag-factory 1.1.0 YAML for the same DAGs

The shape (the issue's): incremental SQL table (cursor + primary key) -> Parquet lake -> warehouse,
`--checks` data checks (default 3: row_count, not_null, unique) and `--alerts` failure alerts
(default 1: Slack). `--checks 0 --alerts 0` gives the plain v1 shape of pipelines/shop_orders.yaml.

The hand-written DAGs are emitted from the Pipelines our own loader builds out of the generated
YAML (each Pipeline written out as its dataclass repr), and mirror dag_factory/airflow/builder.py's
build_dag: same DAG arguments, doc_md, task groups, task ids, operators, callbacks and outlets.
When build_dag changes shape, change write_hand() too; bench_parse.py warns when the task counts
of ours and the hand-written file differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DOMAINS = ["sales", "crm", "finance", "logistics", "marketing", "hr", "inventory", "support", "web", "billing"]
TABLES = [
    "orders",
    "customers",
    "invoices",
    "shipments",
    "campaigns",
    "employees",
    "stock_moves",
    "tickets",
    "sessions",
    "payments",
]
SCHEDULES = ["0 3 * * *", "@daily", "@hourly", "30 2 * * *", "0 */6 * * *"]
# (task id / kind, YAML item) of the checks, in order
CHECKS = [("row_count", "row_count: {min: 1}"), ("not_null", "not_null: [id, updated_at]"), ("unique", "unique: [id]")]

DEFAULTS_YAML = """\
# Merged into every pipeline below (generated for the benchmarks).
owner: data-eng
timezone: UTC
start_date: 2024-03-01
catchup: false
retries: 2
retry_delay: 5m
timeout: 1h
"""


def names(n: int) -> list[tuple[str, str, str]]:
    """(domain, table, pipeline name) for pipeline i = 0..n-1."""
    out = []
    for i in range(n):
        domain, table = DOMAINS[i % len(DOMAINS)], TABLES[(i // len(DOMAINS)) % len(TABLES)]
        out.append((domain, table, f"{domain}_{table}_{i:04d}"))
    return out


def _checks_yaml(k: int) -> str:
    if not k:
        return ""
    if k > len(CHECKS):
        raise SystemExit(f"at most {len(CHECKS)} checks (one of each kind)")
    return "checks:                         # run on the staged rows; a failure publishes nothing\n" + "".join(
        f"  - {item}\n" for _, item in CHECKS[:k]
    )


def _alerts_yaml(a: int) -> str:
    if not a:
        return ""
    return "alerts:\n  on_failure: [" + ", ".join(f"{{slack: alerts_{j}}}" for j in range(a)) + "]\n"


def write_ours(out: Path, n: int, checks: int, alerts: int) -> None:
    root = out / "pipelines"
    (out / "dags").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dags" / "generate.py", out / "dags" / "generate.py")
    root.mkdir(parents=True, exist_ok=True)
    (root / "_defaults.yaml").write_text(DEFAULTS_YAML)
    for i, (domain, table, name) in enumerate(names(n)):
        folder = root / domain
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.yaml").write_text(
            f"""\
# yaml-language-server: $schema=../../schemas/pipeline.schema.json
version: 1
name: {name}
description: {table.replace("_", " ").capitalize()} from the {domain} DB, loaded by their last update time
tags: [{domain}]
schedule: "{SCHEDULES[i % len(SCHEDULES)]}"
source:
  type: sql
  conn_id: {domain}_db
  table: {domain}.{table}
load:
  mode: incremental
  cursor: updated_at            # rows with interval start <= updated_at < interval end
  primary_key: [id]             # a row updated again later replaces its older version
lake:
  conn_id: lake
  path: raw/{domain}/{table}_{i:04d}
target:
  conn_id: warehouse
  table: analytics.{domain}_{table}_{i:04d}
{_checks_yaml(checks)}{_alerts_yaml(alerts)}"""
        )


def _load_pipelines(ours: Path):
    """Our loader's Pipelines, with paths shown relative to `ours` (the parse children's cwd)."""
    sys.path.insert(0, str(REPO))
    from dag_factory.config.loader import load_pipelines

    cwd = os.getcwd()
    os.chdir(ours)
    try:
        result = load_pipelines(Path("pipelines"))
    finally:
        os.chdir(cwd)
    if result.errors:
        raise SystemExit(f"generated pipelines do not load: {result.errors[0].error}")
    return list(result.pipelines.values())


def _texts(p) -> dict[str, str]:
    """The display names, docs and tooltips build_dag gives the tasks and groups."""
    from dag_factory.airflow.docs import mode_line

    source_name = p.source.table or ("query file" if p.source.query_file else "query")
    lake_name = f"lake {p.lake.path}" if p.lake else "local staging"
    return {
        "extract_tip": f"{p.source.conn_id} -> {lake_name}",
        "extract_name": f"Extract {source_name} -> {lake_name}",
        "extract_doc": f"Reads `{p.source.conn_id}`.`{source_name}` for the run's interval and writes Parquet to {lake_name}.",
        "load_tip": f"stage, check, then publish into {p.target.table}",
        "stage_name": "Stage (write) from the lake",
        "stage_doc": "Writes this run's rows into a staging table beside the target; nothing is visible yet.",
        "publish_name": f"Publish {p.target.table} ({p.load.mode})",
        "publish_doc": f"Publishes into `{p.target.table}`: {mode_line(p)}.",
        "checks_tip": "data-quality checks on the staged rows",
        "asset_uri": f"dagfactory://{p.target.conn_id}/{p.target.table}",
    }


def _dag_args(p, callback: str | None) -> str:
    """The DAG(...) keyword arguments build_dag passes, as literal Python."""
    from dag_factory.airflow.docs import doc_md
    from dag_factory.config.describe import dag_tags as tags_for
    from dag_factory.config.schedules import cron_of

    desc = (p.description or f"{p.load.mode} load into {p.target.table}")[:200]
    sd = p.start_date
    cb = f", 'on_failure_callback': {callback}" if callback else ""
    return (
        f"    dag_id={p.name!r},\n"
        f"    description={desc!r},\n"
        f"    schedule=CronDataIntervalTimetable({cron_of(p.schedule)!r}, timezone={p.timezone!r}),\n"
        f"    start_date=datetime.datetime({sd.year}, {sd.month}, {sd.day}, tzinfo=ZoneInfo({p.timezone!r})),\n"
        f"    catchup={p.catchup!r},\n"
        f"    max_active_runs={p.max_active_runs!r},\n"
        f"    tags={tags_for(p)!r},\n"
        f"    doc_md={doc_md(p)!r},\n"
        f"    default_args={{'owner': {p.owner!r}, 'retries': {p.retries!r}, "
        f"'retry_delay': datetime.timedelta(seconds={int(p.retry_delay.total_seconds())}), "
        f"'execution_timeout': datetime.timedelta(seconds={int(p.timeout.total_seconds())}){cb}}},\n"
        f"    auto_register=False,\n"
    )


def write_hand(out: Path, pipelines, empty: bool) -> None:
    """One module, every DAG spelled out (no loop, no YAML): what a team writing these DAGs by
    hand would have, and so the floor for a parse of the same DAGs."""
    import datetime  # noqa: F401  (eval of the reprs below)

    from dag_factory.config import model

    (out / "dags").mkdir(parents=True, exist_ok=True)
    head = [
        '"""Hand-written Airflow DAGs (generated for the benchmarks), equivalent to the YAML pipelines."""',
        "import datetime",
        "from zoneinfo import ZoneInfo",
        "",
        "from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, TaskGroup",
    ]
    if empty:
        head += [
            "from airflow.providers.standard.operators.empty import EmptyOperator",
            "",
            "",
            "def alert(context):",
            "    pass",
            "",
        ]
    else:
        head += [
            "from dag_factory.airflow.alerts import PipelineNotifier",
            "from dag_factory.airflow.operators import CheckOperator, ExtractOperator, PublishOperator, StageOperator",
            "from dag_factory.config.model import AlertChannel, Alerts, Check, Lake, Load, Pipeline, SqlSource, Target",
        ]
    body = ["\n".join(head), ""]
    names = {k: getattr(model, k) for k in dir(model) if not k.startswith("_")}
    for p in pipelines:
        t = _texts(p)
        block = [f"\n# --- {p.name}"]
        if empty:
            callback = "[alert]" if p.alerts.on_failure else None
            op = lambda cls, **kw: "EmptyOperator(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ", dag=dag)"  # noqa: E731
        else:
            text = repr(p)
            if eval(text, {"datetime": __import__("datetime"), **names}) != p:  # noqa: S307
                raise SystemExit(f"repr of pipeline {p.name} does not round-trip; extend write_hand")
            block.append(f"p = {text}")
            callback = f"[PipelineNotifier({p.name!r}, 'failure', p.alerts.on_failure)]" if p.alerts.on_failure else None
            op = lambda cls, **kw: f"{cls}(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ", pipeline=p, dag=dag)"  # noqa: E731
        block.append(f"dag = DAG(\n{_dag_args(p, callback)})")
        block.append(f"with TaskGroup('extract', tooltip={t['extract_tip']!r}, dag=dag):")
        block.append(
            "    extract = "
            + op("ExtractOperator", task_id="'to_lake'", task_display_name=repr(t["extract_name"]), doc_md=repr(t["extract_doc"]))
        )
        block.append(f"with TaskGroup('load', tooltip={t['load_tip']!r}, dag=dag) as load_group:")
        block.append(
            "    stage = "
            + op("StageOperator", task_id="'stage'", task_display_name=repr(t["stage_name"]), doc_md=repr(t["stage_doc"]))
        )
        block.append(
            "    publish = "
            + op(
                "PublishOperator",
                task_id="'publish'",
                task_display_name=repr(t["publish_name"]),
                doc_md=repr(t["publish_doc"]),
                outlets=f"[Asset(name={p.name!r}, uri={t['asset_uri']!r}, group='dag_factory')]",
            )
        )
        block.append("extract >> stage")
        if p.checks:
            block.append(f"with TaskGroup('checks', tooltip={t['checks_tip']!r}, parent_group=load_group, dag=dag) as checks:")
            for c in p.checks:
                kw = {
                    "task_id": repr(c.name),
                    "task_display_name": repr(f"Check {c.describe()}"[:100]),
                    "doc_md": repr(f"Fails the run (and publishes nothing) unless: {c.describe()}."),
                }
                if not empty:
                    kw["check_name"] = repr(c.name)
                kw["retries"] = "0"
                block.append("    " + op("CheckOperator", **kw))
            block.append("stage >> checks >> publish")
        else:
            block.append("stage >> publish")
        block.append(f"globals()[{p.name!r}] = dag")
        body.append("\n".join(block))
    name = "handwritten_empty.py" if empty else "handwritten.py"
    (out / "dags" / name).write_text("\n".join(body) + "\n")


def write_dagfactory(out: Path, pipelines) -> None:
    """dag-factory 1.1.0's own YAML for the same DAGs: one file per DAG, a defaults.yml for what our
    _defaults.yaml holds, `__type__` objects for the timetable and timedeltas (dag-factory's idiom),
    task groups, EmptyOperator tasks, the failure callback by import path, outlets by URI."""
    from dag_factory.config.describe import dag_tags as tags_for
    from dag_factory.config.schedules import cron_of

    root = out / "pipelines"
    (out / "dags").mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (out / "dags" / "load_dagfactory.py").write_text(
        '"""Airflow DAG file for astronomer dag-factory (benchmark peer)."""\n'
        "from pathlib import Path\n\n"
        "from dagfactory import load_yaml_dags\n\n"
        'ROOT = Path(__file__).resolve().parent.parent / "pipelines"\n'
        "load_yaml_dags(globals_dict=globals(), dags_folder=str(ROOT), defaults_config_path=str(ROOT))\n"
    )
    (out / "dags" / "bench_callbacks.py").write_text("def alert(context):\n    pass\n")
    p0 = pipelines[0]
    (root / "defaults.yml").write_text(
        f"""\
default_args:
  owner: {p0.owner}
  retries: {p0.retries}
  retry_delay: {{__type__: datetime.timedelta, seconds: {int(p0.retry_delay.total_seconds())}}}
  execution_timeout: {{__type__: datetime.timedelta, seconds: {int(p0.timeout.total_seconds())}}}
{"  on_failure_callback: bench_callbacks.alert" + chr(10) if p0.alerts.on_failure else ""}\
start_date: {p0.start_date.isoformat()}
timezone: {p0.timezone}
catchup: {str(p0.catchup).lower()}
max_active_runs: {p0.max_active_runs}
"""
    )
    empty = "airflow.providers.standard.operators.empty.EmptyOperator"
    for p in pipelines:
        t = _texts(p)
        folder = root / p.tags[0]
        folder.mkdir(exist_ok=True)
        tags = ", ".join(f'"{x}"' for x in tags_for(p))
        groups = f'    extract: {{tooltip: "{t["extract_tip"]}"}}\n    load: {{tooltip: "{t["load_tip"]}"}}\n'
        check_tasks = ""
        if p.checks:
            groups += f'    checks: {{tooltip: "{t["checks_tip"]}"}}\n'
            for c in p.checks:
                check_tasks += (
                    f"    {c.name}:\n      operator: {empty}\n      task_group_name: checks\n"
                    f'      task_display_name: "{f"Check {c.describe()}"[:100]}"\n'
                    f'      doc_md: "Fails the run (and publishes nothing) unless: {c.describe()}."\n'
                    f"      retries: 0\n      dependencies: [stage]\n"
                )
        publish_deps = ", ".join(c.name for c in p.checks) if p.checks else "stage"
        (folder / f"{p.name}.yaml").write_text(
            f"""\
{p.name}:
  description: "{p.description}"
  tags: [{tags}]
  schedule:
    __type__: airflow.sdk.CronDataIntervalTimetable
    __args__: ["{cron_of(p.schedule)}"]
    timezone: {p.timezone}
  task_groups:
{groups}  tasks:
    to_lake:
      operator: {empty}
      task_group_name: extract
      task_display_name: "{t["extract_name"]}"
      doc_md: "{t["extract_doc"]}"
    stage:
      operator: {empty}
      task_group_name: load
      task_display_name: "{t["stage_name"]}"
      doc_md: "{t["stage_doc"]}"
      dependencies: [to_lake]
{check_tasks}    publish:
      operator: {empty}
      task_group_name: load
      task_display_name: "{t["publish_name"]}"
      doc_md: "{t["publish_doc"]}"
      outlets: ["{t["asset_uri"]}"]
      dependencies: [{publish_deps}]
"""
        )


def generate(out: Path, n: int, checks: int = 3, alerts: int = 1) -> Path:
    """Write all four forms of N pipelines under `out` (emptied first)."""
    if out.exists():
        shutil.rmtree(out)
    write_ours(out / "ours", n, checks, alerts)
    pipelines = _load_pipelines(out / "ours")
    write_hand(out / "hand", pipelines, empty=False)
    write_hand(out / "hand_empty", pipelines, empty=True)
    write_dagfactory(out / "dagfactory", pipelines)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--checks", type=int, default=3, help="data checks per pipeline, 0-3 (default 3)")
    ap.add_argument("--alerts", type=int, default=1, help="failure alert channels per pipeline (default 1)")
    a = ap.parse_args()
    generate(a.out, a.n, a.checks, a.alerts)
    print(f"wrote {a.n} pipelines in 4 forms under {a.out}")


if __name__ == "__main__":
    main()
