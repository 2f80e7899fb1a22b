"""Start ``transformers serve`` (transformers' own OpenAI-compatible server) on a local model directory,
offline, in a subprocess; wait until it answers; stop it afterwards.

Needs ``pip install "transformers[serving]"`` (fastapi, uvicorn, starlette, openai). With the model pinned
(``transformers serve DIR``) the server answers only requests naming ``DIR`` as the model.

    with TransformersServer(model_dir) as srv:
        srv.url  # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def serving_available() -> bool:
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError:
        return False
    return bool(is_serve_available())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TransformersServer:
    def __init__(
        self,
        model_dir: str,
        *,
        port: int | None = None,
        threads: int | None = 1,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 180.0,
        log: str | Path | None = None,
    ):
        self.model_dir = str(model_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.threads = threads
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self.log_path = Path(log) if log else None
        self.proc: subprocess.Popen | None = None

    def start(self) -> "TransformersServer":
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        cmd = [
            sys.executable,
            "-m",
            "transformers.cli.transformers",
            "serve",
            self.model_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--dtype",
            "float32",
            "--log-level",
            "error",
            *self.extra_args,
        ]
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"transformers serve exited with code {self.proc.returncode} "
                    f"(command: {' '.join(cmd)}; log: {self.log_path})"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"transformers serve did not answer within {self.startup_timeout:g} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "TransformersServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
