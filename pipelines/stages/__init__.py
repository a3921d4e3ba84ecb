"""The built-in stage types. Importing this package registers them (see ``PipelinesConfig.ready``)."""

from pipelines.stages import judgment, preconditions, variables, wait, window

__all__ = ["judgment", "preconditions", "variables", "wait", "window"]
