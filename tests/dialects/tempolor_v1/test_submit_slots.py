"""A submit answer's slot figures (`remainNum`, `totalNum`) count the request just admitted, as the
admission counted them under its lock (`scheduler.submit_counted`), without counting again."""

from __future__ import annotations

from pathlib import Path

from inprocess_app import open_app


def test_remain_num_counts_down_to_the_429(tmp_path: Path) -> None:
    with open_app(tmp_path) as a:
        api = "/v1/tempolor"
        r = a.client.post(
            api + "/accounts", json={"requestParams": {"user_id": "s"}, "maxJobs": 3}, headers=a.bearer
        )
        assert r.status_code == 200, r.text
        body = {"prompt": "soft piano", "user_id": "s"}
        answers = [a.client.post(api + "/music/instrumental", json=body, headers=a.bearer) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [(r.json()["remainNum"], r.json()["totalNum"]) for r in answers[:3]] == [
            (2, 3),
            (1, 3),
            (0, 3),
        ]
        assert all(len(set(r.json()["itemIds"])) == 2 for r in answers[:3])
