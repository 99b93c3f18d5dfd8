"""Security building blocks: OpenID Connect login (:mod:`.oidc`) and login rate limiting (:mod:`.ratelimit`)."""
