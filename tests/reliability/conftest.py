"""PostgreSQL fixtures shared with the emitter tests (scratch database and role prefix)."""

from tests.emit.conftest import Scratch, scratch

__all__ = ["Scratch", "scratch"]
