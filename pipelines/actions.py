"""Every change to pipelines and executions, whichever page, endpoint, admin or command asks.

Saving validates the whole document first and writes nothing when anything is wrong. Operator
actions take the execution's row lock, so they never interleave with a worker's update.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from applications.models import Application
from clouds.stages.permissions import account_issues
from pipelines.engine import clock, runner
from pipelines.engine.concurrency import may_start_now
from pipelines.engine.dispatch import enqueue_after_commit
from pipelines.engine.types import STAGE_TYPES
from pipelines.expressions import check as check_expressions
from pipelines.models import Execution, Pipeline, PipelineVersion, StageExecution, TaskExecution, is_uuid
from pipelines.statuses import ACTIVE, COMPLETED, Status, swap
from pipelines.triggers import index as trigger_index
from pipelines.triggers.secrets import keep_secrets, mask_secrets, masked_paths
from pipelines.validation import Issue, normalize_pipeline, stage_order, validate_pipeline
from policies import gate, inputs
from policies.hooks import EXECUTION_PACKAGE, SAVE_PACKAGE, Hook
from policies.types import Decision
from spinweb.actions import Conflict
from spinweb.audit import record, snapshot
from spinweb.models import AuditAction
from spinweb.permissions import Access, group_ids, is_admin

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

# Stage types the engine adds itself; a pipeline may not name them.
INTERNAL_STAGE_TYPES = {"checkPrecondition", "restrictExecutionDuringTimeWindow"}


class PipelineInvalid(ValidationError):
    """A pipeline document with problems; ``issues`` names each by its JSON path."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        # Several issues may share a path (every policy denial is about the whole pipeline).
        by_path: dict[str, list[str]] = {}
        for issue in issues:
            by_path.setdefault(issue.path or "pipeline", []).append(issue.message)
        super().__init__(by_path)


class ActionRefused(Conflict):
    """An operator action that does not apply to the execution or stage as it is now."""


def _expression_issues(text: str) -> list[tuple[int | None, str]]:
    return [(failure.position, failure.reason) for failure in check_expressions(text)]


def validate(document: Any, user: AnyUser | None = None) -> list[Issue]:
    """Every problem of a pipeline document. With a user, applications they cannot see don't exist."""
    checks = {name: kind.check for name, kind in STAGE_TYPES.items() if name not in INTERNAL_STAGE_TYPES}
    issues = validate_pipeline(document, stage_checks=checks, check_expression=_expression_issues)
    name = document.get("application") if isinstance(document, dict) else None
    applications = Application.objects.visible_to(user) if user is not None else Application.objects.all()
    if isinstance(name, str) and name and not applications.filter(name=name).exists():
        issues.append(Issue("application", f"There is no application named {name!r}."))
    return issues + _linked_pipeline_issues(document, user) + account_issues(document, user)


def _linked_pipeline_issues(document: Any, user: AnyUser | None) -> list[Issue]:
    """Pipelines named by ``pipeline`` stages (run them: EXECUTE) and by pipeline-completion
    triggers (follow them and receive their outputs: READ) exist, and ``user`` has that access.

    Without a user only existence is checked. Values written as ``${…}`` are known only when the
    stage runs, where the engine checks again (``pipelines.stages.pipeline.refusal_for``).
    """
    wanted = _linked_targets(document)
    rows = Pipeline.objects.filter(pk__in=[pipeline_id for _, pipeline_id, _ in wanted.values()])
    found = {str(row.pk): row for row in rows.select_related("application").prefetch_related("application__grants")}
    issues = [_linked_issue(path, *target, found.get(target[1]), user) for path, target in wanted.items()]
    return [issue for issue in issues if issue is not None]


def _linked_targets(document: Any) -> dict[str, tuple[str, str, Access]]:
    """{JSON path: (application, pipeline id, access needed)} of what the document links to."""
    if not isinstance(document, dict):
        return {}
    wanted: dict[str, tuple[str, str, Access]] = {}
    for key, kind, need in (("stages", "pipeline", Access.EXECUTE), ("triggers", "pipeline", Access.READ)):
        items = document.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            target = _linked_target(item, kind, document)
            if target is not None:
                wanted[f"{key}[{index}].pipeline"] = (*target, need)
    return wanted


def _linked_target(item: Any, kind: str, document: dict[str, Any]) -> tuple[str, str] | None:
    """(application, pipeline id) of a stage or trigger of type ``kind``, unless unknown until it runs."""
    if not isinstance(item, dict) or item.get("type") != kind:
        return None
    application, pipeline_id = item.get("application") or document.get("application"), item.get("pipeline")
    if not isinstance(application, str) or not isinstance(pipeline_id, str) or "${" in application + pipeline_id:
        return None
    return (application, pipeline_id) if is_uuid(pipeline_id) else None


def _linked_issue(
    path: str, application: str, pipeline_id: str, need: Access, row: Pipeline | None, user: AnyUser | None
) -> Issue | None:
    levels = row.application.levels_for(user) if row is not None and user is not None else {a.value for a in Access}
    # What the user cannot see does not exist for them.
    if row is None or row.application.name != application or Access.READ.value not in levels:
        return Issue(path, f"There is no pipeline {pipeline_id!r} in application {application!r}.")
    if need.value not in levels:
        return Issue(path, f"You may not run pipelines of application {application}.")
    return None


# Saving pipelines ---------------------------------------------------------------------------


def save_pipeline(actor: AnyUser | None, document: Any, *, source: str) -> Pipeline:
    """Create or update (by id, else by application + name); every save is a new version.

    The save policies decide before anything is written (their decision is logged even when the
    save is refused); their warnings come back as ``pipeline.policy_warnings``.
    """
    issues = validate(document, actor)
    if issues:
        raise PipelineInvalid(issues)
    decision = _gate_save(actor, document)
    pipeline = _write_pipeline(actor, document, source=source)
    pipeline.policy_warnings = decision.warnings
    return pipeline


def _gate_save(actor: AnyUser | None, document: dict[str, Any]) -> Decision:
    """The save hook's decision on a valid document; every denial is an issue of the whole pipeline."""
    decision = gate.decide(
        Hook.SAVE,
        SAVE_PACKAGE,
        lambda: inputs.save_input(normalize_pipeline(document), actor),
        application=str(document["application"]),
        subject=f"save of pipeline {document['application']}/{document.get('name')}",
    )
    if not decision.allowed:
        raise PipelineInvalid([Issue("", sentence) for sentence in decision.denials])
    return decision


@transaction.atomic
def _write_pipeline(actor: AnyUser | None, document: dict[str, Any], *, source: str) -> Pipeline:
    config = normalize_pipeline(document)
    application = Application.objects.get(name=config["application"])
    existing = _existing(application, config)
    config = _with_kept_secrets(config, existing)
    stored = {key: value for key, value in config.items() if key not in {"id", "application", "name"}}
    user: Any = actor if actor is not None and actor.is_authenticated else None
    if existing is None:
        pipeline = Pipeline.objects.create(
            id=_uuid_or_new(config.get("id")),
            application=application,
            name=config["name"],
            config=stored,
            updated_by=user,
        )
        record(actor, AuditAction.CREATE, pipeline, source=source, after=snapshot(pipeline))
    else:
        before = snapshot(existing)
        existing.name, existing.config, existing.version = config["name"], stored, existing.version + 1
        existing.updated_by = user
        existing.save()
        pipeline = existing
        record(actor, AuditAction.UPDATE, pipeline, source=source, before=before, after=snapshot(pipeline))
    PipelineVersion.objects.create(pipeline=pipeline, version=pipeline.version, config=stored, saved_by=user)
    trigger_index.sync(pipeline)
    return pipeline


def _with_kept_secrets(config: dict[str, Any], existing: Pipeline | None) -> dict[str, Any]:
    """A trigger secret sent back masked keeps the stored one; a mask with nothing stored is refused."""
    config = keep_secrets(config, existing.config if existing is not None else {})
    message = "secret is the mask of a stored secret, but no stored trigger matches this one; send the secret itself."
    issues = [Issue(path, message) for path in masked_paths(config)]
    if issues:
        raise PipelineInvalid(issues)
    return config


def _existing(application: Application, config: dict[str, Any]) -> Pipeline | None:
    pipeline_id = _uuid_or_none(config.get("id"))
    if pipeline_id is not None:
        found = Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()
        if found is not None:
            if found.application_id != application.pk:
                raise PipelineInvalid([Issue("id", "This pipeline id belongs to another application.")])
            taken = Pipeline.objects.filter(application=application, name=config["name"]).exclude(pk=found.pk)
            if found.name != config["name"] and taken.exists():
                message = f"{application.name} already has a pipeline named {config['name']!r}."
                raise PipelineInvalid([Issue("name", message)])
            return found
    return Pipeline.objects.select_for_update().filter(application=application, name=config["name"]).first()


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _uuid_or_new(value: Any) -> uuid.UUID:
    return _uuid_or_none(value) or uuid.uuid4()


def restore_version(actor: AnyUser | None, pipeline: Pipeline, version: int, *, source: str) -> Pipeline:
    """Save an earlier version again, as a new version (history is never rewritten)."""
    old = pipeline.versions.filter(version=version).first()
    if old is None:
        raise ActionRefused(f"{pipeline.name} has no version {version}.")
    document = {**old.config, "id": str(pipeline.id), "application": pipeline.application.name, "name": pipeline.name}
    return save_pipeline(actor, document, source=source)


@transaction.atomic
def delete_pipeline(actor: AnyUser | None, pipeline: Pipeline, *, source: str) -> None:
    if pipeline.executions.filter(status__in=ACTIVE).exists():
        raise ActionRefused(f"{pipeline.name} has runs in progress; cancel them first.")
    record(actor, AuditAction.DELETE, pipeline, source=source, before=snapshot(pipeline))
    pipeline.delete()


# Starting runs ------------------------------------------------------------------------------


def resolve_parameters(config: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in; a missing required parameter or a value outside its options is refused."""
    values = dict(given)
    errors: dict[str, str] = {}
    for item in config.get("parameterConfig", []):
        name = item["name"]
        if values.get(name) in (None, "") and item.get("default") not in (None, ""):
            values[name] = item["default"]
        if item.get("required") and values.get(name) in (None, ""):
            errors[f"parameters.{name}"] = f"The parameter {name!r} is required and has no default."
            continue
        options = [str(option.get("value")) for option in item.get("options") or []]
        if item.get("hasOptions") and options and name in values and str(values[name]) not in options:
            errors[f"parameters.{name}"] = f"{name} must be one of {', '.join(options)}, not {values[name]!r}."
    if errors:
        raise ValidationError(errors)
    return values


@dataclass(frozen=True)
class CheckedStart:
    """A run that may start: its checks and the execution policies passed (see ``check_start_execution``)."""

    actor: AnyUser | None
    pipeline: Pipeline
    execution_id: uuid.UUID
    parameters: dict[str, Any]
    trigger: dict[str, Any] | None
    source: str


def check_start_execution(
    actor: AnyUser | None,
    pipeline: Pipeline,
    *,
    parameters: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    source: str,
) -> CheckedStart:
    """Refuse a run that may not start: a disabled pipeline, bad parameters, or the execution policies.

    Call it outside any transaction that a refusal rolls back, so the policy decision stays logged.
    Raises ``ActionRefused``, ``ValidationError`` or ``PolicyDenied``.
    """
    config = pipeline.config
    if config.get("disabled"):
        raise ActionRefused(f"The pipeline {pipeline.name} is disabled.")
    values = resolve_parameters(config, parameters or {})
    execution_id = uuid.uuid4()
    trigger_doc = _trigger_document(actor, trigger, values)
    gate.require(
        Hook.EXECUTION,
        EXECUTION_PACKAGE,
        lambda: inputs.execution_input(
            pipeline.document, trigger_doc, str(execution_id), _policy_user(actor, trigger_doc)
        ),
        application=pipeline.application.name,
        execution_id=execution_id,
        subject=f"start of pipeline {pipeline.application.name}/{pipeline.name}",
    )
    return CheckedStart(actor, pipeline, execution_id, parameters or {}, trigger, source)


def start_execution(
    actor: AnyUser | None,
    pipeline: Pipeline,
    *,
    parameters: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    source: str,
) -> Execution:
    """Start a run: stages are created NOT_STARTED, then begun, or BUFFERED under the concurrency limit."""
    checked = check_start_execution(actor, pipeline, parameters=parameters, trigger=trigger, source=source)
    return start_checked(checked)


@transaction.atomic
def start_checked(checked: CheckedStart) -> Execution:
    """Create and begin a run that ``check_start_execution`` let through (the checks run again under
    the pipeline's lock, against the pipeline as it is now)."""
    actor = checked.actor
    pipeline = (
        Pipeline.objects.select_for_update(of=("self",)).select_related("application").get(pk=checked.pipeline.pk)
    )
    config = pipeline.config
    if config.get("disabled"):
        raise ActionRefused(f"The pipeline {pipeline.name} is disabled.")
    values = resolve_parameters(config, checked.parameters)
    user: Any = actor if actor is not None and actor.is_authenticated else None
    trigger_doc = _trigger_document(actor, checked.trigger, values)
    execution = Execution.objects.create(
        id=checked.execution_id,
        application=pipeline.application,
        pipeline=pipeline,
        name=pipeline.name,
        config=mask_secrets(pipeline.document),
        trigger=trigger_doc,
        trigger_type=str(trigger_doc["type"])[:32],
        started_by=user,
    )
    _create_stages(execution, config.get("stages", []))
    if may_start_now(config, pipeline.pk):
        runner.begin(execution)
    else:
        swap(Execution.objects, execution.pk, [Status.NOT_STARTED], Status.BUFFERED)
    record(actor, AuditAction.RUN, execution, source=checked.source, detail=f"{pipeline.name} with {values}")
    return execution


def _policy_user(actor: AnyUser | None, trigger: dict[str, Any]) -> AnyUser | dict[str, Any]:
    """The actor, or for a run without one (a trigger) the user label the trigger carries."""
    return actor if actor is not None else inputs.user_document(None, label=str(trigger["user"]))


def _trigger_document(actor: AnyUser | None, trigger: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "manual", **(trigger or {}), "user": _trigger_user(actor, trigger), "parameters": values}


def start_orchestration(
    actor: AnyUser | None, application: Application, *, name: str, stages: list[dict[str, Any]], source: str
) -> Execution:
    """Run stages without a pipeline (Spinnaker's ad-hoc "Tasks"): an execution with no pipeline,
    no concurrency limit, begun at once. The stages are checked as a pipeline's would be at save,
    then the execution policies decide (``PolicyDenied``) before anything is written.
    """
    document = normalize_pipeline({"application": application.name, "name": name, "stages": stages})
    issues = validate(document, actor)
    if issues:
        raise PipelineInvalid(issues)
    config = {"name": name, "stages": document["stages"], "limitConcurrent": False, "type": "orchestration"}
    trigger = {"type": "manual", "user": _name(actor), "parameters": {}}
    execution_id = uuid.uuid4()
    gate.require(
        Hook.EXECUTION,
        EXECUTION_PACKAGE,
        lambda: inputs.execution_input({**config, "application": application.name}, trigger, str(execution_id), actor),
        application=application.name,
        execution_id=execution_id,
        subject=f"start of orchestration {application.name}/{name}",
    )
    return _create_orchestration(actor, application, execution_id, config, trigger, source=source)


@transaction.atomic
def _create_orchestration(
    actor: AnyUser | None,
    application: Application,
    execution_id: uuid.UUID,
    config: dict[str, Any],
    trigger: dict[str, Any],
    *,
    source: str,
) -> Execution:
    user: Any = actor if actor is not None and actor.is_authenticated else None
    execution = Execution.objects.create(
        id=execution_id,
        application=application,
        pipeline=None,
        name=config["name"],
        config=config,
        trigger=trigger,
        started_by=user,
    )
    _create_stages(execution, config["stages"])
    runner.begin(execution)
    record(actor, AuditAction.RUN, execution, source=source, detail=config["name"])
    return execution


def _create_stages(execution: Execution, stages: list[dict[str, Any]]) -> None:
    order = {ref: index for index, ref in enumerate(stage_order(stages))}
    StageExecution.objects.bulk_create(
        StageExecution(
            execution=execution,
            ref_id=str(stage["refId"]),
            requisite_ref_ids=[str(ref) for ref in stage.get("requisiteStageRefIds", [])],
            type=stage["type"],
            name=stage.get("name") or stage["type"],
            position=order[str(stage["refId"])],
            config=stage,
        )
        for stage in stages
    )


# Operator actions ---------------------------------------------------------------------------


def _locked(execution: Execution) -> Execution:
    return Execution.objects.select_for_update(of=("self",)).select_related("application").get(pk=execution.pk)


@transaction.atomic
def pause(actor: AnyUser | None, execution: Execution, *, source: str) -> Execution:
    execution = _locked(execution)
    if not swap(
        Execution.objects, execution.pk, [Status.RUNNING], Status.PAUSED, paused_at=clock.now(), paused_by=_name(actor)
    ):
        raise ActionRefused(f"Only a running execution can be paused; this one is {execution.status}.")
    execution.stages.filter(status=Status.RUNNING).update(status=Status.PAUSED)
    record(actor, AuditAction.PAUSE, execution, source=source)
    return _locked(execution)


@transaction.atomic
def resume(actor: AnyUser | None, execution: Execution, *, source: str) -> Execution:
    execution = _locked(execution)
    if not swap(Execution.objects, execution.pk, [Status.PAUSED], Status.RUNNING):
        raise ActionRefused(f"Only a paused execution can be resumed; this one is {execution.status}.")
    execution.status = Status.RUNNING
    execution.stages.filter(status=Status.PAUSED).update(status=Status.RUNNING)
    parked = TaskExecution.objects.filter(stage__execution=execution, parked=True)
    ids = list(parked.values_list("pk", flat=True))
    parked.update(parked=False, next_run_at=clock.now(), enqueued_at=clock.now())
    enqueue_after_commit(ids)
    runner.advance(execution)
    record(actor, AuditAction.RESUME, execution, source=source)
    return _locked(execution)


@transaction.atomic
def cancel(actor: AnyUser | None, execution: Execution, *, reason: str = "", source: str) -> Execution:
    execution = _locked(execution)
    if execution.status in COMPLETED:
        raise ActionRefused(f"The execution already ended ({execution.status}).")
    runner.halt(execution, Status.CANCELED, canceled_by=_name(actor), reason=reason)
    record(actor, AuditAction.CANCEL, execution, source=source, detail=reason)
    return _locked(execution)


def _stage(execution: Execution, stage_ref: str) -> StageExecution:
    """A stage of the execution by id, refId or name."""
    stages = execution.stages.all()
    found = stages.filter(ref_id=stage_ref).first() or stages.filter(name=stage_ref).first()
    if found is None and _uuid_or_none(stage_ref):
        found = stages.filter(pk=stage_ref).first()
    if found is None:
        raise ActionRefused(f"This execution has no stage {stage_ref!r}.")
    return found


def _wake(stage: StageExecution, **context: Any) -> None:
    """Merge operator input into the stage's context and run its current task now."""
    stage.context = {**stage.context, **context}
    stage.save(update_fields=["context"])
    current = stage.tasks.filter(status=Status.RUNNING).values_list("pk", flat=True)
    ids = list(current)
    TaskExecution.objects.filter(pk__in=ids, parked=False).update(next_run_at=clock.now(), enqueued_at=clock.now())
    enqueue_after_commit(ids)


@transaction.atomic
def judge(
    actor: AnyUser | None,
    execution: Execution,
    stage_ref: str,
    decision: str,
    *,
    judgment_input: str = "",
    source: str,
) -> StageExecution:
    """Continue or stop at a manual judgment; who judged is recorded on the stage."""
    execution = _locked(execution)
    stage = _stage(execution, stage_ref)
    if stage.type != "manualJudgment" or stage.status not in {Status.RUNNING, Status.PAUSED}:
        raise ActionRefused(f"{stage.name} is not a manual judgment waiting for a decision.")
    if decision not in {"continue", "stop"}:
        raise ActionRefused("A judgment is continue or stop.")
    allowed = set(stage.context.get("selectedStageRoles") or [])
    if allowed and actor is not None and not is_admin(actor):
        from django.contrib.auth.models import Group

        mine = set(Group.objects.filter(pk__in=group_ids(actor)).values_list("name", flat=True))
        if not allowed & mine:
            raise PermissionDenied(f"Only members of {', '.join(sorted(allowed))} may judge {stage.name}.")
    inputs = [str(item.get("value")) for item in stage.context.get("judgmentInputs") or []]
    if inputs and judgment_input and judgment_input not in inputs:
        raise ActionRefused(f"The input must be one of {', '.join(inputs)}.")
    _wake(
        stage,
        judgmentStatus=decision,
        judgmentInput=judgment_input,
        lastModifiedBy=_name(actor),
        lastModifiedAt=clock.now().isoformat(),
    )
    record(actor, AuditAction.JUDGE, execution, source=source, detail=f"{stage.name}: {decision} {judgment_input}")
    return stage


@transaction.atomic
def skip_wait(actor: AnyUser | None, execution: Execution, stage_ref: str, *, source: str) -> StageExecution:
    """Skip the rest of a wait stage, or of an execution window."""
    execution = _locked(execution)
    stage = _stage(execution, stage_ref)
    window = stage.children.filter(type="restrictExecutionDuringTimeWindow", status=Status.RUNNING).first()
    target = window or stage
    if target.type not in {"wait", "restrictExecutionDuringTimeWindow"} or target.status != Status.RUNNING:
        raise ActionRefused(f"{stage.name} is not waiting.")
    _wake(target, skipRemainingWait=True, lastModifiedBy=_name(actor))
    record(actor, AuditAction.SKIP, execution, source=source, detail=f"skipped the wait of {stage.name}")
    return stage


@transaction.atomic
def restart_stage(actor: AnyUser | None, execution: Execution, stage_ref: str, *, source: str) -> Execution:
    """Reset a completed top-level stage and everything downstream of it, then carry on."""
    execution = _locked(execution)
    stage = _stage(execution, stage_ref)
    while stage.parent_id is not None:
        stage = StageExecution.objects.get(pk=stage.parent_id)
    if stage.status not in COMPLETED:
        raise ActionRefused(f"{stage.name} has not ended ({stage.status}); only an ended stage can be restarted.")
    tops = list(execution.stages.filter(parent__isnull=True))
    reset = _downstream(stage.ref_id, tops)
    busy = [row.name for row in tops if row.ref_id in reset and row.status in {Status.RUNNING, Status.PAUSED}]
    if busy:
        raise ActionRefused(f"{', '.join(busy)} after {stage.name} is still running; wait for it or cancel the run.")
    details = {
        "restartedBy": _name(actor),
        "restartTime": clock.now().isoformat(),
        "previousException": stage.failure_message,
    }
    rows = [row for row in tops if row.ref_id in reset]
    StageExecution.objects.filter(parent__in=rows).delete()
    TaskExecution.objects.filter(stage__in=rows).delete()
    for row in rows:
        StageExecution.objects.filter(pk=row.pk).update(
            status=Status.NOT_STARTED,
            context={},
            outputs={},
            expression_failures=[],
            failure_message="",
            started_at=None,
            ended_at=None,
            restart_details=details if row.pk == stage.pk else row.restart_details,
        )
    if execution.status != Status.RUNNING:
        swap(Execution.objects, execution.pk, [execution.status], Status.RUNNING, ended_at=None, canceled=False)
        execution.status = Status.RUNNING
    runner.advance(execution)
    record(actor, AuditAction.RESTART, execution, source=source, detail=f"restarted {stage.name}")
    return _locked(execution)


def _downstream(ref: str, stages: list[StageExecution]) -> set[str]:
    found, frontier = {ref}, [ref]
    while frontier:
        current = frontier.pop()
        for row in stages:
            if current in row.requisite_ref_ids and row.ref_id not in found:
                found.add(row.ref_id)
                frontier.append(row.ref_id)
    return found


def _trigger_user(actor: AnyUser | None, trigger: dict[str, Any] | None) -> str:
    """Who started the run: the actor; with none, the user label a trigger carries, else system."""
    label = (trigger or {}).get("user")
    if actor is None and isinstance(label, str) and label:
        return label
    return _name(actor)


def _name(actor: AnyUser | None) -> str:
    return actor.get_username() if actor is not None and actor.is_authenticated else "system"
