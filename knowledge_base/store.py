"""Loading guides from their YAML files: bad guides are reported and skipped, the rest load."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge_base.constants import GUIDES_DIR
from knowledge_base.schema import Guide

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuideError:
    """Why one guide file was refused."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass
class LoadResult:
    guides: list[Guide] = field(default_factory=list)
    errors: list[GuideError] = field(default_factory=list)


def validation_errors(path: str, exc: ValidationError) -> list[GuideError]:
    """One GuideError per failing field, with the dotted field path."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        out.append(GuideError(path, loc, err["msg"]))
    return out


def load_guide_file(path: Path) -> Guide:
    """Parse and validate one guide file; raises ValueError or ValidationError."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError("a guide file must hold one YAML mapping")
    guide = Guide.model_validate(data)
    if guide.id != path.stem:
        raise ValueError(f"id {guide.id!r} does not match the file name {path.stem!r}")
    return guide


def load_guides(directory: Path = GUIDES_DIR) -> LoadResult:
    """Load every `*.yaml` guide in a directory; invalid ones are logged and skipped."""
    result = LoadResult()
    seen: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        try:
            guide = load_guide_file(path)
        except ValidationError as exc:
            result.errors.extend(validation_errors(path.name, exc))
            continue
        except (ValueError, yaml.YAMLError, OSError) as exc:
            result.errors.append(GuideError(path.name, "(file)", str(exc)))
            continue
        if guide.id in seen:
            result.errors.append(GuideError(path.name, "id", f"duplicate id {guide.id}"))
            continue
        seen.add(guide.id)
        result.guides.append(guide)
    for err in result.errors:
        log.warning("guide refused: %s", err)
    return result
