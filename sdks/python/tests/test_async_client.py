"""The asyncio client against the demo: every method once, concurrency, and errors."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import pytest
import pytest_asyncio
from conftest import BETH, JERRY, MORTY, RICK, SUMMER, Server, dead_url

from lictor import AsyncLictor, Identity, LictorConnectionError, LictorError, Ref, StatusCode


@pytest_asyncio.fixture
async def aclient(server: Server) -> AsyncIterator[AsyncLictor]:
    async with AsyncLictor(url=server.url) as c:
        yield c


@pytest.mark.asyncio
async def test_decisions(aclient: AsyncLictor) -> None:
    assert await aclient.is_allowed(identity=RICK, policy_path="todoApp.POST.todos") is True
    assert await aclient.is_allowed(identity=JERRY, policy_path="todoApp.POST.todos") is False
    assert await aclient.is_(
        identity=Identity.sub(BETH), policy_path="todoApp.GET.todos", decisions=["allowed", "visible"]
    ) == {
        "allowed": True,
        "visible": True,
    }
    tree = await aclient.decision_tree(identity=MORTY, policy_root="todoApp", decisions=["allowed"])
    assert tree == {
        "todoApp.GET.todos": {"allowed": True},
        "todoApp.POST.todos": {"allowed": True},
        "todoApp.PUT.todos.__id": {"allowed": False},
        "todoApp.DELETE.todos.__id": {"allowed": False},
    }


@pytest.mark.asyncio
async def test_concurrent_checks_agree_with_the_demo(aclient: AsyncLictor) -> None:
    users = [RICK, MORTY, SUMMER, BETH, JERRY]
    answers = await asyncio.gather(
        *(aclient.check(subject=f"user:{u}", permission="member", object="group:editor") for u in users)
    )
    assert [a.allowed for a in answers] == [True, True, True, False, False]


@pytest.mark.asyncio
async def test_checks_explain_and_lookups(aclient: AsyncLictor) -> None:
    explained = await aclient.check(subject=f"user:{BETH}", permission="member", object="group:viewer", explain=True)
    assert explained.allowed and explained.explanation is not None
    assert "user:beth@the-smiths.com" in explained.explanation.text
    batch = await aclient.checks(
        [(f"user:{BETH}", "member", "group:viewer"), (f"user:{BETH}", "member", "group:editor")]
    )
    assert [r.allowed for r in batch] == [True, False]
    objects = await aclient.lookup_objects(subject=f"user:{MORTY}", permission="member", object_type="group")
    assert objects.ids == ["editor", "viewer"]
    subjects = await aclient.lookup_subjects(object="group:admin", permission="member", subject_type="user")
    assert subjects.ids == [RICK]


@pytest.mark.asyncio
async def test_directory_round_trip(aclient: AsyncLictor) -> None:
    created = await aclient.set_object("resource:async-1", display_name="async", properties={"k": "v"})
    assert (await aclient.get_object(Ref("resource", "async-1"))) == created
    assert "async-1" in [o.id for o in (await aclient.get_objects(object_type="resource")).results]
    relation = await aclient.set_relation(object="resource:async-1", relation="owner", subject=f"user:{BETH}")
    assert await aclient.get_relation(object="resource:async-1", relation="owner", subject=f"user:{BETH}") == relation
    assert (await aclient.get_relations(object_type="resource", object_id="async-1")).results == [relation]
    assert await aclient.check(subject=f"user:{BETH}", permission="can_delete", object="resource:async-1")
    await aclient.delete_relation(object="resource:async-1", relation="owner", subject=f"user:{BETH}")
    assert not await aclient.check(subject=f"user:{BETH}", permission="can_delete", object="resource:async-1")
    await aclient.delete_object("resource:async-1", with_relations=True)
    with pytest.raises(LictorError) as e:
        await aclient.get_object("resource:async-1")
    assert e.value.code == StatusCode.NOT_FOUND


@pytest.mark.asyncio
async def test_manifest(aclient: AsyncLictor) -> None:
    manifest = await aclient.get_manifest()
    assert "resource:" in manifest.yaml and manifest.etag
    assert await aclient.set_manifest(manifest.yaml) > 0
    with pytest.raises(LictorError) as e:
        await aclient.set_manifest("types: [")
    assert e.value.code == StatusCode.INVALID_ARGUMENT


@pytest.mark.asyncio
async def test_consistency_tokens(aclient: AsyncLictor) -> None:
    created = await aclient.set_object("resource:async-token")
    relation = await aclient.set_relation(object="resource:async-token", relation="owner", subject=f"user:{MORTY}")
    assert created.revision is not None and relation.revision is not None
    assert 0 < created.revision < relation.revision
    assert await aclient.check(
        subject=f"user:{MORTY}", permission="can_delete", object="resource:async-token", min_revision=relation.revision
    )
    ahead = relation.revision + 1_000_000
    started = time.monotonic()
    with pytest.raises(LictorError) as e:
        await aclient.get_relations(object_type="resource", object_id="async-token", min_revision=ahead)
    assert e.value.code == StatusCode.UNAVAILABLE and e.value.status == 503
    assert f"revision {ahead}" in e.value.message
    assert time.monotonic() - started >= 0.9
    with pytest.raises(ValueError, match="min_revision must be a non-negative integer"):
        await aclient.is_allowed(identity=MORTY, policy_path="todoApp.GET.todos", min_revision=-1)
    deleted = await aclient.delete_object("resource:async-token", with_relations=True)
    assert deleted > relation.revision
    assert not await aclient.check(
        subject=f"user:{MORTY}", permission="can_delete", object="resource:async-token", min_revision=deleted
    )


@pytest.mark.asyncio
async def test_errors(aclient: AsyncLictor) -> None:
    with pytest.raises(LictorError) as e:
        await aclient.is_(identity=BETH, policy_path="nope.nothing")
    assert e.value.code == StatusCode.NOT_FOUND and e.value.status == 404
    async with AsyncLictor(url=dead_url(), timeout=2) as down:
        with pytest.raises(LictorConnectionError) as c:
            await down.is_allowed(identity=BETH, policy_path="todoApp.GET.todos")
    assert c.value.code == StatusCode.UNAVAILABLE and c.value.status is None
