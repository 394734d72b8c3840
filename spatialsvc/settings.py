"""All settings in one place.

Every value comes from the environment (prefix ``SPATIALSVC_``), from a ``.env`` file, or from
its default.  ``DATABASE_URL`` is honoured as is.  Nothing is read at import time: call
:func:`get_settings` (or build :class:`Settings` yourself in tests).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_root() -> Path:
    """Return the checkout the package runs from, or the working directory if installed."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


class Settings(BaseSettings):
    """Settings of the service and its tools."""

    model_config = SettingsConfigDict(
        env_prefix="SPATIALSVC_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SPATIALSVC_DATABASE_URL"),
        description="PostgreSQL URL; when unset, the project-local cluster is used.",
    )
    home: Path = Field(
        default_factory=lambda: _project_root() / ".spatialsvc",
        description="Folder for the project-local cluster, rasters and caches.",
    )
    pg_port: int = Field(default=55432, description="Port of the project-local cluster.")
    pg_database: str = Field(default="spatialsvc", description="Database of the local cluster.")
    pg_bin: Path | None = Field(
        default=None, description="Folder of initdb/pg_ctl (found if unset)."
    )
    install_packages: bool = Field(
        default=True, description="Install PostGIS from the system's packages when missing."
    )
    reference_dir: Path = Field(
        default_factory=lambda: _project_root() / "data" / "reference",
        description="Reference data shipped with the project (divisions, boundaries, POIs).",
    )
    demo_seed: int = 20261122
    demo_scale: float = 1.0

    host: str = Field(default="127.0.0.1", description="Address `spatialsvc serve` binds to.")
    port: int = Field(default=5000, ge=1, le=65535, description="Port `spatialsvc serve` uses.")
    public_url: str | None = Field(
        default=None, description="URL clients reach the service at (default http://HOST:PORT)."
    )
    layers_dir: Path = Field(
        default_factory=lambda: _project_root() / "layers",
        description="Folder of the published layers' files (layers/*.yml).",
    )
    extent: tuple[float, float, float, float] = Field(
        default=(121.13, 29.70, 121.60, 29.97),
        description="Default spatial extent of published layers (CRS84 minx, miny, maxx, maxy).",
    )
    title: str = Field(default="海曙区空间地理信息服务", description="Title of the service.")
    default_limit: int = Field(default=100, ge=1)
    max_limit: int = Field(default=10_000, ge=1)
    job_retention_days: float = Field(
        default=7.0,
        ge=0,
        description="How long finished process jobs and their result files are kept (days); "
        "the service prunes older ones by itself, at most once an hour; 0 keeps them all.",
    )
    coverage_json_max_cells: int = Field(
        default=1_000_000,
        ge=1,
        description="Most raster cells a coverage answer may hold as CoverageJSON (the whole "
        "demo DEM, 4 million cells, is 73 MB of JSON); GeoTIFF answers are not limited.",
    )
    geocoder_preload: bool = Field(
        default=True,
        description="Build the geocoder's address index in the background when the service "
        "starts (a few seconds), rather than on the first /geocode request.",
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs bearer tokens (HS256); when unset, a random one is kept in "
        "HOME/token-secret (created 0600 on first use).",
    )
    token_max_ttl: int = Field(default=86_400, ge=60, description="Longest token life (s).")
    oidc_issuer: str | None = Field(
        default=None, description="Issuer (iss) whose RS256/ES256 tokens are accepted."
    )
    oidc_jwks_file: Path | None = Field(
        default=None, description="The issuer's signing keys (a JWKS file; never fetched)."
    )
    oidc_audience: str | None = Field(default=None, description="Required aud, if any.")
    oidc_department_claim: str = Field(
        default="department", description="Claim holding the caller's department code."
    )
    oidc_role_claim: str = Field(default="role", description="Claim holding the caller's role.")
    access_control: bool = Field(
        default=True,
        description="Enforce sharing levels, masking, rate limits and audit on every route "
        "(spatialsvc.web.access). Turn it off only for a private test instance.",
    )
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a service process remembers a signed-in key or token and its "
        "grants (a revoked key or a new grant takes effect within this); 0 = check every time.",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Requests per minute per key (per address for the public), with access "
        "control on: a token bucket of this many, refilled at this many a minute, kept in "
        "PostgreSQL (auth.rate_bucket) and shared by every worker and machine; one database "
        "round trip per request when on; 0 turns the limit off (no database call).",
    )

    @property
    def url(self) -> str:
        """The service's public base URL, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def cluster_dir(self) -> Path:
        """Folder of the project-local PostgreSQL cluster."""
        return self.home / "pg"

    @property
    def raster_dir(self) -> Path:
        """Folder where ingested rasters are stored as Cloud-Optimised GeoTIFFs."""
        return self.home / "rasters"


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with optional overrides."""
    return Settings(**overrides)  # type: ignore[arg-type]
