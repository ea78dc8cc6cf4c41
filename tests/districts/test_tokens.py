import json
import logging

import pytest
from django.db import connection

from clever.client import CleverClient
from districts import crypto, services
from districts.models import District, DistrictAudit, DistrictStatus
from sandbox import services as sandbox

from .conftest import live_token

pytestmark = pytest.mark.django_db


def _stored_column(district) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token_ciphertext FROM {District._meta.db_table} WHERE id = %s", [district.pk])
        return cursor.fetchone()[0]


def test_token_is_fetched_from_clever_then_served_from_the_cache(row_pair, make_client):
    remote, district = row_pair
    first = make_client()
    assert services.district_token(district, client=first) == live_token(remote)
    assert first.stats.requests == 1

    second = make_client()
    assert services.district_token(district, client=second) == live_token(remote)
    assert second.stats.requests == 0


def test_a_district_clever_does_not_list_has_no_token(row_pair, clever):
    remote, district = row_pair
    sandbox.disconnect_district(district=remote)
    with pytest.raises(services.NoToken, match=remote.id):
        services.district_token(district, client=clever)


def test_a_rotated_token_is_picked_up_once_the_cached_one_is_forgotten(row_pair, make_client):
    remote, district = row_pair
    old = services.district_token(district, client=make_client())
    new = sandbox.rotate_district_token(district=remote).access_token
    assert new != old
    assert services.district_token(district, client=make_client()) == old  # still cached

    services.forget_cached_token(district)

    assert services.district_token(district, client=make_client()) == new


def test_recheck_after_401_returns_the_rotated_token(row_pair, make_client):
    remote, district = row_pair
    old = services.district_token(district, client=make_client())
    new = sandbox.rotate_district_token(district=remote).access_token
    # The old token really is refused now, and the new one works.
    with pytest.raises(Exception, match="401"):
        make_client().with_token(old).get_record("districts", remote.id)

    token = services.recheck_after_unauthorized(district, rejected_token=old, client=make_client())

    assert token == new
    assert make_client().with_token(token).get_record("districts", remote.id)["id"] == remote.id
    district.refresh_from_db()
    assert district.status == DistrictStatus.CONNECTED
    assert not DistrictAudit.objects.filter(district=district).exists()


def test_recheck_marks_revoked_when_clever_refuses_its_current_token(row_pair, clever):
    remote, district = row_pair
    current = live_token(remote)

    assert services.recheck_after_unauthorized(district, rejected_token=current, client=clever) is None

    district.refresh_from_db()
    assert district.status == DistrictStatus.REVOKED
    assert services.token_fingerprint(current) in district.status_reason
    assert current not in district.status_reason
    audit = DistrictAudit.objects.get(district=district)
    assert audit.actor_label == "sync: 401"
    assert audit.details["to"] == "revoked"
    assert current not in json.dumps(audit.details)


def test_recheck_marks_disconnected_when_clever_lists_no_token(row_pair, clever):
    remote, district = row_pair
    old = live_token(remote)
    sandbox.disconnect_district(district=remote)

    assert services.recheck_after_unauthorized(district, rejected_token=old, client=clever) is None

    district.refresh_from_db()
    assert district.status == DistrictStatus.DISCONNECTED
    assert district.departed_at is not None


def test_recheck_with_a_pasted_token_marks_revoked(row_pair, staff_user, clever):
    remote, district = row_pair
    pasted = live_token(remote)
    services.set_pasted_token(district=district, token=pasted, actor=staff_user, client=clever)
    district.refresh_from_db()

    assert services.recheck_after_unauthorized(district, rejected_token=pasted, client=clever) is None

    district.refresh_from_db()
    assert district.status == DistrictStatus.REVOKED
    assert "pasted" in district.status_reason


def test_a_pasted_token_is_stored_encrypted_and_used(row_pair, staff_user, make_client, caplog):
    remote, district = row_pair
    token = live_token(remote)

    with caplog.at_level(logging.DEBUG):
        services.set_pasted_token(
            district=district, token=f"  {token}\n", actor=staff_user, client=make_client()
        )

    stored = _stored_column(district)
    assert stored and token not in stored
    assert crypto.decrypt(stored) == token
    district.refresh_from_db()
    assert district.has_stored_token and district.token_set_at is not None
    # Used without asking Clever, and it works against the API.
    lookup = make_client()
    used = services.district_token(district, client=lookup)
    assert used == token and lookup.stats.requests == 0
    assert CleverClient(used).get_record("districts", remote.id)["name"] == "Springfield Unified"
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.TOKEN_SET)
    assert audit.actor == staff_user and audit.actor_label == "staff: support"
    assert audit.details["fingerprint"] == services.token_fingerprint(token)
    assert audit.details["verified_with_clever"] is True
    assert token not in json.dumps(audit.details)
    assert token not in caplog.text


def test_a_pasted_token_of_another_district_is_refused(row_pair, staff_user, clever, make_sandbox_district):
    _, district = row_pair
    other = make_sandbox_district("Other District")
    foreign = live_token(other)

    with pytest.raises(services.TokenRejected, match="another Clever district") as caught:
        services.set_pasted_token(district=district, token=foreign, actor=staff_user, client=clever)

    assert foreign not in str(caught.value)
    assert services.token_fingerprint(foreign) in str(caught.value)
    district.refresh_from_db()
    assert district.token_ciphertext == ""
    assert not DistrictAudit.objects.filter(district=district).exists()


@pytest.mark.parametrize("bad", ["", "   ", "two words", "x" * 600])
def test_an_empty_or_malformed_pasted_token_is_refused_before_asking_clever(
    row_pair, staff_user, clever, bad
):
    _, district = row_pair
    with pytest.raises(services.TokenRejected):
        services.set_pasted_token(district=district, token=bad, actor=staff_user, client=clever)
    assert clever.stats.requests == 0
    assert not District.objects.get(pk=district.pk).has_stored_token


def test_a_revoked_pasted_token_is_refused(row_pair, staff_user, clever):
    remote, district = row_pair
    token = live_token(remote)
    sandbox.revoke_token(access_token=token)

    with pytest.raises(services.TokenRejected, match="401"):
        services.set_pasted_token(district=district, token=token, actor=staff_user, client=clever)
    assert not District.objects.get(pk=district.pk).has_stored_token


def test_a_verified_pasted_token_reconnects_a_revoked_district(row_pair, staff_user, clever):
    remote, district = row_pair
    services.set_status(district=district, status=DistrictStatus.REVOKED, actor_label="sync: 401")
    new = sandbox.rotate_district_token(district=remote).access_token

    district = services.set_pasted_token(district=district, token=new, actor=staff_user, client=clever)

    assert district.status == DistrictStatus.CONNECTED
    assert DistrictAudit.objects.filter(
        district=district, actor=staff_user, action=DistrictAudit.Action.STATUS_CHANGED
    ).exists()


def test_an_unverified_paste_is_recorded_as_such(row_pair, staff_user, clever):
    _, district = row_pair
    services.set_pasted_token(district=district, token="f" * 40, actor=staff_user, verify=False)
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.TOKEN_SET)
    assert audit.details["verified_with_clever"] is False
    assert crypto.decrypt(_stored_column(district)) == "f" * 40


def test_clearing_the_pasted_token_goes_back_to_clever(row_pair, staff_user, make_client):
    remote, district = row_pair
    sandbox.rotate_district_token(district=remote)
    pasted = live_token(remote)
    services.set_pasted_token(district=district, token=pasted, actor=staff_user, client=make_client())
    new = sandbox.rotate_district_token(district=remote).access_token

    district = services.clear_pasted_token(district=district, actor=staff_user)

    assert _stored_column(district) == "" and district.token_set_at is None
    lookup = make_client()
    assert services.district_token(district, client=lookup) == new
    assert lookup.stats.requests == 1
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.TOKEN_CLEARED)
    assert audit.actor == staff_user
    assert audit.details == {"fingerprint": services.token_fingerprint(pasted)}
    # Clearing again is a no-op.
    services.clear_pasted_token(district=district, actor=staff_user)
    assert DistrictAudit.objects.filter(action=DistrictAudit.Action.TOKEN_CLEARED).count() == 1


def test_a_sync_starting_while_the_cache_is_unreachable_fetches_its_token(
    row_pair, make_client, monkeypatch, caplog
):
    """Redis down at the start of a sync: the token cache is a miss, not a failure."""
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    def unreachable(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    remote, district = row_pair
    for name in ("get", "set", "delete"):
        monkeypatch.setattr(cache, name, unreachable)

    assert services.district_token(district, client=make_client()) == live_token(remote)
    services.forget_cached_token(district)
    assert "token cache unreachable" in caplog.text
