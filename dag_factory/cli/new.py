"""`dag-factory new NAME ...`: a commented, lint-clean pipeline file.

Prompts for missing values only when standard input is a terminal; otherwise missing
required flags are a usage error (exit 2) naming them, so CI and scripts never hang.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from dag_factory.cli.common import display
from dag_factory.cli.new_envs import environment_overrides
from dag_factory.cli.new_spec import (
    CONN_RE,
    EXAMPLE,
    MODE_HELP,
    MODES,
    Spec,
    UsageError,
    check_date,
    check_identifier,
    check_lake_path,
    check_name,
    check_schedule,
    history_note,
    parse_columns,
    parse_conn_table,
    render,
)
from dag_factory.errors import ConfigError

# ---------------------------------------------------------------- the command


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _yes_no(answer: str) -> bool:
    if answer.lower() in ("y", "yes"):
        return True
    if answer.lower() in ("n", "no"):
        return False
    raise UsageError("answer y or n")


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
    looked = _look_into(values["source"], getattr(args, "demo", None)) if wizard else None
    info = looked[0] if looked else None
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
            likely = info.likely_cursors() if info else []
            cursor = _ask(
                "cursor column (places a row in an interval, e.g. updated_at)",
                lambda v: check_identifier(v, "cursor"),
                likely[0] if likely else None,
            )
        if wizard and not pk and args.pk is None:
            key = ",".join(info.primary_key) if info else ""
            pk = _ask(
                "primary key columns, comma-separated (Enter: " + (key or "none, append only") + ")",
                lambda v: parse_columns(v, "primary key"),
                key,
            )
    elif cursor or pk:
        raise UsageError(f"--cursor and --pk only apply to --mode incremental (this load is {values['mode']})")

    schedule = check_schedule(args.schedule) if args.schedule is not None else "@daily"
    if wizard and args.schedule is None:
        schedule = _ask("schedule (cron, @hourly, @daily, ... or none)", check_schedule, "@daily")
    start_date = check_date(args.start_date) if args.start_date else None
    if wizard and start_date is None:
        if values["mode"] == "incremental":
            print(
                f"  start_date is the first interval the schedule loads; rows with an earlier {cursor} arrive only "
                "through a backfill (printed at the end)",
                file=sys.stderr,
            )
        start_date = _ask("start_date (YYYY-MM-DD)", check_date, date.today().isoformat())
    load_history = None
    if wizard and values["mode"] == "incremental":
        load_history = _ask("load the rows from before start_date once, after the merge? (y/n)", _yes_no, "y")
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
        start_date=start_date,
        columns=[c.name for c in info.columns] if info else [],
        first_day=_first_day(looked, cursor) if looked and values["mode"] == "incremental" and cursor else None,
        load_history=load_history,
    )


def _look_into(source: tuple[str, str], demo: str | None):
    """The source table's columns, key and likely cursors, when its connection can be reached;
    None (and a note) otherwise: `new` works without it."""
    conn_id, table = source
    try:
        from dag_factory.cli.tables import resolve_source
        from dag_factory.engine.introspect import describe_table

        conn = resolve_source(conn_id, demo)
        info = describe_table(conn, table)
    except Exception as exc:  # an unreachable source must not stop the wizard
        print(f"  (could not look into {conn_id}.{table}: {str(exc).splitlines()[0][:200]})", file=sys.stderr)
        return None
    cursors = ", ".join(info.likely_cursors()) or "none"
    print(
        f"  {conn_id}.{table}: {len(info.columns)} columns ({', '.join(c.name for c in info.columns)}); "
        f"primary key: {', '.join(info.primary_key) or 'none'}; likely cursor: {cursors}",
        file=sys.stderr,
    )
    return info, conn, table


def _first_day(looked, cursor: str) -> str | None:
    """The day of the oldest cursor value (for the history command); None when it cannot be read."""
    from dag_factory.engine.introspect import earliest_day

    info, conn, table = looked
    if cursor not in {c.name for c in info.columns}:
        return None
    try:
        return earliest_day(conn, table, cursor)
    except Exception:  # the note then says FIRST_DAY
        return None


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
    overrides = environment_overrides(spec, path, root) if root.is_dir() else []
    if overrides:
        text = text + "\n".join(overrides) + "\n"
        path.write_text(text, encoding="utf-8")
    # the file must lint clean where it lives: _defaults.yaml above it, other pipelines beside it
    # (a clash such as "one table, one pipeline" may be reported at the other file)
    result = load_pipelines(root, all_envs=True)
    new_errors = [p for e in result.errors if (str(e.path.resolve()), str(e.error)) not in before for p in e.error.problems]
    written = result.pipelines.get(spec.name)
    if written is not None and not new_errors:  # what lint checks beyond the schema: templates, capabilities
        from dag_factory.cli.lint_deep import deep_problems
        from dag_factory.config.connections_file import Declared, load_declared

        try:
            declared = load_declared(root)
        except ConfigError:
            declared = Declared()
        new_errors = deep_problems(written, root, None, declared)
    if new_errors:
        path.unlink()
        print("dag-factory new: the generated file would not be valid here, so it was not written:", file=sys.stderr)
        for problem in new_errors:
            print(f"  {problem.format()}", file=sys.stderr)
        return 1
    print(f"wrote {display(path)}")
    for line in history_note(spec, date.today()):
        print(line)
    print(
        f"  next: edit it (checks, alerts, schedule), then `dag-factory lint {display(path)}` and `dag-factory show {spec.name}`"
    )
    from dag_factory.cli.shards import layout_hint

    hint = layout_hint(root)
    if hint:
        print(hint)
    return 0
