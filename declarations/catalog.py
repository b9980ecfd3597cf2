"""Loading the declaration files: every file validated, every error naming its file and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from declarations.schema import Declaration

DATA_DIR = Path(__file__).resolve().parent / "data"


class DeclarationFileError(ValueError):
    """A declaration file that cannot be used, with the file and field named."""


@dataclass
class Catalog:
    """The declarations by id, and which declaration serves which guide."""

    declarations: dict[str, Declaration] = field(default_factory=dict)

    def get(self, declaration_id: str) -> Declaration | None:
        return self.declarations.get(declaration_id)

    def for_service(self, service_id: str) -> Declaration | None:
        return next((d for d in self.declarations.values() if d.service_id == service_id), None)

    def __len__(self) -> int:
        return len(self.declarations)

    def slot_fields(self) -> list[str]:
        """Every question field of every declaration (each is the Rasa slot dq_<field>)."""
        return sorted({q.field for d in self.declarations.values() for q in d.questions})


def load_file(path: Path) -> Declaration:
    """One declaration file, or DeclarationFileError naming the file and each bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DeclarationFileError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DeclarationFileError(f"{path.name}: a declaration file is a mapping (id, title, questions, …)")
    try:
        decl = Declaration.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(declaration)'}: {err['msg']}" for err in exc.errors()
        )
        raise DeclarationFileError(f"{path.name}: {problems}") from exc
    if decl.id != path.stem:
        raise DeclarationFileError(f"{path.name}: id '{decl.id}' must match the file name '{path.stem}'")
    return decl


def load_catalog(directory: Path = DATA_DIR) -> Catalog:
    """Every declarations/data/*.yaml; the first bad file stops the load (a half catalog misleads)."""
    catalog = Catalog()
    for path in sorted(directory.glob("*.yaml")):
        decl = load_file(path)
        catalog.declarations[decl.id] = decl
    return catalog
