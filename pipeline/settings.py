"""Process settings from the environment (and `.env`); names are the contracts in DESIGN.md.

Only what is not chat lives here (Redis, the data folder, the HTTP server); each chat
platform reads its own settings next to its adapter (`adapters/<platform>/settings.py`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    data_dir: Path = Field(default=Path("var"), alias="NOVACAST_DATA_DIR")
    http_port: int = Field(default=8080, alias="NOVACAST_HTTP_PORT")
    public_url: str | None = Field(default=None, alias="NOVACAST_PUBLIC_URL")
    """Where people reach the bot's HTTP server (links to large videos); default localhost."""
    media_cache_mb: int = Field(default=2048, ge=1, alias="NOVACAST_MEDIA_CACHE_MB")
    """The media cache's size cap; least recently used files go first past it."""

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.http_port}").rstrip("/")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """Absolute, so paths in messages and in jobs on other processes mean the same file."""
        return path.expanduser().resolve()

    def media_dir(self, workspace: str, project_id: str) -> Path:
        return self.data_dir / "media" / workspace / project_id

    def published_dir(self, workspace: str) -> Path:
        return self.data_dir / "published" / workspace

    @property
    def media_cache_dir(self) -> Path:
        """Downloaded stock and generated pictures, by content (`pipeline.media.cache`)."""
        return self.data_dir / "cache" / "media"

    @property
    def media_cache_bytes(self) -> int:
        return self.media_cache_mb * 1024 * 1024

    @property
    def assets_dir(self) -> Path:
        """Each workspace's own photos and clips, by content (`pipeline.media.assets`)."""
        return self.data_dir / "assets"

    @property
    def incoming_dir(self) -> Path:
        """Where adapters drop a file a user sent while it is being vetted and stored."""
        return self.data_dir / "incoming"


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    return Settings()
