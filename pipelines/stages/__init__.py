"""The built-in stage types. Importing this package registers them (see ``PipelinesConfig.ready``)."""

from pipelines.stages import judgment, pipeline, preconditions, variables, wait, webhook, window

__all__ = ["judgment", "pipeline", "preconditions", "variables", "wait", "webhook", "window"]
