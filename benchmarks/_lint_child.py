"""One lint of a folder of pipelines, in a fresh process (run by bench_lint.py).

    python _lint_child.py ours PIPELINES_DIR
    python _lint_child.py check-jsonschema SCHEMA FILE...

Times the import of the linter and the lint itself separately ("work" = the lint call).
Prints one JSON line.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time


def main() -> None:
    tool, args = sys.argv[1], sys.argv[2:]
    out = io.StringIO()
    t0 = time.perf_counter()
    if tool == "ours":
        from dag_factory.cli.lint import lint_command

        t1, c1 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out):
            rc = lint_command(args)
    else:
        from check_jsonschema import main as cj

        t1, c1 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc = cj.main(args=["--schemafile", args[0], *args[1:]], standalone_mode=False)
            except SystemExit as e:
                rc = e.code
    t2, c2 = time.perf_counter(), time.process_time()
    print(
        json.dumps({"import_s": t1 - t0, "work_s": t2 - t1, "work_cpu_s": c2 - c1, "rc": rc or 0, "tail": out.getvalue()[-300:]})
    )


if __name__ == "__main__":
    main()
