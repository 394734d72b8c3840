from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from spatialsvc.auth import tokens
from spatialsvc.auth.principal import PUBLIC, Principal
from spatialsvc.errors import ConfigError, InvalidInput, Unauthorized
from spatialsvc.settings import Settings

ISSUER = "https://sso.example.gov.cn/realms/haishu"
P = Principal("mz-hs", "consumer", "abcd1234")


@pytest.fixture()
def local(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url="postgresql://unused/x")


def test_secret_file_is_made_0600_once(local: Settings) -> None:
    first = tokens.signing_secret(local)
    path = tokens.secret_file(local)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.signing_secret(local) == first and len(first) >= 32
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        tokens.signing_secret(local)


def test_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIALSVC_TOKEN_SECRET", "x" * 40)
    s = Settings(home=tmp_path)
    assert tokens.signing_secret(s) == b"x" * 40
    assert not tokens.secret_file(s).exists()
    monkeypatch.setenv("SPATIALSVC_TOKEN_SECRET", "short")
    with pytest.raises(ConfigError):
        tokens.signing_secret(Settings(home=tmp_path))


def test_issue_and_verify(local: Settings) -> None:
    token = tokens.issue(local, P, ttl=60)
    assert tokens.verify(local, token) == P


def test_expired_token(local: Settings) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {"iss": "spatialsvc", "sub": "abcd1234", "department": "mz-hs", "role": "consumer"}
    token = jwt.encode(
        {**claims, "iat": past, "exp": past + timedelta(minutes=5)},
        tokens.signing_secret(local),
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(local, token)


def test_bad_signature_and_garbage(local: Settings, tmp_path: Path) -> None:
    other = Settings(home=tmp_path / "other", database_url="postgresql://unused/x")
    with pytest.raises(Unauthorized, match="signature"):
        tokens.verify(local, tokens.issue(other, P))
    with pytest.raises(Unauthorized):
        tokens.verify(local, "not.a.token")
    unsigned = jwt.encode({"iss": "spatialsvc", "department": "x"}, None, algorithm="none")
    with pytest.raises(Unauthorized, match="not accepted"):
        tokens.verify(local, unsigned)


def test_issue_limits(local: Settings) -> None:
    with pytest.raises(InvalidInput):
        tokens.issue(local, P, ttl=local.token_max_ttl + 1)
    with pytest.raises(InvalidInput):
        tokens.issue(local, PUBLIC)


def _jwks(tmp_path: Path) -> tuple[Path, object, object]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk_rsa = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk_ec = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwk_rsa.update(kid="rsa1", use="sig", alg="RS256")
    jwk_ec.update(kid="ec1", use="sig", alg="ES256")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk_rsa, jwk_ec]}))
    return path, rsa_key, ec_key


def _oidc_token(key: object, alg: str, kid: str, **claims: object) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "sub": "u-42",
        "aud": "spatialsvc",
        "department": "ga-hs",
        "role": "publisher",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})  # type: ignore[arg-type]


def test_oidc_tokens(local: Settings, tmp_path: Path) -> None:
    path, rsa_key, ec_key = _jwks(tmp_path)
    s = local.model_copy(
        update={"oidc_issuer": ISSUER, "oidc_jwks_file": path, "oidc_audience": "spatialsvc"}
    )
    p = tokens.verify(s, _oidc_token(rsa_key, "RS256", "rsa1"))
    assert p == Principal("ga-hs", "publisher", key_id=None, subject="u-42")
    assert p.who == "oidc:u-42"
    assert tokens.verify(s, _oidc_token(ec_key, "ES256", "ec1", role="consumer")).role == "consumer"
    with pytest.raises(Unauthorized, match="issuer"):
        tokens.verify(s, _oidc_token(rsa_key, "RS256", "rsa1", iss="https://evil.example"))
    with pytest.raises(Unauthorized, match="not meant"):
        tokens.verify(s, _oidc_token(rsa_key, "RS256", "rsa1", aud="other"))
    with pytest.raises(Unauthorized, match="signing key"):
        tokens.verify(s, _oidc_token(rsa_key, "RS256", "nokid"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized, match="signature"):
        tokens.verify(s, _oidc_token(stranger, "RS256", "rsa1"))
    with pytest.raises(Unauthorized, match="department"):
        tokens.verify(s, _oidc_token(rsa_key, "RS256", "rsa1", department=None))
    with pytest.raises(Unauthorized, match="role"):
        tokens.verify(s, _oidc_token(rsa_key, "RS256", "rsa1", role="root"))
    # without the issuer configured, external tokens are refused
    with pytest.raises(Unauthorized, match="external"):
        tokens.verify(local, _oidc_token(rsa_key, "RS256", "rsa1"))
