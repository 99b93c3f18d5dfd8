"""OIDC code flow + PKCE against a local provider started in the test (http.server on loopback, RS256)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ecgpilot.errors import AuthenticationError, ConfigError
from ecgpilot.security.oidc import (JWKSCache, OIDCConfig, authorization_request, complete_login, discover,
                                    fetch_userinfo, validate_id_token)

REDIRECT = "http://127.0.0.1:9/callback"


class Provider:
    """A tiny OIDC provider: discovery, JWKS, authorize (auto-consent), token (PKCE + basic auth), userinfo."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.codes = {}
        self.claims_override = {}
        self.sign_key = self.key
        prov = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, obj, status=200):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                u = urlparse(self.path)
                if u.path == "/.well-known/openid-configuration":
                    b = prov.issuer
                    return self._json({"issuer": b, "authorization_endpoint": b + "/authorize", "token_endpoint": b + "/token",
                                       "jwks_uri": b + "/jwks", "userinfo_endpoint": b + "/userinfo"})
                if u.path == "/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(prov.key.public_key()))
                    return self._json({"keys": [jwk | {"kid": prov.kid, "use": "sig", "alg": "RS256"}]})
                if u.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(u.query).items()}
                    code = base64.urlsafe_b64encode(hashlib.sha256(q["state"].encode()).digest()).decode()[:20]
                    prov.codes[code] = q
                    self.send_response(302)
                    self.send_header("Location", q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]}))
                    self.end_headers()
                    return None
                if u.path == "/userinfo":
                    if self.headers.get("Authorization") != "Bearer at-123":
                        return self._json({"error": "invalid_token"}, 401)
                    return self._json({"sub": "u1", "SubjectNameID": "810001234567"})
                return self._json({"error": "not found"}, 404)

            def do_POST(self):  # noqa: N802
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
                auth = base64.b64decode(self.headers.get("Authorization", "Basic ").split()[1]).decode()
                if auth != "ecgpilot:client-secret":
                    return self._json({"error": "invalid_client"}, 401)
                req = prov.codes.pop(form.get("code"), None)
                if req is None:
                    return self._json({"error": "invalid_grant"}, 400)
                challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=").decode()
                if challenge != req["code_challenge"] or form["redirect_uri"] != req["redirect_uri"]:
                    return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
                now = int(time.time())
                claims = {"iss": prov.issuer, "aud": req["client_id"], "sub": "u1", "iat": now, "exp": now + 300,
                          "nonce": req["nonce"], "acr": req.get("acr_values", "")} | prov.claims_override
                token = jwt.encode(claims, prov.sign_key, algorithm="RS256", headers={"kid": prov.kid})
                return self._json({"access_token": "at-123", "token_type": "Bearer", "id_token": token})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider():
    with Provider() as p:
        yield p


@pytest.fixture()
def cfg(provider):
    provider.claims_override = {}
    provider.sign_key = provider.key
    return OIDCConfig(issuer=provider.issuer, client_id="ecgpilot", client_secret="client-secret", redirect_uri=REDIRECT,
                      scope="openid scope_all", acr_values="eidas1", required_acr="eidas1")


def _browser(req):
    """Follow the authorization URL like a browser would, return the callback query parameters."""
    r = httpx.get(req.url, follow_redirects=False)
    assert r.status_code == 302
    loc = urlparse(r.headers["location"])
    assert loc.path == "/callback"
    return {k: v[0] for k, v in parse_qs(loc.query).items()}


def test_authorization_url_has_pkce_state_nonce(cfg):
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    q = {k: v[0] for k, v in parse_qs(urlparse(req.url).query).items()}
    assert q["response_type"] == "code" and q["code_challenge_method"] == "S256"
    assert q["state"] == req.state and q["nonce"] == req.nonce and q["acr_values"] == "eidas1"
    expected = base64.urlsafe_b64encode(hashlib.sha256(req.code_verifier.encode()).digest()).rstrip(b"=").decode()
    assert q["code_challenge"] == expected
    assert authorization_request(cfg, meta).state != req.state


def test_full_login(cfg):
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    claims = complete_login(cfg, meta, _browser(req), req)
    assert claims["sub"] == "u1" and claims["iss"] == cfg.issuer and claims["aud"] == "ecgpilot"
    info = fetch_userinfo(cfg, meta, claims["_access_token"])
    assert info["SubjectNameID"] == "810001234567"


def test_jwks_cached_with_expiry_and_refetched_on_key_rotation(cfg, provider):
    """Three logins fetch the provider's keys once; after the cache's lifetime they are fetched again; a
    token signed with a new key id (rotation) refetches at once, unless the last fetch was too recent."""
    meta = discover(cfg)
    clock = [1000.0]
    cache = JWKSCache(ttl_s=3600, min_refresh_s=60, clock=lambda: clock[0])
    for _ in range(3):
        req = authorization_request(cfg, meta)
        assert complete_login(cfg, meta, _browser(req), req, jwks_cache=cache)["sub"] == "u1"
    assert cache.fetches == 1
    clock[0] += 3601
    req = authorization_request(cfg, meta)
    complete_login(cfg, meta, _browser(req), req, jwks_cache=cache)
    assert cache.fetches == 2
    old_kid = provider.kid
    try:
        provider.kid = "k2"                     # the provider rotates: same key material under a new id
        clock[0] += 10                          # too soon after the last fetch: not refetched, refused
        req = authorization_request(cfg, meta)
        with pytest.raises(AuthenticationError, match="key id"):
            complete_login(cfg, meta, _browser(req), req, jwks_cache=cache)
        assert cache.fetches == 2
        clock[0] += 60                          # later: the unknown key id refetches, the login passes
        req = authorization_request(cfg, meta)
        assert complete_login(cfg, meta, _browser(req), req, jwks_cache=cache)["sub"] == "u1"
        assert cache.fetches == 3
    finally:
        provider.kid = old_kid


def test_wrong_state_refused(cfg):
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    params = _browser(req) | {"state": "forged"}
    with pytest.raises(AuthenticationError, match="state"):
        complete_login(cfg, meta, params, req)


def test_wrong_pkce_verifier_refused(cfg):
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    params = _browser(req)
    other = authorization_request(cfg, meta)
    forged = type(req)(req.url, req.state, req.nonce, other.code_verifier)
    with pytest.raises(AuthenticationError, match="refused the code"):
        complete_login(cfg, meta, params, forged)


def test_code_replay_refused(cfg):
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    params = _browser(req)
    complete_login(cfg, meta, params, req)
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        complete_login(cfg, meta, params, req)


@pytest.mark.parametrize(
    "override,match",
    [
        ({"aud": "someone-else"}, "InvalidAudience"),
        ({"iss": "https://evil.example"}, "InvalidIssuer"),
        ({"exp": int(time.time()) - 3600}, "Expired"),
        ({"nonce": "replayed"}, "nonce"),
        ({"acr": "eidas0"}, "acr"),
        ({"aud": ["ecgpilot", "other"], "azp": "other"}, "azp"),
    ],
)
def test_bad_id_tokens_refused(cfg, provider, override, match):
    provider.claims_override = override
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    with pytest.raises(AuthenticationError, match=match):
        complete_login(cfg, meta, _browser(req), req)


def test_token_signed_by_unknown_key_refused(cfg, provider):
    provider.sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    meta = discover(cfg)
    req = authorization_request(cfg, meta)
    with pytest.raises(AuthenticationError, match="signature"):
        complete_login(cfg, meta, _browser(req), req)


def test_alg_none_refused(cfg):
    meta = discover(cfg)
    token = jwt.encode({"iss": cfg.issuer, "aud": "ecgpilot", "sub": "x", "nonce": "n"}, None, algorithm="none")
    with pytest.raises(AuthenticationError, match="algorithm"):
        validate_id_token(token, cfg, meta, nonce="n")


def test_discovery_issuer_mismatch(provider):
    bad = OIDCConfig(issuer=provider.issuer + "/", client_id="c", client_secret="s", redirect_uri=REDIRECT)
    with pytest.raises(ConfigError, match="differs"):
        discover(bad)
