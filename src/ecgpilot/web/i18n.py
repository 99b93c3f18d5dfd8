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
    "u_repeat_now": {"fr": "refaire l'ECG maintenant", "en": "repeat the ECG now"},
    "evidence": {"fr": "arguments", "en": "evidence"},
    "source": {"fr": "source", "en": "source"},
    "ai_aside": {"fr": "L'IA signale aussi (non retenu : non confirmé par les mesures ou sous son seuil)",
                 "en": "The AI also mentions (not proposed: not supported by the measurements or below its threshold)"},
    "below_threshold": {"fr": "sous le seuil", "en": "below threshold"},
    "u_soon": {"fr": "avis cardiologique rapide", "en": "cardiology advice soon"},
    "u_routine": {"fr": "suivi habituel", "en": "routine follow-up"},
    "u_normal": {"fr": "normal", "en": "normal"},
    "u_none": {"fr": "—", "en": "—"},
    "unknown_patient": {"fr": "Patient non identifié", "en": "Unidentified patient"},
    "tracing": {"fr": "Tracé", "en": "Tracing"},
    "lead_matrix": {"fr": "Mesures par dérivation", "en": "Per-lead measurements"},
    "lead": {"fr": "Dérivation", "en": "Lead"},
    "matrix_help": {"fr": "Amplitudes en µV par rapport au segment PR, durées en ms ; ST : 100 µV = 1 mm à 10 mm/mV "
                          "(valeur en mm au survol). En couleur : ST ≥ +100 µV (rouge) ou ≤ −50 µV (bleu). Lignes "
                          "surlignées : dérivations sur lesquelles repose un constat de la lecture ; sur le tracé, "
                          "leurs points ST mesurés (● J, ○ J+60, ■ J+80) quand le constat est ischémique.",
                    "en": "Amplitudes in µV against the PR segment, durations in ms; ST: 100 µV = 1 mm at 10 mm/mV "
                          "(value in mm on hover). Coloured: ST ≥ +100 µV (red) or ≤ −50 µV (blue). Highlighted "
                          "rows: leads a finding of the reading rests on; on the tracing, their measured ST points "
                          "(● J, ○ J+60, ■ J+80) when the finding is ischaemic."},
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
    "ev_ref": {"fr": "IA \\ réf.", "en": "AI \\ ref."},
    "ev_agreement": {"fr": "Accord", "en": "Agreement"},
    "ev_under": {"fr": "sous-triage IA", "en": "AI under-triage"},
    "ev_sens_emergency": {"fr": "sensibilité « urgence »", "en": "“emergency” sensitivity"},
    "ev_ci": {"fr": "IC95", "en": "95% CI"},
    "ev_ai_running": {"fr": "IA active", "en": "AI on"},
    "ev_ai_stopped": {"fr": "IA arrêtée", "en": "AI stopped"},
    "ev_activity": {"fr": "Activité", "en": "Activity"},
    "ev_ecgs": {"fr": "ECG", "en": "ECGs"},
    "ev_signed": {"fr": "Signés (parmi les lisibles)", "en": "Signed (of the readable ones)"},
    "ev_unreadable": {"fr": "Illisibles / non interprétables", "en": "Unreadable / not interpretable"},
    "ev_by_month": {"fr": "Par mois", "en": "By month"},
    "ev_by_practice": {"fr": "Par cabinet (pseudonyme)", "en": "By practice (pseudonym)"},
    "ev_models": {"fr": "Versions du modèle", "en": "Model versions"},
    "ev_doctor_title": {"fr": "Décisions des médecins sur la proposition de l'IA", "en": "The doctors' decisions on the AI proposal"},
    "ev_ai_statements": {"fr": "Énoncés IA", "en": "AI statements"},
    "ev_added": {"fr": "ajoutés par le médecin", "en": "added by the doctor"},
    "ev_accepted": {"fr": "Acceptés sans changement", "en": "Accepted unchanged"},
    "ev_rejected": {"fr": "rejetés", "en": "rejected"},
    "ev_cardio_title": {"fr": "L'IA face à la relecture du cardiologue (référence en vie réelle)", "en": "The AI against the cardiologists' over-reads (real-world reference)"},
    "ev_cardio_agreed": {"fr": "Énoncés IA confirmés par le cardiologue", "en": "AI statements the cardiologist agreed with"},
    "ev_tele": {"fr": "Télé-expertise", "en": "Tele-expertise"},
    "ev_requests": {"fr": "Demandes", "en": "Requests"},
    "ev_answered": {"fr": "répondues", "en": "answered"},
    "ev_waiting": {"fr": "en attente", "en": "waiting"},
    "ev_withdrawn": {"fr": "retirées", "en": "withdrawn"},
    "ev_median_delay": {"fr": "Délai de réponse médian", "en": "Median turnaround"},
    "ev_p90": {"fr": "90e percentile", "en": "90th percentile"},
    "ev_sending": {"fr": "Envois", "en": "Sendings"},
    "model_card": {"fr": "Fiche du modèle d'IA", "en": "AI model card"},
    "s_sending": {"fr": "envoi en cours", "en": "being sent"},
    "consent": {"fr": "Le patient a donné son consentement à la télé-expertise", "en": "The patient consented to the tele-expertise"},
    "ai_switch": {"fr": "Lecture par l'IA", "en": "AI reading"},
    "ai_on": {"fr": "active", "en": "on"},
    "ai_off": {"fr": "arrêtée (lecture manuelle seulement)", "en": "stopped (manual reading only)"},
    "ai_stop": {"fr": "Arrêter l'IA", "en": "Stop the AI"},
    "ai_start": {"fr": "Remettre l'IA en service", "en": "Turn the AI back on"},
    "reason": {"fr": "Motif", "en": "Reason"},
    "opinions": {"fr": "Avis demandés (télé-expertise)", "en": "Opinion requests (tele-expertise)"},
    "opinion_queue": {"fr": "Demandes d'avis à traiter", "en": "Opinion requests to answer"},
    "ask_opinion": {"fr": "Demander l'avis d'un cardiologue", "en": "Ask a cardiologist's opinion"},
    "cardiologist": {"fr": "Cardiologue", "en": "Cardiologist"},
    "question": {"fr": "Question", "en": "Question"},
    "ask": {"fr": "Envoyer la demande", "en": "Send the request"},
    "no_cardiologist": {"fr": "Aucun cardiologue n'est inscrit sur ce serveur.", "en": "No cardiologist is registered on this server."},
    "op_open": {"fr": "en attente", "en": "waiting"},
    "op_answered": {"fr": "répondu", "en": "answered"},
    "op_cancelled": {"fr": "retirée", "en": "withdrawn"},
    "withdraw": {"fr": "Retirer la demande", "en": "Withdraw the request"},
    "answer": {"fr": "Réponse du cardiologue", "en": "Cardiologist's answer"},
    "your_answer": {"fr": "Votre réponse", "en": "Your answer"},
    "agree": {"fr": "d'accord", "en": "agree"},
    "disagree": {"fr": "pas d'accord", "en": "disagree"},
    "comment": {"fr": "Commentaire", "en": "Comment"},
    "your_urgency": {"fr": "L'urgence que vous retiendriez", "en": "The urgency you would give"},
    "send_answer": {"fr": "Envoyer l'avis", "en": "Send the opinion"},
    "asked_by": {"fr": "Demandé par", "en": "Asked by"},
    "answered_in": {"fr": "répondu en", "en": "answered in"},
    "hours": {"fr": "h", "en": "h"},
    "unread": {"fr": "nouvelle(s) notification(s)", "en": "new notification(s)"},
    "n_opinion_requested": {"fr": "Nouvelle demande d'avis", "en": "New opinion request"},
    "n_opinion_answered": {"fr": "Avis du cardiologue reçu", "en": "Cardiologist's opinion received"},
    "n_opinion_cancelled": {"fr": "Demande d'avis retirée", "en": "Opinion request withdrawn"},
    "sending": {"fr": "Envoi du compte rendu", "en": "Sending the report"},
    "send_help": {"fr": "Compte rendu signé envoyé par messagerie sécurisée de santé (MSSanté) : CDA R2 dans IHE_XDM.ZIP et PDF.", "en": "Signed report sent by secure health messaging (MSSanté): CDA R2 in IHE_XDM.ZIP plus the PDF."},
    "to_doctors": {"fr": "Adresse(s) MSSanté du médecin traitant", "en": "Treating doctor's MSSanté address(es)"},
    "to_patient": {"fr": "Dossier du patient (Mon espace santé) — identité qualifiée requise", "en": "Patient's record (Mon espace santé) — qualified identity required"},
    "send_report": {"fr": "Envoyer", "en": "Send"},
    "s_pending": {"fr": "en attente d'envoi", "en": "waiting to be sent"},
    "s_sent": {"fr": "envoyé", "en": "sent"},
    "s_failed": {"fr": "échec, nouvel essai prévu", "en": "failed, will retry"},
    "s_unknown": {"fr": "inconnu", "en": "unknown"},
    "k_doctor": {"fr": "médecin", "en": "doctor"},
    "k_dmp": {"fr": "Mon espace santé", "en": "Mon espace santé"},
    "attempts": {"fr": "essais", "en": "attempts"},
    "next_try": {"fr": "prochain essai", "en": "next try"},
    "exports": {"fr": "Documents", "en": "Documents"},
    "account": {"fr": "Mon compte", "en": "My account"},
    "rpps": {"fr": "N° RPPS (11 chiffres)", "en": "RPPS number (11 digits)"},
    "mssante": {"fr": "Adresse MSSanté", "en": "MSSanté address"},
    "saved": {"fr": "Enregistré.", "en": "Saved."},
    "practice": {"fr": "Cabinet", "en": "Practice"},
    "org_id": {"fr": "FINESS (9 chiffres) ou SIRET (14 chiffres)", "en": "FINESS (9 digits) or SIRET (14 digits)"},
    "patient_root": {"fr": "OID des identifiants patients locaux", "en": "OID of local patient ids"},
    "outbox": {"fr": "File d'envoi (MSSanté)", "en": "Outbox (MSSanté)"},
    "retry": {"fr": "Réessayer maintenant", "en": "Retry now"},
    "evaluation": {"fr": "Évaluation du pilote", "en": "Pilot evaluation"},
    "pseudonymised": {"fr": "Identité masquée (accès pseudonymisé)", "en": "Identity hidden (pseudonymised access)"},
    "admin_no_studies": {"fr": "L'administrateur gère les comptes et l'hébergement ; il n'a pas accès aux ECG des patients.", "en": "The administrator manages accounts and hosting and has no access to patients' ECGs."},
    "download_csv": {"fr": "Télécharger les données pseudonymisées (CSV)", "en": "Download the pseudonymised data (CSV)"},
    "axis_p": {"fr": "Axe P", "en": "P axis"},
    "axis_qrs": {"fr": "Axe QRS", "en": "QRS axis"},
    "axis_t": {"fr": "Axe T", "en": "T axis"},
    "accounts": {"fr": "Comptes du cabinet", "en": "Practice accounts"},
    "name": {"fr": "Nom affiché", "en": "Display name"},
    "role": {"fr": "Rôle", "en": "Role"},
    "add_account": {"fr": "Créer le compte", "en": "Create the account"},
    "created": {"fr": "Compte créé :", "en": "Account created:"},
    "read_only": {"fr": "Lecture seule : votre rôle ne permet pas de signer.", "en": "Read only: your role cannot sign."},
    "login_psc": {"fr": "Se connecter avec Pro Santé Connect", "en": "Log in with Pro Santé Connect"},
    "or": {"fr": "ou", "en": "or"},
    "oidc_continue": {"fr": "Connexion réussie : continuer vers la liste de travail.", "en": "Logged in: continue to the worklist."},
    "oidc_unknown": {"fr": "Cette identité Pro Santé Connect ne correspond à aucun compte ecgpilot. L'administrateur du cabinet "
                           "doit d'abord créer votre compte (avec la même adresse e-mail), puis reconnectez-vous.",
                     "en": "This Pro Santé Connect identity matches no ecgpilot account. The practice administrator must "
                           "first create your account (with the same e-mail address); then log in again."},
    "oidc_linked_elsewhere": {"fr": "Le compte portant cette adresse e-mail est déjà lié à une autre identité Pro Santé Connect. "
                                    "Demandez à l'administrateur de vérifier le compte.",
                              "en": "The account with this e-mail address is already linked to another Pro Santé Connect "
                                    "identity. Ask the administrator to check the account."},
    "oidc_refused": {"fr": "Le fournisseur d'identité a refusé ou annulé la connexion. Réessayez depuis la page de connexion.",
                     "en": "The identity provider refused or cancelled the login. Try again from the login page."},
    "oidc_expired": {"fr": "Aucune connexion en cours dans ce navigateur (ou elle a expiré après 10 minutes). "
                           "Recommencez depuis la page de connexion.",
                     "en": "No login is in progress in this browser (or it expired after 10 minutes). "
                           "Start again from the login page."},
    "oidc_failed": {"fr": "La réponse du fournisseur d'identité n'a pas pu être validée ; recommencez depuis la page de connexion.",
                    "en": "The identity provider's answer could not be validated; start again from the login page."},
    "oidc_unreachable": {"fr": "Le fournisseur d'identité est injoignable pour le moment ; réessayez plus tard ou connectez-vous "
                               "avec votre mot de passe.",
                         "en": "The identity provider cannot be reached right now; try again later or log in with your "
                               "password."},
    "oidc_off": {"fr": "La connexion par Pro Santé Connect n'est pas configurée sur ce serveur.",
                 "en": "Pro Santé Connect login is not configured on this server."},
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
