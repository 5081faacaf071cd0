"""Infrastructure every local engine shares: SQLite, files, keys, a bounded cache, ASGI helpers."""
