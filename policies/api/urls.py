from django.urls import path
from rest_framework.routers import DefaultRouter

from policies.api.views import (
    PipelineDryRunView,
    PolicyDecisionViewSet,
    PolicyEvalView,
    PolicyViewSet,
    ReferenceDataViewSet,
)

router = DefaultRouter()
router.include_root_view = False
router.register("policies", PolicyViewSet, basename="policy")
router.register("policy-data", ReferenceDataViewSet, basename="policy-data")
router.register("policy-decisions", PolicyDecisionViewSet, basename="policy-decision")

urlpatterns = [
    *router.urls,
    path("policy-eval/", PolicyEvalView.as_view(), name="policy-eval"),
    # Beside the pipeline endpoints, but served here: the dry run is the policy engine's.
    path("pipelines/<uuid:pk>/dryrun/", PipelineDryRunView.as_view(), name="pipeline-dryrun"),
]
