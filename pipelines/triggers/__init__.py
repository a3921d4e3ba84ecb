"""Pipeline triggers (Spinnaker's Echo): cron, webhooks, git pushes and pipeline completion.

The plain modules (``cron``, ``matching``, ``checks``, ``secrets``, ``git``) import nothing from
Django, so save-time validation (``pipelines.validation``) can use them; the rest read and write rows.
"""
