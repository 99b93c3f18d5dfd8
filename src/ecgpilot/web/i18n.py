"""Every text of the web interface, French first, English second (one catalogue)."""

from __future__ import annotations

__all__ = ["LANGS", "TEXT", "pick_lang", "t"]

LANGS = ("fr", "en")

TEXT: dict[str, dict[str, str]] = {
    "app": {"fr": "ecgpilot — lecture ECG assistée", "en": "ecgpilot — assisted ECG reading"},
    "login": {"fr": "Connexion", "en": "Log in"},
    "logout": {"fr": "Déconnexion", "en": "Log out"},
    "email": {"fr": "Adresse e-mail", "en": "E-mail"},
    "password": {"fr": "Mot de passe", "en": "Password"},
    "bad_login": {"fr": "E-mail ou mot de passe incorrect.", "en": "Wrong e-mail or password."},
    "too_many": {"fr": "Trop de tentatives : réessayez dans quelques minutes.",
                 "en": "Too many attempts: try again in a few minutes."},
    "worklist": {"fr": "Liste de travail", "en": "Worklist"},
    "upload": {"fr": "Déposer des ECG", "en": "Upload ECGs"},
    "upload_help": {"fr": "Tout format lisible (DICOM, SCP-ECG, HL7 aECG, MUSE, Sierra, EDF, WFDB : joindre le .hea et son .dat, CSV).",
                    "en": "Any readable format (DICOM, SCP-ECG, HL7 aECG, MUSE, Sierra, EDF, WFDB: send the .hea with its .dat, CSV)."},
    "send": {"fr": "Envoyer", "en": "Send"},
    "patient": {"fr": "Patient", "en": "Patient"},
    "date": {"fr": "Date", "en": "Date"},
    "urgency": {"fr": "Urgence", "en": "Urgency"},
    "status": {"fr": "Statut", "en": "Status"},
    "open": {"fr": "Ouvrir", "en": "Open"},
    "empty": {"fr": "Aucun ECG pour le moment.", "en": "No ECG yet."},
    "st_to_read": {"fr": "à lire", "en": "to read"},
    "st_signed": {"fr": "signé", "en": "signed"},
    "st_unreadable": {"fr": "illisible", "en": "unreadable"},
    "u_emergency": {"fr": "urgence", "en": "emergency"},
    "u_soon": {"fr": "à voir vite", "en": "soon"},
    "u_routine": {"fr": "courant", "en": "routine"},
    "u_normal": {"fr": "normal", "en": "normal"},
    "u_none": {"fr": "—", "en": "—"},
    "unknown_patient": {"fr": "Patient non identifié", "en": "Unidentified patient"},
    "tracing": {"fr": "Tracé", "en": "Tracing"},
    "zoom_in": {"fr": "Zoom +", "en": "Zoom in"},
    "zoom_out": {"fr": "Zoom −", "en": "Zoom out"},
    "caliper": {"fr": "Compas : cliquez deux points du tracé.", "en": "Caliper: click two points on the tracing."},
    "measurements": {"fr": "Mesures", "en": "Measurements"},
    "quality": {"fr": "Qualité", "en": "Quality"},
    "q_good": {"fr": "bonne", "en": "good"},
    "q_usable": {"fr": "exploitable avec réserves", "en": "usable with warnings"},
    "q_not_interpretable": {"fr": "non interprétable", "en": "not interpretable"},
    "not_interp_help": {"fr": "Tracé non interprétable automatiquement : lecture manuelle du tracé ci-dessous.",
                        "en": "The tracing cannot be interpreted automatically: read it manually below."},
    "ai_reading": {"fr": "Proposition de l'IA", "en": "AI proposal"},
    "ai_note": {"fr": "Rien n'est définitif sans votre validation : confirmez, modifiez ou rejetez chaque énoncé.",
                "en": "Nothing is final without you: confirm, edit or reject each statement."},
    "d_pending": {"fr": "à décider", "en": "to decide"},
    "d_confirmed": {"fr": "confirmé", "en": "confirmed"},
    "d_edited": {"fr": "modifié", "en": "edited"},
    "d_rejected": {"fr": "rejeté", "en": "rejected"},
    "add_statement": {"fr": "Ajouter un énoncé libre", "en": "Add a free-text statement"},
    "save": {"fr": "Enregistrer", "en": "Save"},
    "sign": {"fr": "Signer le compte rendu", "en": "Sign the report"},
    "amend": {"fr": "Amender (nouvelle version)", "en": "Amend (new version)"},
    "pending_left": {"fr": "Des énoncés restent à décider.", "en": "Some statements are still to decide."},
    "signed_by": {"fr": "Signé par", "en": "Signed by"},
    "version": {"fr": "version", "en": "version"},
    "pdf": {"fr": "Télécharger le PDF", "en": "Download the PDF"},
    "identity": {"fr": "Identité du patient", "en": "Patient identity"},
    "family_name": {"fr": "Nom de naissance", "en": "Family name"},
    "given_names": {"fr": "Prénoms", "en": "Given names"},
    "birth_date": {"fr": "Date de naissance", "en": "Birth date"},
    "sex": {"fr": "Sexe", "en": "Sex"},
    "ins": {"fr": "INS (matricule + clé)", "en": "INS (number + key)"},
    "ins_status": {"fr": "Statut de l'identité", "en": "Identity status"},
    "unreadable_title": {"fr": "Fichier illisible", "en": "Unreadable file"},
    "unreadable_help": {"fr": "Le fichier a été conservé mais n'a pas pu être lu. Message du lecteur :",
                        "en": "The file was kept but could not be read. Reader's message:"},
    "history": {"fr": "Historique", "en": "History"},
    "error": {"fr": "Erreur", "en": "Error"},
    "back": {"fr": "Retour à la liste", "en": "Back to the worklist"},
    "api_tokens": {"fr": "Jeton d'API (logiciel du cabinet)", "en": "API token (practice software)"},
    "new_token": {"fr": "Créer un jeton", "en": "Create a token"},
    "token_once": {"fr": "Copiez ce jeton maintenant, il ne sera plus affiché :", "en": "Copy this token now, it will not be shown again:"},
    "hr": {"fr": "FC", "en": "HR"},
    "axis_p": {"fr": "Axe P", "en": "P axis"},
    "axis_qrs": {"fr": "Axe QRS", "en": "QRS axis"},
    "axis_t": {"fr": "Axe T", "en": "T axis"},
    "accounts": {"fr": "Comptes du cabinet", "en": "Practice accounts"},
    "name": {"fr": "Nom affiché", "en": "Display name"},
    "role": {"fr": "Rôle", "en": "Role"},
    "add_account": {"fr": "Créer le compte", "en": "Create the account"},
    "created": {"fr": "Compte créé :", "en": "Account created:"},
    "read_only": {"fr": "Lecture seule : votre rôle ne permet pas de signer.", "en": "Read only: your role cannot sign."},
}


def t(key: str, lang: str) -> str:
    """The text ``key`` in ``lang`` (French when missing)."""
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["fr"]


def pick_lang(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Language from ``?lang=``, then the cookie, then ``Accept-Language``; French by default."""
    for value in (query, cookie):
        if value in LANGS:
            return value
    best, best_q = "fr", -1.0
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        code = tag.split("-")[0].strip().lower()
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if code in LANGS and weight > best_q:
            best, best_q = code, weight
    return best
