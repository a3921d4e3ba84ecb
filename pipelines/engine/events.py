"""Signals the engine sends, for the parts that react to runs without the engine knowing them."""

from django.dispatch import Signal

# Sent once an execution has ended (SUCCEEDED, TERMINAL, CANCELED …) and that is committed.
# Keyword argument: ``execution_id``. Receivers run in the process that ended the run and must
# not raise: an exception is logged and the other receivers still run (``send_robust``).
execution_finished = Signal()
