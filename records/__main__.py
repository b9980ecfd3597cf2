"""`python -m records migrate`: bring the database named by XS_DATABASE_URL to the newest revision."""

from __future__ import annotations

import argparse
import sys

from records.db import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m records")
    parser.add_argument("command", choices=["migrate", "current", "digest"],
                        help="digest: print the weekly freshness digest of the guides of record")
    args = parser.parse_args(argv)
    db = Database.from_settings()
    if args.command == "digest":
        import datetime as dt

        from records.guides import SqlGuideRepository, digest, digest_text

        db.migrate()
        print(digest_text(digest(SqlGuideRepository(db).list_all(), dt.date.today())))
        return 0
    if args.command == "migrate":
        print(f"[records] migrating {db.engine.url.render_as_string(hide_password=True)} …", file=sys.stderr)
        db.migrate()
    print(f"[records] revision {db.current_revision()} (head {db.head_revision()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
