"""Bind the plan's routines, named without their arguments, to what a live database has.

The planner names routines alone (``signature`` None): the argument types a conversion gave a
routine are not in SQL Server's permission model, and a procedure may have become a function.
Reading a live database back gives each routine with its kind and argument list, so before the
two are compared (``verify``, ``drift``) the plan is bound to it, exactly as ``plan --target``
binds it to a saved catalog: the logic lives in :mod:`mapper.target`, and both use it.
"""

from __future__ import annotations

from mapper.target import ROUTINE_KINDS, ROUTINE_TYPES, bind_signatures, live_signatures

__all__ = ["ROUTINE_KINDS", "ROUTINE_TYPES", "bind_signatures", "live_signatures"]
