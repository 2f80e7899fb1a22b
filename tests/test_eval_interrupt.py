"""Ctrl-C during `calbench eval`: samples are saved per generation batch (so work finished before the first
chunk would end is kept), the command says what is saved and how to resume, exits 130, and the rerun
completes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from calbench.records import read_samples

SCRIPT = {"replies": [{"match": "How confident", "reply": "8"}], "default": " Paris", "delay": 0.05}


def test_sigint_before_the_first_chunk_ends_keeps_finished_batches_and_resumes(tmp_path):
    script = tmp_path / "slow.json"
    script.write_text(json.dumps(SCRIPT))
    out = tmp_path / "run"
    n = 40  # the default --chunk-size is 32: one chunk takes 32 x 2 prompts x 0.05 s = 3.2 s
    cmd = [
        sys.executable,
        "-m",
        "calbench",
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "triviaqa",
        "--limit",
        str(n),
        "--out",
        str(out),
        "--resamples",
        "20",
        "--no-plots",
    ]
    env = dict(os.environ)  # keeps PYTHONPATH, so the child runs this checkout
    # A background process inherits an ignored SIGINT; restore the default so Ctrl-C behaves as in a terminal.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    samples = out / "samples.jsonl"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if samples.exists() and len(samples.read_text().splitlines()) >= 8:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    saved = len(read_samples(samples))
    assert 8 <= saved < 32, f"{saved} samples saved; the first chunk of 32 would not have ended yet"
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"{saved} of {n} samples are saved" in err and "Resume" in err
    resume = err.strip().splitlines()[-1].strip()
    assert resume.startswith("calbench eval ") and f"--out {out}" in resume
    done = subprocess.run([sys.executable, "-m", *resume.split()], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    ids = [s["id"] for s in read_samples(samples)]
    assert len(ids) == n and len(set(ids)) == n
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
