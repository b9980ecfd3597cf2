"""bot/serve.py's check of the action server's answers (run inside the Rasa environment): it accepts
and refuses exactly what Rasa's own check does, with the same message, and checks the schema once."""

from __future__ import annotations

import json
import os
import subprocess

from tools.stack import RASA_VENV, ROOT

SCRIPT = """
import json, sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
import bot.serve as serve

original = RemoteAction._validate_action_result
serve.install()
action = RemoteAction("action_answer_guide", None)
answers = [
    {"events": [{"event": "slot", "name": "service_id", "value": "passport"}],
     "responses": [{"text": "护照", "custom": {"turn": {"outcome": "answer"}}}]},
    {"events": [], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [{"event": 42}], "responses": []},
    {"events": [], "responses": ["just text"]},
]
out = []
for answer in answers:
    verdicts = []
    for check in (original, RemoteAction._validate_action_result):
        try:
            verdicts.append(["ok", check(action, answer)])
        except ValidationError as error:
            verdicts.append(["refused", error.message])
    out.append(verdicts)
print(json.dumps({"verdicts": out, "schema_checks": serve._validator.cache_info().misses}))
"""


def test_the_fast_check_agrees_with_rasa_s_own() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(RASA_VENV / "bin" / "python"), "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    verdicts = result["verdicts"]
    assert [v[0][0] for v in verdicts] == ["ok", "ok", "refused", "refused", "refused"]
    for rasa_s, ours in verdicts:
        assert ours == rasa_s  # the same verdict and, when refused, the same message
    assert "Failed to validate Action server response" in verdicts[2][1][1]
    assert result["schema_checks"] == 1  # the spec's validator was built once for all five answers
