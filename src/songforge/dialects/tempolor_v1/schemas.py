"""Models that document the API in /openapi.json.

Request bodies are parsed by hand (JSON and multipart/form-data, unknown fields ignored, the
spec's error messages), so these request models serve the documentation; response models
document shapes and are not used to filter output, which keeps the read path lean.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from songforge.config import model_names
from songforge.dialects.tempolor_v1.params import TONALITIES


class ErrorBody(BaseModel):
    error: str = Field(examples=["Parameter prompt is required"])
    code: int = Field(examples=[400])


class RunningJob(BaseModel):
    user_id: str
    job_id: str
    started: int = Field(description="ms since the epoch")
    replyUrl: str | None = None
    replyRef: str | None = None


class BusyBody(BaseModel):
    error: str = Field(examples=["Account is busy executing 10 jobs"])
    runningJobs: dict[str, list[RunningJob]]
    code: int = Field(examples=[429])


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    requestParams: dict[str, Any] = Field(
        description="Required. `user_id` (else `ucid`) names the account, generated when absent; "
        "`engine` picks the engine that serves it (default `embedded`)."
    )
    maxJobs: int | None = Field(None, ge=1, le=100, description="Concurrent requests allowed; default 10")


class AccountView(BaseModel):
    user_id: str
    updated: int
    updatedUTC: str
    maxJobs: int
    requestParams: dict[str, Any]


class _MusicCommon(BaseModel):
    model_config = ConfigDict(extra="allow")
    user_id: str | None = Field(None, description="Optional when the token has exactly one account")
    prompt: str = Field(max_length=2000)
    replyUrl: str | None = Field(
        None, max_length=1024, description="http(s) URL called on progress and on the end"
    )
    replyRef: str | None = Field(None, max_length=1024)
    maxJobs: int | None = Field(
        None, ge=1, le=100, description="Overrides the account's maxJobs for this request"
    )


class SongRequest(_MusicCommon):
    lyrics: str | None = Field(None, max_length=3000)
    model_song: str | None = Field(
        None, description=f"One of {', '.join(model_names('song'))} (default the newest)"
    )
    artistVoiceItemId: str | None = None
    clonedVoiceItemId: str | None = None
    midiItemId: str | None = None


class InstrumentalRequest(_MusicCommon):
    model_instrumental: str | None = Field(
        None, description=f"One of {', '.join(model_names('instrumental'))} (default the newest)"
    )
    tonality: str | None = Field(None, description=f"One of {', '.join(TONALITIES)}")
    bpm: int | None = Field(None, ge=50, le=190)
    chords: str | None = Field(None, max_length=200, description="e.g. `C F G Am`; also accepted as `chord`")
    chord: str | None = Field(None, max_length=200)
    midiItemId: str | None = None


class LabelsRequest(BaseModel):
    """PATCH /music/{job_id}, a route of Songforge's own: either field or both; others are a 400."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The work's title (trimmed, 1 to 100 characters, one line), shown as `titleEn`; "
        "null puts the generated title back",
    )
    favorite: bool | None = Field(None, description="Marks the work a favourite (the record's `favorite`)")


class SubmitResponse(BaseModel):
    result: bool
    itemIds: list[str]
    jobs: list[str]
    remainSeconds: int
    maxGenCountAtOnce: int
    unlimited: bool
    remainNum: int
    totalNum: int


class MusicRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    itemId: str
    job_id: str
    status: int = Field(description="0 GENERATING, 10 FAILED, 30 COMPLETED")
    status_name: str
    status_final: bool
    progress: int
    titleEn: str = Field(
        description="The title its user chose (PATCH /music/{job_id}), else the generated one"
    )
    favorite: bool = Field(False, description="Ours: marked a favourite with PATCH /music/{job_id}")
    musicMaterial: dict[str, Any]
    ltmMaterialExtendDto: dict[str, Any]
    createTime: int
    updateTime: int
    error: str | None = Field(None, description="Why a FAILED job failed")


class MusicList(BaseModel):
    records: list[MusicRecord]
    hasNext: bool
    cursor: str


class DownloadLink(BaseModel):
    url: str
    remainSeconds: int


class ExecutingJob(BaseModel):
    model_config = ConfigDict(extra="allow")
    job_id: str
    started: str
    elapsed: str
    replyUrl: str | None = None
    replyRef: str | None = None


class AccountCapacity(BaseModel):
    user_id: str
    maxJobs: int
    executing: int
    available: int


class Available(BaseModel):
    executing: list[ExecutingJob]
    available: list[AccountCapacity]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting our error bodies."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": BusyBody if code == 429 else ErrorBody}
    return out


def doc(model: Any, *codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its 200 body and its error bodies."""
    return {200: {"model": model}, **errors(*codes)}


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra documenting a hand-parsed body that may be JSON or form data."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref},
                "multipart/form-data": {"schema": ref},
            },
        }
    }


# Hand-parsed request bodies whose schemas the OpenAPI document must carry (see body_doc).
DOCUMENTED_BODIES: tuple[type[BaseModel], ...] = (
    AccountRequest,
    SongRequest,
    InstrumentalRequest,
    LabelsRequest,
)
