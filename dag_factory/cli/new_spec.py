"""What `dag-factory new` writes: the pipeline's values (Spec), checked one by one with
messages that name the flag, and the commented YAML file they become."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from dag_factory.cli.common import display

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
IDENT_RE = re.compile(rf"^{_IDENT}$")
TABLE_RE = re.compile(rf"^(?:{_IDENT}\.)?{_IDENT}$")
CONN_RE = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
LAKE_PATH_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
MODES = ("incremental", "snapshot", "full_refresh")
MODE_HELP = {
    "incremental": "loads the rows whose cursor lies in the run's interval and replaces that interval",
    "snapshot": "stores the whole source as that day's snapshot (snapshot_date column); history stays",
    "full_refresh": "replaces the whole table atomically on every run",
}
EXAMPLE = (
    "dag-factory new shop_refunds --source shop_db.refunds --target warehouse.analytics.refunds "
    "--mode incremental --cursor updated_at"
)
_COMMENT_COLUMN = 32


class UsageError(Exception):
    """A value the user gave (or did not give) that we cannot use: exit 2."""


@dataclass
class Spec:
    name: str
    source_conn: str
    source_table: str
    target_conn: str
    target_table: str
    mode: str
    cursor: str | None = None
    primary_key: list[str] = field(default_factory=list)
    schedule: str | None = "@daily"
    lake_conn: str = "lake"
    lake_path: str | None = None
    description: str | None = None
    start_date: str | None = None
    columns: list[str] = field(default_factory=list)  # the source table's, when `new` could look
    first_day: str | None = None  # the day of the oldest cursor value, when `new` could look
    load_history: bool | None = None  # the wizard's answer; None when nobody was asked


# ---------------------------------------------------------------- value parsing


def check_name(value: str) -> str:
    if not NAME_RE.match(value or ""):
        raise UsageError(
            f"name {value!r} is not a valid pipeline name: lower-case letters, digits and underscores, "
            "3-63 characters, starting with a letter (it becomes the DAG id and the file name)"
        )
    return value


def parse_conn_table(value: str, flag: str) -> tuple[str, str]:
    """`CONN.TABLE`, `CONN.SCHEMA.TABLE` (split at the first dot) or `CONN:TABLE` (for
    connection ids that contain dots)."""
    sep = ":" if ":" in value else "."
    conn, _, table = (value or "").partition(sep)
    if not conn or not table:
        raise UsageError(f"{flag} {value!r}: expected CONN.TABLE or CONN.SCHEMA.TABLE (or CONN:TABLE), e.g. shop_db.orders")
    if not CONN_RE.match(conn):
        raise UsageError(f"{flag} {value!r}: {conn!r} is not an Airflow connection id (letters, digits, '_', '.', '-')")
    if not TABLE_RE.match(table):
        raise UsageError(
            f"{flag} {value!r}: {table!r} is not a table as `schema.table` or `table` of plain SQL identifiers "
            "(letters, digits, underscores)"
        )
    return conn, table


def check_identifier(value: str, what: str) -> str:
    if not IDENT_RE.match(value or ""):
        raise UsageError(
            f"{what} {value!r} is not a plain SQL identifier (letters, digits and underscores, not starting with a digit)"
        )
    return value


def parse_columns(value: str | list[str] | None, what: str) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else [value]
    cols = [c.strip() for item in items for c in item.split(",") if c.strip()]
    return [check_identifier(c, what) for c in dict.fromkeys(cols)]


def check_schedule(value: str | None) -> str | None:
    if value is None or value.strip().lower() in ("", "none", "null", "manual"):
        return None
    from dag_factory.config.schedules import cron_problem

    problem = cron_problem(value.strip())
    if problem:
        raise UsageError(f"--schedule {value!r}: {problem}")
    return value.strip()


def check_lake_path(value: str) -> str:
    value = value.strip().strip("/")
    if not LAKE_PATH_RE.match(value) or ".." in value.split("/"):
        raise UsageError(f"--lake-path {value!r}: a relative path of letters, digits, '_', '.', '-' and '/', without '..'")
    return value


def check_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--start-date {value!r}: expected YYYY-MM-DD") from None
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise UsageError(f"--start-date {value!r}: expected YYYY-MM-DD")
    return value


# ---------------------------------------------------------------- rendering


def _scalar(value: str) -> str:
    """A YAML scalar that reads back as exactly this string (quoted when YAML would not)."""
    try:
        plain_ok = yaml.safe_load(value) == value and not value.startswith(("@", "*", "&", "!", "%", "`", "'", '"'))
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok and ": " not in value and " #" not in value else json.dumps(value)


def _line(text: str, comment: str = "") -> str:
    if not comment:
        return text
    return f"{text.ljust(_COMMENT_COLUMN - 1)} # {comment}" if len(text) < _COMMENT_COLUMN - 1 else f"{text}  # {comment}"


def schema_reference(folder: Path) -> str:
    """The modeline's path: relative from `folder` to the repository's
    schemas/pipeline.schema.json (searched upwards), else to the installed copy."""
    folder = folder.resolve()
    for parent in [folder, *folder.parents]:
        candidate = parent / "schemas" / "pipeline.schema.json"
        if candidate.is_file():
            return Path(os.path.relpath(candidate, folder)).as_posix()
    from dag_factory.config.validate import schema_path

    return Path(os.path.relpath(schema_path(), folder)).as_posix()


def render(spec: Spec, folder: Path) -> str:
    s = spec
    in_warehouse = s.source_conn == s.target_conn
    description = s.description or (
        f"{s.mode.replace('_', ' ').capitalize()} load of {s.source_conn}.{s.source_table} into {s.target_table}"
    )
    out = [
        f"# yaml-language-server: $schema={schema_reference(folder)}",
        f"# Pipeline {s.name}: one file is one Airflow DAG (its id is `name`, which must equal the file name).",
        f"# Check it: dag-factory lint {display(folder / (s.name + '.yaml'))}   See its tasks: dag-factory show {s.name}",
        "# Every key is described in the schema; editors with the YAML language server complete them.",
        "version: 1",
        f"name: {s.name}",
        _line(f"description: {_scalar(description)}", "one line in the Airflow UI's DAG list"),
        _line("# owner: data-eng", "owning team; inherited from _defaults.yaml when unset"),
        _line("# tags: [sales]", "extra Airflow tags"),
    ]
    if s.schedule is None:
        out.append(_line("schedule: null", "manual runs only; or a cron, a preset, or {after: [pipeline]}"))
    else:
        out.append(_line(f"schedule: {json.dumps(s.schedule)}", 'cron ("0 3 * * *"), @hourly/@daily/..., null or {after: [...]}'))
    out += [
        _line("# timezone: UTC", "the schedule's and the partition dates' time zone"),
        _line(
            f"start_date: {s.start_date or date.today().isoformat()}",
            "the first interval the schedule loads"
            + ("; older rows: see the command `new` printed" if s.mode == "incremental" else ""),
        ),
        "source:",
        "  type: sql",
        _line(f"  conn_id: {_scalar(s.source_conn)}", "an Airflow connection id; credentials stay in the connection"),
        _line(f"  table: {s.source_table}", 'or query: "select ..." or query_file: sql/x.sql (one of them)'),
        *([_line(f"  # columns: [{', '.join(s.columns)}]", "only these columns (default: all)")] if s.columns else []),
        "load:",
        _line(f"  mode: {s.mode}", MODE_HELP[s.mode]),
    ]
    if s.mode == "incremental":
        out.append(_line(f"  cursor: {s.cursor}", f"rows with interval start <= {s.cursor} < interval end are loaded"))
        if s.primary_key:
            out.append(_line(f"  primary_key: [{', '.join(s.primary_key)}]", "a row with the same key replaces the older one"))
        else:
            out.append(_line("  # primary_key: [id]", "with a key, rows with the same key are replaced (merge)"))
    if s.lake_path:
        out += [
            _line("lake:", f"raw Parquet at {s.lake_path}/ds=YYYY-MM-DD/ before the warehouse load"),
            f"  conn_id: {_scalar(s.lake_conn)}",
            f"  path: {s.lake_path}",
        ]
    elif not in_warehouse:
        out.append(
            _line("# lake: {conn_id: lake, path: raw/x/y}", "optional Parquet landing zone (needed on distributed workers)")
        )
    out += [
        "target:",
        _line(
            f"  conn_id: {_scalar(s.target_conn)}",
            "the warehouse" + (" (same as the source: runs inside it)" if in_warehouse else ""),
        ),
        _line(f"  table: {s.target_table}", "created on the first load"),
        "# checks:                       # on the staged rows before publishing; a failure publishes nothing",
        *_suggested_checks(s),
        "# alerts:",
        "#   on_failure: [{slack: slack_alerts}]",
        "",
    ]
    return "\n".join(out)


def _suggested_checks(s: Spec) -> list[str]:
    """Checks that hold on every good run: an incremental interval may have no changes at all,
    so `row_count: {min: 1}` would fail quiet days; the whole-table modes always have rows."""
    key = s.primary_key or ["id"]
    if s.mode == "incremental":
        return [
            f"#   - not_null: [{', '.join(key)}]",
            f"#   - unique: [{', '.join(key)}]" if s.primary_key else "#   - unique: [id]",
            "#   (no row_count min: a day without changes loads 0 rows and is fine)",
        ]
    return ["#   - row_count: {min: 1}", f"#   - not_null: [{', '.join(key)}]"]


def history_note(s: Spec, today: date) -> list[str]:
    """What the schedule will not load: rows older than start_date, and the command that loads them."""
    if s.mode != "incremental":
        return []
    start = date.fromisoformat(s.start_date) if s.start_date else today
    last = start.fromordinal(start.toordinal() - 1).isoformat()
    if s.first_day and s.first_day > last:
        return [
            f"  history: the oldest {s.cursor} in {s.source_conn}.{s.source_table} is {s.first_day}: the schedule loads it all."
        ]
    first = s.first_day or "FIRST_DAY"
    found = (
        f"the oldest {s.cursor} in {s.source_conn}.{s.source_table} is {s.first_day}"
        if s.first_day
        else "FIRST_DAY = the first day with data"
    )
    when = (
        "You chose to load them: after the merge, run once"
        if s.load_history
        else "You chose not to load them now; to load them later"
        if s.load_history is False
        else "To load them once"
    )
    return [
        f"  history: the schedule loads from start_date {start.isoformat()} on; rows whose {s.cursor} is earlier are not loaded.",
        f"  {when} ({found}):",
        f"    dag-factory run {s.name} --from {first} --to {last} --one-pass",
        "  (--one-pass: one query for the whole range; leave it out to run day by day)",
    ]
