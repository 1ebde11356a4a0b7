"""`dag-factory` command line. Subcommands import their layers lazily so that
`lint` never imports Airflow."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dag-factory", description="YAML pipelines -> Airflow DAGs for warehouse loads")
    sub = parser.add_subparsers(dest="command", required=True)

    lint = sub.add_parser("lint", help="check pipeline files against the schema and rules (no Airflow needed)")
    lint.add_argument("paths", nargs="*", help="files or folders (default: pipelines/)")
    lint.add_argument("--format", choices=["text", "github"], default="text")
    lint.add_argument("--env", help="environment to resolve (default: $DAG_FACTORY_ENV or 'local')")

    show = sub.add_parser("show", help="print a pipeline's resolved config and task graph")
    show.add_argument("name")
    show.add_argument("--env")
    show.add_argument("--pipelines", default=None, help="pipelines folder (default: ./pipelines)")

    run = sub.add_parser("run", help="run one interval of a pipeline through the engine, without a scheduler")
    run.add_argument("name")
    run.add_argument("--date", help="YYYY-MM-DD: the interval starting on this day")
    run.add_argument("--from", dest="first", metavar="D1", help="YYYY-MM-DD: run every interval from this day ...")
    run.add_argument("--to", dest="last", metavar="D2", help="YYYY-MM-DD: ... to this day (inclusive), in order")
    run.add_argument(
        "--one-pass",
        action="store_true",
        help="incremental: extract the whole --from/--to range with one query and replace exactly that range",
    )
    run.add_argument("--env")
    run.add_argument("--pipelines", default=None)
    run.add_argument(
        "--demo",
        nargs="?",
        const=".demo",
        default=None,
        metavar="HOME",
        help="use the demo's connections (./demo.sh's shop, lake and warehouse in HOME, default .demo) for those not defined",
    )

    tables = sub.add_parser("tables", help="a connection's tables, or a table's columns, key and likely cursors")
    tables.add_argument("what", metavar="CONN[.TABLE]")
    tables.add_argument("--demo", nargs="?", const=".demo", default=None, metavar="HOME", help="use the demo's connections")

    conns = sub.add_parser("connections", help="list the connections the pipelines need, which exist, templates for the missing")
    conns.add_argument("--env")
    conns.add_argument("--pipelines", default=None)
    conns.add_argument(
        "--demo", nargs="?", const=".demo", default=None, metavar="HOME", help="fill the templates with the demo's values"
    )

    demo = sub.add_parser("demo", help="seed the demo shop DB and run the example pipelines through Airflow")
    demo.add_argument("--days", type=int, default=3)
    demo.add_argument("--home", default=".demo", help="folder for the demo's databases, lake and Airflow home")
    demo.add_argument("--print-env", action="store_true", help="print the demo's environment as shell exports and exit")
    demo.add_argument(
        "--ui",
        action="store_true",
        help="run the demo in a real Airflow (airflow standalone) with the web UI, until Ctrl-C",
    )
    demo.add_argument("--port", type=int, default=8080, help="with --ui: the UI/API port (default 8080)")
    _authoring_parsers(sub)
    return parser


def _authoring_parsers(sub) -> None:
    """`new`, `schema`, `diff`, `docs`: writing and reviewing pipelines (no Airflow needed)."""
    new = sub.add_parser("new", help="write a commented, lint-clean pipelines/NAME.yaml (asks for missing values in a terminal)")
    new.add_argument("name", nargs="?", help="pipeline name = DAG id = file name")
    new.add_argument("--source", help="CONN.TABLE or CONN.SCHEMA.TABLE (CONN:TABLE when the connection id has dots)")
    new.add_argument("--target", help="CONN.SCHEMA.TABLE in the warehouse")
    new.add_argument("--mode", choices=["incremental", "snapshot", "full_refresh"])
    new.add_argument("--cursor", help="incremental: the column that places a row in an interval")
    new.add_argument("--pk", action="append", help="incremental: primary key column(s), comma-separated or repeated")
    new.add_argument("--schedule", help="cron, @hourly/@daily/..., or none (default @daily)")
    new.add_argument("--lake-path", help="write raw Parquet under this lake path first")
    new.add_argument("--lake-conn", default="lake", help="the lake's connection id (default: lake)")
    new.add_argument("--description")
    new.add_argument(
        "--demo",
        nargs="?",
        const=".demo",
        default=None,
        metavar="HOME",
        help="look into the source through the demo's connections",
    )
    new.add_argument("--start-date", help="YYYY-MM-DD (default: today)")
    new.add_argument("--dir", default="pipelines", help="folder to write into (default: pipelines)")
    new.add_argument("--no-input", action="store_true", help="never prompt, even in a terminal")

    schema = sub.add_parser("schema", help="print where the pipeline JSON schema is and how to use it in editors")
    schema.add_argument("--copy", metavar="DIR", help="also copy the schema into DIR (e.g. schemas/ of a data repository)")

    diff = sub.add_parser("diff", help="what a change does to the DAGs: pipelines added/removed/renamed/changed vs a git ref")
    diff.add_argument("base", nargs="?", help="git ref to compare with (default: merge base of HEAD and main/origin/main/master)")
    diff.add_argument("--format", choices=["text", "markdown"], default="text")
    diff.add_argument("--pipelines", default=None, help="pipelines folder (default: ./pipelines)")
    diff.add_argument("--env", help="environment to resolve (default: $DAG_FACTORY_ENV or 'local')")

    shards = sub.add_parser("shards", help="split the DAG file into N shard files (default: one per 500 pipelines)")
    shards.add_argument("count", nargs="?", type=int, help="number of DAG files (default: pipelines / 500, rounded up)")
    shards.add_argument("--pipelines", default=None, help="pipelines folder (default: ./pipelines)")
    shards.add_argument("--dags", default=None, help="DAG folder (default: dags/ beside the pipelines folder)")
    shards.add_argument("--check", action="store_true", help="exit 1 if the pipelines need more DAG files; write nothing")

    docs = sub.add_parser("docs", help="write a Markdown pipeline catalog with a Mermaid lineage graph")
    docs.add_argument(
        "--out", default="docs/catalog", help="output folder (default: docs/catalog); it prints whether to commit it"
    )
    docs.add_argument("--pipelines", default=None, help="pipelines folder (default: ./pipelines)")
    docs.add_argument("--env", help="environment to resolve (default: $DAG_FACTORY_ENV or 'local')")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "lint":
        from dag_factory.cli.lint import lint_command

        return lint_command(args.paths, args.format, args.env)
    if args.command == "show":
        from dag_factory.cli.show import show_command

        return show_command(args.name, args.env, args.pipelines)
    if args.command == "run":
        from dag_factory.cli.run import run_command

        return run_command(args.name, args.date, args.env, args.pipelines, args.demo, (args.first, args.last, args.one_pass))
    if args.command == "tables":
        from dag_factory.cli.tables import tables_command

        return tables_command(args.what, args.demo)
    if args.command == "connections":
        from dag_factory.cli.connections import connections_command

        return connections_command(args.env, args.pipelines, args.demo)
    if args.command == "new":
        from dag_factory.cli.new import new_command

        return new_command(args)
    if args.command == "schema":
        from dag_factory.cli.schema import schema_command

        return schema_command(args.copy)
    if args.command == "diff":
        from dag_factory.cli.diff import diff_command

        return diff_command(args.base, args.format, args.pipelines, args.env)
    if args.command == "docs":
        from dag_factory.cli.catalog import docs_command

        return docs_command(args.out, args.pipelines, args.env)
    if args.command == "shards":
        from dag_factory.cli.shards import shards_command

        return shards_command(args.count, args.pipelines, args.dags, args.check)
    if args.command == "demo" and args.ui and not args.print_env:
        from dag_factory.cli.ui import ui_command

        return ui_command(args.days, args.home, args.port)
    if args.command == "demo":
        from dag_factory.cli.demo import demo_command

        return demo_command(args.days, args.home, args.print_env)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":
    sys.exit(main())
