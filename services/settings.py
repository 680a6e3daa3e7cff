"""All configuration, from the environment, in one place (docs/operations.md's table mirrors it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SECRET_FIELDS = ("token_secret", "cipher_key", "cipher_old_keys", "nats_password",
                 "postgres_password", "oidc_client_secret", "web_session_secret")
"""Each may be given as a file instead: ``CARELOOP_<NAME>_FILE`` (compose and Kubernetes
secrets are files; a value in a file stays out of the environment and process listings)."""


class SecretFiles(PydanticBaseSettingsSource):
    """Reads ``CARELOOP_<NAME>_FILE`` for the secret settings (one trailing newline dropped).
    Setting both a variable and its ``_FILE`` is refused rather than guessed."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[None, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in SECRET_FIELDS:
            variable = f"CARELOOP_{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise ValueError(f"both {variable} and {variable}_FILE are set: keep one")
            try:
                values[name] = Path(path).read_text().removesuffix("\n").removesuffix("\r")
            except OSError as e:
                raise ValueError(f"{variable}_FILE: cannot read {path} "
                                 f"({e.strerror or type(e).__name__})") from None
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARELOOP_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path("data"), description="Embedded mode's files.")
    nats_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NATS_URL", "CARELOOP_NATS_URL"),
        description="NATS server(s); unset starts an embedded nats-server.",
    )
    store: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path | None = Field(default=None, description="Default: <data_dir>/careloop.sqlite3")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_dbname: str = "careloop"
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_schema: str = "public"
    postgres_pool_size: int = 5
    stream_inbound: str = "CARELOOP_INBOUND"
    stream_events: str = "CARELOOP_EVENTS"
    stream_receipts: str = "CARELOOP_RECEIPTS"
    stream_deadletter: str = "CARELOOP_DEADLETTER"
    stream_feed: str = Field(default="CARELOOP_FEED",
                             description="Feed streams are named <this>_<organisation>.")
    feeds: bool = Field(default=True, description="Publish the partner feeds (the `feeds` "
                        "component; off only to keep a test's store free of feed disclosures).")
    stream_replicas: int = 1
    consumer_prefix: str = "careloop"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    relay_poll_seconds: float = 0.2
    ingest_max_deliver: int = Field(
        default=4, description="Attempts (within seconds) before a failing message is dead-lettered.")
    ingest_batch_size: int = Field(
        default=256, description="Inbound messages fetched, applied and committed together."
    )
    ingest_partitions: int = Field(
        default=1, ge=1, description="Ingest processes sharing the inbound stream, each "
        "owning the team systems whose name hashes to its partition (the same everywhere).")
    ingest_partition: int = Field(
        default=0, ge=0, description="This ingest process's partition, 0 .. partitions-1.")
    instance_id: str = Field(
        default="", description="This process's name in leases and health reports; "
        "default host name and process id.")
    deadline_check_seconds: float = 60.0
    hash_chain_seconds: float = Field(
        default=1.0, description="How often the hash chain is extended to the store's head."
    )
    hash_chain_verify_seconds: float = Field(
        default=5.0, description="How often the whole chain is re-verified against the store.")
    health_stall_seconds: float = Field(
        default=10.0, description="A backlog whose position has not moved for this long, or a "
        "component silent for this long, makes /health degraded.")
    health_recent_seconds: float = Field(
        default=3600.0, description="Quarantined events and dead letters this recent make "
        "/health degraded.")
    ops_port: int | None = Field(
        default=None, description="Port of this process's ops endpoint (/metrics, /livez, "
        "/readyz); unset: none; 0: any free port (runtime.json names it).")
    ops_host: str = Field(default="127.0.0.1", description="Address the ops endpoint listens "
                          "on (0.0.0.0 where Prometheus scrapes over the network).")
    metrics_token: str = Field(
        default="", repr=False, description="If set, the API's /metrics answers only "
        "`Authorization: Bearer <token>` (the ops port is for the private network).")
    access_log: bool = Field(default=True, description="One log line per HTTP request "
                             "(method, route template, status, duration, correlation id).")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    token_secret: str | None = Field(
        default=None, description="HMAC secret for access tokens; embedded mode makes one.")
    token_issuer: str = "careloop"
    token_audience: str | None = Field(
        default=None, description="Required `aud` of every token, when set.")
    token_jwks_url: str | None = Field(
        default=None, description="An identity provider's JWKS: trust its RS256/ES256 tokens.")
    break_glass_minutes: int = 60
    disclosure_batch_ms: float = Field(
        default=0.0, description="Extra wait to gather reads into one commit; 0 commits "
        "whatever is waiting as soon as the previous commit is done.")
    view_cache_poll_ms: float = Field(
        default=10.0, description="How often the API asks the view store which documents "
        "changed (its in-memory copies are at most this much staler than the store).")
    encryption: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Event payloads and view documents encrypted at rest: auto and on = on "
        "(embedded SQLite makes its own key); off = plaintext on purpose.",
    )
    cipher_key: str = Field(
        default="", repr=False, description="Base64 AES key (16, 24 or 32 bytes): `careloop keygen`."
    )
    cipher_old_keys: str = Field(
        default="", repr=False, description="Earlier keys, comma-separated: read, never written.")
    partners_file: Path | None = Field(
        default=None, description="Partner registry (JSON): which organisations each system speaks for."
    )
    nats_user: str = Field(default="", description="careloop's own NATS user.")
    nats_password: str = Field(default="", repr=False)
    nats_tls_ca: Path | None = Field(default=None, description="CA bundle that signed the NATS server.")
    nats_tls_cert: Path | None = Field(default=None, description="Client certificate, if required.")
    nats_tls_key: Path | None = Field(default=None, description="Client certificate's key.")

    oidc_issuer: str = Field(
        default="", description="OpenID Connect issuer the web sign-in uses (unset: embedded "
        "mode's local sign-in).")
    oidc_client_id: str = "careloop-web"
    oidc_client_secret: str = Field(default="", repr=False)
    oidc_role_claim: str = "role"
    oidc_organisation_claim: str = "org"
    web_base_url: str = Field(
        default="", description="The pages' public address (https://...); default the HTTP address.")
    web_session_secret: str = Field(
        default="", repr=False, description="Signs web session cookies; default derived from "
        "the token secret.")
    web_session_idle_minutes: int = 30
    web_session_hours: int = 8

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings,
                file_secret_settings)

    @property
    def resolved_sqlite_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "careloop.sqlite3"


def private_files(data_dir: Path) -> None:
    """Everything this process (and the nats-server it starts) creates from now on is
    readable by its owner only: files 0600, folders 0700; what is already in the data
    folder is brought to the same modes."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):  # files an earlier version left readable to others
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)
