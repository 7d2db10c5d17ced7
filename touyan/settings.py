"""The one settings object: defaults, overridden by ``TOUYAN_*`` env vars, then by CLI flags."""
from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUYAN_", extra="ignore")

    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path(".touyan/index")
    embedder: str = "use"
    sparse: str = "e5"
    threads: int = 2
    chunk_chars: int = 300

    retriever: str = "hybrid"
    fusion: str = "weighted"
    top_k: int = 5

    host: str = "127.0.0.1"
    port: int = 8000

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 30.0

    def with_overrides(self, **values) -> "Settings":
        """A copy with the given non-None values (from CLI flags) applied."""
        return self.model_copy(update={k: v for k, v in values.items() if v is not None})
