"""pg_emit."""
