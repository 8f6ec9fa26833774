"""Pure attendance logic (CONTRACT §5): no Flask, no SQLAlchemy, no I/O.

Plain dataclasses in (``model``), plain dataclasses out. The services load rows,
call ``compute.compute_meeting`` and store what it returns.
"""
