"""`dag-factory demo --ui`: the example pipelines in a real, running Airflow.

Seeds the demo shop like the one-shot demo (unless `--home` already holds one, e.g.
after `./demo.sh`, whose runs then show up in the UI), then runs `airflow standalone`
(SQLite metadata DB, LocalExecutor, scheduler, dag-processor, triggerer, api-server)
with `dags/` as the DAG folder and the example pipelines unpaused. Prints the URL and
the login and keeps running until Ctrl-C / SIGTERM; then stops standalone and every
process it started.

The pieces (environment, start, readiness, password, stop) live in cli/standalone.py, which the
end-to-end tests use (tests/support/airflow_server.py).
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

from dag_factory.cli.demo_home import FIRST_DAY, RECENT_DAYS, seed
from dag_factory.cli.standalone import (
    LOG_FILE,
    PASSWORD_FILE,
    StandaloneError,
    api_token,
    create_pools,
    log_tail,
    port_in_use,
    read_password,
    signal_group,
    standalone_environment,
    start_standalone,
    stop_standalone,
    unpause_all,
    wait_until_ready,
)


def ui_command(days: int, home_arg: str, port: int) -> int:
    home = Path(home_arg).resolve()
    host = "127.0.0.1"
    if port_in_use(host, port):
        print(f"port {port} is in use (another Airflow?); pick another with --port", file=sys.stderr)
        return 2
    seeded = seed(home, days, fresh=False)
    print(f"demo home: {home} ({'seeded the demo shop' if seeded else 'reusing its databases'})", flush=True)
    history = (
        f"The demo shop has activity on {FIRST_DAY}..{FIRST_DAY + timedelta(days=days - 1)} and the last {RECENT_DAYS + 1} days. "
        if seeded and days > 0
        else f"The demo shop has activity on the last {RECENT_DAYS + 1} days (and whatever {home} held). "
    )
    env = standalone_environment(home, port, host)
    airflow_home = Path(env["AIRFLOW_HOME"])
    log_path = airflow_home / LOG_FILE
    url = f"http://localhost:{port}"

    def on_signal(_signum, _frame):
        raise KeyboardInterrupt

    # SIGINT too: a shell that starts us in the background would have it ignored
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    print(f"starting airflow standalone (log: {log_path}); the first start takes a minute ...", flush=True)
    proc = start_standalone(env, log_path)
    try:
        wait_until_ready(proc, f"http://{host}:{port}", log_path, timeout=300)
        password = read_password(airflow_home)
        token = api_token(f"http://{host}:{port}", password)
        pools = create_pools(f"http://{host}:{port}", token, Path(env["DAG_FACTORY_PIPELINES"]), env["DAG_FACTORY_ENV"])
        unpaused = unpause_all(f"http://{host}:{port}", token)
        if unpaused:
            print(f"unpaused {', '.join(sorted(unpaused))}", flush=True)
        print(
            f"\nAirflow is running: {url}\n"
            f"  user:     admin\n"
            f"  password: {password}   (from {airflow_home / PASSWORD_FILE})\n"
            f"  DAGs:     the pipelines in {env['DAG_FACTORY_PIPELINES']} (unpaused; edit or add a YAML file and it "
            f"shows up within ~20 s)\n"
            f"  log:      tail -f {log_path}\n"
            f"  pools:    {', '.join(pools)} (1 slot: one publish at a time into the DuckDB file)\n"
            f"{history}Trigger runs with logical dates in those days, or with none (the latest complete interval).\n"
            f"Ctrl-C stops Airflow.",
            flush=True,
        )
        while proc.poll() is None:
            time.sleep(1)
        print(f"airflow standalone exited ({proc.returncode}); end of its log:\n{log_tail(log_path)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping Airflow ...", flush=True)
        return 0
    except (StandaloneError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # a repeated SIGTERM must not cut the (bounded) clean-up short
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C kills outright, below
        try:
            stop_standalone(proc)
        except KeyboardInterrupt:  # a second Ctrl-C: kill outright
            signal_group(proc.pid, signal.SIGKILL)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Airflow stopped.", flush=True)
