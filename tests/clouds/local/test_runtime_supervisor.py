"""The supervisor runs server groups: N instances UP, idempotent updates, scaling, deletion, health."""

from __future__ import annotations

import json
import os
import stat

import pytest

from clouds.providers.local.runtime.client import HealthSpec, SupervisorClient, SupervisorRefused
from clouds.providers.local.runtime.common import is_alive, marked_processes

from .conftest import LocalHome, get, wait_for_group, wait_until


def test_it_brings_the_desired_instances_up_each_on_its_own_port(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=3, env={"SAMPLE_VERSION": "1.4.2"})

    group = wait_for_group(supervisor, "shop-web-v001", up=3)

    assert [instance.id for instance in group.instances] == ["shop-web-v001-0", "shop-web-v001-1", "shop-web-v001-2"]
    ports = [instance.port for instance in group.instances]
    assert len(set(ports)) == 3
    assert all(local_home.ports[0] <= port <= local_home.ports[1] for port in ports)
    for instance in group.instances:
        status, body = get(f"http://{instance.address}/")
        assert status == 200
        assert json.loads(body) == {"version": "1.4.2", "instance": instance.id, "pid": instance.pid}
        assert (local_home.path / "logs" / f"{instance.id}.log").exists()
    assert sorted(pid for pid, role in marked_processes(local_home.path).items() if role == "instance") == sorted(
        instance.pid for instance in group.instances if instance.pid
    )


def test_it_keeps_its_state_in_a_private_file(supervisor: SupervisorClient, local_home: LocalHome) -> None:
    supervisor.put_server_group("shop-web-v001", command=["sleep", "30"], desired=1)

    saved = json.loads((local_home.path / "state.json").read_text())

    assert saved["serverGroups"]["shop-web-v001"]["desired"] == 1
    assert saved["serverGroups"]["shop-web-v001"]["instances"][0]["startTicks"]
    for name in ("state.json", "control.sock"):
        assert stat.S_IMODE(os.stat(local_home.path / name).st_mode) == 0o600


def test_it_answers_the_same_group_when_asked_twice(supervisor: SupervisorClient, sample_command: list[str]) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    first = wait_for_group(supervisor, "shop-web-v001", up=2)

    again = supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)

    assert [i.pid for i in again.instances] == [i.pid for i in first.instances]
    assert again.created_at == first.created_at


def test_it_refuses_to_change_the_command_or_env_of_a_group(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=1, env={"SAMPLE_VERSION": "1"})

    with pytest.raises(SupervisorRefused) as refused:
        supervisor.put_server_group("shop-web-v001", command=sample_command, desired=1, env={"SAMPLE_VERSION": "2"})

    assert refused.value.status == 409
    assert "shop-web-v001" in refused.value.message


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"command": [], "desired": 1}, "command"),
        ({"command": ["sleep", "1"], "desired": -1}, "desired"),
        ({"command": ["sleep", "1"], "desired": 1, "health": HealthSpec(path="health")}, "health.path"),
        ({"command": ["sleep", "1"], "desired": 1, "env": {"A=B": "1"}}, "env.A=B"),
    ],
)
def test_it_refuses_a_bad_request_naming_the_field(
    supervisor: SupervisorClient, arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(SupervisorRefused) as refused:
        supervisor.put_server_group("shop-web-v001", **arguments)  # type: ignore[arg-type]

    assert refused.value.status == 400
    assert field in refused.value.message
    assert supervisor.state().server_groups == {}


def test_it_scales_down_by_stopping_the_highest_numbered_instances(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=3)
    before = wait_for_group(supervisor, "shop-web-v001", up=3)

    after = supervisor.put_server_group("shop-web-v001", command=sample_command, desired=1)

    assert [(i.id, i.pid) for i in after.instances] == [(before.instances[0].id, before.instances[0].pid)]
    leaving = [(i.pid, None) for i in before.instances[1:]]
    wait_until(
        lambda: not any(is_alive(pid, ticks) for pid, ticks in leaving if pid), 10, "scaled-down instances to exit"
    )
    grown = supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    assert [i.id for i in grown.instances] == ["shop-web-v001-0", "shop-web-v001-1"]


def test_it_deletes_a_group_and_stops_its_processes(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    wait_for_group(supervisor, "shop-web-v001", up=2)

    supervisor.delete_server_group("shop-web-v001")

    assert "shop-web-v001" not in supervisor.state().server_groups
    wait_until(lambda: not marked_processes(local_home.path, ("instance",)), 10, "the instances to exit")
    with pytest.raises(SupervisorRefused) as refused:
        supervisor.delete_server_group("shop-web-v001")
    assert refused.value.status == 404


def test_it_marks_an_instance_failing_its_health_check_down(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    fast = HealthSpec(interval_seconds=0.2, timeout_seconds=1.0)
    supervisor.put_server_group("sick", command=sample_command, desired=1, env={"SAMPLE_FAIL_HEALTH": "1"}, health=fast)
    supervisor.put_server_group("well", command=sample_command, desired=1, health=fast)
    lb = supervisor.put_load_balancer("shop-web", 0, {"sick": 100, "well": 0})

    wait_until(lambda: supervisor.state().server_groups["sick"].instances[0].health == "DOWN", 10, "sick to be DOWN")
    wait_for_group(supervisor, "well", up=1)

    sick = supervisor.state().server_groups["sick"].instances[0]
    assert sick.pid is not None
    assert is_alive(sick.pid, None)
    assert get(f"http://{lb.address}/")[0] == 503
