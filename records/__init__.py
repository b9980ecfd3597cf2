"""Records that must last, in a SQL database through SQLAlchemy (SQLite by default, PostgreSQL by URL)."""
