"""What each level allows, as Fiat does it: WRITE and EXECUTE imply READ, nothing else is implied."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from pytest_django import DjangoAssertNumQueries

from applications.models import Application, get_application_for_user
from clouds.models import Cluster, ServerGroup, get_cluster_for_user, get_server_group_for_user
from tests.conftest import grant, make_user


def test_it_gives_developers_every_level_and_viewers_read(shop: Application, developer: User, viewer: User) -> None:
    assert shop.levels_for(developer) == {"READ", "WRITE", "EXECUTE"}
    assert shop.levels_for(viewer) == {"READ"}


def test_it_implies_read_from_write_but_not_execute(shop: Application, groups: dict[str, Group]) -> None:
    writers = Group.objects.create(name="writers")
    grant(shop, writers, "WRITE")
    writer = make_user("writer", writers)
    assert shop.levels_for(writer) == {"READ", "WRITE"}
    assert list(Application.objects.visible_to(writer)) == [shop]
    assert not Application.objects.with_access(writer, "execute").exists()


def test_it_implies_read_from_execute(shop: Application) -> None:
    runners = Group.objects.create(name="runners")
    grant(shop, runners, "EXECUTE")
    runner = make_user("runner", runners)
    assert shop.levels_for(runner) == {"READ", "EXECUTE"}
    assert get_application_for_user(runner, "shop", "execute") == shop
    with pytest.raises(PermissionDenied):
        get_application_for_user(runner, "shop", "write")


def test_it_is_closed_by_default(shop: Application, blog: Application, nobody: User, outsider: User) -> None:
    assert not Application.objects.visible_to(nobody).exists()
    assert not Application.objects.visible_to(AnonymousUser()).exists()
    assert list(Application.objects.visible_to(outsider)) == [blog]
    with pytest.raises(Http404):
        get_application_for_user(outsider, "shop")
    with pytest.raises(Http404):
        get_application_for_user(AnonymousUser(), "shop")


def test_it_answers_404_not_403_for_names_that_do_not_exist(developer: User) -> None:
    # Same answer as for an application one cannot see: names do not leak.
    with pytest.raises(Http404):
        get_application_for_user(developer, "doesnotexist")


def test_it_lets_admins_bypass(shop: Application, admin: User) -> None:
    assert shop.levels_for(admin) == {"READ", "WRITE", "EXECUTE"}
    assert get_application_for_user(admin, "shop", "write") == shop


def test_it_shuts_out_deactivated_users(shop: Application, developer: User) -> None:
    developer.is_active = False
    developer.save()
    fresh = User.objects.get(pk=developer.pk)
    assert not Application.objects.visible_to(fresh).exists()
    assert shop.levels_for(fresh) == set()


def test_it_gives_clusters_and_server_groups_their_applications_visibility(
    shop_cluster: Cluster, viewer: User, outsider: User
) -> None:
    group = ServerGroup.objects.get(cluster=shop_cluster)
    assert get_cluster_for_user(viewer, shop_cluster.pk) == shop_cluster
    assert get_server_group_for_user(viewer, group.pk) == group
    with pytest.raises(PermissionDenied):
        get_server_group_for_user(viewer, group.pk, "write")
    with pytest.raises(Http404):
        get_cluster_for_user(outsider, shop_cluster.pk)
    with pytest.raises(Http404):
        get_server_group_for_user(outsider, "not-a-number")
    assert not Cluster.objects.visible_to(outsider).exists()
    assert list(ServerGroup.objects.visible_to(viewer)) == [group]


def test_it_checks_levels_without_a_query_per_application(
    shop: Application, blog: Application, developer: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    apps = list(Application.objects.prefetch_related("grants"))
    # One query for the user's groups, then none per application.
    with django_assert_num_queries(1):
        levels = [app.levels_for(developer) for app in apps]
    assert levels == [set(), {"READ", "WRITE", "EXECUTE"}]
