"""The one settings object: defaults, overridden by ``TOUYAN_*`` env vars, then by CLI flags."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index import e5_tokens, embed, encode_pool
from service.query import FUSIONS, MAX_TOP_K, RETRIEVERS, TOKEN_RETRIEVERS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUYAN_", extra="ignore")

    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path(".touyan/index")
    # Where passages are searched: the build's own files, or Milvus (milvus:///abs/file.db for an
    # embedded milvus-lite file, http://host:19530 for a server): docs/scale.md.
    store: str = "embedded"
    documents_dir: Path = Path(".touyan/documents")  # uploaded documents (POST /documents), one folder a report
    max_upload_mb: float = Field(50.0, gt=0, description="the largest document POST /documents takes")
    embedder: str = "use"
    sparse: str = "e5"
    threads: int = Field(2, ge=1)
    chunk_chars: int = Field(300, ge=50)
    # Where a build encodes (index/encode_pool.py, docs/scale.md): 1 is the build's own
    # process; more starts that many worker processes sharing the cores. One per core: on two cores,
    # 2 processes x 1 thread encoded 1.22x as fast as the build's process on 2 threads, 1 process x
    # 2 threads 0.99x (eval/bench_encode.py). A cluster (ray, auto, ray://host:port) sends the same
    # batches to Ray instead.
    encode_workers: int = Field(default_factory=encode_pool.cores, ge=1, description="local processes a build encodes in (default: one per core); 1: the build's own process")
    encode_cluster: str | None = Field(None, description="Ray cluster a build encodes on: ray, auto or ray://host:port")

    retriever: str = "hybrid"
    fusion: str = "weighted"
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    # The answerability model's threshold (service/models/answerability.json) unless set: higher
    # refuses more of what the report does not say and answers less of what it does
    # (the trade-off held out: docs/answers.md).
    answer_threshold: float | None = Field(None, ge=0, le=1, description="confidence from which a question is answered; unset: the fitted model's")

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=1, le=65535)

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(30.0, gt=0)

    # Deployment (docs/operations.md): inbound API keys, browser origins, limits per request.
    api_key: str | None = Field(None, description="comma-separated keys; when set, every endpoint but /health, /docs and the page needs `Authorization: Bearer <key>`")
    cors_origins: str | None = Field(None, description="comma-separated origins allowed to call the API from a browser; unset: none")
    # One at a time: a question's encoding takes both cores, and two at once only slow each other
    # (eval/bench_load.py: 15 instead of 22 answers/s at 8 clients); a queue of 2 keeps the p99 of
    # accepted requests within 10x the one-client p50 up to 64 clients (figures in eval/RESULTS.md).
    max_active: int = Field(1, ge=1, description="requests answered at once; the rest wait in the queue")
    max_queue: int = Field(2, ge=0, description="requests that may wait; more are refused at once with 503 and Retry-After")
    body_timeout: float = Field(10.0, gt=0, description="seconds a client may take to send its request body (408 after)")

    @field_validator("index_dir")
    @classmethod
    def _index_dir_can_be_a_folder(cls, path: Path) -> Path:
        """Checked before the corpus is encoded for it, not when the encodings are written."""
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file, not a folder")
        return path

    @field_validator("store")
    @classmethod
    def _known_store(cls, uri: str) -> str:
        if uri != "embedded":
            from index.milvus_store import parse_uri

            parse_uri(uri)  # a ValueError says what a Milvus store looks like
        return uri

    @field_validator("encode_cluster")
    @classmethod
    def _known_cluster(cls, cluster: str | None) -> str | None:
        cluster = encode_pool.check_cluster(cluster or None)
        if cluster is not None and importlib.util.find_spec("ray") is None:
            raise ValueError("a Ray cluster needs Ray installed: pip install 'touyan[ray]'")
        return cluster

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, spec: str) -> str:
        return embed.check_spec(spec)

    @field_validator("sparse")
    @classmethod
    def _known_token_encoder(cls, spec: str) -> str:
        return e5_tokens.check_spec(spec)

    @field_validator("retriever", "fusion")
    @classmethod
    def _known_name(cls, name: str, info: ValidationInfo) -> str:
        known = {"retriever": RETRIEVERS, "fusion": FUSIONS}[info.field_name]
        if name not in known:
            raise ValueError(f"unknown {info.field_name} {name!r}: expected one of {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _retriever_has_its_vectors(self) -> "Settings":
        """Checked here, before an index is built or served, not on the first request."""
        if self.sparse == "none" and self.retriever in TOKEN_RETRIEVERS:
            raise ValueError(f"TOUYAN_RETRIEVER={self.retriever} reads e5 token vectors, which TOUYAN_SPARSE=none leaves out")
        return self

    @field_validator("api_key", "cors_origins")
    @classmethod
    def _no_blank_entry(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not all(part.strip() for part in value.split(",")):
            raise ValueError(f"a blank entry in the comma-separated {info.field_name.replace('_', ' ')}")
        return value

    @property
    def encode_plan(self) -> encode_pool.EncodePlan:
        return encode_pool.EncodePlan(self.encode_workers, self.encode_cluster)

    @property
    def api_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.api_key.split(",")) if self.api_key else ()

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",")] if self.cors_origins else []

    @classmethod
    def from_flags(cls, **flags) -> "Settings":
        """The env vars with the given non-None flags in their place: a flag replaces its variable
        before validation, so a bad variable the flag overrides is never read."""
        return cls(**{k: v for k, v in flags.items() if v is not None})

    def with_overrides(self, **values) -> "Settings":
        """A copy with the given non-None values (from CLI flags) applied, validated like the rest."""
        return Settings(**{**self.model_dump(), **{k: v for k, v in values.items() if v is not None}})
