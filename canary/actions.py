"""Every change to canary configs and every replay of a canary interval, whichever page, endpoint,
admin or command asks.

Saving checks the whole document first and writes nothing when anything is wrong; the row, its
new version and the audit event land in one transaction.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from applications.models import Application
from canary import runs
from canary.configs import config_issues, without_server_keys
from canary.judge import JudgeInputError
from canary.judge.request import judge_request
from canary.judge.results import ERROR
from canary.models import CanaryConfig, CanaryConfigVersion, CanaryJudgment, CanaryReplay
from pipelines.validation import Issue
from spinweb.actions import Conflict
from spinweb.audit import record, snapshot
from spinweb.models import AuditAction

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser


class ConfigInvalid(ValidationError):
    """A canary-config document with problems; ``issues`` names each by its JSON path."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        by_path: dict[str, list[str]] = {}
        for issue in issues:
            by_path.setdefault(issue.path or "canaryConfig", []).append(issue.message)
        super().__init__(by_path)


class ActionRefused(Conflict):
    """A change that does not apply to the config as it is now (answered 409)."""


def application_name(document: Any) -> str | None:
    """The application a document belongs to: the first of its ``applications``."""
    applications = document.get("applications") if isinstance(document, dict) else None
    first = applications[0] if isinstance(applications, list) and applications else None
    return first if isinstance(first, str) and first else None


def validate(document: Any, user: AnyUser | None = None, config: CanaryConfig | None = None) -> list[Issue]:
    """Every problem of ``document`` saved as ``config`` (a new config when None).

    With a user, applications they cannot see do not exist for them."""
    issues = config_issues(document)
    name = application_name(document)
    if name is None:
        return issues
    applications = Application.objects.visible_to(user) if user is not None else Application.objects.all()
    application = applications.filter(name=name).first()
    if application is None:
        return [*issues, Issue("applications[0]", f"There is no application named {name!r}.")]
    if config is not None and config.application_id != application.pk:
        message = f"This config belongs to {config.application.name}; keep it first."
        return [*issues, Issue("applications[0]", message)]
    return issues + _name_issues(application, document.get("name"), config)


def _name_issues(application: Application, name: Any, config: CanaryConfig | None) -> list[Issue]:
    others = CanaryConfig.objects.filter(application=application, name=name)
    if config is not None:
        others = others.exclude(pk=config.pk)
    return _name_taken(application.name, name) if isinstance(name, str) and others.exists() else []


def _name_taken(application: str, name: str) -> list[Issue]:
    return [Issue("name", f"{application} already has a canary config named {name!r}.")]


def save_config(
    actor: AnyUser | None, document: Any, *, source: str, config: CanaryConfig | None = None
) -> CanaryConfig:
    """Create a config, or update ``config``; every save is a new version. Raises ``ConfigInvalid``."""
    document = without_server_keys(document)
    issues = validate(document, actor, config)
    if issues:
        raise ConfigInvalid(issues)
    try:
        return _write(actor, document, source=source, config=config)
    except IntegrityError:  # another save took the name between the check and the write
        raise ConfigInvalid(_name_taken(str(application_name(document)), document["name"])) from None


def import_config(actor: AnyUser | None, document: Any, *, source: str) -> tuple[CanaryConfig, bool]:
    """Kayenta's JSON in: updates the application's config of that name, else creates one.

    Returns the config and whether it was created."""
    name, application = document.get("name") if isinstance(document, dict) else None, application_name(document)
    existing = CanaryConfig.objects.filter(application__name=application, name=name).first()
    if existing is not None:
        document = {**document, "id": str(existing.pk)}
    return save_config(actor, document, source=source, config=existing), existing is None


@transaction.atomic
def _write(
    actor: AnyUser | None, document: dict[str, Any], *, source: str, config: CanaryConfig | None
) -> CanaryConfig:
    application = Application.objects.get(name=application_name(document))
    user: Any = actor if actor is not None and actor.is_authenticated else None
    if config is None:
        row = CanaryConfig(id=_free_id(document.get("id")), application=application, version=1)
        before = None
    else:
        row = CanaryConfig.objects.select_for_update().select_related("application").get(pk=config.pk)
        before, row.version = snapshot(row), row.version + 1
    row.name, row.description, row.updated_by = document["name"], document.get("description", ""), user
    row.document = stored_document(row, document)
    row.save()
    if before is None:
        record(actor, AuditAction.CREATE, row, source=source, after=snapshot(row))
    else:
        record(actor, AuditAction.UPDATE, row, source=source, before=before, after=snapshot(row))
    CanaryConfigVersion.objects.create(config=row, version=row.version, document=row.document, saved_by=user)
    return row


def stored_document(row: CanaryConfig, document: dict[str, Any]) -> dict[str, Any]:
    """The document with ``id``, ``name`` and ``applications[0]`` equal to the row's."""
    applications = [row.application.name, *document["applications"][1:]]
    head = {"id": str(row.pk), "name": row.name, "applications": applications}
    return head | {key: value for key, value in document.items() if key not in head}


def _free_id(value: Any) -> uuid.UUID:
    """Kayenta's id kept on import (stages may name it), unless another config holds it."""
    try:
        wanted = uuid.UUID(str(value)) if value else None
    except ValueError:
        wanted = None
    if wanted is None or CanaryConfig.objects.filter(pk=wanted).exists():
        return uuid.uuid4()
    return wanted


def restore_config_version(actor: AnyUser | None, config: CanaryConfig, version: int, *, source: str) -> CanaryConfig:
    """Save an earlier version again, as a new version under the config's current name."""
    old = config.versions.filter(version=version).first()
    if old is None:
        raise ActionRefused(f"{config.name} has no version {version}.")
    return save_config(actor, stored_document(config, old.document), source=source, config=config)


@transaction.atomic
def delete_config(actor: AnyUser | None, config: CanaryConfig, *, source: str) -> None:
    """Delete a config and its versions (audited)."""
    record(actor, AuditAction.DELETE, config, source=source, before=snapshot(config))
    config.delete()


def replay_interval(
    user: AnyUser | None,
    judgment: CanaryJudgment,
    *,
    config_document: dict[str, Any],
    thresholds: dict[str, Any] | None,
    label: str,
    source: str,
) -> CanaryReplay:
    """Judge the stored data again; ``JudgeInputError`` (naming the field) when the input is bad.

    The stored series keep the metric names of the run's config; a replay config that drops a
    metric leaves it out, one that adds a metric judges it on empty series (Nodata).
    """
    if not isinstance(config_document, dict):
        raise JudgeInputError("canaryConfig", "must be a JSON object (a Kayenta canary config).")
    if thresholds is not None and not isinstance(thresholds, dict):
        raise JudgeInputError("scoreThresholds", "must be a JSON object with marginal and pass.")
    if judgment.classification == ERROR and not judgment.data.get("metrics"):
        raise JudgeInputError("interval", f"interval {judgment.index} has no data to replay: {judgment.error}")
    chosen = thresholds if thresholds is not None else judgment.run.thresholds
    document = runs.request_document(judgment, config_document, chosen)
    names = {str(metric.get("name")) for metric in config_document.get("metrics") or [] if isinstance(metric, dict)}
    document["metrics"] = {name: series for name, series in document["metrics"].items() if name in names}
    result = judge_request(document).as_dict()
    actor: Any = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        row = CanaryReplay.objects.create(
            judgment=judgment,
            config_label=label[:300],
            config_document=config_document,
            thresholds=document["scoreThresholds"],
            score=result["score"],
            classification=result["classification"],
            result=result,
            created_by=actor,
        )
        summary = {"interval": judgment.index, "config": row.config_label, "thresholds": row.thresholds}
        record(
            user,
            AuditAction.JUDGE,
            judgment.run,
            source=source,
            after={**summary, "score": row.score, "classification": row.classification},
            detail=f"Replayed interval {judgment.index}: {row.classification} ({row.score:g})",
        )
    return row
