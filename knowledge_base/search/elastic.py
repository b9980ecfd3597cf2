"""Elasticsearch backend (official client): pre-tokenised fields, versioned indices behind an alias.

We tokenise in Python (with the backend's knowledge_base.normalize.Segmenter, the knowledge base's)
and index space-joined tokens into fields that Elasticsearch only splits on whitespace and
lowercases, so both backends see the same terms. A rebuild fills a new index `<alias>-v<ns>`, then
one `update_aliases` call moves the alias (searches never see an empty or half-built index), then
the older versions are deleted. Calibration fits on scratch() copies: aliases of their own on the
same cluster, deleted after the fit.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from elastic_transport import HttpHeaders, TransportError, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch.helpers import BulkIndexError, bulk

from knowledge_base.normalize import Segmenter
from knowledge_base.schema import Guide
from knowledge_base.search.base import (
    FIELD_BOOSTS,
    Hit,
    SearchError,
    field_tokens,
    query_terms,
)

# The transport logs every request at INFO: thousands of lines per calibration. Failures still show.
logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)
DEFAULT_ALIAS: Final[str] = "xs-guides"
INDEX_SPEC_PATH: Final[Path] = Path(__file__).with_name("es_index.json")
# A version younger than this may still be being filled by another process: never dropped.
BUILD_GRACE_NS: Final = 10 * 60 * 1_000_000_000
_VENDOR_TYPE = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+)(\s*;\s*compatible-with=\d+)?")


def index_spec() -> dict[str, Any]:
    """Settings and mappings of a guide index (es_index.json)."""
    with INDEX_SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


class PlainJsonNode(Urllib3HttpNode):
    """Sends plain `application/json` / `application/x-ndjson` instead of the vendor media type.

    elasticsearch-py 8/9 send `application/vnd.elasticsearch+json; compatible-with=N`, which some
    Elasticsearch-API-compatible servers (OpenSearch, osmem-server) refuse with 406.
    """

    def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: Any = DEFAULT,
    ) -> NodeApiResponse:
        if headers is not None:
            headers = headers.copy()
            for name in ("content-type", "accept"):
                value = headers.get(name)
                if value:
                    headers[name] = _VENDOR_TYPE.sub(r"application/\1", value)
        return super().perform_request(
            method, target, body=body, headers=headers, request_timeout=request_timeout
        )


def make_client(
    url: str,
    *,
    plain_json: bool = False,
    node_class: type[Urllib3HttpNode] | None = None,
    headers: Mapping[str, str] | None = None,
    request_timeout: float = 10.0,
) -> Elasticsearch:
    """An Elasticsearch client; `plain_json=True` for servers that refuse the vendor media type."""
    chosen = node_class or (PlainJsonNode if plain_json else Urllib3HttpNode)
    return Elasticsearch(
        url,
        node_class=chosen,
        headers=dict(headers or {}),
        request_timeout=request_timeout,
        retry_on_timeout=True,
        max_retries=2,
    )


@contextmanager
def _errors(action: str) -> Iterator[None]:
    try:
        yield
    except BulkIndexError as e:
        raise SearchError(f"elasticsearch {action}: {len(e.errors)} documents failed") from e
    except (ApiError, TransportError) as e:
        raise SearchError(f"elasticsearch {action}: {e}") from e


def _document(guide: Guide, segmenter: Segmenter) -> dict[str, str]:
    doc = {name: " ".join(tokens) for name, tokens in field_tokens(guide, segmenter).items()}
    return {"service_id": guide.id, "display_title": guide.title, **doc}


def _version_number(index: str) -> int:
    """The creation time (ns) in a version's name `<alias>-v<time_ns>`; 0 for a name without one."""
    tail = index.rsplit("-v", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class ElasticBackend:
    """Guides in Elasticsearch (or an API-compatible server), searched with `most_fields`."""

    kind = "elasticsearch"

    def __init__(
        self,
        url: str,
        *,
        alias: str = DEFAULT_ALIAS,
        node_class: type[Urllib3HttpNode] | None = None,
        headers: Mapping[str, str] | None = None,
        plain_json: bool = False,
        request_timeout: float = 10.0,
        client: Elasticsearch | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        """Guides under `alias` at `url` (or through `client`), tokenised with `segmenter` (a
        knowledge base passes its own; default a new one)."""
        self.alias = alias
        self.segmenter = segmenter if segmenter is not None else Segmenter()
        self._url = url
        self._client = client or make_client(
            url,
            plain_json=plain_json,
            node_class=node_class,
            headers=headers,
            request_timeout=request_timeout,
        )

    # -- writes -----------------------------------------------------------------------------

    def index(self, guides: Sequence[Guide]) -> None:
        name = self._create_version()
        try:
            actions = (
                {"_index": name, "_id": guide.id, "_source": _document(guide, self.segmenter)}
                for guide in guides
            )
            with _errors("bulk index"):
                bulk(self._client, actions, chunk_size=500, refresh=True)
            self._swap_alias(name)
        except SearchError:
            self._drop([name])
            raise
        self._drop(self._stale_versions())

    def upsert(self, guide: Guide) -> None:
        self._ensure_alias()
        with _errors("upsert"):
            document = _document(guide, self.segmenter)
            self._client.index(index=self.alias, id=guide.id, document=document, refresh=True)

    def delete(self, guide_id: str) -> None:
        try:
            with _errors("delete"):
                self._client.delete(index=self.alias, id=guide_id, refresh=True)
        except SearchError as e:
            if not isinstance(e.__cause__, NotFoundError):
                raise

    # -- reads ------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10) -> list[Hit]:
        terms = query_terms(query, self.segmenter)
        if not terms or k <= 0:
            return []
        body = {
            "multi_match": {
                "query": " ".join(terms),
                "type": "most_fields",
                "fields": [f"{name}^{boost}" for name, boost in FIELD_BOOSTS.items()],
                "operator": "or",
            }
        }
        try:
            with _errors("search"):
                response = self._client.search(
                    index=self.alias, query=body, size=k, source_includes=["service_id", "display_title"]
                )
        except SearchError as e:
            if isinstance(e.__cause__, NotFoundError):
                return []
            raise
        return [
            Hit(
                service_id=hit["_source"]["service_id"],
                score=float(hit["_score"]),
                title=hit["_source"]["display_title"],
            )
            for hit in response["hits"]["hits"]
        ]

    def count(self) -> int:
        try:
            with _errors("count"):
                return int(self._client.count(index=self.alias)["count"])
        except SearchError as e:
            if isinstance(e.__cause__, NotFoundError):
                return 0
            raise

    def health(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:
            return False

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    @contextmanager
    def scratch(self) -> Iterator[ElasticBackend]:
        # Its own alias on the same cluster and client; `<alias>-fit…-v*` never matches the
        # live alias's `<alias>-v*` versions, so neither side's rebuild drops the other's index.
        scratch = ElasticBackend(self._url, alias=f"{self.alias}-fit{uuid.uuid4().hex[:12]}",
                                 client=self._client, segmenter=self.segmenter)
        try:
            yield scratch
        finally:
            scratch._drop(scratch._versions_or_empty())

    # -- index versions ---------------------------------------------------------------------

    def _create_version(self) -> str:
        name = f"{self.alias}-v{time.time_ns()}"
        spec = index_spec()
        with _errors("create index"):
            self._client.indices.create(index=name, settings=spec["settings"], mappings=spec["mappings"])
        return name

    def _current(self) -> list[str]:
        try:
            with _errors("get alias"):
                return list(self._client.indices.get_alias(name=self.alias).body)
        except SearchError as e:
            if isinstance(e.__cause__, NotFoundError):
                return []
            raise

    def _versions(self) -> list[str]:
        with _errors("list indices"):
            found = self._client.indices.get(index=f"{self.alias}-v*", allow_no_indices=True)
        return sorted(found.body)

    def _versions_or_empty(self) -> list[str]:
        try:
            return self._versions()
        except SearchError:
            return []  # a leftover index is harmless

    def _swap_alias(self, name: str) -> None:
        """Point the alias at `name` alone, in one atomic step: removing it from every version by
        pattern (not from the versions read a moment before) means processes swapping at the same
        time leave it on exactly one version, the last one's."""
        actions: list[dict[str, Any]] = [
            {"remove": {"index": f"{self.alias}-v*", "alias": self.alias, "must_exist": False}},
            {"add": {"index": name, "alias": self.alias}},
        ]
        with _errors("update aliases"):
            self._client.indices.update_aliases(actions=actions)

    def _stale_versions(self) -> list[str]:
        """Versions to drop after a rebuild: not behind the alias, older than the one that is, and
        older than BUILD_GRACE_NS. Several action servers share one index and rebuild it at the
        same time when they start: each must never drop the version another one is still filling
        or has just put live (dropping every other version left the alias pointing nowhere)."""
        live = self._current()
        if not live:
            return []
        newest_live = max(_version_number(v) for v in live)
        now = time.time_ns()
        return [v for v in self._versions() if v not in live and _version_number(v) < newest_live
                and now - _version_number(v) > BUILD_GRACE_NS]

    def _ensure_alias(self) -> None:
        if not self._current():
            self._swap_alias(self._create_version())

    def _drop(self, names: list[str]) -> None:
        for name in names:
            try:
                with _errors("delete index"):
                    self._client.indices.delete(index=name)
            except SearchError:
                pass  # a leftover index is harmless; the next rebuild retries
