"""S3BlobStore against a real S3-compatible HTTP server (moto in server mode on loopback)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from songforge.config import Settings
from songforge.http import signing
from songforge.store.blobs import BlobStore, LocalBlobStore
from songforge.store.factory import open_blob_store
from songforge.store.s3 import S3BlobStore
from store.scale_services import S3_ENV, make_bucket, moto_s3, s3_client


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        with moto_s3(tmp_path_factory.mktemp("moto")) as url:
            make_bucket(url, "bkt")
            yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def store(endpoint: str, tmp_path: Path) -> S3BlobStore:
    settings = Settings(data_dir=tmp_path, blob_store="s3://bkt/pre/fix", s3_endpoint=endpoint)
    blobs = open_blob_store(settings)
    assert isinstance(blobs, S3BlobStore) and isinstance(blobs, BlobStore)
    return blobs


def test_put_read_delete_round_trip(store: S3BlobStore, endpoint: str, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    src.write_bytes(b"RIFF" + b"\0" * 2000)
    store.put_file("jobs/a1/a1.wav", src)
    assert not src.exists()  # moved into the store, as with the local store
    store.put_bytes("jobs/a1/a1.mp3", b"ID3data")
    raw = s3_client(endpoint).get_object(Bucket="bkt", Key="pre/fix/jobs/a1/a1.wav")
    assert raw["ContentType"] == "audio/wav" and raw["Body"].read()[:4] == b"RIFF"
    assert store.exists("jobs/a1/a1.mp3") and not store.exists("jobs/a1/none.mp3")
    local = store.path("jobs/a1/a1.mp3")
    assert local.read_bytes() == b"ID3data" and local.is_relative_to(store.root)
    assert not store.path("jobs/a1/none.mp3").is_file()
    store.delete_prefix("jobs/a1")
    assert not store.exists("jobs/a1/a1.wav") and not store.exists("jobs/a1/a1.mp3")
    assert not store.path("jobs/a1/a1.mp3").is_file()  # the cached copy went too
    with pytest.raises(ValueError):
        store.path("../etc/passwd")


def test_cached_copy_is_revalidated_when_the_object_changes(store: S3BlobStore) -> None:
    store.put_bytes("voices/v1/sample.wav", b"first")
    assert store.path("voices/v1/sample.wav").read_bytes() == b"first"
    store.put_bytes("voices/v1/sample.wav", b"second version")  # e.g. a retried job rewrites its keys
    assert store.path("voices/v1/sample.wav").read_bytes() == b"second version"


def test_presigned_links_work_without_credentials_and_expire(store: S3BlobStore, tmp_path: Path) -> None:
    store.put_bytes("jobs/b2/b2.mp3", b"ID3" + b"x" * 100)
    url = store.presign("jobs/b2/b2.mp3", 60)
    assert url is not None
    got = httpx.get(url)
    assert got.status_code == 200 and got.content.startswith(b"ID3")
    assert got.headers["content-type"] == "audio/mpeg"
    assert 'filename="b2.mp3"' in got.headers["content-disposition"]
    # The link's lifetime is the download TTL (moto does not enforce expiry, so the signed
    # parameter is what can be checked here), capped at SigV4's 7 days.
    assert "X-Amz-Expires=60&" in url
    assert "X-Amz-Expires=604800&" in (store.presign("jobs/b2/b2.mp3", 30 * 24 * 3600) or "")
    # signed_url (what every router calls) hands out the store's presigned URL once registered.
    signing.use_blob_store(tmp_path, store)
    link = signing.signed_url(tmp_path, "http://api.example", "jobs/b2/b2.mp3", 3600)
    assert link.startswith(store.client.meta.endpoint_url) and "X-Amz-Expires=3600" in link


def test_local_store_keeps_our_own_signed_links(tmp_path: Path) -> None:
    local = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalBlobStore) and local.presign("jobs/x/x.mp3", 60) is None
    signing.use_blob_store(tmp_path, local)
    assert signing.signed_url(tmp_path, "http://h", "jobs/x/x.mp3", 60).startswith(
        "http://h/files/jobs/x/x.mp3?"
    )
    with pytest.raises(ValueError):
        open_blob_store(Settings(data_dir=tmp_path, blob_store="gs://nope"))
