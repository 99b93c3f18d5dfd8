"""The app's settings: where it keeps its data and how strict it is (one object, built by ``serve``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecgpilot.export.mssante import SmtpConfig
from ecgpilot.security.oidc import OIDCConfig

__all__ = ["Settings"]


@dataclass
class Settings:
    """Where the app keeps its data and how strict it is.

    ``database_url`` defaults to ``sqlite:///<data_dir>/ecgpilot.db``; ``secret_key`` signs
    the session cookie (random per process when ``None``: sessions end at restart). Login sessions
    are also kept server-side (:class:`ecgpilot.store.models.LoginSession`): logout and a password
    change end them, as do ``session_idle_s`` without use and ``session_max_age_s`` after login.
    """

    data_dir: Path = field(default_factory=lambda: Path("ecgpilot-data"))
    database_url: str | None = None
    secret_key: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    secure_cookies: bool = False   # cookies sent over HTTPS only (behind an HTTPS proxy)
    hsts_max_age_s: int = 0        # Strict-Transport-Security max-age; 0 = no HSTS header
    session_max_age_s: int = 8 * 3600   # absolute lifetime of a login session (and of its cookie)
    session_idle_s: int = 30 * 60       # a login session unused this long is ended
    # failed logins slow the next ones down (never a lockout): free failures per account and per
    # client within the window, then 1, 2, 4 ... s up to login_max_delay_s (security.ratelimit.LoginThrottle)
    login_attempts: int = 5
    login_attempts_per_client: int = 20
    login_window_s: float = 900.0
    login_max_delay_s: float = 60.0
    use_ai: bool = True
    oidc: OIDCConfig | None = None  # optional OpenID Connect login (e.g. Pro Santé Connect)
    # MSSanté sending and notice mails: the outbox is always kept; a worker sends it when smtp is set
    smtp: SmtpConfig | None = None
    notice_sender: str | None = None  # From: of the notice mails (no patient data in them)
    base_url: str | None = None  # public URL of the app, for links in notice mails
    patient_mssante_domain: str = "patient.mssante.fr"  # Mon espace santé: <INS>@<domain>
    outbox_interval_s: float = 30.0
    integrity_check_at_start: bool = True   # SQLite PRAGMA integrity_check before serving (ecgpilot.store.health)
    audit_key_dir: Path | None = None   # where audit_key is kept (default: data_dir; $ECGPILOT_AUDIT_KEY(_FILE) first)
    # bounded uploads: bytes per request (and so per file), files per request, analyses at once, seconds each
    max_upload_files: int = 20
    analysis_workers: int = 2
    read_timeout_s: float = 20.0   # per uploaded file, read in a worker process (web.reader_pool); 0 = in-thread
    page_size: int = 50

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(Path(self.data_dir) / 'ecgpilot.db').resolve()}"
