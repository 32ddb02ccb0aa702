"""Settings: one pydantic-settings class, every field with a default and a help text.

Every setting is read from an environment variable with the ``CXLOOP_`` prefix (``CXLOOP_MIN_N=10``)
or from a ``.env`` file in the working directory. The README lists them all; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "development-only-secret"})


class Settings(BaseSettings):
    """cxloop's settings. Build with ``Settings()`` (reads the environment) or ``get_settings()``."""

    model_config = SettingsConfigDict(env_prefix="CXLOOP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="Where cxloop runs. Outside development a placeholder SECRET_KEY is refused.",
    )
    data_dir: Path = Field(
        Path("./cxloop-data"),
        description="Folder for the embedded stores, quarantine files and demo data.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the app database (org, users, surveys, cases, pilots). "
            "Default: a SQLite file `<DATA_DIR>/cxloop.db`; at scale `postgresql+psycopg://user@host/db`."
        ),
    )
    warehouse_url: str | None = Field(
        None,
        description=(
            "Ibis URL of the warehouse (responses, answers, customers, transactions, contacts, "
            "subscriptions). Default: a DuckDB file `duckdb://<DATA_DIR>/warehouse.duckdb`; "
            "`pyspark://local` for a local Spark session, or any other Ibis backend URL."
        ),
    )
    min_n: int = Field(
        5,
        ge=1,
        description="Anonymity threshold: any cell with fewer responses is suppressed everywhere.",
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence level for every interval and significance test."
    )
    secret_key: SecretStr = Field(
        SecretStr("change-me"),
        description="Key that signs sessions and tokens. Must be set to a long random value in production.",
    )
    import_batch_size: int = Field(
        100_000,
        ge=1,
        description="Rows per all-or-nothing import batch; files larger than memory stream in batches.",
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "CXLOOP_SECRET_KEY is a placeholder. Set it to a long random value, for example: "
                "export CXLOOP_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The app database URL, with the SQLite default under ``data_dir`` filled in."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'cxloop.db').as_posix()}"

    @property
    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, with the DuckDB default under ``data_dir`` filled in."""
        return self.warehouse_url or f"duckdb://{(self.data_dir / 'warehouse.duckdb').as_posix()}"

    @property
    def quarantine_dir(self) -> Path:
        """Where rejected import rows are written."""
        return self.data_dir / "quarantine"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
