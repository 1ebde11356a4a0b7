"""One measurement of one DAG file, in a fresh process (run by bench_parse.py, in either venv).

    python _parse_child.py MODE DAG_FILE

MODE:
  exec    import the DAG file the way DagBag does (module from its path, .pyc used) and count the
          DAGs in its globals: the cost of the user code alone.
  dagbag  what the dag-processor's child does for the file: airflow.dag_processing.processor's
          _parse_file (stability check, BundleDagBag, serialization of every DAG) and the
          encoding of the result frame it sends to the manager.
  worker  what a worker does at task start: BundleDagBag(safe_mode=False) of the file with the
          parsing context (_AIRFLOW_PARSING_CONTEXT_DAG_ID/TASK_ID, set by the caller) and a
          lookup of the task.

Airflow itself (and the DAG classes, and for dagbag/worker the processor modules) is imported
before the clock starts: the dag-processor and the worker have it imported already. The DAG
file's own imports (our package, dag-factory, providers' operators) are inside the clock, as
they are in Airflow's fresh parse process. Prints one JSON line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    mode, dag_file = sys.argv[1], Path(sys.argv[2]).resolve()
    t_import = time.perf_counter()
    import airflow  # noqa: F401
    from airflow.sdk import DAG, BaseOperator  # noqa: F401

    if mode in ("dagbag", "worker"):
        import structlog
        from airflow.dag_processing.dagbag import BundleDagBag
        from airflow.dag_processing.processor import DagFileParseRequest, _parse_file
        from airflow.sdk.execution_time.comms import _RequestFrame
    import_s = time.perf_counter() - t_import

    out: dict[str, object] = {"mode": mode, "file": str(dag_file), "airflow_import_s": round(import_s, 3)}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if mode == "exec":
        sys.path.insert(0, str(dag_file.parent))  # DagBag puts the bundle on sys.path too
        spec = importlib.util.spec_from_file_location("unusual_prefix_bench_" + dag_file.stem, dag_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        dags = list({v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}.values())
        out.update(dags=len(dags), tasks=sum(len(d.tasks) for d in dags), errors=0)
    elif mode == "dagbag":
        import airflow.dag_processing.processor as processor

        stability = [0.0]
        check = processor.check_dag_file_stability

        def timed_check(path):  # the AST scan of the whole file, reported on its own
            t = time.perf_counter()
            try:
                return check(path)
            finally:
                stability[0] += time.perf_counter() - t

        processor.check_dag_file_stability = timed_check
        msg = DagFileParseRequest(file=str(dag_file), bundle_path=dag_file.parent, bundle_name="dags-folder")
        result = _parse_file(msg, structlog.get_logger(logger_name="task"))
        frame = _RequestFrame(id=0, body=result.model_dump(), context_carrier=None).as_bytes()
        out.update(
            dags=len(result.serialized_dags),
            tasks=sum(len(d.data["dag"]["tasks"]) for d in result.serialized_dags),
            errors=len(result.import_errors),
            error_text=next(iter(result.import_errors.values()), "")[-500:],
            frame_bytes=len(frame),
            stability_s=stability[0],
        )
    elif mode == "worker":
        dag_id, task_id = os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"], os.environ["_AIRFLOW_PARSING_CONTEXT_TASK_ID"]
        bag = BundleDagBag(
            dag_folder=str(dag_file), safe_mode=False, load_op_links=False, bundle_path=dag_file.parent, bundle_name="dags-folder"
        )
        task = bag.dags[dag_id].task_dict[task_id]
        out.update(
            dags=len(bag.dags),
            tasks=sum(len(d.tasks) for d in bag.dags.values()),
            errors=len(bag.import_errors),
            task=task.task_id,
        )
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["seconds"] = time.perf_counter() - wall0
    out["cpu_seconds"] = time.process_time() - cpu0
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
