"""Dry run of a whole pipeline: every policy gate a hypothetical run would pass, decided now.

For a manual trigger (parameters resolved as a real start resolves them, a user), the execution
hook is decided, then every stage in DAG order with the stage hook of its type, its synthetic
stages (before-stages such as a deploy's ``createServerGroup`` children, then the stage's task
hooks, then after-stages such as a strategy's steps), recursively. Stages are in-memory
``StageExecution`` objects that are never saved; their context is the stage JSON with ``${…}``
evaluated against the parameters and trigger (an expression that needs runtime data, such as an
upstream stage's outputs, keeps its text). Strategy steps are planned from what the deploy would
create: the next server group of the cluster, replacing the newest enabled one the mirror knows.

Every decision goes through :func:`policies.gate.decide` with ``dry_run=True``, so the decision
log shows them (marked dry run) and nothing else is written. A denial does not stop the dry run:
it goes on to show every gate. Not expanded: rollbacks planned only on failure, and the stages of
child pipelines (a ``pipeline`` stage is decided itself).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from clouds.stages.common import Refused
from pipelines.actions import resolve_parameters
from pipelines.engine.context import CONTROL_KEYS, stage_view
from pipelines.engine.types import STAGE_TYPES, SyntheticStage, stage_type
from pipelines.expressions import ExpressionError, Scope, evaluate_condition, evaluate_tree
from pipelines.models import Pipeline, StageExecution
from pipelines.statuses import Status
from pipelines.validation import stage_order
from policies import gate, inputs
from policies.hooks import EXECUTION_PACKAGE, Hook, stage_package, task_package
from policies.models import DecisionResult
from policies.types import Decision

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

T = TypeVar("T")
Outcome = Literal["allowed", "denied", "warned", "not covered"]
Owner = StageExecution.Owner
WINDOW_STAGE = "restrictExecutionDuringTimeWindow"
# Guards against a stage type that plans itself again (no real one does).
MAX_DEPTH = 6
MAX_ROWS = 2000


@dataclass
class DryRunRow:
    """One gate of the dry run: a stage's stage hook, or one task's task hook."""

    ref_id: str
    name: str
    type: str
    kind: Literal["stage", "task"]
    synthetic: bool
    parent_ref: str
    outcome: Outcome
    messages: list[str] = field(default_factory=list)


@dataclass
class DryRunReport:
    application: str
    pipeline: str
    user: str
    parameters: dict[str, Any]
    execution: Decision
    rows: list[DryRunRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        """True when no gate would deny (warnings and uncovered gates do not count)."""
        return self.execution.allowed and not any(row.outcome == "denied" for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "pipeline": self.pipeline,
            "user": self.user,
            "parameters": self.parameters,
            "allowed": self.allowed,
            "execution": {"outcome": outcome_of(self.execution), "messages": messages_of(self.execution)},
            "rows": [asdict(row) for row in self.rows],
            "notes": self.notes,
        }


def outcome_of(decision: Decision) -> Outcome:
    if decision.evaluated == 0:
        return "not covered"
    if not decision.allowed:
        return "denied"
    if decision.result == DecisionResult.WARN or decision.warnings:
        return "warned"
    return "allowed"


def messages_of(decision: Decision) -> list[str]:
    return decision.denials + decision.warnings


def dry_run(
    pipeline: Pipeline, *, parameters: dict[str, Any], user: AnyUser | None, acting: AnyUser | None
) -> DryRunReport:
    """Decide every gate a manual run of ``pipeline`` by ``user`` (else ``acting``) would pass.

    Raises ``ValidationError`` when the parameters would be refused at start. Writes only
    decision log rows (``dry_run=True``).
    """
    runner = user if user is not None and user.is_authenticated else acting
    username = runner.get_username() if runner is not None and runner.is_authenticated else "system"
    values = resolve_parameters(pipeline.config, parameters)
    trigger = {"type": "manual", "user": username, "parameters": values}
    plan = _Plan(pipeline, trigger, runner, requested_by=_name(acting))
    execution = plan.decide_execution()
    report = DryRunReport(
        application=pipeline.application.name,
        pipeline=pipeline.name,
        user=username,
        parameters=values,
        execution=execution,
    )
    report.rows, report.notes = plan.walk()
    if pipeline.config.get("disabled"):
        report.notes.insert(0, f"The pipeline {pipeline.name} is disabled: a real start would be refused.")
    return report


def _name(user: AnyUser | None) -> str:
    return user.get_username() if user is not None and user.is_authenticated else "system"


class _Plan:
    """The hypothetical run: its unsaved stages, in the order the engine would create them."""

    def __init__(self, pipeline: Pipeline, trigger: dict[str, Any], runner: AnyUser | None, requested_by: str):
        self.pipeline = pipeline
        self.application = pipeline.application.name
        self.trigger = trigger
        self.runner = runner
        self.user_doc = inputs.user_document(
            runner if runner is not None and runner.is_authenticated else None, label=str(trigger["user"])
        )
        self.execution_id = uuid.uuid4()
        self.requested_by = requested_by
        self.stages: list[StageExecution] = []
        self.rows: list[DryRunRow] = []
        self.notes: list[str] = []

    # Decisions ------------------------------------------------------------------------------

    def decide_execution(self) -> Decision:
        document = inputs.execution_input(self.pipeline.document, self.trigger, str(self.execution_id), self.runner)
        return gate.decide(
            Hook.EXECUTION,
            EXECUTION_PACKAGE,
            document,
            application=self.application,
            execution_id=self.execution_id,
            subject=self._subject(f"start of {self.pipeline.name}"),
            dry_run=True,
        )

    def _subject(self, what: str) -> str:
        return f"Dry run ({self.requested_by}): {what}"

    def _decide(
        self, hook: Hook, package: str, build: Callable[[], dict[str, Any]], stage: StageExecution, what: str
    ) -> Decision:
        return gate.decide(
            hook,
            package,
            build,
            application=self.application,
            execution_id=self.execution_id,
            stage_id=stage.id,
            subject=self._subject(what),
            dry_run=True,
        )

    # Walking the graph ----------------------------------------------------------------------

    def walk(self) -> tuple[list[DryRunRow], list[str]]:
        config = self.pipeline.config
        stages = [stage for stage in config.get("stages", []) if isinstance(stage, dict)]
        order = {ref: index for index, ref in enumerate(stage_order(stages))}
        top = sorted(
            (self._row(stage, position=order[str(stage["refId"])]) for stage in stages), key=lambda s: s.position
        )
        self.stages.extend(top)
        for stage in top:
            self._visit(stage, depth=0)
        return self.rows, self.notes

    def _row(
        self, config: dict[str, Any], *, position: int, parent: StageExecution | None = None, owner: str = Owner.NONE
    ) -> StageExecution:
        return StageExecution(
            execution_id=self.execution_id,
            parent=parent,
            synthetic_owner=owner,
            ref_id=str(config["refId"]),
            requisite_ref_ids=[str(ref) for ref in config.get("requisiteStageRefIds", [])],
            type=str(config["type"]),
            name=str(config.get("name") or config["type"]),
            position=position,
            config=config,
        )

    def _visit(self, stage: StageExecution, depth: int) -> None:
        if len(self.rows) >= MAX_ROWS:
            return
        stage.status = Status.RUNNING
        enabled = self._evaluate(stage)
        decision = self._decide(
            Hook.STAGE,
            stage_package(stage.type),
            lambda: self._stage_document(stage),
            stage,
            f"stage {stage.name} ({stage.type})",
        )
        row = self._record(stage, "stage", stage.type, stage.name, decision)
        if enabled is False:
            row.messages.append("This stage would be skipped: its stageEnabled condition is false.")
        if stage.type not in STAGE_TYPES:
            row.messages.append(f"Unknown stage type {stage.type!r}: its tasks and synthetic stages are not known.")
        elif depth < MAX_DEPTH:
            self._children(stage, depth)
        stage.status = Status.SUCCEEDED

    def _children(self, stage: StageExecution, depth: int) -> None:
        kind = stage_type(stage.type)
        planned = self._planned(stage, lambda: kind.before_stages(stage)) or []
        if stage.config.get("restrictExecutionDuringTimeWindow") and stage.type != WINDOW_STAGE:
            window = {"restrictedExecutionWindow": stage.context.get("restrictedExecutionWindow", {})}
            planned = [SyntheticStage(WINDOW_STAGE, "Restrict execution during time window", window), *planned]
        for child in self._add(stage, planned, Owner.BEFORE):
            self._visit(child, depth + 1)
        for task in self._planned(stage, lambda: kind.tasks(stage)) or []:
            self._gate_task(stage, task)
        outputs = self._planned(stage, lambda: hypothetical_outputs(stage, self.application)) or {}
        stage.context = {**stage.context, **outputs}
        if not outputs and stage.type == "createServerGroup":
            return  # what its strategy does next depends on what it would create
        for child in self._add(stage, self._planned(stage, lambda: kind.after_stages(stage)) or [], Owner.AFTER):
            self._visit(child, depth + 1)

    def _planned(self, stage: StageExecution, plan: Callable[[], T]) -> T | None:
        try:
            return plan()
        except (Refused, ValueError, TypeError, LookupError) as exc:
            # Planning runs on hypothetical data (no outputs yet): say what could not be foreseen.
            self.notes.append(
                f"Stage {stage.name} ({stage.ref_id}): what it runs could not be planned before the run: {exc}"
            )
            return None

    def _add(self, parent: StageExecution, planned: list[SyntheticStage], owner: str) -> list[StageExecution]:
        mark = {Owner.BEFORE.value: "<", Owner.AFTER.value: ">"}[owner]
        rows = []
        for index, spec in enumerate(planned, start=1):
            config = {"type": spec.type, "name": spec.name, "refId": f"{parent.ref_id}{mark}{index}", **spec.context}
            rows.append(self._row(config, position=len(self.stages) + index, parent=parent, owner=owner))
        self.stages.extend(rows)
        return rows

    def _gate_task(self, stage: StageExecution, task: str) -> None:
        task_id = uuid.uuid4()
        decision = self._decide(
            Hook.TASK,
            task_package(task),
            lambda: self._task_document(stage, task, task_id),
            stage,
            f"task {task} of stage {stage.name}",
        )
        self._record(stage, "task", task, task, decision)

    def _record(
        self, stage: StageExecution, kind: Literal["stage", "task"], type_: str, name: str, decision: Decision
    ) -> DryRunRow:
        parent_ref = stage.ref_id if kind == "task" else (stage.parent.ref_id if stage.parent else "")
        row = DryRunRow(
            ref_id=stage.ref_id,
            name=name,
            type=type_,
            kind=kind,
            synthetic=stage.is_synthetic,
            parent_ref=parent_ref,
            outcome=outcome_of(decision),
            messages=messages_of(decision),
        )
        self.rows.append(row)
        return row

    # Expressions ----------------------------------------------------------------------------

    def _evaluate(self, stage: StageExecution) -> bool | None:
        """Set the stage's context; the stageEnabled condition's value (None: undecidable now)."""
        if "${" not in json.dumps(stage.config) and "stageEnabled" not in stage.config:
            stage.context = dict(stage.config)
            return True
        scope = self._scope(stage)
        unevaluated = stage_type(stage.type).unevaluated if stage.type in STAGE_TYPES else frozenset()
        skip = CONTROL_KEYS | unevaluated
        context, _failures = evaluate_tree({k: v for k, v in stage.config.items() if k not in skip}, scope)
        stage.context = {**{k: v for k, v in stage.config.items() if k in skip}, **dict(context)}
        condition = stage.config.get("stageEnabled")
        if isinstance(condition, dict) and condition.get("type") == "expression":
            try:
                return evaluate_condition(str(condition.get("expression", "")), scope)
            except ExpressionError:
                return None
        return True

    def _scope(self, stage: StageExecution) -> Scope:
        by_name: dict[str, StageExecution] = {}
        for row in self.stages:
            by_name.setdefault(row.name, row)
        by_ref = {row.ref_id: row for row in self.stages}

        def find(name: Any) -> StageExecution:
            row = by_name.get(str(name))
            if row is None:
                raise ExpressionError(f"No stage named {name!r} in this execution.")
            return row

        root = {
            "parameters": self.trigger["parameters"],
            "trigger": self.trigger,
            "execution": {
                "id": str(self.execution_id),
                "application": self.application,
                "name": self.pipeline.name,
                "status": Status.RUNNING,
                "stages": [stage_view(row) for row in self.stages],
            },
        }
        functions: dict[str, Callable[..., Any]] = {
            "stage": lambda name: stage_view(find(name)),
            "stageByRefId": lambda ref: stage_view(by_ref[str(ref)]) if str(ref) in by_ref else None,
            "stageExists": lambda name: str(name) in by_name or str(name) in by_ref,
            "judgment": _no_judgment_yet,
            "currentStage": lambda: stage_view(stage),
        }
        return Scope(root=root, functions=functions)

    # Documents ------------------------------------------------------------------------------

    def _execution_document(self) -> dict[str, Any]:
        """What :func:`policies.inputs.execution_document` gives for a saved run, for this unsaved one."""
        return {
            "id": str(self.execution_id),
            "application": self.application,
            "name": self.pipeline.name,
            "pipelineConfigId": str(self.pipeline.pk),
            "status": Status.RUNNING,
            "trigger": inputs.masked_trigger(self.trigger),
            "authentication": {"user": self.trigger["user"]},
            "stages": [_stage_summary(row) for row in self.stages],
        }

    def _stage_document(self, stage: StageExecution) -> dict[str, Any]:
        package = stage_package(stage.type)
        return {
            "pipeline": self._execution_document(),
            "stage": inputs.stage_document(stage, stage.context),
            "user": self.user_doc,
            "meta": inputs.meta(Hook.STAGE, package),
        }

    def _task_document(self, stage: StageExecution, task: str, task_id: uuid.UUID) -> dict[str, Any]:
        return {
            "task": {"id": str(task_id), "name": task, "type": task, "status": Status.RUNNING, "attempts": 1},
            "stage": inputs.stage_document(stage, stage.context),
            "pipeline": self._execution_document(),
            "user": self.user_doc,
            "meta": inputs.meta(Hook.TASK, task_package(task)),
        }


def _stage_summary(stage: StageExecution) -> dict[str, Any]:
    """One entry of ``input.pipeline.stages``, as ``inputs.execution_document`` writes it from rows."""
    return {
        "id": str(stage.pk),
        "refId": stage.ref_id,
        "type": stage.type,
        "name": stage.name,
        "status": stage.status,
        "requisiteStageRefIds": list(stage.requisite_ref_ids or []),
        "parentStageId": str(stage.parent_id) if stage.parent_id else None,
        "syntheticStageOwner": stage.synthetic_owner or None,
    }


def _no_judgment_yet(name: Any) -> Any:
    raise ExpressionError(f"The judgment of {name!r} is only known during the run.")


def render_table(report: DryRunReport) -> str:
    """The report as text: one line per gate, indented under its stage, messages below."""
    given = ", ".join(f"{key}={value}" for key, value in report.parameters.items()) or "none"
    lines = [f"Dry run of {report.application}/{report.pipeline} started by {report.user} (parameters: {given})"]
    table = [("GATE", "REF", "TYPE", "OUTCOME")]
    notes: list[list[str]] = [messages_of(report.execution)]
    table.append(("execution", "-", "-", outcome_of(report.execution)))
    for row in report.rows:
        depth = sum(row.ref_id.count(mark) for mark in "<>") + (1 if row.kind == "task" else 0)
        table.append(("  " * depth + f"{row.kind} {row.name}", row.ref_id, row.type, row.outcome))
        notes.append(row.messages)
    widths = [max(len(cells[i]) for cells in table) for i in range(4)]
    for index, cells in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
        if index:
            lines.extend(" " * 4 + message for message in notes[index - 1])
    denied = sum(row.outcome == "denied" for row in report.rows) + (not report.execution.allowed)
    lines.append(
        "Allowed: no policy would deny this run." if report.allowed else f"Denied: {denied} gate(s) would deny."
    )
    lines.extend(f"Note: {note}" for note in report.notes)
    return "\n".join(lines)


# What a deploy would create ------------------------------------------------------------------


def hypothetical_outputs(stage: StageExecution, application: str) -> dict[str, Any]:
    """The facts a ``createServerGroup`` stage's tasks would leave in its context, so its strategy
    can be planned: the next server group of the cluster in each region, replacing the newest
    enabled group the cloud mirror knows. Other stage types: nothing."""
    if stage.type != "createServerGroup":
        return {}
    from clouds import naming
    from clouds.stages.common import regions_of

    context = stage.context
    account = str(context.get("account") or context.get("credentials") or "")
    app = str(context.get("application") or application)
    cluster = naming.format_cluster(app, str(context.get("stack") or ""), str(context.get("freeFormDetails") or ""))
    regions = regions_of(context)
    known = _known_groups(account, cluster)
    created, sources = {}, {}
    for region in regions:
        groups = [group for group in known if group["region"] == region]
        sequence = naming.next_sequence(group["sequence"] for group in groups)
        created[region] = [
            naming.format_server_group(
                app, str(context.get("stack") or ""), str(context.get("freeFormDetails") or ""), sequence
            )
        ]
        source = next((group for group in groups if group["enabled"]), None)
        if source is not None:
            sources[region] = {"name": source["name"], "capacity": source["capacity"]}
    facts: dict[str, Any] = {
        "deploy.account.name": account,
        "deploy.cluster": cluster,
        "deploy.server.groups": created,
        "serverGroupName": created[regions[0]][0],
    }
    if sources:
        facts["sourceServerGroups"] = sources
    return facts


def _known_groups(account: str, cluster: str) -> list[dict[str, Any]]:
    from clouds.models import ServerGroup

    rows = ServerGroup.objects.filter(
        cluster__account__name=account, cluster__name=cluster, destroyed_at__isnull=True
    ).order_by("-sequence")
    return [
        {
            "name": group.name,
            "region": group.region,
            "sequence": group.sequence,
            "enabled": group.enabled,
            "capacity": {"min": group.capacity_min, "max": group.capacity_max, "desired": group.capacity_desired},
        }
        for group in rows
    ]
