"""Running the Rasa CLI from the Rasa environment, the way tools/stack.py runs `rasa train`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tools.stack import RASA_VENV, ROOT, model_path

# The training data as tools.stack.ensure_model passes it to `rasa train` (generated NLU included);
# config.yml names the jieba dictionary relative to ROOT, so the CLI runs there.
TRAINING_DATA = ("bot/data", "var/nlu")
RASA = RASA_VENV / "bin" / "rasa"


def current_model() -> Path:
    """The trained model for the current data (the one the stack serves)."""
    model = model_path()
    if not model.exists():
        pytest.fail("no trained model for the current data: run the tests with `make test`")
    return model


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def start_rasa(args: Sequence[str]) -> subprocess.Popen[str]:
    """`rasa <args>` in the background, output (stdout and stderr) captured as text."""
    if not RASA.exists():
        pytest.fail(f"{RASA} is missing: run `make setup`")
    return subprocess.Popen([str(RASA), *args], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_rasa(args: Sequence[str], timeout_s: float) -> tuple[int, str]:
    """`rasa <args>`: its exit code and output."""
    proc = start_rasa(args)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"rasa {' '.join(args[:2])} took over {timeout_s:.0f} s:\n{output[-3000:]}")
    return proc.returncode, output
