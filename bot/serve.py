"""Rasa's command line (`python -m bot.serve run …` does what `rasa run …` does), with one fix to
Rasa 3.6 that halves the CPU time of a turn (runs inside Rasa's environment).

Rasa checks every answer of the action server with `jsonschema.validate(result, spec)`. That function
first checks the constant `spec` against its meta-schema (JSON Schema 2020-12, with its dynamic
references) on every call: a py-spy profile of Rasa under load spent half its samples there
(docs/benchmarks.md, "Gateway vs Rasa"). Here the spec is checked once and its validator built once;
each answer is validated exactly as before (the same spec, the same best-matching error and message),
so a malformed answer is still refused. Used by tools/stack.py and deploy/compose.yaml.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` with the validator built once."""
    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        "Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

