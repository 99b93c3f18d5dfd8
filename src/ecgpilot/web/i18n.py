"""Every text of the web interface, French first, English second (one catalogue)."""

from __future__ import annotations

__all__ = ["LANGS", "TEXT", "pick_lang", "t", "error_text"]

LANGS = ("fr", "en")

TEXT: dict[str, dict[str, str]] = {
    "app": {"fr": "ecgpilot — lecture ECG assistée", "en": "ecgpilot — assisted ECG reading"},
    "login": {"fr": "Connexion", "en": "Log in"},
    "logout": {"fr": "Déconnexion", "en": "Log out"},
    "email": {"fr": "Adresse e-mail", "en": "E-mail"},
    "password": {"fr": "Mot de passe", "en": "Password"},
    "bad_login": {"fr": "E-mail ou mot de passe incorrect.", "en": "Wrong e-mail or password."},
    "too_many": {"fr": "Trop de tentatives : attendez un peu (une minute au plus), puis réessayez.",
                 "en": "Too many attempts: wait a little (a minute at most), then try again."},
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
    "unreadable_help": {"fr": "Le fichier a été conservé mais n'a pas pu être lu comme un ECG. Vérifiez qu'il s'agit bien "
                              "de l'export de l'appareil (DICOM, SCP-ECG, HL7 aECG, MUSE, Sierra, EDF, WFDB avec son .dat, "
                              "CSV) et déposez-le à nouveau ; sinon archivez ce dépôt.",
                        "en": "The file was kept but could not be read as an ECG. Check it is the device's export (DICOM, "
                              "SCP-ECG, HL7 aECG, MUSE, Sierra, EDF, WFDB with its .dat, CSV) and upload it again; "
                              "otherwise archive this upload."},
    "history": {"fr": "Historique", "en": "History"},
    "error": {"fr": "Erreur", "en": "Error"},
    "back": {"fr": "Retour à la liste", "en": "Back to the worklist"},
    "api_tokens": {"fr": "Jeton d'API (logiciel du cabinet)", "en": "API token (practice software)"},
    "new_token": {"fr": "Créer un jeton", "en": "Create a token"},
    "manage_tokens": {"fr": "Gérer les jetons d'API (mon compte)", "en": "Manage API tokens (my account)"},
    "token_label": {"fr": "Nom", "en": "Label"},
    "token_created": {"fr": "Créé le", "en": "Created"},
    "token_expires": {"fr": "Expire le", "en": "Expires"},
    "token_last_used": {"fr": "Dernier usage", "en": "Last used"},
    "token_state": {"fr": "État", "en": "State"},
    "token_active": {"fr": "actif", "en": "active"},
    "token_expired": {"fr": "expiré", "en": "expired"},
    "token_revoked": {"fr": "révoqué", "en": "revoked"},
    "token_revoke": {"fr": "Révoquer", "en": "Revoke"},
    "token_days": {"fr": "Validité (jours)", "en": "Valid for (days)"},
    "token_days_bad": {"fr": "Validité d'un jeton : de 1 à 365 jours.", "en": "A token is valid for 1 to 365 days."},
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
    "error_csrf": {"fr": "La page a expiré (protection de sécurité) : revenez en arrière, rechargez la page et recommencez.",
                   "en": "The page expired (security check): go back, reload the page and try again."},
    "zoom_fit": {"fr": "Ajuster (10 s entiers)", "en": "Fit (whole 10 s)"},
    "zoom_true": {"fr": "Taille réelle", "en": "True size"},
    "zoom_scale": {"fr": "échelle", "en": "scale"},
    "go_back": {"fr": "Revenir à la page précédente", "en": "Back to the previous page"},
    "error_detail": {"fr": "Détail technique (pour le support)", "en": "Technical detail (for support)"},
    "error_title_400": {"fr": "Réglage refusé", "en": "Setting refused"},
    "error_title_403": {"fr": "Action non permise", "en": "Not allowed"},
    "error_title_404": {"fr": "Page introuvable", "en": "Page not found"},
    "error_title_409": {"fr": "Action impossible pour le moment", "en": "Not possible right now"},
    "error_title_413": {"fr": "Fichier trop lourd", "en": "File too large"},
    "error_title_422": {"fr": "Saisie à corriger", "en": "Please correct the entry"},
    "error_title_429": {"fr": "Trop de tentatives", "en": "Too many attempts"},
    "error_title_500": {"fr": "Erreur du serveur", "en": "Server error"},
    "error_text_400": {"fr": "Ce réglage n'est pas accepté. Revenez à la page précédente et vérifiez la valeur choisie.",
                       "en": "This setting is not accepted. Go back and check the value chosen."},
    "error_text_403": {"fr": "Votre rôle ne permet pas cette action. Demandez à un médecin du cabinet ou à l'administrateur.",
                       "en": "Your role does not allow this. Ask a doctor of the practice or the administrator."},
    "error_text_404": {"fr": "Cette page n'existe pas, ou l'ECG n'appartient pas à votre cabinet.",
                       "en": "This page does not exist, or the ECG does not belong to your practice."},
    "error_text_405": {"fr": "Cette adresse ne s'ouvre pas ainsi : revenez à la page précédente.",
                       "en": "This address cannot be opened this way: go back to the previous page."},
    "error_text_409": {"fr": "L'ECG a changé d'état entre-temps (signé, amendé ou modifié par un confrère) : rechargez sa page.",
                       "en": "The ECG changed meanwhile (signed, amended or changed by a colleague): reload its page."},
    "error_text_413": {"fr": "Le fichier envoyé dépasse la taille permise : vérifiez qu'il s'agit bien du fichier ECG.",
                       "en": "The file sent is over the size allowed: check it is the ECG file."},
    "error_text_422": {"fr": "Une valeur saisie n'a pas pu être acceptée : revenez à la page précédente et corrigez-la.",
                       "en": "A value entered could not be accepted: go back and correct it."},
    "error_text_429": {"fr": "Trop de tentatives : réessayez dans quelques minutes.", "en": "Too many attempts: try again in a few minutes."},
    "error_text_500": {"fr": "Une erreur inattendue s'est produite ; rien n'a été enregistré. Réessayez ; si elle revient, "
                             "signalez-la à l'administrateur (le détail est dans le journal du serveur).",
                       "en": "An unexpected error occurred; nothing was saved. Try again; if it comes back, tell the "
                             "administrator (the details are in the server log)."},
    "doctor_conclusion": {"fr": "Conclusion du médecin (signée)", "en": "The doctor's conclusion (signed)"},
    "ai_reading_was": {"fr": "Proposition de l'IA et décisions du médecin", "en": "The AI's proposal and the doctor's decisions"},
    "ai_urgency_was": {"fr": "Urgence proposée par l'IA :", "en": "Urgency proposed by the AI:"},
    "take_opinion": {"fr": "Reprendre cet avis dans mon compte rendu", "en": "Take this opinion into my report"},
    "take_opinion_help": {"fr": "Les énoncés et l'urgence du cardiologue sont proposés dans le brouillon ; vous décidez de chacun.",
                          "en": "The cardiologist's statements and urgency are proposed in the draft; you decide each one."},
    "cardio_says": {"fr": "Cardiologue", "en": "Cardiologist"},
    "oidc_off": {"fr": "La connexion par Pro Santé Connect n'est pas configurée sur ce serveur.",
                 "en": "Pro Santé Connect login is not configured on this server."},
    # --- issue 22 part B: identity, practice, worklist hygiene, the cart's reading, the previous ECG
    "role_gp": {"fr": "Médecin généraliste", "en": "General practitioner"},
    "role_cardiologist": {"fr": "Cardiologue", "en": "Cardiologist"},
    "role_evaluator": {"fr": "Évaluateur (données pseudonymisées)", "en": "Evaluator (pseudonymised data)"},
    "role_admin": {"fr": "Administrateur", "en": "Administrator"},
    "password_short": {"fr": "Mot de passe trop court ({n} caractères) : {min} au moins.",
                       "en": "Password too short ({n} characters): at least {min}."},
    "practice_unknown": {"fr": "Choisissez un cabinet de la liste.", "en": "Choose a practice from the list."},
    "email_taken": {"fr": "Un compte existe déjà pour {email}.", "en": "An account already exists for {email}."},
    "email_bad": {"fr": "« {email} » n'est pas une adresse e-mail.", "en": "{email!r} is not an e-mail address."},
    "no_tracing": {"fr": "Pas de tracé lisible pour cet ECG.", "en": "No readable tracing for this ECG."},
    "practices": {"fr": "Cabinets", "en": "Practices"},
    "new_practice": {"fr": "Nouveau cabinet", "en": "New practice"},
    "practice_name": {"fr": "Nom du cabinet", "en": "Practice name"},
    "rename": {"fr": "Renommer", "en": "Rename"},
    "create": {"fr": "Créer", "en": "Create"},
    "members": {"fr": "membres", "en": "members"},
    "edit": {"fr": "Modifier", "en": "Edit"},
    "rpps_missing_short": {"fr": "RPPS manquant", "en": "RPPS missing"},
    "saved_account": {"fr": "Compte enregistré :", "en": "Account saved:"},
    "age": {"fr": "Âge", "en": "Age"},
    "years": {"fr": "ans", "en": "years"},
    "from_file": {"fr": "d'après le fichier", "en": "from the file"},
    "identity_status": {"fr": "Statut de l'identité", "en": "Identity status"},
    "verify_identity": {"fr": "Vérifier l'identité", "en": "Verify the identity"},
    "verify_help": {"fr": "Identité qualifiée = pièce d'identité à haut niveau de confiance contrôlée ET INS obtenu "
                            "par le téléservice INSi (référentiel national d'identitovigilance). Le statut découle de "
                            "ce que vous déclarez ici ; qui, quand et comment sont enregistrés.",
                    "en": "Qualified identity = a high-trust ID document checked AND the INS obtained from the INSi "
                          "teleservice (national identity-vigilance rules). The status follows from what you declare "
                          "here; who, when and how are recorded."},
    "id_document_seen": {"fr": "Pièce d'identité contrôlée", "en": "ID document checked"},
    "none_seen": {"fr": "aucune", "en": "none"},
    "insi_lookup": {"fr": "Interrogation INSi", "en": "INSi lookup"},
    "insi_offline": {"fr": "Le téléservice INSi n'est pas joignable depuis cette installation (hors ligne) : "
                           "interrogez-le depuis le logiciel du cabinet, puis déclarez-le ici.",
                     "en": "The INSi teleservice is not reachable from this installation (offline): query it from "
                           "the practice software, then declare it here."},
    "record_check": {"fr": "Enregistrer la vérification", "en": "Record the verification"},
    "ins_help": {"fr": "Saisissez l'INS tel qu'imprimé (espaces et points acceptés), ex. 1 44 05 75 123 456 45.",
                 "en": "Type the INS as printed (spaces and dots accepted), e.g. 1 44 05 75 123 456 45."},
    "archive": {"fr": "Archiver", "en": "Archive"},
    "archive_help": {"fr": "Fichier illisible, mauvais patient ou envoyé par erreur : l'ECG quitte la liste de travail "
                           "mais reste conservé avec son historique (traçé dans le journal d'audit).",
                     "en": "Unreadable file, wrong patient or sent by mistake: the ECG leaves the worklist but is kept "
                           "with its history (recorded in the audit trail)."},
    "archive_reason": {"fr": "Motif", "en": "Reason"},
    "archived_list": {"fr": "ECG archivés", "en": "Archived ECGs"},
    "archived_on": {"fr": "Archivé le", "en": "Archived on"},
    "restore": {"fr": "Remettre dans la liste", "en": "Back to the worklist"},
    "just_archived": {"fr": "ECG archivé : il reste consultable ci-dessous, dans « ECG archivés ».",
                      "en": "ECG archived: it stays available below, under “Archived ECGs”."},
    "duplicate_notice": {"fr": "Ce fichier a déjà été déposé : voici l'ECG existant (aucun doublon créé).",
                         "en": "This file was already uploaded: here is the existing ECG (no duplicate made)."},
    "cart_reading": {"fr": "Lecture de l'appareil", "en": "The device's reading"},
    "cart_statements": {"fr": "Conclusions de l'appareil", "en": "The device's statements"},
    "ours": {"fr": "ecgpilot", "en": "ecgpilot"},
    "device": {"fr": "Appareil", "en": "Device"},
    "difference": {"fr": "Écart", "en": "Difference"},
    "cart_help": {"fr": "Écarts surlignés : au-delà de la tolérance par enregistrement tirée de la norme IEC 60601-2-25 "
                        "(P 15, PR 10, QRS 10, QT/QTc 30 ms ; FC 5/min ou 10 % et axes 20° : choix d'ecgpilot, la norme "
                        "n'en donne pas). QTc de l'appareil comparé au QTc de Bazett d'ecgpilot.",
                  "en": "Highlighted: beyond the per-record tolerance taken from IEC 60601-2-25 (P 15, PR 10, QRS 10, "
                        "QT/QTc 30 ms; rate 5/min or 10 % and axes 20°: ecgpilot's choice, the standard gives none). "
                        "The device's QTc is compared with ecgpilot's Bazett QTc."},
    "beyond": {"fr": "écart au-delà de la tolérance", "en": "beyond tolerance"},
    "previous_ecg": {"fr": "ECG précédent", "en": "Previous ECG"},
    "previous_of": {"fr": "ECG signé du", "en": "Signed ECG of"},
    "this_ecg": {"fr": "Cet ECG", "en": "This ECG"},
    "changes": {"fr": "Ce qui a changé", "en": "What changed"},
    "no_change": {"fr": "Pas de changement notable.", "en": "No notable change."},
    "other_deltas": {"fr": "Autres mesures (variation faible)", "en": "Other measurements (small change)"},
    "urgency_raised": {"fr": "Urgence de la proposition relevée à", "en": "Proposal's urgency raised to"},
    "urgency_suggested": {"fr": "La comparaison justifierait l'urgence", "en": "The comparison would justify"},
    "previous_conclusion": {"fr": "Conclusion signée", "en": "Signed conclusion"},
    "same_scale": {"fr": "Même échelle (25 mm/s, 10 mm/mV), dérivations aux mêmes places ; les deux tracés défilent ensemble.",
                   "en": "Same scale (25 mm/s, 10 mm/mV), leads in the same places; both tracings scroll together."},
}


def t(key: str, lang: str) -> str:
    """The text ``key`` in ``lang`` (French when missing)."""
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["fr"]


def error_text(status: int, lang: str) -> str:
    """A plain sentence for an HTTP refusal ``status`` (what happened, what to do) in ``lang``."""
    key = f"error_text_{status}"
    if key not in TEXT:
        key = "error_text_500" if status >= 500 else "error_text_422"
    return t(key, lang)


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
