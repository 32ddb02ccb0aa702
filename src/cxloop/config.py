"""Settings: one pydantic-settings class, every field with a default and a help text.

Every setting is read from an environment variable with the ``CXLOOP_`` prefix (``CXLOOP_MIN_N=10``)
or from a ``.env`` file in the working directory. The README lists them all; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.numbers import is_currency
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "development-only-secret"})
#: Where development keeps its generated signing key when ``CXLOOP_SECRET_KEY`` is not set.
DEVELOPMENT_SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
_MIN_GENERATED_SECRET = 32


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
    min_peers: int = Field(
        5,
        ge=2,
        description=(
            "Anonymity threshold for benchmarks: a peer aggregate or distribution (median, top quartile, "
            "rank) is published only when it holds at least this many units, each with at least `min_n` "
            "responses."
        ),
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence level for every interval and significance test."
    )
    locale: str = Field(
        "en",
        description=(
            "How pages, e-mails and CSV labels write numbers, money and dates: a CLDR locale such as `en`, "
            "`en_GB`, `de_DE` or `fr` (thousands separator, decimal mark, where the currency goes)."
        ),
    )
    currency: str = Field(
        "EUR",
        description=(
            "The programme's currency (ISO 4217: EUR, GBP, USD...): every amount of money is shown in it."
        ),
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Key that signs sessions, tokens and case webhooks. Required outside development (a long random "
            "value). Unset in development: a random key is generated once per data directory "
            "(`<DATA_DIR>/secret_key`, mode 0600) and the server answers only on loopback addresses."
        ),
    )
    import_batch_size: int = Field(
        100_000,
        ge=1,
        description="Rows per all-or-nothing import batch; files larger than memory stream in batches.",
    )
    import_max_rejected_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "Largest share of a file's rows that one reason may reject before a file import stops with "
            "nothing stored (a biased subset); `--accept-partial` imports the good rows anyway."
        ),
    )
    max_comment_chars: int = Field(
        20_000,
        ge=1,
        description=(
            "Longest comment a response may carry, in characters: a longer one rejects its row (a file "
            "import quarantines it; the API answers 422 when every row is rejected)."
        ),
    )
    max_rows_per_request: int = Field(
        5_000,
        ge=1,
        description=(
            "Most responses one POST /api/v1/responses or webhook delivery may carry; more are refused "
            "with 413 (import a file instead)."
        ),
    )
    max_items: int = Field(
        150,
        ge=1,
        description=(
            "Most driver items the catalogue may hold; an import or post that would add more is refused "
            "and nothing of it is stored (key-driver analyses over more than 42 items read rows, slower)."
        ),
    )
    max_new_items_per_request: int = Field(
        20,
        ge=0,
        description=(
            "Most new driver items one API post or webhook delivery may add (only an admin of the whole "
            "organisation adds any); more at once: `cxloop import` or `cxloop catalogue add-item`."
        ),
    )

    escalation_interval_seconds: float = Field(
        300.0,
        ge=0,
        description=(
            "How often the web app escalates cases whose SLA is breached and delivers pending notifications "
            "(seconds); 0 disables the in-app job (then schedule `cxloop cases escalate` with cron)."
        ),
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server for case e-mails (owner notified on open and escalation); unset: no e-mail.",
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with STARTTLS, 465 with TLS).")
    smtp_from: str = Field("cxloop@localhost", description="Sender address of case e-mails.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password, if the server wants one.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "none", description="`none`, `starttls` (upgrade a plain connection) or `tls` (implicit TLS)."
    )
    case_webhook_url: str | None = Field(
        None,
        description="URL that receives a JSON POST for every case event (opened, escalated...); unset: none.",
    )
    notify_max_attempts: int = Field(
        5,
        ge=1,
        description="Delivery attempts per notification before it is marked failed (backoff doubles).",
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Per-source secrets of the signed webhook receiver, as JSON: "
            '{"qualtrics": "long-random-secret"}. '
            "A source without a secret is refused."
        ),
    )
    webhook_tolerance_seconds: int = Field(
        300,
        ge=1,
        description="Webhook deliveries whose signed timestamp is older (or newer) than this are refused.",
    )
    min_free_disk_mb: int = Field(
        1024,
        ge=0,
        description=(
            "Free space (MiB) `/readyz` wants on the file system of the data directory (and of a SQLite or "
            "DuckDB file kept elsewhere); below it the app answers not ready. 0 turns the check off."
        ),
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="The app's address as users reach it (links in case e-mails)."
    )
    max_json_body_bytes: int = Field(
        5 << 20,
        ge=1024,
        description=(
            "Largest body of a JSON API post or patch (bytes, default 5 MB); a bigger one answers 413 before "
            "it is read (batches of responses beyond it: `cxloop import`)."
        ),
    )
    max_form_body_bytes: int = Field(
        1 << 20,
        ge=1024,
        description=(
            "Largest body of a page's form post, the token login, or any other request without a larger "
            "limit (bytes, default 1 MB); a bigger one answers 413 before it is read."
        ),
    )
    max_upload_bytes: int = Field(
        200 << 20,
        ge=1024,
        description=(
            "Largest survey export uploaded on the admin page (bytes, default 200 MB); bigger files: "
            "`cxloop import responses FILE --from auto`."
        ),
    )
    uploads_quota_bytes: int = Field(
        2 << 30,
        ge=1024,
        description=(
            "Most disk the uploaded exports in `<DATA_DIR>/uploads` may take together (bytes, default 2 GB); "
            "an upload that would pass it answers 413."
        ),
    )
    dashboard_staleness_seconds: float = Field(
        10.0,
        ge=0,
        description=(
            "How old (seconds, default 10) a dashboard read's answer may be while new responses arrive: "
            "within it an answer computed before the latest writes is served as it is; after it one request "
            "recomputes the answer while the others keep getting the older one, so each question is "
            "recomputed at most once per interval however many writes arrive. 0: every read after a write "
            "recomputes (the older answer only while another request is at it). Web pages and GET API "
            "routes only; alert rules, imports and the command line always read current data."
        ),
    )
    result_cache_mb: int = Field(
        256,
        ge=0,
        description=(
            "Most memory (MiB, approximate, default 256) the server's cache of computed answers may hold; "
            "the least recently used answers are dropped past it. 0 keeps nothing."
        ),
    )
    warehouse_memory_mb: int = Field(
        0,
        ge=0,
        description=(
            "DuckDB warehouse only: the engine's memory limit (MiB; its buffer pool and query memory, "
            "spilling to disk past it). 0 (default) keeps DuckDB's own default, 80% of the machine's RAM."
        ),
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError) as exc:
            raise ValueError(
                f"unknown locale {value!r}: use a CLDR locale such as en, en_GB, de_DE or fr"
            ) from exc
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if not is_currency(code):
            raise ValueError(f"unknown currency {value!r}: use an ISO 4217 code such as EUR, GBP or USD")
        return code

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and not self.has_secret_key:
            raise ValueError(
                "CXLOOP_SECRET_KEY is a placeholder. Set it to a long random value, for example: "
                "export CXLOOP_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def has_secret_key(self) -> bool:
        """Whether ``CXLOOP_SECRET_KEY`` holds a real key (set, and not a placeholder like ``change-me``)."""
        return self.secret_key is not None and self.secret_key.get_secret_value() not in PLACEHOLDER_SECRETS

    @property
    def development_secret_path(self) -> Path:
        """The file development keeps its generated signing key in (used only without a secret key)."""
        return self.data_dir / DEVELOPMENT_SECRET_FILE

    def signing_secret(self) -> SecretStr:
        """The key that signs sessions, tokens and webhooks: ``secret_key``, or in development without one
        the random key generated for this data directory (created on first use, mode 0600).

        Never a constant from the source: a token signed with a published placeholder is refused.
        """
        if self.has_secret_key:
            assert self.secret_key is not None  # has_secret_key says so
            return self.secret_key
        return _development_secret(self.development_secret_path.resolve())

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


@lru_cache(maxsize=64)
def _development_secret(path: Path) -> SecretStr:
    """The random key kept in ``path``, made on first use (read once per process and path).

    Made in a temporary file (0600) and linked into place, so two processes starting at once agree on one
    key and neither ever reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(scratch, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            scratch.unlink(missing_ok=True)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < _MIN_GENERATED_SECRET:
        raise ValueError(
            f"{path} holds no usable key (fewer than {_MIN_GENERATED_SECRET} characters): delete it to make "
            "a new one (everyone logs in again), or set CXLOOP_SECRET_KEY"
        )
    return SecretStr(value)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
