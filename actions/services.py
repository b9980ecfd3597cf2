"""The action server's settings and everything its actions use, built in one replaceable provider.

rasa-sdk creates the actions itself (no constructor arguments), so actions ask `services()` for
what they need; the server builds the real ones on first use (no I/O at import time) and tests
install their own with `use()`, as rasa-sdk's ActionQueryKnowledgeBase takes its store.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pydantic_settings import SettingsConfigDict

from actions.declaration_service import DeclarationService
from actions.guide_service import GuideService
from declarations.catalog import Catalog, load_catalog
from declarations.prefill import LocalCitizenData
from knowledge_base.engine import KnowledgeBase
from knowledge_base.factory import SearchSettings
from knowledge_base.live import LiveUpdates, initial_guides
from knowledge_base.store import load_guides
from records.db import Database, DatabaseSettings
from records.declarations import SqlDeclarationStore

log = logging.getLogger(__name__)


class ActionSettings(SearchSettings):
    """The action server's environment (the search backend's part is SearchSettings')."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    actions_host: str = "127.0.0.1"
    actions_port: int = 5055
    redis_url: str = ""  # empty: answer from the guide files only, no editors' overlay
    log_level: str = "INFO"


def build_declarations(db: Database, catalog: Catalog) -> DeclarationService:
    """Declarations from declarations/data over the database of record and the citizen-data stand-in."""
    db.migrate()
    log.info("declarations loaded: %s", ", ".join(sorted(catalog.declarations)))
    return DeclarationService(catalog, SqlDeclarationStore(db), LocalCitizenData())


@dataclass
class Services:
    """What the actions use: the knowledge base, the guide service on it, the overlay listener,
    and the declarations (built on first use: they open the database)."""

    settings: ActionSettings
    kb: KnowledgeBase
    guides: GuideService
    live: LiveUpdates | None = None
    _declarations: DeclarationService | None = None
    _catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        """The declarations' data files (no database needed to know which services have one)."""
        if self._declarations is not None:
            return self._declarations.catalog
        if self._catalog is None:
            self._catalog = load_catalog()  # a bad file stops here, naming the file and field
        return self._catalog

    @property
    def declarations(self) -> DeclarationService:
        if self._declarations is None:
            self._declarations = build_declarations(Database.from_settings(DatabaseSettings()), self.catalog)
        return self._declarations

    @classmethod
    def build(cls, settings: ActionSettings) -> Services:
        """Load files ⊕ the editors' overlay into a KnowledgeBase on the configured backend."""
        kb = settings.knowledge_base()
        files = {g.id: g for g in load_guides(kb.guides_dir).guides}  # logs each refused guide
        url = settings.redis_url or None
        guides, version = initial_guides(url, files)
        kb.replace_all(list(guides.values()))
        log.info("knowledge base loaded: %d guides (overlay version %d)", len(kb), version)
        live = LiveUpdates(kb, url, files, version) if url else None
        return cls(settings, kb, GuideService(kb), live)

    @classmethod
    def of(cls, kb: KnowledgeBase, declarations: DeclarationService | None = None) -> Services:
        """Services around a KnowledgeBase that is already loaded (tests)."""
        return cls(ActionSettings(), kb, GuideService(kb), None, declarations)


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """The process's services, built from the environment on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = Services.build(ActionSettings())
        return _services


def use(replacement: Services | None) -> None:
    """Install the services the actions use from now on (None: build from the environment again)."""
    global _services
    with _lock:
        _services = replacement
