"""``/api/v1/trigger-evaluations/``: what each trigger event did to the pipelines you can read."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from pipelines.models import TriggerEvaluation


class EvaluationFilter(django_filters.FilterSet):
    application = django_filters.CharFilter(field_name="application__name")
    pipeline = django_filters.UUIDFilter(field_name="pipeline_id")
    outcome = django_filters.MultipleChoiceFilter(choices=TriggerEvaluation.Outcome.choices)
    kind = django_filters.CharFilter(field_name="event__kind")

    class Meta:
        model = TriggerEvaluation
        fields = ["application", "pipeline", "outcome", "kind"]


def evaluation_document(row: TriggerEvaluation) -> dict[str, Any]:
    event = row.event
    return {
        "id": row.pk,
        "createdAt": row.created_at.isoformat(),
        "application": row.application.name,
        "pipeline": row.pipeline_name,
        "pipelineId": str(row.pipeline_id) if row.pipeline_id else None,
        "triggerIndex": row.trigger_index,
        "triggerId": row.trigger_id or None,
        "triggerType": row.trigger_type,
        "outcome": row.outcome,
        "reason": row.reason,
        "execution": str(row.execution_id) if row.execution_id else None,
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "source": event.source,
            "receivedAt": event.received_at.isoformat(),
            "summary": event.summary,
        },
    }


@extend_schema(responses=OpenApiTypes.OBJECT)
class TriggerEvaluationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[TriggerEvaluation]):
    """Trigger firings and the reasons others did not fire, newest first, for applications you can read."""

    filterset_class = EvaluationFilter

    def get_queryset(self) -> QuerySet[TriggerEvaluation]:
        rows = TriggerEvaluation.objects.visible_to(self.request.user)
        return rows.select_related("application", "event").order_by("-created_at", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([evaluation_document(row) for row in page or []])
