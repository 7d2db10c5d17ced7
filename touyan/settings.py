"""The one settings object: defaults, overridden by ``TOUYAN_*`` env vars, then by CLI flags."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.query import MAX_TOP_K


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUYAN_", extra="ignore")

    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path(".touyan/index")
    embedder: str = "use"
    sparse: str = "e5"
    threads: int = Field(2, ge=1)
    chunk_chars: int = Field(300, ge=50)

    retriever: str = "hybrid"
    fusion: str = "weighted"
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=1, le=65535)

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(30.0, gt=0)

    def with_overrides(self, **values) -> "Settings":
        """A copy with the given non-None values (from CLI flags) applied, validated like the rest."""
        return Settings(**{**self.model_dump(), **{k: v for k, v in values.items() if v is not None}})
