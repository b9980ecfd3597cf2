"""Write the jieba user dictionary for Rasa's JiebaTokenizer (`dictionary_path`).

    python -m knowledge_base.dictionary OUT_DIR [--guides DIR]

Writes OUT_DIR/kb_dict.txt ("word freq" lines): the lexicon's domain words plus every guide's
title and aliases, so Rasa segments questions the way the knowledge base does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from knowledge_base.constants import GUIDES_DIR
from knowledge_base.normalize import jieba_dictionary_lines
from knowledge_base.store import load_guides

DICTIONARY_FILE = "kb_dict.txt"


def write_dictionary(out_dir: Path, guides_dir: Path = GUIDES_DIR) -> Path:
    """Write OUT_DIR/kb_dict.txt and return its path; progress goes to stderr."""
    print(f"loading guides from {guides_dir} ...", file=sys.stderr)
    result = load_guides(guides_dir)
    for error in result.errors:
        print(f"  skipped: {error}", file=sys.stderr)
    print(f"  {len(result.guides)} guides loaded", file=sys.stderr)
    lines = jieba_dictionary_lines(result.guides)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DICTIONARY_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} words to {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the jieba dictionary for Rasa.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--guides", type=Path, default=GUIDES_DIR)
    args = parser.parse_args(argv)
    write_dictionary(args.out_dir, args.guides)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
