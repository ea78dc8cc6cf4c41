import pytest

from districts import selectors, services
from districts.models import District, DistrictAudit, DistrictStatus
from sandbox import services as sandbox

pytestmark = pytest.mark.django_db


def test_staff_disconnect_stops_syncs_and_discovery_keeps_it_disconnected(pair, staff_user, clever):
    remote, district = pair
    assert list(selectors.districts_needing_sync()) == [district]

    district = services.disconnect_district(district=district, actor=staff_user, reason="contract ended")

    assert district.status == DistrictStatus.DISCONNECTED and district.staff_disconnected
    assert list(selectors.districts_needing_sync()) == []
    audit = selectors.district_audits(district).first()
    assert audit.action == DistrictAudit.Action.STATUS_CHANGED
    assert audit.actor == staff_user and audit.details["reason"] == "contract ended"

    summary = services.discover_districts(client=clever)  # Clever still lists its token

    assert summary["kept_disconnected"] == [remote.id] and summary["reconnected"] == []
    assert District.objects.get(pk=district.pk).status == DistrictStatus.DISCONNECTED


def test_staff_reconnect_needs_a_token_listed_by_clever(pair, staff_user, make_client):
    remote, district = pair
    services.disconnect_district(district=district, actor=staff_user)
    sandbox.disconnect_district(district=remote)

    with pytest.raises(services.NoToken):
        services.reconnect_district(district=district, actor=staff_user, client=make_client())
    assert District.objects.get(pk=district.pk).status == DistrictStatus.DISCONNECTED

    sandbox.reconnect_district(district=remote)
    district = services.reconnect_district(district=district, actor=staff_user, client=make_client())

    assert district.status == DistrictStatus.CONNECTED and not district.staff_disconnected
    assert district.departed_at is None
    assert selectors.district_audits(district).first().details["to"] == "connected"


def test_pause_and_resume(pair, staff_user):
    _, district = pair

    district = services.pause_district(district=district, actor=staff_user, reason="summer")
    assert district.status == DistrictStatus.PAUSED
    assert not selectors.districts_needing_sync().exists()

    district = services.resume_district(district=district, actor=staff_user)
    assert district.status == DistrictStatus.CONNECTED
    assert selectors.districts_needing_sync().get() == district
    assert [
        a.details["to"]
        for a in selectors.district_audits(district, actions=[DistrictAudit.Action.STATUS_CHANGED])
    ] == ["connected", "paused"]
    # Resuming a connected district is a no-op.
    services.resume_district(district=district, actor=staff_user)
    assert selectors.district_audits(district, actions=["status_changed"]).count() == 2


def test_a_disconnected_district_cannot_be_paused_or_resumed(pair, staff_user):
    _, district = pair
    services.disconnect_district(district=district, actor=staff_user)
    with pytest.raises(services.DistrictStateError, match="disconnected"):
        services.pause_district(district=district, actor=staff_user)
    with pytest.raises(services.DistrictStateError, match="reconnect"):
        services.resume_district(district=district, actor=staff_user)
    assert District.objects.get(pk=district.pk).status == DistrictStatus.DISCONNECTED


def test_switching_syncs_off_is_audited(pair, staff_user):
    _, district = pair

    district = services.set_sync_enabled(district=district, enabled=False, actor=staff_user)

    assert district.sync_enabled is False and district.status == DistrictStatus.CONNECTED
    assert not selectors.districts_needing_sync().exists()
    audit = selectors.district_audits(district).first()
    assert audit.action == DistrictAudit.Action.SETTINGS_CHANGED
    assert audit.details["sync_enabled"] == {"from": True, "to": False}
    services.set_sync_enabled(district=district, enabled=False, actor=staff_user)
    assert selectors.district_audits(district, actions=["settings_changed"]).count() == 1


def test_sync_settings_changes_are_validated_and_audited_with_before_and_after(pair, staff_user):
    _, district = pair

    district = services.update_sync_settings(
        district=district,
        actor=staff_user,
        reason="summer roster cleanup",
        events_enabled=False,
        guard_max_deleted_fraction=0.3,
        guard_max_changed_fraction=None,
    )

    assert district.events_enabled is False and district.guard_max_deleted_fraction == 0.3
    audit = selectors.district_audits(district, actions=["settings_changed"]).get()
    # Only what changed is recorded (the changed-fraction default was already None).
    assert audit.details == {
        "events_enabled": {"from": True, "to": False},
        "guard_max_deleted_fraction": {"from": None, "to": 0.3},
        "reason": "summer roster cleanup",
    }
    with pytest.raises(services.DistrictStateError, match="between 0 and 1"):
        services.update_sync_settings(district=district, actor=staff_user, guard_max_changed_fraction=1.5)
    with pytest.raises(ValueError, match="not a sync setting: status"):
        services.update_sync_settings(district=district, actor=staff_user, status="connected")
    district.refresh_from_db()
    assert district.guard_max_changed_fraction is None and district.status == DistrictStatus.CONNECTED
    assert selectors.district_audits(district, actions=["settings_changed"]).count() == 1
