"""An in-memory osmem-server (Elasticsearch/OpenSearch API) for measurements without a cluster."""

from __future__ import annotations

import json
import subprocess


def start_osmem() -> tuple[subprocess.Popen[str], str]:
    """An in-memory osmem-server on a free port; returns the process and its URL."""
    from osmem_server import resolve_binary

    proc = subprocess.Popen(
        [resolve_binary(), "--addr", "127.0.0.1:0", "--no-stdin-watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    return proc, str(json.loads(proc.stdout.readline())["url"])
