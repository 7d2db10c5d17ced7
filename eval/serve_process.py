"""Runs `touyan serve` as a subprocess on a free loopback port, for the benchmarks and end-to-end tests.

They all need the real server, started the way a user starts it, and a log to show when it
fails to come up. ``start`` raises ``RuntimeError`` with the log's tail; tests turn it into a
failure.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The first start on a fresh index folder builds the index: minutes on a busy machine. The
# wait ends as soon as the server answers or exits; this bound is only for a hung server.
START_TIMEOUT = 1800.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def touyan_serve_command() -> list[str]:
    """The venv's `touyan serve`, or the module itself where the script is not installed."""
    script = Path(sys.executable).with_name("touyan")
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "touyan.cli", "serve"]


class ServeProcess:
    """One server subprocess; ``command`` (default `touyan serve`) gets ``--port N`` appended.

    ``env`` is added to this process's environment. Without ``log_path`` the log goes to a
    temporary file, removed on ``stop``.
    """

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None,
                 command: list[str] | None = None):
        self.env = {**os.environ, **(env or {})}
        self.command = command or touyan_serve_command()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._own_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="touyan-serve-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> ServeProcess:
        """Start the server without waiting for it."""
        with self.log_path.open("wb") as log:
            # Its own session, so that stop() also reaches whatever a custom command spawns.
            self.proc = subprocess.Popen(
                [*self.command, "--port", str(self.port)], cwd=ROOT, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def start(self, timeout: float = START_TIMEOUT) -> ServeProcess:
        """Start the server and wait until /health says ok; stop it and raise if it never does."""
        self.launch()
        deadline = time.monotonic() + timeout
        while not self._healthy():
            problem = None
            if self.proc.poll() is not None:
                problem = f"exited with {self.proc.returncode}"
            elif time.monotonic() > deadline:
                problem = f"did not answer /health within {timeout:.0f} s"
            if problem:
                message = f"`{' '.join(self.command)}` {problem}:\n{self.log_tail()}"
                self.stop()
                raise RuntimeError(message)
            time.sleep(0.5)
        return self

    def _healthy(self) -> bool:
        # trust_env=False: a proxy from the environment must not answer for the loopback server.
        try:
            response = httpx.get(f"{self.url}/health", timeout=5, trust_env=False)
            return response.status_code == 200 and response.json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL if it has not exited within STOP_TIMEOUT."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
