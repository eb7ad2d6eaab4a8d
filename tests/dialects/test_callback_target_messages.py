"""Each dialect names its own field in the outbound guard's refusals; the words after it are the
guard's. The texts are the ones clients saw before the guard stopped naming `replyUrl` itself.
Runs the real app in-process on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from songforge.config import Settings
from songforge.core.tenants import create_token
from songforge.dialects.platform.keys import create_key
from songforge.server import create_app

METADATA = "http://169.254.169.254/latest"
REFUSAL = (
    "host '169.254.169.254' resolves to 169.254.169.254: "
    "link-local addresses (cloud metadata) are never allowed"
)


def test_each_dialect_names_its_own_field(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=0, allow_private_callbacks=True)
    app = create_app(settings, run_workers=False, run_background=False)
    with TestClient(app) as client:
        with app.state.db.session() as s:
            created = create_token(s, "t")
            key = create_key(s, created.tenant_id).key
        bearer = {"Authorization": f"Bearer {created.token}"}
        r = client.post("/v1/tempolor/accounts", json={"requestParams": {"user_id": "u1"}}, headers=bearer)
        assert r.status_code == 200, r.text
        song = {"prompt": "x", "replyUrl": METADATA}
        r = client.post("/v1/tempolor/music/instrumental", json=song, headers=bearer)
        assert r.status_code == 400
        assert r.json() == {"error": f"Parameter replyUrl: replyUrl {REFUSAL}", "code": 400}

        body = {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": METADATA}
        r = client.post("/open-apis/v1/song/generate", json=body, headers={"Authorization": key})
        assert r.status_code == 200
        expected = f"Bad Parameter.: callback_url: callback_url {REFUSAL}"
        assert (r.json()["status"], r.json()["message"]) == (400003, expected)
