"""jsforce 3.10 (pinned in tests/clients/node/package-lock.json) against the emulator."""

from __future__ import annotations

from conftest import NODE, NODE_DIR, run_json

from connector.emulator.ids import ORG_ID, USER_ID


def test_jsforce_identity_retrieve_relationships_composite_logout(emu, client_env):
    token = emu.token()["access_token"]
    out = run_json([str(NODE), str(NODE_DIR / "jsforce_check.js"), emu.url, token], client_env)
    assert out["identity"]["user_id"] == USER_ID
    assert out["identity"]["organization_id"] == ORG_ID
    assert out["retrieve"] == ["Jansen", "De Vries"]
    assert out["parents"] == [["De Vries", "School"], ["Jansen", "School"]]
    assert out["children"] == ["De Vries", "Jansen"]
    assert out["composite"] == [201, 201, 200]
    assert out["after_logout"] == "INVALID_SESSION_ID"
