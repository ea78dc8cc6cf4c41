import io
import json

import pytest
from django.core.management import CommandError, call_command

from districts.models import District, DistrictStatus
from sandbox import services as sandbox

pytestmark = pytest.mark.django_db


def _call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("clever_districts", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_output_is_the_summary_and_every_district(make_sandbox_district):
    springfield = make_sandbox_district("Springfield Unified", data={"nces_id": "1709930"})
    leaving = make_sandbox_district("Leaving District")
    _call()
    sandbox.disconnect_district(district=leaving)
    newcomer = make_sandbox_district("Newcomer District")

    out, _ = _call("--json")

    report = json.loads(out)
    assert report["created"] == [newcomer.id]
    assert report["disconnected"] == [leaving.id]
    assert report["total"] == 2 and report["errors"] == {}
    assert report["districts"] == sorted(
        [
            {"clever_id": springfield.id, "name": "Springfield Unified", "status": "connected"},
            {"clever_id": leaving.id, "name": "Leaving District", "status": "disconnected"},
            {"clever_id": newcomer.id, "name": "Newcomer District", "status": "connected"},
        ],
        key=lambda row: row["clever_id"],
    )
    assert District.objects.get(clever_id=springfield.id).nces_id == "1709930"


def test_text_output_lists_districts_and_errors(make_sandbox_district, sandbox_knobs):
    good = make_sandbox_district("Good District")
    bad = make_sandbox_district("Bad District")
    sandbox_knobs.add_fault("status", status=404, count=5, path_contains=f"/districts/{bad.id}")

    out, err = _call()

    assert f"{good.id}  Good District" in out
    assert "2 district(s) listed by Clever: 2 created" in out
    assert bad.id in err and "404" in err


def test_refused_credentials_are_a_clear_error(make_sandbox_district, settings):
    make_sandbox_district("Known District")
    settings.CLEVER_CLIENT_SECRET = "wrong-secret"
    out = io.StringIO()

    with pytest.raises(CommandError, match="refused the app's credentials") as caught:
        call_command("clever_districts", "--json", stdout=out)

    assert caught.value.returncode != 0
    assert "CLEVER_CLIENT_SECRET" in json.loads(out.getvalue())["error"]
    assert "wrong-secret" not in str(caught.value)
    assert not District.objects.exists()


def test_missing_credentials_are_a_clear_error(sandbox_app, settings):
    settings.CLEVER_CLIENT_ID = ""
    with pytest.raises(CommandError, match="client ID and secret are not configured"):
        _call()


def test_the_json_never_contains_a_token(make_sandbox_district):
    remote = make_sandbox_district()
    out, _ = _call("--json")
    assert sandbox.district_token(remote).access_token not in out
    assert json.loads(out)["districts"][0]["status"] == DistrictStatus.CONNECTED
