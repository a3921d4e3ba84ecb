"""Spinweb: the project package (settings, root URLs, the UI shell)."""

# rego-cpp (regopy) must be loaded before numpy. With numpy's bundled libraries loaded first,
# Rego's time builtins that read the time-zone database (time.clock([ns, zone]), time.weekday,
# time.date([ns, zone]) …) crash the whole process. Every Django process imports this package
# first (settings), so loading regopy here fixes the order. tests/policies/test_core_time_zones.py
# keeps it so.
import regopy  # noqa: F401
