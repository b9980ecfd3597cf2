"""`python -m knowledge_base.index`: validate every guide and (re)build the search index.

With the embedded backend the index lives in each process's memory, so this validates the
guides and builds it once to report timing; with Elasticsearch it builds a new versioned index
and swaps the alias atomically.
"""

from __future__ import annotations

import sys
import time

from knowledge_base.factory import SearchSettings


def main() -> int:
    started = time.perf_counter()
    settings = SearchSettings()
    kb = settings.knowledge_base()
    print(f"[index] backend: {settings.xs_search_backend}; validating and indexing guides …", file=sys.stderr)
    result = kb.load()
    for err in result.errors:
        print(f"[index] refused {err}", file=sys.stderr)
    print(f"[index] {len(kb)} guides indexed in {time.perf_counter() - started:.1f} s"
          + (f"; {len(result.errors)} refused" if result.errors else ""), file=sys.stderr)
    return 0 if len(kb) else 1


if __name__ == "__main__":
    sys.exit(main())
