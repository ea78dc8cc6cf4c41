"""The guard counts what the district lost, not what one run saw (``diff.recent_losses``).

A removal that reaches the mirror in pieces (during a full pass, across two nightly full syncs,
in a burst of incremental runs) is held as the same removal made at once would be.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from rostering.models import ChangeHold, Person, SyncRun
from rostering.services import diff
from rostering.services.lifecycle import purge_district_roster
from rostering.services.sync import approve_hold, run_sync
from sandbox import services as sandbox_services
from tests.rostering.conftest import connect, load_generated, mirror, truth
from tests.rostering.test_failures import Hooked
from tests.rostering.test_full_sync import assert_mirror_matches


def ids_with_role(sandbox_district, role: str) -> list[str]:
    return sorted(i for i, u in truth(sandbox_district)["users"].items() if role in u["roles"])


def spread(ids: list[str], fraction: float) -> list[str]:
    """``fraction`` of ``ids``, spread evenly across the ID range (every page loses some)."""
    count = round(len(ids) * fraction)
    step = len(ids) / count
    return [ids[int(i * step)] for i in range(count)]


def remove(ids) -> None:
    for clever_id in ids:
        sandbox_services.delete_record(clever_id=clever_id)


def deleted_reason(run: SyncRun, group: str) -> dict:
    return next(r for r in run.hold.reasons if r["type"] == group and r["rule"] == "deleted")


def archived_people(district) -> set[str]:
    return set(
        Person.objects.filter(district=district, archived_at__isnull=False).values_list(
            "clever_id", flat=True
        )
    )


@pytest.fixture
def synced_without_events(db, sandbox_app, client):
    """A district whose syncs are all full (events off): each night sees the roster once."""
    sandbox_district = load_generated(seed=3, students=300)
    sandbox_services.set_events_enabled(district=sandbox_district, enabled=False)
    district = connect(sandbox_district, events_enabled=False)
    assert run_sync(district=district, client=client).status == SyncRun.Status.SUCCEEDED
    return sandbox_district, district


def removal_during_the_pass(gone: list[str]):
    """A transport hook removing ``gone`` from Clever once the second page of users is asked
    for: the pass has read some of them already, and will miss the others."""
    state = {"users_pages": 0}

    def hook(request):
        if "/users" in request.url and "count=" not in request.url:
            state["users_pages"] += 1
            if state["users_pages"] == 2:
                remove(gone)

    return hook


@pytest.mark.parametrize("role, group", [("student", "students"), ("contact", "contacts")])
def test_a_removal_made_while_a_full_sync_reads_is_held_whole(synced, make_client, staff_user, role, group):
    sandbox_district, district = synced
    everyone = ids_with_role(sandbox_district, role)
    gone = spread(everyone, 0.15)
    before = mirror(district)
    client = make_client(page_size=100, http_adapter=Hooked(removal_during_the_pass(gone)))

    run = run_sync(district=district, kind="full", client=client)

    # The pages read before the removal still listed some of them; the events that arrived
    # during the pass name every one, and the run weighs them all.
    assert run.status == SyncRun.Status.HELD, run.error
    reason = deleted_reason(run, group)
    assert reason["count"] == len(gone) and reason["live"] == len(everyone)
    assert reason["fraction"] > 0.10
    assert mirror(district) == before  # nothing archived before support decides

    approved = approve_hold(hold=run.hold, user=staff_user)

    assert approved.status == SyncRun.Status.SUCCEEDED
    assert archived_people(district) == set(gone)
    assert_mirror_matches(district, sandbox_district)
    # The cursor moved past the removal's events: the next run has nothing left to do.
    again = run_sync(district=district, client=make_client(page_size=100))
    assert again.kind == SyncRun.Kind.INCREMENTAL and again.status == SyncRun.Status.SUCCEEDED
    assert sum(again.counts["archived"].values()) == 0


@pytest.mark.parametrize("role, group", [("student", "students"), ("contact", "contacts")])
def test_a_removal_split_across_two_full_syncs_is_held(synced_without_events, client, role, group):
    sandbox_district, district = synced_without_events
    everyone = ids_with_role(sandbox_district, role)
    gone = spread(everyone, 0.15)
    first_half, second_half = gone[: len(gone) // 2], gone[len(gone) // 2 :]
    remove(first_half)

    first = run_sync(district=district, client=client)

    assert first.kind == SyncRun.Kind.FULL and first.status == SyncRun.Status.SUCCEEDED
    assert first.losses[group] == len(first_half)  # under the threshold on its own
    remove(second_half)
    before = mirror(district)

    second = run_sync(district=district, client=client)

    assert second.status == SyncRun.Status.HELD, second.error
    reason = deleted_reason(second, group)
    assert reason["count"] == len(gone)  # what the district lost, across both runs
    assert reason["live"] == len(everyone)  # against the roster before the first removal
    assert reason["earlier"] == len(first_half)
    assert reason["since"]
    assert mirror(district) == before
    assert archived_people(district) == set(first_half)


def test_a_burst_of_small_incremental_removals_is_held_once_it_passes_the_threshold(synced, client):
    sandbox_district, district = synced
    contacts = ids_with_role(sandbox_district, "contact")
    gone = spread(contacts, 0.15)
    five_percent = int(len(contacts) * 0.05)
    slices = [gone[:five_percent], gone[five_percent : 2 * five_percent], gone[2 * five_percent :]]
    runs = []
    for piece in slices:
        remove(piece)
        runs.append(run_sync(district=district, client=client))

    assert [r.kind for r in runs] == [SyncRun.Kind.INCREMENTAL] * 3
    assert [r.status for r in runs[:2]] == [SyncRun.Status.SUCCEEDED] * 2  # 10% is allowed
    held = runs[2]
    assert held.status == SyncRun.Status.HELD, held.error
    reason = deleted_reason(held, "contacts")
    assert reason["count"] == len(gone) and reason["earlier"] == len(slices[0]) + len(slices[1])
    assert archived_people(district) == set(slices[0]) | set(slices[1])


def test_an_approved_hold_starts_a_new_window(synced_without_events, client, staff_user):
    sandbox_district, district = synced_without_events
    students = ids_with_role(sandbox_district, "student")
    remove(spread(students, 0.15))
    held = run_sync(district=district, client=client)
    approve_hold(hold=held.hold, user=staff_user)
    remaining = [i for i in ids_with_role(sandbox_district, "student")]
    remove(spread(remaining, 0.08))

    after = run_sync(district=district, client=client)

    # Support accepted the roster as it was: the earlier 15% is not weighed again.
    assert after.status == SyncRun.Status.SUCCEEDED, after.error


def test_losses_older_than_the_window_are_not_weighed(synced_without_events, client, settings):
    sandbox_district, district = synced_without_events
    students = ids_with_role(sandbox_district, "student")
    gone = spread(students, 0.15)
    remove(gone[: len(gone) // 2])
    first = run_sync(district=district, client=client)
    assert first.status == SyncRun.Status.SUCCEEDED
    SyncRun.objects.filter(pk=first.pk).update(
        finished_at=timezone.now() - timedelta(seconds=settings.SYNC_GUARD_WINDOW_SECONDS + 60)
    )
    remove(gone[len(gone) // 2 :])

    second = run_sync(district=district, client=client)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error


def test_a_purge_starts_a_new_window(synced_without_events, client):
    sandbox_district, district = synced_without_events
    students = ids_with_role(sandbox_district, "student")
    remove(spread(students, 0.08))
    assert run_sync(district=district, client=client).status == SyncRun.Status.SUCCEEDED
    purge_district_roster(district=district, actor_label="test")

    assert diff.recent_losses(district)[0] == {}


def test_recent_losses_nets_restored_rows_and_skips_held_and_approved_runs(synced, staff_user):
    _sandbox_district, district = synced
    now = timezone.now()

    def applied(losses, status=SyncRun.Status.SUCCEEDED):
        return SyncRun.objects.create(
            district=district, kind=SyncRun.Kind.INCREMENTAL, status=status, finished_at=now, losses=losses
        )

    applied({"students": 5, "users": 5})
    applied({"students": -2, "users": -2})  # two of them came back
    applied({"students": 50}, status=SyncRun.Status.HELD)  # never applied
    approved = applied({"contacts": 40})
    ChangeHold.objects.create(
        run=approved,
        status=ChangeHold.Status.APPROVED,
        decided_at=now - timedelta(minutes=1),
        decided_by=staff_user,
    )

    losses, since = diff.recent_losses(district)

    assert losses == {"students": 3, "users": 3}
    assert since == now - timedelta(minutes=1)  # the approval opened the window


def test_support_reads_the_cumulative_reason_in_words():
    from rostering.admin import reason_text

    text = reason_text(
        {
            "type": "students",
            "rule": "deleted",
            "count": 45,
            "live": 300,
            "fraction": 0.15,
            "threshold": 0.1,
            "earlier": 22,
            "since": "2026-12-02T02:00:00+00:00",
        }
    )

    assert text.startswith("students: 45 of 300 removed since ")
    assert "(15%, limit 10%)" in text
    assert "22 already archived by earlier syncs, 23 more would be now" in text


@pytest.mark.parametrize("role, group", [("student", "students"), ("contact", "contacts")])
def test_a_removal_split_across_a_full_sync_and_the_next_incremental_is_held(synced, client, role, group):
    sandbox_district, district = synced
    everyone = ids_with_role(sandbox_district, role)
    gone = spread(everyone, 0.15)
    first_half, second_half = gone[: len(gone) // 2], gone[len(gone) // 2 :]
    remove(first_half)
    full = run_sync(district=district, kind="full", client=client)
    assert full.status == SyncRun.Status.SUCCEEDED and full.losses[group] == len(first_half)
    remove(second_half)

    incremental = run_sync(district=district, client=client)

    assert incremental.kind == SyncRun.Kind.INCREMENTAL
    assert incremental.status == SyncRun.Status.HELD, incremental.error
    reason = deleted_reason(incremental, group)
    assert reason["count"] == len(gone) and reason["earlier"] == len(first_half)
    assert archived_people(district) == set(first_half)
