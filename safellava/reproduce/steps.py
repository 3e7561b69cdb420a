"""Running the project's entry points as subprocesses: logs, progress, CPU sharing, failure handling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from safellava.errors import UserError
from safellava.reproduce.plan import Layout

REPO_ROOT = Path(__file__).resolve().parents[2]


class StepFailed(UserError):
    """A step's subprocess exited with an error; the message names the step and its log."""


@dataclass(frozen=True)
class Job:
    """One subprocess of a step: its name (also its log file's) and its command line."""

    name: str
    argv: list[str]


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Steps:
    """Runs the subprocesses of a reproduction, logging each to logs/<name>.log and telling the user.

    Jobs run together (the two variants side by side) share the CPUs: each gets cpus // jobs threads
    (OMP_NUM_THREADS), unless the caller set OMP_NUM_THREADS. Two 2-thread processes on 2 cores, or any
    process sharing its cores with another job, make PyTorch's threads wait for each other at every
    parallel region; one thread per core avoids that (measured: ≈10× slower steps otherwise)."""

    HEARTBEAT_S = 30.0

    def __init__(self, layout: Layout, verbose: bool = False, env: dict[str, str] | None = None):
        self.layout = layout
        self.verbose = verbose
        self.env = {**os.environ, **(env or {})}
        self.timings: dict[str, float] = {}

    def say(self, message: str) -> None:
        print(f"[reproduce] {message}", file=sys.stderr, flush=True)

    def run(self, name: str, argv: Sequence[str]) -> None:
        self.run_together([Job(name, list(argv))])

    def python(self, name: str, args: Sequence[str]) -> None:
        self.run(name, [sys.executable, *args])

    def cli(self, name: str, args: Sequence[str]) -> None:
        """`safellava <args>` in this interpreter (the installed console script runs the same `main`)."""
        self.python(name, ["-m", "safellava.cli", *args])

    def run_together(self, jobs: Sequence[Job]) -> None:
        """Run jobs concurrently to completion; if one fails, stop the others and raise StepFailed with
        the failed job's log tail."""
        if not jobs:
            return
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        if "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(max(1, cpu_count() // len(jobs)))
        started = time.monotonic()
        running = []
        for job in jobs:
            self.say(f"{job.name}: {' '.join(_short(a) for a in job.argv)}")
            log = self.layout.logs / f"{job.name}.log"
            handle = open(log, "wb")
            handle.write((" ".join(job.argv) + "\n\n").encode())
            handle.flush()
            process = subprocess.Popen(job.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            copier = threading.Thread(target=self._copy, args=(process, handle), daemon=True)
            copier.start()
            running.append((job, log, handle, process, copier))
        failed = self._wait(running, started)
        for job, _, handle, process, copier in running:
            copier.join()
            handle.close()
            self.timings[job.name] = round(time.monotonic() - started, 1)
        if failed is not None:
            job, log = failed
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise StepFailed(f"step {job.name!r} failed; full log: {log}\n--- last lines ---\n{tail}")
        names = " + ".join(job.name for job in jobs)
        self.say(f"{names}: done in {time.monotonic() - started:.1f} s")

    def _copy(self, process: subprocess.Popen, handle) -> None:
        """Child output → its log (and stderr with --verbose), as it comes."""
        assert process.stdout is not None
        for chunk in iter(lambda: process.stdout.read1(65536), b""):
            handle.write(chunk)
            handle.flush()
            if self.verbose:
                sys.stderr.buffer.write(chunk)
                sys.stderr.flush()

    def _wait(self, running: list, started: float):
        """Wait for every job; print a heartbeat with each job's progress. Returns (job, log) of the first
        failure (after stopping the others), or None."""
        last_beat = time.monotonic()
        while True:
            states = [(job, log, process.poll()) for job, log, _, process, _ in running]
            failed = next(((job, log) for job, log, code in states if code not in (None, 0)), None)
            if failed is not None:
                for _, _, _, process, _ in running:
                    if process.poll() is None:
                        process.terminate()
                for _, _, _, process, _ in running:
                    process.wait()
                return failed
            if all(code == 0 for _, _, code in states):
                return None
            if time.monotonic() - last_beat >= self.HEARTBEAT_S and not self.verbose:
                last_beat = time.monotonic()
                progress = ", ".join(f"{job.name} {_progress(log)}" for job, log, code in states if code is None)
                self.say(f"… {time.monotonic() - started:.0f} s: {progress}")
            time.sleep(0.2)


_PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


def _progress(log: Path) -> str:
    """The last tqdm position (`123/800`) in a log, or 'running'."""
    with open(log, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 4096))
        matches = _PROGRESS.findall(handle.read())
    return f"{matches[-1][0].decode()}/{matches[-1][1].decode()}" if matches else "running"


def _short(arg: str) -> str:
    """Paths under the repository are shown relative to it, to keep the progress lines readable."""
    try:
        return str(Path(arg).relative_to(REPO_ROOT)) if arg.startswith(str(REPO_ROOT)) else arg
    except ValueError:
        return arg

