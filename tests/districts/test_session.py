"""A district's API session against the sandbox: the token looked up once, a 401 answered by a
re-check (a rotated token is used for the same request), and the traffic counted across tokens."""

import pytest

from districts.models import DistrictStatus
from districts.session import DistrictSession, TokenRefused
from sandbox import services as sandbox

pytestmark = pytest.mark.django_db


def district_name(remote):
    return lambda client: client.get_record("districts", remote.id)["name"]


def test_a_rotated_token_is_used_after_one_401_and_the_traffic_adds_up(row_pair, clever):
    remote, district = row_pair
    session = DistrictSession(district, clever)
    assert session.call(district_name(remote)) == "Springfield Unified"  # token looked up: 1 + 1
    old = session.token
    new = sandbox.rotate_district_token(district=remote).access_token

    # The old token gets a 401, the re-check finds the new one, the same read succeeds with it.
    assert session.call(district_name(remote)) == "Springfield Unified"

    assert session.token == new != old
    assert session.rechecks == 1
    with_tokens = session.stats(token_lookups=False)
    assert with_tokens.requests == 3  # a read with the old token, the refused one, the retry
    assert session.stats().requests == 3 + 2  # and two look-ups of the token
    district.refresh_from_db()
    assert district.status == DistrictStatus.CONNECTED


def test_a_second_401_in_a_session_is_not_rechecked(row_pair, clever):
    remote, district = row_pair
    session = DistrictSession(district, clever)
    session.call(district_name(remote))
    sandbox.rotate_district_token(district=remote)
    session.call(district_name(remote))
    sandbox.rotate_district_token(district=remote)
    before = session.stats().requests

    with pytest.raises(TokenRefused, match="again after a re-check"):
        session.call(district_name(remote))

    assert session.stats().requests == before + 1  # no look-up of the token this time
    assert session.rechecks == 1


def test_a_401_without_a_new_token_refuses_and_says_what_the_district_became(row_pair, clever):
    remote, district = row_pair
    session = DistrictSession(district, clever)
    session.call(district_name(remote))
    sandbox.disconnect_district(district=remote)

    with pytest.raises(TokenRefused, match="the district is now disconnected"):
        session.call(district_name(remote))

    district.refresh_from_db()
    assert district.status == DistrictStatus.DISCONNECTED
    # The refused token's traffic is still counted once its client is dropped.
    assert session.client is None
    assert session.stats(token_lookups=False).requests == 2


def test_recheck_token_picks_up_a_rotated_token_for_the_next_open(row_pair, clever):
    remote, district = row_pair
    session = DistrictSession(district, clever, lms_timeout=20.0)
    first = session.open()
    assert first.lms_timeout == 20.0
    new = sandbox.rotate_district_token(district=remote).access_token

    assert session.recheck_token() is True

    assert session.token == new
    assert session.open() is not first and session.open().lms_timeout == 20.0
    assert session.open().get_record("districts", remote.id)["id"] == remote.id
