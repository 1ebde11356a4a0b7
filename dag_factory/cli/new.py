"""`dag-factory new NAME ...`: a commented, lint-clean pipeline file; `dag-factory schema`:
where the JSON schema is and how to hook it into an editor.

Prompts for missing values only when standard input is a terminal; otherwise missing
required flags are a usage error (exit 2) naming them, so CI and scripts never hang.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

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
            f"start_date: {s.start_date or date.today().isoformat()}", "first day with data to load; backfills cannot go earlier"
        ),
        "source:",
        "  type: sql",
        _line(f"  conn_id: {_scalar(s.source_conn)}", "an Airflow connection id; credentials stay in the connection"),
        _line(f"  table: {s.source_table}", 'or query: "select ..." or query_file: sql/x.sql (one of them)'),
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
        "#   - row_count: {min: 1}",
        "#   - not_null: [id]",
        "# alerts:",
        "#   on_failure: [{slack: slack_alerts}]",
        "",
    ]
    return "\n".join(out)


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- the command


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask(label: str, check, default: str | None = None, attempts: int = 5):
    """Prompt until `check(answer)` accepts (Enter takes the default)."""
    for _ in range(attempts):
        shown = f" [{default}]" if default is not None else ""
        try:
            answer = input(f"{label}{shown}: ").strip()
        except EOFError:
            raise UsageError(f"no answer for {label}") from None
        if not answer and default is not None:
            answer = default
        try:
            return check(answer)
        except UsageError as exc:
            print(f"  {exc}", file=sys.stderr)
    raise UsageError(f"no valid answer for {label}")


def build_spec(args, interactive: bool) -> Spec:
    """Flags (validated) plus, in a terminal, answers for what is missing."""
    values: dict = {}
    values["name"] = check_name(args.name) if args.name else None
    values["source"] = parse_conn_table(args.source, "--source") if args.source else None
    values["target"] = parse_conn_table(args.target, "--target") if args.target else None
    if args.mode and args.mode not in MODES:
        raise UsageError(f"--mode {args.mode!r}: one of {', '.join(MODES)}")
    values["mode"] = args.mode
    cursor = check_identifier(args.cursor, "--cursor") if args.cursor else None
    pk = parse_columns(args.pk, "--pk")

    missing = [
        flag
        for flag, key in (("NAME", "name"), ("--source", "source"), ("--target", "target"), ("--mode", "mode"))
        if not values[key]
    ]
    if values["mode"] == "incremental" and not cursor:
        missing.append("--cursor")
    wizard = bool(missing)
    if missing and not interactive:
        raise UsageError(
            f"missing {', '.join(missing)} (standard input is not a terminal, so nothing was asked)\n  e.g. {EXAMPLE}"
        )
    if not values["name"]:
        values["name"] = _ask("pipeline name (the DAG id, e.g. shop_refunds)", check_name)
    if not values["source"]:
        values["source"] = _ask("source CONN.TABLE (e.g. shop_db.refunds)", lambda v: parse_conn_table(v, "source"))
    if not values["target"]:
        values["target"] = _ask(
            "target CONN.SCHEMA.TABLE (e.g. warehouse.analytics.refunds)", lambda v: parse_conn_table(v, "target")
        )
    if not values["mode"]:

        def check_mode(v: str) -> str:
            if v not in MODES:
                raise UsageError(f"one of {', '.join(MODES)}")
            return v

        for mode in MODES:
            print(f"  {mode}: {MODE_HELP[mode]}", file=sys.stderr)
        values["mode"] = _ask(f"load mode ({'/'.join(MODES)})", check_mode, "incremental")
    if values["mode"] == "incremental":
        if not cursor:
            cursor = _ask("cursor column (places a row in an interval, e.g. updated_at)", lambda v: check_identifier(v, "cursor"))
        if wizard and not pk and args.pk is None:
            pk = _ask(
                "primary key columns, comma-separated (Enter: none, append only)", lambda v: parse_columns(v, "primary key"), ""
            )
    elif cursor or pk:
        raise UsageError(f"--cursor and --pk only apply to --mode incremental (this load is {values['mode']})")

    schedule = check_schedule(args.schedule) if args.schedule is not None else "@daily"
    if wizard and args.schedule is None:
        schedule = _ask("schedule (cron, @hourly, @daily, ... or none)", check_schedule, "@daily")
    (source_conn, source_table), (target_conn, target_table) = values["source"], values["target"]
    lake_path = check_lake_path(args.lake_path) if args.lake_path else None
    if wizard and lake_path is None and args.lake_path is None and source_conn != target_conn:
        lake_path = _ask(
            "lake path for raw Parquet (Enter: none, stage locally)", lambda v: check_lake_path(v) if v else None, ""
        )
    if lake_path and source_conn == target_conn:
        raise UsageError(
            "--lake-path: source and target share the connection, so the query runs inside the warehouse and no lake is written"
        )
    lake_conn = args.lake_conn or "lake"
    if not CONN_RE.match(lake_conn):
        raise UsageError(f"--lake-conn {lake_conn!r} is not an Airflow connection id")
    return Spec(
        name=values["name"],
        source_conn=source_conn,
        source_table=source_table,
        target_conn=target_conn,
        target_table=target_table,
        mode=values["mode"],
        cursor=cursor,
        primary_key=pk,
        schedule=schedule,
        lake_conn=lake_conn,
        lake_path=lake_path,
        description=args.description,
        start_date=check_date(args.start_date) if args.start_date else None,
    )


def _root_of(folder: Path) -> Path:
    """The pipelines root a new file belongs to (so `_defaults.yaml` above it applies)."""
    folder = folder.resolve()
    for parent in [folder, *folder.parents]:
        if parent.name == "pipelines":
            return parent
    return folder


def _error_keys(result) -> set[tuple[str, str]]:
    return {(str(e.path.resolve()), str(e.error)) for e in result.errors}


def new_command(args) -> int:
    try:
        spec = build_spec(args, _interactive() and not args.no_input)
    except UsageError as exc:
        print(f"dag-factory new: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndag-factory new: cancelled, nothing written", file=sys.stderr)
        return 130
    folder = Path(args.dir)
    root = _root_of(folder)
    from dag_factory.config.loader import discover, load_pipelines

    path = folder / f"{spec.name}.yaml"
    for existing in [path, path.with_suffix(".yml"), *(discover(root) if root.is_dir() else [])]:
        if existing.exists() and existing.stem == spec.name:
            print(
                f"dag-factory new: {display(existing)} already exists; not overwriting it (pick another name or edit that file)",
                file=sys.stderr,
            )
            return 1
    folder.mkdir(parents=True, exist_ok=True)
    before = _error_keys(load_pipelines(root, all_envs=True)) if root.is_dir() else set()
    text = render(spec, folder)
    try:
        with open(path, "x", encoding="utf-8") as fh:  # never overwrite, even in a race
            fh.write(text)
    except FileExistsError:
        print(f"dag-factory new: {display(path)} already exists; not overwriting it", file=sys.stderr)
        return 1
    # the file must lint clean where it lives: _defaults.yaml above it, other pipelines beside it
    # (a clash such as "one table, one pipeline" may be reported at the other file)
    result = load_pipelines(root, all_envs=True)
    new_errors = [e for e in result.errors if (str(e.path.resolve()), str(e.error)) not in before]
    if new_errors:
        path.unlink()
        print("dag-factory new: the generated file would not be valid here, so it was not written:", file=sys.stderr)
        for error in new_errors:
            for problem in error.error.problems:
                print(f"  {problem.format()}", file=sys.stderr)
        return 1
    print(f"wrote {display(path)}")
    print(
        f"  next: edit it (checks, alerts, schedule), then `dag-factory lint {display(path)}` and `dag-factory show {spec.name}`"
    )
    return 0


# ---------------------------------------------------------------- dag-factory schema


def schema_command(copy_to: str | None = None) -> int:
    from dag_factory.config.validate import _PACKAGED_SCHEMA, schema_path

    path = schema_path().resolve()
    if copy_to:
        dest_dir = Path(copy_to)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / "pipeline.schema.json"
        shutil.copyfile(path, dest)
        print(f"copied the schema to {display(dest)} (commit it; refresh it after upgrading dag-factory)")
        path = dest.resolve()
    rel = Path(os.path.relpath(path, Path("pipelines").resolve())).as_posix()
    packaged = _PACKAGED_SCHEMA.resolve()
    from_cwd = Path(os.path.relpath(path)).as_posix()
    settings_path = f"./{from_cwd}" if not from_cwd.startswith("..") else path.as_posix()
    lines = [
        f"JSON Schema of pipeline files (JSON Schema 2020-12, only draft-07 keywords):\n  {path}",
    ]
    if packaged != path:
        lines.append(f"  (installed with the package: {packaged})")
    lines += [
        "",
        "Per file - VS Code (Red Hat's YAML extension), Neovim/Helix/Zed with yaml-language-server:",
        "  first line of the pipeline file (`dag-factory new` writes it), relative to the file:",
        f"    # yaml-language-server: $schema={rel}",
        "",
        "VS Code, for every pipeline at once - .vscode/settings.json:",
        "  {",
        '    "yaml.schemas": {',
        f'      "{settings_path}": ["pipelines/**/*.yaml", "pipelines/**/*.yml", "!pipelines/**/_*.yaml"]',
        "    }",
        "  }",
        "  (`_defaults.yaml` files are partial pipelines; YAML extensions without `!` exclusions",
        "   flag their missing keys - use the per-file modeline instead.)",
        "",
        "JetBrains IDEs (PyCharm, IntelliJ, DataGrip):",
        "  Settings > Languages & Frameworks > Schemas and DTDs > JSON Schema Mappings > +",
        f"    Schema file or URL: {path}",
        "    Schema version:     JSON Schema version 7 (or 2020-12 where offered)",
        "    + File path pattern: pipelines/*.yaml  (and one per sub-folder pattern you use)",
        "",
        "Keep the schema next to your pipelines in a data repository: dag-factory schema --copy schemas/",
    ]
    print("\n".join(lines))
    return 0
