"""The ``webhook`` stage against a real HTTP server on loopback, driven by the in-process engine.

Retries and polls wait on the engine's clock, which the tests move forward (``fake_clock``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.jsonpath import parse_json_path, read_json_path
from pipelines.models import Execution, Pipeline, StageExecution
from pipelines.statuses import ACTIVE
from tests.http_server import LoopbackServer, Reply, closed_port
from tests.pipelines.conftest import Clock, stage, statuses

SETTING = "SPINWEB_WEBHOOK_ALLOWED_HOSTS"


@pytest.fixture
def server(settings: Any) -> Iterator[LoopbackServer]:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with LoopbackServer() as running:
        yield running


def webhook(ref: str = "1", name: str = "Call", requires: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    return stage(ref, "webhook", name, requires, **fields)


def finish(execution: Execution, clock: Clock, step: float = 2.0, rounds: int = 60) -> Execution:
    """Run due tasks, moving the clock ``step`` seconds at a time, until the run ends."""
    for _ in range(rounds):
        run_due_tasks()
        execution.refresh_from_db()
        if execution.status not in ACTIVE:
            return execution
        clock.advance(step)
    raise AssertionError(f"the run is still {execution.status} after {rounds} rounds")


def call_stage(execution: Execution, name: str = "Call") -> StageExecution:
    return execution.stages.get(name=name)


# Calling ---------------------------------------------------------------------------------


def test_it_sends_the_evaluated_payload_and_headers(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("POST", "/deploys", Reply(201, {"id": "d-42"}))
    pipeline = save(
        webhook(
            url=server.url("/deploys"),
            method="post",
            customHeaders={"X-Env": "${parameters.env}", "Accept": ["application/json", "text/plain"]},
            payload={"env": "${parameters.env}", "count": 3, "by": {"user": "${trigger.user}"}},
        )
    )
    execution = run(pipeline, env="prod")
    assert execution.status == "SUCCEEDED"
    [received] = server.received("POST", "/deploys")
    assert received.json() == {"env": "prod", "count": 3, "by": {"user": "developer"}}
    assert received.header("X-Env") == "prod"
    assert received.header("Accept") == "application/json, text/plain"
    assert received.header("Content-Type") == "application/json"
    task = call_stage(execution).tasks.get(name="createWebhook")
    assert received.header("Idempotency-Key") == str(task.id)
    stored = call_stage(execution).context["webhook"]
    assert (stored["statusCode"], stored["statusCodeValue"], stored["body"]) == ("CREATED", 201, {"id": "d-42"})


def test_it_lets_downstream_stages_read_the_answer(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("POST", "/builds", Reply(200, {"build": {"number": 7, "tags": ["a", "b"]}}))
    precondition = "${#stage('Build')['context']['webhook']['body']['build']['number'] == 7}"
    pipeline = save(
        webhook("1", "Build", url=server.url("/builds")),
        stage(
            "2",
            "checkPreconditions",
            "Check",
            ("1",),
            preconditions=[{"type": "expression", "context": {"expression": precondition}}],
        ),
        stage(
            "3",
            "evaluateVariables",
            "Vars",
            ("1",),
            variables=[
                {"key": "buildNumber", "value": "${webhook.body.build.number}"},
                {"key": "firstTag", "value": "${#stage('Build')['outputs']['webhook']['body']['build']['tags'][0]}"},
            ],
        ),
    )
    execution = run(pipeline)
    assert statuses(execution) == {
        "Build": "SUCCEEDED",
        "Check": "SUCCEEDED",
        "Check precondition 1": "SUCCEEDED",
        "Vars": "SUCCEEDED",
    }
    assert call_stage(execution, "Vars").outputs == {"buildNumber": 7, "firstTag": "a"}


def test_it_fails_on_a_client_error_with_the_code_and_the_body(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("PUT", "/hooks/9", Reply(404, {"error": "no such hook"}))
    url = server.url("/hooks/9")
    execution = run(save(webhook(url=url, method="PUT", payload={"a": 1})))
    assert execution.status == "TERMINAL"
    assert call_stage(execution).failure_message == f'PUT {url} answered 404 Not Found: {{"error": "no such hook"}}'
    assert call_stage(execution).context["webhook"]["statusCodeValue"] == 404
    assert len(server.requests) == 1  # not retried


def test_it_retries_server_errors_then_succeeds(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Clock
) -> None:
    server.route("POST", "/hook", Reply(503, "busy"), Reply(502, "still busy"), Reply(200, {"ok": True}))
    execution = run(save(webhook(url=server.url("/hook"), payload={"n": 1})))
    task = call_stage(execution).tasks.get()
    assert (execution.status, task.message) == (
        "RUNNING",
        f"POST {server.url('/hook')} answered 503 Service Unavailable: busy",
    )
    execution = finish(execution, fake_clock)
    assert execution.status == "SUCCEEDED"
    received = server.received("POST", "/hook")
    assert len(received) == 3
    # Every attempt carries the same key, so the far side can tell a repeat from a new call.
    assert {r.header("Idempotency-Key") for r in received} == {str(task.id)}
    assert {r.body for r in received} == {b'{"n": 1}'}


def test_it_gives_up_on_a_closed_port_with_what_happened(
    settings: Any, save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Clock
) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/hook"
        execution = finish(run(save(webhook(url=url))), fake_clock, step=60)
    assert execution.status == "TERMINAL"
    assert call_stage(execution).failure_message == (
        f"POST {url}: could not connect to 127.0.0.1 port {port} (Connection refused) (gave up after 8 attempts)"
    )


@pytest.mark.parametrize(
    ("fields", "replies", "outcome", "calls"),
    [
        ({}, [Reply(429), Reply(200)], "SUCCEEDED", 2),
        ({"retryStatusCodes": [409]}, [Reply(409), Reply(200)], "SUCCEEDED", 2),
        ({}, [Reply(409), Reply(200)], "TERMINAL", 1),
        ({"failFastStatusCodes": [503]}, [Reply(503), Reply(200)], "TERMINAL", 1),
    ],
)
def test_it_retries_the_codes_it_is_told_to(
    server: LoopbackServer,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    fake_clock: Clock,
    fields: dict[str, Any],
    replies: list[Reply],
    outcome: str,
    calls: int,
) -> None:
    server.route("POST", "/hook", *replies)
    execution = finish(run(save(webhook(url=server.url("/hook"), **fields))), fake_clock)
    assert execution.status == outcome
    assert len(server.requests) == calls


def test_it_keeps_a_redirect_as_the_answer(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("POST", "/hook", Reply(302, "", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    execution = run(save(webhook(url=server.url("/hook"))))
    assert execution.status == "SUCCEEDED"
    stored = call_stage(execution).context["webhook"]
    assert (stored["statusCodeValue"], stored["headers"]["Location"]) == (
        302,
        "http://169.254.169.254/latest/meta-data/",
    )
    assert [r.path for r in server.requests] == ["/hook"]


def test_it_keeps_only_the_start_of_a_large_body(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("GET", "/report", Reply(200, {"rows": ["x" * 100 for _ in range(1000)]}))
    execution = run(save(webhook(url=server.url("/report"), method="GET")))
    stored = call_stage(execution).context["webhook"]
    assert execution.status == "SUCCEEDED"
    assert stored["body"] == json.dumps({"rows": ["x" * 100 for _ in range(1000)]})[:65_536]
    assert stored["note"] == "The body is larger than 64 KB: only its start is kept, as text."


def test_it_fails_when_the_url_is_not_http_once_evaluated(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    execution = run(save(webhook(url="${parameters.target}")), target="file:///etc/passwd")
    assert execution.status == "TERMINAL"
    assert call_stage(execution).failure_message == (
        "POST file:///etc/passwd was not sent: Only http and https URLs can be called, and 'file:///etc/passwd' is"
        " neither."
    )


# Credentials -----------------------------------------------------------------------------


def test_it_never_stores_or_logs_credential_headers(
    server: LoopbackServer,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.route("POST", "/hook", Reply(200, {"ok": True}, {"Set-Cookie": "session=cookie-value", "X-Request": "r1"}))
    headers = {"Authorization": "Bearer ${parameters.token}", "X-Api-Key": "literal-key", "X-Trace": "t-1"}
    caplog.set_level(logging.DEBUG)
    execution = run(save(webhook(url=server.url("/hook"), customHeaders=headers)), token="s3cr3t")
    assert execution.status == "SUCCEEDED"
    [received] = server.requests
    assert (received.header("Authorization"), received.header("X-Api-Key")) == ("Bearer s3cr3t", "literal-key")
    row = call_stage(execution)
    stored = json.dumps([row.context, row.outputs, list(row.tasks.values_list("message", flat=True))])
    for secret in ("s3cr3t", "literal-key", "cookie-value"):
        assert secret not in stored
        assert secret not in caplog.text
    assert row.context["customHeaders"] == {"Authorization": "****", "X-Api-Key": "****", "X-Trace": "t-1"}
    assert row.context["webhook"]["headers"]["X-Request"] == "r1"


# Waiting for completion ------------------------------------------------------------------


def script_status_url(server: LoopbackServer, resolution: str) -> dict[str, Any]:
    """The create call for each way of finding the status URL, and the stage fields it needs."""
    if resolution == "getMethod":
        server.route("POST", "/jobs/7", Reply(202, {"accepted": True}))
        return {"url": server.url("/jobs/7")}
    if resolution == "locationHeader":
        server.route("POST", "/jobs", Reply(202, "", {"Location": "/jobs/7"}))
        return {"url": server.url("/jobs")}
    server.route("POST", "/jobs", Reply(202, {"links": {"status": server.url("/jobs/7")}}))
    return {"url": server.url("/jobs"), "statusUrlJsonPath": "$.links.status"}


def waiting(**fields: Any) -> dict[str, Any]:
    return {
        "waitForCompletion": True,
        "statusJsonPath": "$.job.state",
        "successStatuses": "SUCCESS, done",
        "canceledStatuses": "ABORTED",
        "terminalStatuses": "failed",
        **fields,
    }


@pytest.mark.parametrize("resolution", ["getMethod", "locationHeader", "webhookResponse"])
def test_it_polls_the_status_url_until_success(
    server: LoopbackServer,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    fake_clock: Clock,
    resolution: str,
) -> None:
    fields = script_status_url(server, resolution)
    server.route("GET", "/jobs/7", Reply(200, {"job": {"state": "running"}}), Reply(200, {"job": {"state": "Done"}}))
    execution = run(save(webhook(**waiting(statusUrlResolution=resolution, **fields))))
    row = call_stage(execution)
    assert (execution.status, row.context["webhook"]["statusEndpoint"]) == ("RUNNING", server.url("/jobs/7"))
    assert row.context["webhook"]["monitor"]["body"] == {"job": {"state": "running"}}
    assert len(server.received("GET", "/jobs/7")) == 1
    fake_clock.advance(1)
    run_due_tasks()
    assert len(server.received("GET", "/jobs/7")) == 1  # the next poll is due after 2 s
    fake_clock.advance(1)
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"
    assert call_stage(execution).outputs["webhook"]["monitor"]["body"] == {"job": {"state": "Done"}}


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("FAILED", "The webhook reported 'FAILED', one of terminalStatuses."),
        ("aborted", "The webhook reported canceled: 'aborted' is one of canceledStatuses."),
    ],
)
def test_it_fails_when_the_webhook_reports_failure(
    server: LoopbackServer,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    fake_clock: Clock,
    state: str,
    message: str,
) -> None:
    server.route("POST", "/jobs/7", Reply(202))
    server.route("GET", "/jobs/7", Reply(200, {"job": {"state": "running"}}), Reply(200, {"job": {"state": state}}))
    execution = finish(run(save(webhook(**waiting(url=server.url("/jobs/7"))))), fake_clock)
    assert execution.status == "TERMINAL"
    assert call_stage(execution).failure_message == message


def test_it_waits_before_the_first_poll(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Clock
) -> None:
    server.route("POST", "/jobs/7", Reply(202))
    server.route("GET", "/jobs/7", Reply(200, {"job": {"state": "done"}}))
    execution = run(save(webhook(**waiting(url=server.url("/jobs/7"), waitBeforeMonitor=30))))
    fake_clock.advance(29)
    run_due_tasks()
    assert server.received("GET", "/jobs/7") == []
    fake_clock.advance(2)
    run_due_tasks()
    execution.refresh_from_db()
    assert (execution.status, len(server.received("GET", "/jobs/7"))) == ("SUCCEEDED", 1)


def test_it_fails_when_the_status_is_not_where_the_path_says(
    server: LoopbackServer, save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    server.route("POST", "/jobs/7", Reply(202))
    server.route("GET", "/jobs/7", Reply(200, {"state": "done"}))
    url = server.url("/jobs/7")
    execution = run(save(webhook(**waiting(url=url))))
    assert execution.status == "TERMINAL"
    assert (
        call_stage(execution).failure_message == f"The answer of GET {url} has nothing at $.job.state (statusJsonPath)."
    )


def test_it_checks_the_status_url_against_the_allowlist(
    server: LoopbackServer,
    settings: Any,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["*", "127.0.0.1"]
    server.route("POST", "/jobs", Reply(202, "", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    fields = waiting(url=server.url("/jobs"), statusUrlResolution="locationHeader")
    execution = run(save(webhook(**fields)))
    assert execution.status == "TERMINAL"
    assert call_stage(execution).failure_message == (
        "GET http://169.254.169.254/latest/meta-data/ was not sent: 169.254.169.254 is a link-local address;"
        f" add it to {SETTING} to allow it."
    )


def test_it_calls_the_cancel_endpoint_when_the_run_is_canceled(
    server: LoopbackServer,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    developer: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    server.route("POST", "/jobs/7", Reply(202))
    server.route("GET", "/jobs/7", Reply(200, {"job": {"state": "running"}}))
    server.route("DELETE", "/jobs/7", Reply(204))
    fields = waiting(url=server.url("/jobs/7"), cancelEndpoint=server.url("/jobs/7"), cancelMethod="DELETE")
    execution = run(save(webhook(**fields, cancelPayload={"reason": "canceled by ${trigger.user}"})))
    with django_capture_on_commit_callbacks(execute=True):  # cancel hooks run once the cancel commits
        actions.cancel(developer, execution, source="api")
    [canceled] = server.received("DELETE", "/jobs/7")
    assert canceled.json() == {"reason": "canceled by developer"}


# The allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", f"169.254.169.254 is a link-local address; add it to {SETTING} to allow it."),
        ("10.0.0.1", f"10.0.0.1 is a private address; add it to {SETTING} to allow it."),
        ("127.0.0.1", f"127.0.0.1 is a loopback address; add it to {SETTING} to allow it."),
        ("localhost", "localhost resolves to "),
    ],
)
def test_it_refuses_internal_hosts_by_default(
    server: LoopbackServer,
    settings: Any,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    host: str,
    reason: str,
) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["*"]
    url = server.url("/hook", host=host)
    execution = run(save(webhook(url=url)))
    assert execution.status == "TERMINAL"
    message = call_stage(execution).failure_message
    assert message.startswith(f"POST {url} was not sent: {reason}")
    assert message.endswith(f"to {SETTING} to allow it.")
    assert call_stage(execution).tasks.get().attempts == 1  # refused at once, not retried
    assert server.requests == []


@pytest.mark.parametrize(
    ("allowed", "host"), [(["localhost"], "localhost"), (["127.0.0.1"], "127.0.0.1"), (["127.0.0.0/8"], "127.0.0.1")]
)
def test_it_calls_internal_hosts_that_are_listed(
    server: LoopbackServer,
    settings: Any,
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    allowed: list[str],
    host: str,
) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["*", *allowed]
    server.route("POST", "/hook", Reply(200))
    execution = run(save(webhook(url=server.url("/hook", host=host))))
    assert execution.status == "SUCCEEDED"
    assert [r.header("Host") for r in server.requests] == [f"{host}:{server.port}"]


# Save-time checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"url": ""}, "url", "url is required: the URL to call."),
        ({"url": "ftp://example.com/x"}, "url", "url must be an http or https URL with a host"),
        ({"method": "TRACE"}, "method", "method must be one of GET, POST, PUT, PATCH, DELETE."),
        ({"statusUrlResolution": "polling"}, "statusUrlResolution", "statusUrlResolution must be one of getMethod"),
        ({"waitForCompletion": True}, "statusJsonPath", "statusJsonPath is required with waitForCompletion"),
        (
            {"waitForCompletion": True, "statusJsonPath": "$.s", "statusUrlResolution": "webhookResponse"},
            "statusUrlJsonPath",
            "statusUrlJsonPath is required when statusUrlResolution is webhookResponse.",
        ),
        ({"statusJsonPath": "$..status"}, "statusJsonPath", "'$..status' is not a JSON path Spinweb reads"),
        ({"waitForCompletion": "yes"}, "waitForCompletion", "waitForCompletion must be true or false."),
        ({"successStatuses": ["OK"]}, "successStatuses", "successStatuses must be text"),
        ({"retryStatusCodes": [503, "x"]}, "retryStatusCodes[1]", "A status code must be a whole number"),
        ({"failFastStatusCodes": 500}, "failFastStatusCodes", "failFastStatusCodes must be a list"),
        ({"customHeaders": "X-A: b"}, "customHeaders", "customHeaders must be an object"),
        ({"customHeaders": {"X-Api-Key": {"a": 1}}}, 'customHeaders["X-Api-Key"]', "A header value must be text"),
        ({"customHeaders": {"Trace": "a\r\nX: b"}}, "customHeaders.Trace", "A header value must be a single line."),
        (
            {"statusPollIntervalSeconds": 0},
            "statusPollIntervalSeconds",
            "statusPollIntervalSeconds must be a number of seconds, 1 or more.",
        ),
        ({"cancelEndpoint": "/relative"}, "cancelEndpoint", "cancelEndpoint must be an http or https URL"),
    ],
)
def test_it_refuses_bad_fields_by_path(shop: Any, fields: dict[str, Any], path: str, message: str) -> None:
    stages = [webhook(**{"url": "https://hooks.example.com/deploy", **fields})]
    issues = actions.validate({"application": "shop", "name": "hooks", "stages": stages})
    assert [issue.path for issue in issues] == [f"stages[0].{path}"]
    assert issues[0].message.startswith(message), issues[0].message


def test_it_accepts_a_complete_stage_with_expressions(shop: Any) -> None:
    fields = waiting(
        url="${parameters.hookUrl}",
        method="${parameters.method}",
        statusUrlResolution="webhookResponse",
        statusUrlJsonPath="$['links']['status']",
        progressJsonPath="progress.message",
        customHeaders={"Authorization": "Bearer ${parameters.token}", "Accept": ["application/json"]},
        payload={"anything": [1, {"goes": None}]},
        retryStatusCodes=[409, 423],
        failFastStatusCodes=[400],
        waitBeforeMonitor="${parameters.pause}",
        statusPollIntervalSeconds=5,
        cancelEndpoint="https://hooks.example.com/cancel",
        cancelMethod="delete",
    )
    document = {"application": "shop", "name": "hooks", "stages": [webhook(**fields)]}
    assert actions.validate(document) == []


@pytest.mark.parametrize(
    ("path", "document", "value"),
    [
        ("$.status", {"status": "OK"}, "OK"),
        ("status", {"status": "OK"}, "OK"),
        ("$.a.b[0].c", {"a": {"b": [{"c": 3}]}}, 3),
        ("$.items[-1]", {"items": [1, 2]}, 2),
        ("$['odd.key']", {"odd.key": True}, True),
        ('$["x"][1]', {"x": ["a", "b"]}, "b"),
        ("$", "DONE", "DONE"),
        ("build-info.state", {"build-info": {"state": "x"}}, "x"),
    ],
)
def test_it_reads_the_json_paths_users_write(path: str, document: Any, value: Any) -> None:
    assert read_json_path(document, path) == value


@pytest.mark.parametrize("path", ["$..status", "$.items[*]", "$.items[?(@.ok)]", "$.a[", ""])
def test_it_refuses_json_paths_it_cannot_read(path: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON path Spinweb reads"):
        parse_json_path(path)


def test_it_finds_nothing_at_a_missing_json_path() -> None:
    with pytest.raises(LookupError):
        read_json_path({"a": [1]}, "$.a[3]")
