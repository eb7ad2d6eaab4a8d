"""Uploads against a real server process with its worker: voices reach ready, stems come back as a
zip behind a signed link, oversized bodies are cut off while they stream, tenants stay apart."""

from __future__ import annotations

import io
import socket
import zipfile

import httpx
import numpy as np
import pytest
import soundfile as sf
from e2e_helpers import make_account

pytestmark = pytest.mark.slow


def _wav(audio: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _sung(seconds: float = 6.0, sr: int = 22050) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(220 * 2 ** (0.25 * np.sin(2 * np.pi * 0.3 * t))) / sr
    gate = (np.sin(2 * np.pi * 1.2 * t) > -0.6).astype(float)
    return _wav(0.2 * gate * sum(np.sin(k * phase) / k for k in range(1, 8)), sr)


def _raw_post(port: int, path: str, headers: dict[str, str], chunks: int, chunk: bytes) -> bytes:
    """Streams a chunked body and returns whatever the server answered, even mid-upload."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            for _ in range(chunks):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body ended: that is the point
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < 200:
                more = sock.recv(65536)
                if not more:
                    break
                data += more
        except (ConnectionResetError, TimeoutError):
            pass
        return data


def test_uploads_over_real_http(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(env={"SONGFORGE_UPLOAD_WAIT_SECONDS": "40", "SONGFORGE_MAX_MIDI_BYTES": "100000"})
    other_token, _secret, _tenant = server.create_token("other")
    with server.client() as c, server.client(other_token) as other:
        make_account(c, "u1")
        make_account(other, "u2")

        # A voice sample, without the trailing slash: analysed by the worker within the wait.
        r = c.post("/music/cloned-voices?name=singer", content=_sung(), headers={"Content-Type": "audio/wav"})
        assert r.status_code == 200, r.text
        voice = r.json()
        assert voice["result"] is True and voice["clonedVoiceItemId"].endswith(":" + voice["itemId"])
        records = c.get("/music/cloned-voices/").json()["records"]
        assert [(x["itemId"], x["status"]) for x in records] == [(voice["itemId"], 30)]
        assert other.get("/music/cloned-voices/").json()["records"] == []
        assert other.delete(f"/music/cloned-voices/{voice['clonedVoiceItemId']}").status_code == 404

        # The voice is usable by a song request of its owner only.
        song = {"prompt": "a gentle folk song", "clonedVoiceItemId": voice["clonedVoiceItemId"]}
        assert other.post("/music/song", json=song).status_code == 404

        # A stems split: answered when done, the zip behind a link that needs no token.
        sr = 44100
        t = np.arange(sr * 4) / sr
        mix = np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3
        r = c.post("/music/stems-splitter/", content=_wav(mix, sr), headers={"Content-Type": "audio/wave"})
        assert r.status_code == 200, r.text
        stems = r.json()
        assert stems["state"] == 2 and stems["audioType"] == "wav"
        z = httpx.get(stems["stemsZipUrl"], timeout=30)
        assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
            assert set(zf.namelist()) == {"vocals.wav", "drums.wav", "bass.wav", "other.wav", "original.wav"}
        tampered = stems["stemsZipUrl"].replace("stems.zip", "source.wav")
        assert httpx.get(tampered, timeout=30).status_code == 403
        poll = f"/music/stems-splitter/{stems['stemsItemId']}"
        assert c.get(poll).json()["state"] == 2
        assert other.get(poll).status_code == 404

        # A MIDI body far over the cap is refused while it streams (no Content-Length to trust).
        answer = _raw_post(
            server.port,
            "/v1/tempolor/music/midi/?name=big",
            {**server.headers, "Content-Type": "audio/midi"},
            chunks=400,
            chunk=b"\0" * 65536,  # 25 MiB offered; the cap is 100 kB
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"code":413' in answer
        assert c.get("/music/midi/").json()["records"] == []

        # Nothing of the failed uploads is left in the blob store's scratch area.
        incoming = server.data_dir / "blobs" / ".incoming"
        assert not incoming.exists() or list(incoming.iterdir()) == []
