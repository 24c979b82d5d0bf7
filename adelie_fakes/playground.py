"""The live offline playground: `dagster dev` on the demo instance, with the fakes running next to it.

    python -m adelie_fakes.playground [--port 3000] [--state-dir .adelie/demo]   (make demo-ui)

1. tops the demo instance up (`python -m adelie_fakes.demo --top-up`): every day the daemon's
   catch-up sensor would look at is materialized before the daemon starts;
2. starts the fake KRX and the fake OpenAI on 127.0.0.1 (threads of this process) for the whole
   session, and `dagster dev` in its own process group with the demo environment (demo mode,
   adelie_fakes/demo_mode.py), from the state directory, which holds no dagster.yaml, so Dagster
   reads the demo instance's $DAGSTER_HOME/dagster.yaml without warning about another one;
3. on Ctrl-C, SIGTERM or SIGHUP: SIGTERM to the group, a bounded wait, then SIGKILL to the group and
   to any process still carrying this session's marker variable, the runs it interrupted marked
   canceled (so that the next session shows no failure), and the fakes stopped: within 10 s, with no
   port left bound. `dagster dev` alone does not reliably stop without a terminal (issue 16).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from types import FrameType

from adelie_fakes import demo_instance, demo_mode, processes

SESSION_ENV = "ADELIE_PLAYGROUND_SESSION"
GRACE_SECONDS = 3.0  # of the 10 s budget: what `dagster dev` gets to stop its children itself
KILL_WAIT_SECONDS = 2.0
READY_TIMEOUT_SECONDS = 180.0


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class Playground:
    def __init__(self, state: Path, port: int, krx_latency: float = 0.0) -> None:
        self.state = state
        self.port = port
        self.krx_latency = krx_latency
        self.session = uuid.uuid4().hex
        self.stopping = threading.Event()
        self.signal_name = ""
        self.children: list[subprocess.Popen[bytes]] = []
        self.krx = None
        self.llm = None

    # --- signals ---------------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.on_signal)

    # --- processes -------------------------------------------------------------------------------

    def spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # Its own group: a terminal's Ctrl-C reaches this process only, which stops the group in
        # order; the children never get a signal they would handle in their own, slower way.
        child = subprocess.Popen(
            argv, cwd=self.state, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.children.append(child)
        return child

    def wait(self, child: subprocess.Popen[bytes]) -> int | None:
        """The child's exit code, or None when a stop was asked first."""
        while not self.stopping.is_set():
            code = child.poll()
            if code is not None:
                return code
            self.stopping.wait(0.2)
        return None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def run(self) -> int:
        from adelie_fakes.servers import start_fakes

        self.install_signal_handlers()
        # Imported now, so that a stop does not spend its seconds importing Dagster.
        from dagster import DagsterInstance  # noqa: F401

        self.krx, self.llm = start_fakes(
            krx_credentials=demo_instance.KRX_CREDENTIALS,
            krx_latency=self.krx_latency,
            llm_api_key=demo_instance.LLM_API_KEY,
        )
        env = demo_instance.demo_env(self.state, self.krx.url, self.llm.base_url)
        env[SESSION_ENV] = self.session
        env["PYTHONUNBUFFERED"] = "1"
        demo_mode.check_endpoints(env)
        try:
            print(f"== {demo_mode.DEMO_LABEL}", flush=True)
            print(f"== fake KRX {self.krx.url}, fake OpenAI {self.llm.base_url}", flush=True)
            top_up = self.spawn(
                [sys.executable, "-m", "adelie_fakes.demo", "--top-up", "--state-dir", str(self.state)], env
            )
            code = self.wait(top_up)
            if code is None:
                return 0
            if code != 0:
                print("The demo top-up failed (see above); the playground does not start.", file=sys.stderr)
                return code
            dev = self.spawn(
                [
                    _bin("dagster"),
                    "dev",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-w",
                    str(demo_instance.WORKSPACE_YAML),
                ],
                env,
            )
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while not self.stopping.is_set() and dev.poll() is None and not self.ready():
                if time.monotonic() > deadline:
                    print(f"The UI did not answer within {READY_TIMEOUT_SECONDS:.0f} s.", file=sys.stderr)
                    return 1
                self.stopping.wait(0.5)
            if dev.poll() is None and not self.stopping.is_set():
                print(
                    f"\n== Playground ready: http://127.0.0.1:{self.port} (DEMO DATA; Ctrl-C stops all)",
                    flush=True,
                )
            code = self.wait(dev)
            if code is not None:
                print(f"dagster dev exited with {code}; stopping the playground.", file=sys.stderr)
                return code or 1
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        started = time.monotonic()
        interrupted = self._runs_in_flight()
        groups = [child.pid for child in self.children]  # start_new_session: pid == group id
        for pgid in groups:
            processes.signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(processes.in_group(g) for g in groups):
            time.sleep(0.1)
        graceful = not any(processes.in_group(g) for g in groups)
        for pgid in groups:
            processes.signal_group(pgid, signal.SIGKILL)
        # Anything that left the groups still carries the session's marker.
        processes.kill(processes.with_env(SESSION_ENV, self.session))
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while time.monotonic() < deadline and (
            any(processes.in_group(g) for g in groups) or processes.with_env(SESSION_ENV, self.session)
        ):
            time.sleep(0.1)
        for child in self.children:
            try:
                child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        ended = time.monotonic() - started
        self._cancel(interrupted)
        from adelie_fakes.servers import stop_fakes

        stop_fakes(self.krx, self.llm)
        why = f" ({self.signal_name})" if self.signal_name else ""
        how = "on their own" if graceful else f"killed after {GRACE_SECONDS:.0f} s"
        print(
            f"== Playground stopped{why} in {time.monotonic() - started:.1f} s "
            f"(processes ended {how}, {ended:.1f} s).",
            flush=True,
        )

    def _runs_in_flight(self) -> list[str]:
        from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

        in_flight = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
        try:
            with DagsterInstance.from_config(str(demo_instance.dagster_home(self.state))) as instance:
                return [
                    r.dagster_run.run_id for r in instance.get_run_records(RunsFilter(statuses=in_flight))
                ]
        except Exception as exc:  # a stop must go on; these runs fail at the next start instead
            print(f"Could not list the runs in flight: {exc}", file=sys.stderr)
            return []

    def _cancel(self, run_ids: list[str]) -> None:
        """The runs this stop interrupted, marked canceled: a run worker that gets SIGTERM reports
        its run failed, and one that is killed is failed by run monitoring in the next session;
        either way a failure would be the first thing the next session shows, for a user's stop."""
        if not run_ids:
            return
        from dagster import DagsterInstance, DagsterRunStatus

        try:
            with DagsterInstance.from_config(str(demo_instance.dagster_home(self.state))) as instance:
                for run_id in run_ids:
                    run = instance.get_run_by_id(run_id)
                    if run is not None and run.status != DagsterRunStatus.SUCCESS:
                        instance.report_run_canceled(
                            run, message="The playground was stopped during this run."
                        )
        except Exception as exc:
            print(f"Could not mark the interrupted runs canceled: {exc}", file=sys.stderr)


def port_taken(port: int) -> str | None:
    """Why the UI cannot have `port` on 127.0.0.1 (something listens there), or None."""
    with socket.socket() as probe:
        # Only a listener blocks the bind: a connection of a former session in TIME_WAIT does not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return (
                f"Port {port} on 127.0.0.1 is taken ({exc.strerror}): another Dagster or another program "
                f"listens there. Stop it, or choose a free port: make demo-ui PORT={port + 1}."
            )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adelie_fakes.playground", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=3000, help="The UI's port (default 3000).")
    parser.add_argument(
        "--state-dir", default=".adelie/demo", help="The demo's state (default .adelie/demo)."
    )
    parser.add_argument(
        "--krx-latency", type=float, default=0.0, help="Seconds the fake KRX adds to each answer (tests)."
    )
    args = parser.parse_args(argv)
    state = Path(args.state_dir).resolve()
    # Before anything slow: a UI already answering there would be taken for ours (issue 32).
    taken = port_taken(args.port)
    if taken:
        print(taken, file=sys.stderr)
        return 1
    if not (demo_instance.dagster_home(state) / "dagster.yaml").exists():
        demo = subprocess.run([sys.executable, "-m", "adelie_fakes.demo", "--state-dir", str(state)])
        if demo.returncode != 0:
            return demo.returncode
    code = Playground(state, args.port, args.krx_latency).run()
    # Everything is stopped: skip the interpreter's teardown of the loaded Dagster modules (seconds).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
