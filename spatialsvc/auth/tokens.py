"""Bearer tokens: the service's own (HS256, issued for an API key's principal) and, when
configured, an external OIDC issuer's (RS256/ES256, keys from a local JWKS file).

The signing secret comes from ``SPATIALSVC_TOKEN_SECRET`` or from ``HOME/token-secret``, made
with mode 0600 on first use; it is never in the code.  A token outlives a revoked key until it
expires: keep ``--ttl`` short (``token_max_ttl`` caps it).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from spatialsvc.auth.principal import KEY_ROLES, Principal
from spatialsvc.errors import ConfigError, InvalidInput, Unauthorized
from spatialsvc.settings import Settings

ISSUER = "spatialsvc"
SERVICE_ALG = "HS256"
OIDC_ALGS = ("RS256", "ES256")
_LEEWAY = 30  # seconds of clock skew tolerated
_MIN_SECRET = 32


def secret_file(settings: Settings) -> Path:
    """Where the signing secret is kept when the environment does not give one."""
    return settings.home / "token-secret"


def signing_secret(settings: Settings) -> bytes:
    """The HS256 secret: from the settings, else from the 0600 file (made on first use)."""
    if settings.token_secret is not None:
        value = settings.token_secret.get_secret_value().encode("utf-8")
        if len(value) < _MIN_SECRET:
            raise ConfigError(f"SPATIALSVC_TOKEN_SECRET must be at least {_MIN_SECRET} bytes")
        return value
    path = secret_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(48))
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others: chmod 600 it")
    value = path.read_text(encoding="ascii").strip().encode("ascii")
    if len(value) < _MIN_SECRET:
        raise ConfigError(f"{path} holds a secret shorter than {_MIN_SECRET} bytes")
    return value


def issue(settings: Settings, principal: Principal, ttl: int = 3600) -> str:
    """A signed bearer token for a key's principal, valid ``ttl`` seconds."""
    if principal.department is None or principal.key_id is None:
        raise InvalidInput("tokens are issued for an API key, not for the public")
    if not 1 <= ttl <= settings.token_max_ttl:
        raise InvalidInput(f"--ttl must be between 1 and {settings.token_max_ttl} seconds")
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": principal.key_id,
        "department": principal.department,
        "role": principal.role,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_secret(settings), algorithm=SERVICE_ALG)


def verify(settings: Settings, token: str) -> Principal:
    """The principal of a bearer token, or :class:`Unauthorized` with a one-line reason.

    The header's ``alg`` only chooses which keys to try: HS256 is checked against the
    service's secret, RS256/ES256 against the OIDC issuer's JWKS, never the other way round.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the bearer token is not a JWT") from exc
    alg = header.get("alg")
    if alg == SERVICE_ALG:
        claims = _decode(token, signing_secret(settings), [SERVICE_ALG], ISSUER, None)
        return _principal(claims, "department", "role", service=True)
    if alg in OIDC_ALGS:
        if not settings.oidc_issuer or not settings.oidc_jwks_file:
            raise Unauthorized("tokens of an external issuer are not accepted here")
        key = _oidc_key(settings.oidc_jwks_file, header.get("kid"), alg)
        claims = _decode(token, key, [alg], settings.oidc_issuer, settings.oidc_audience)
        return _principal(claims, settings.oidc_department_claim, settings.oidc_role_claim)
    raise Unauthorized(f"bearer tokens signed with {alg!r} are not accepted")


def _decode(token: str, key: Any, algs: list[str], issuer: str, audience: str | None) -> Any:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algs,
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iss"], "verify_aud": audience is not None},
            leeway=_LEEWAY,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the bearer token has expired") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthorized("the bearer token's issuer is not trusted") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized("the bearer token is not meant for this service") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("the bearer token's signature is wrong") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the bearer token is not valid") from exc


def _principal(
    claims: dict[str, Any], dept_claim: str, role_claim: str, *, service: bool = False
) -> Principal:
    department = claims.get(dept_claim)
    if not isinstance(department, str) or not department:
        raise Unauthorized(f"the bearer token has no {dept_claim!r} claim")
    role = claims.get(role_claim, "consumer")
    if role not in KEY_ROLES:
        raise Unauthorized(f"the bearer token's role {role!r} is not one of {', '.join(KEY_ROLES)}")
    sub = claims.get("sub")
    if service:
        return Principal(department=department, role=role, key_id=sub)
    return Principal(department=department, role=role, subject=sub if sub else None)


def _oidc_key(path: Path, kid: str | None, alg: str) -> Any:
    keys = _jwks(path, path.stat().st_mtime_ns if path.exists() else 0)
    matching = [k for k in keys if (kid is None or k.key_id == kid) and k.algorithm_name == alg]
    if not matching:
        raise Unauthorized("the bearer token's signing key is not among the issuer's keys")
    if kid is None and len(matching) > 1:
        raise Unauthorized("the bearer token names no key (kid) and the issuer has several")
    return matching[0]


@lru_cache(maxsize=4)
def _jwks(path: Path, mtime_ns: int) -> tuple[Any, ...]:
    """The keys of a JWKS file, read again when the file changes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(jwt.PyJWKSet.from_dict(data).keys)
    except (OSError, ValueError, jwt.PyJWKSetError) as exc:
        raise ConfigError(f"cannot read the OIDC keys in {path}") from exc
