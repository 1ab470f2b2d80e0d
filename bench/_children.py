"""Run a command as a child process and measure it: wall time, CPU time and peak memory of its tree.

Memory is sampled every ``SAMPLE_EVERY`` seconds over the child and all its descendants (parse
workers, a fork server): the peak of the summed RSS, and the peak of the summed PSS (proportional
set size: a page shared by N processes counts 1/N in each, so forked workers are not counted
twice) where ``/proc/PID/smaps_rollup`` exists. (The kernel's ``ru_maxrss`` is not used: it
is one process's, and a child forked from this big process starts with this one's.) CPU time is at
least what the tree used: the larger of ``wait4``'s (the child and the descendants it waited
for) and the sum of each process's own last-sampled time (``/proc/PID/stat``), which also counts
descendants nobody waited for, such as a fork server and its workers.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY = 0.1
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class ChildRun:
    cmd: list[str]
    wall: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    peak_pss_mb: float

    def check(self) -> ChildRun:
        if self.returncode != 0:
            raise SystemExit(f"{' '.join(self.cmd)} exited {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text(encoding="ascii")
            kids.extend(int(v) for v in text.split())
    except (OSError, ValueError):
        pass
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (bounded: at most 1,000 processes)."""
    seen, todo = [pid], [pid]
    while todo and len(seen) < 1000:
        for kid in _children(todo.pop()):
            if kid not in seen:
                seen.append(kid)
                todo.append(kid)
    return seen


def memory_kb(pid: int) -> tuple[int, int]:
    """RSS and PSS of one process in KiB (PSS = RSS where smaps_rollup is unreadable)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
        return rss, pss
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0, 0
    return rss, rss


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks of one process itself (not its children); 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        fields = text[text.rindex(")") + 2 :].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.ticks: dict[int, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            rss = pss = 0
            for pid in tree(self.pid):
                one_rss, one_pss = memory_kb(pid)
                rss += one_rss
                pss += one_pss
                self.ticks[pid] = max(self.ticks.get(pid, 0), cpu_ticks(pid))
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.stop.wait(SAMPLE_EVERY)


def run_child(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 900
) -> ChildRun:
    """Run ``cmd`` to its end (killed after ``timeout`` seconds) and measure it."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = _Sampler(proc.pid)
    sampler.start()
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""), daemon=True),
        threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop.set()
    sampler.join(5)
    for reader in readers:
        reader.join(10)
    return ChildRun(
        cmd=cmd,
        wall=wall,
        cpu=max(usage.ru_utime + usage.ru_stime, sum(sampler.ticks.values()) / TICKS),
        returncode=proc.returncode,
        stdout="".join(out),
        stderr="".join(err),
        peak_rss_mb=sampler.peak_rss / 1024,
        peak_pss_mb=sampler.peak_pss / 1024,
    )


PYCACHE: list[Path] = []  # set by use_pycache


def use_pycache(directory: Path) -> None:
    """Let the children write and read compiled bytecode under ``directory``.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, a source tree installed in editable mode has no
    ``.pyc`` files and every command compiles the project's modules anew; an installed package
    runs from bytecode. With a cache of their own (``PYTHONPYCACHEPREFIX``) filled by an
    untimed warm-up, the timed children run from bytecode, and nothing is written in the tree.
    """
    PYCACHE[:] = [directory]


def clean_env() -> dict[str, str]:
    """This process's environment without the ``AGGREGATOR_*`` settings (the commands get flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    if PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE[0])
    return env
