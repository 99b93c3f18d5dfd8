"""OpenID Connect login (authorization-code flow + PKCE S256 + state + nonce), Pro Santé Connect-ready.

Use, in the web app::

    meta = discover(config)                                  # once, cache it
    req = authorization_request(config, meta)                # store req.state/nonce/code_verifier in the session
    redirect(req.url)
    ...
    claims = complete_login(config, meta, request.query_params, req)   # on the redirect_uri

:func:`complete_login` checks ``state``, exchanges the code (client_secret_basic), and validates the
ID token: RS256/ES256 signature against the provider's JWKS (key chosen by ``kid``), ``iss``, ``aud``
(and ``azp`` when several audiences), ``exp``/``iat`` with a small leeway, the ``nonce``, and the
``acr`` when ``OIDCConfig.required_acr`` is set (PSC: ``eidas1``). Every failure raises
:class:`~ecgpilot.errors.AuthenticationError` with the reason.

For Pro Santé Connect: ``scope="openid scope_all"``, ``acr_values="eidas1"``,
``required_acr="eidas1"``; the practitioner id is the userinfo ``SubjectNameID`` (``8`` + RPPS), see
:func:`fetch_userinfo`. Host names change between sandbox and production: they are configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from ecgpilot.errors import AuthenticationError, ConfigError

__all__ = [
    "OIDCConfig",
    "AuthRequest",
    "discover",
    "authorization_request",
    "exchange_code",
    "validate_id_token",
    "complete_login",
    "JWKSCache",
    "fetch_userinfo",
]


@dataclass(frozen=True)
class OIDCConfig:
    """Client settings: issuer URL, client id/secret, redirect URI, scope, acr values."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str = "openid"
    acr_values: str | None = None
    required_acr: str | None = None
    timeout: float = 10.0
    leeway_s: int = 60
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")


@dataclass(frozen=True)
class AuthRequest:
    """What to redirect to, and what to keep server-side until the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def discover(config: OIDCConfig) -> dict[str, Any]:
    """The provider metadata (``/.well-known/openid-configuration``), checked against the configured issuer."""
    url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        resp = httpx.get(url, timeout=config.timeout)
        resp.raise_for_status()
        meta = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"OIDC discovery at {url} failed ({exc}); check the issuer URL.") from None
    if meta.get("issuer") != config.issuer:
        raise ConfigError(f"OIDC discovery issuer {meta.get('issuer')!r} differs from the configured issuer {config.issuer!r}.")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not meta.get(key):
            raise ConfigError(f"OIDC provider metadata at {url} has no {key}.")
    return meta


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def authorization_request(config: OIDCConfig, metadata: dict[str, Any]) -> AuthRequest:
    """A fresh authorization URL with random ``state``, ``nonce`` and PKCE ``code_verifier`` (S256)."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": config.scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": _b64url(hashlib.sha256(verifier.encode("ascii")).digest()),
        "code_challenge_method": "S256",
    }
    if config.acr_values:
        params["acr_values"] = config.acr_values
    sep = "&" if "?" in metadata["authorization_endpoint"] else "?"
    return AuthRequest(metadata["authorization_endpoint"] + sep + urlencode(params), state, nonce, verifier)


def exchange_code(config: OIDCConfig, metadata: dict[str, Any], code: str, *, code_verifier: str) -> dict[str, Any]:
    """Token response for ``code`` (client_secret_basic + PKCE verifier)."""
    try:
        resp = httpx.post(
            metadata["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": config.redirect_uri,
                  "code_verifier": code_verifier},
            auth=(config.client_id, config.client_secret),
            timeout=config.timeout,
        )
    except httpx.HTTPError as exc:
        raise AuthenticationError(f"OIDC token endpoint {metadata['token_endpoint']} unreachable ({exc}).") from None
    if resp.status_code != 200:
        raise AuthenticationError(f"OIDC token endpoint refused the code: HTTP {resp.status_code} {resp.text[:200]}")
    tokens = resp.json()
    if "id_token" not in tokens:
        raise AuthenticationError("OIDC token response has no id_token (is 'openid' in the scope?).")
    return tokens


class JWKSCache:
    """The provider's signing keys, fetched once and kept ``ttl_s`` seconds; a token naming a key id the
    cached set lacks (the provider rotated its keys) refetches at once, at most every ``min_refresh_s``
    (so forged key ids cannot make the app hammer the provider). Thread-safe."""

    def __init__(self, ttl_s: float = 3600.0, min_refresh_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.min_refresh_s, self.clock = float(ttl_s), float(min_refresh_s), clock
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = float("-inf")
        self._uri: str | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, config: OIDCConfig, metadata: dict[str, Any], kid: str | None = None) -> jwt.PyJWKSet:
        """The key set for ``metadata["jwks_uri"]``, refetched when expired, for another URI, or missing ``kid``."""
        with self._lock:
            now = self.clock()
            stale = (self._keys is None or self._uri != metadata.get("jwks_uri")
                     or now - self._fetched_at >= self.ttl_s)
            unknown = (kid is not None and self._keys is not None
                       and all(k.key_id != kid for k in self._keys.keys))
            if stale or (unknown and now - self._fetched_at >= self.min_refresh_s):
                self._keys = _jwks(config, metadata)
                self._uri, self._fetched_at = metadata.get("jwks_uri"), now
                self.fetches += 1
            assert self._keys is not None
            return self._keys


def _jwks(config: OIDCConfig, metadata: dict[str, Any]) -> jwt.PyJWKSet:
    try:
        resp = httpx.get(metadata["jwks_uri"], timeout=config.timeout)
        resp.raise_for_status()
        return jwt.PyJWKSet.from_dict(resp.json())
    except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
        raise AuthenticationError(f"OIDC JWKS at {metadata['jwks_uri']} could not be read ({exc}).") from None


def validate_id_token(
    id_token: str,
    config: OIDCConfig,
    metadata: dict[str, Any],
    *,
    nonce: str,
    jwks: jwt.PyJWKSet | None = None,
    now: float | None = None,
    jwks_cache: JWKSCache | None = None,
) -> dict[str, Any]:
    """Claims of a valid ID token (signature, iss, aud/azp, exp/iat, nonce, acr); else AuthenticationError."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"ID token is not a JWT ({exc}).") from None
    if header.get("alg") not in config.algorithms:
        raise AuthenticationError(f"ID token algorithm {header.get('alg')!r} is not accepted; accepted: {', '.join(config.algorithms)}.")
    keys = jwks or (jwks_cache.get(config, metadata, header.get("kid")) if jwks_cache is not None
                    else _jwks(config, metadata))
    candidates = [k for k in keys.keys if header.get("kid") is None or k.key_id == header.get("kid")]
    if not candidates:
        raise AuthenticationError(f"ID token key id {header.get('kid')!r} is not in the provider's JWKS.")
    options: dict[str, Any] = {"require": ["exp", "iat", "iss", "aud", "sub"]}
    if now is not None:
        options["verify_iat"] = False  # jwt checks against the real clock; done by hand below
    last_error: Exception | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                id_token, key.key, algorithms=list(config.algorithms), audience=config.client_id,
                issuer=config.issuer, leeway=config.leeway_s,
                options=options | ({"verify_exp": False} if now is not None else {}),  # type: ignore[arg-type]
            )
            break
        except jwt.InvalidSignatureError as exc:
            last_error = exc
            continue
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"ID token rejected: {type(exc).__name__}: {exc}") from None
    else:
        raise AuthenticationError(f"ID token signature does not verify with the provider's keys ({last_error}).")
    if now is not None and float(claims["exp"]) + config.leeway_s < now:
        raise AuthenticationError("ID token rejected: ExpiredSignatureError: Signature has expired")
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != config.client_id:
        raise AuthenticationError(f"ID token has several audiences and azp {claims.get('azp')!r} is not this client.")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise AuthenticationError("ID token nonce does not match the login request (replay or mixed-up session).")
    if config.required_acr and claims.get("acr") != config.required_acr:
        raise AuthenticationError(f"ID token acr {claims.get('acr')!r} is not the required level {config.required_acr!r}.")
    return claims


def complete_login(config: OIDCConfig, metadata: dict[str, Any], params: dict[str, str], pending: AuthRequest,
                   jwks_cache: JWKSCache | None = None) -> dict[str, Any]:
    """Handle the redirect back (query ``params``) for the stored ``pending`` request; return the ID token claims.
    ``jwks_cache``: the app's :class:`JWKSCache` (without it the keys are fetched for this login)."""
    if "error" in params:
        raise AuthenticationError(f"the identity provider returned an error: {params['error']} {params.get('error_description', '')}".strip())
    if not hmac.compare_digest(str(params.get("state", "")), pending.state):
        raise AuthenticationError("OIDC state does not match the login request (possible CSRF); start the login again.")
    code = params.get("code")
    if not code:
        raise AuthenticationError("OIDC redirect has no authorization code.")
    tokens = exchange_code(config, metadata, code, code_verifier=pending.code_verifier)
    claims = validate_id_token(tokens["id_token"], config, metadata, nonce=pending.nonce, jwks_cache=jwks_cache)
    claims["_access_token"] = tokens.get("access_token")
    return claims


def fetch_userinfo(config: OIDCConfig, metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
    """The userinfo claims (PSC: ``SubjectNameID`` = ``8`` + RPPS) for an access token."""
    url = metadata.get("userinfo_endpoint")
    if not url:
        raise ConfigError("OIDC provider metadata has no userinfo_endpoint.")
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=config.timeout)
    except httpx.HTTPError as exc:
        raise AuthenticationError(f"OIDC userinfo endpoint {url} unreachable ({exc}).") from None
    if resp.status_code != 200:
        raise AuthenticationError(f"OIDC userinfo refused: HTTP {resp.status_code}.")
    return resp.json()
