"""Feature extraction for the local classifier: text for the embedder, hashed TF-IDF, headers.

Pure functions over ``EmailInput``. The header features are the ones a provider-independent
pipeline can always fill (RFC 2369 list headers, RFC 3834 Auto-Submitted, Precedence, sender
shape); user-relative signals (direct address, sender stats) are NOT learned here because the
public training mail has no mailbox owner. They act later, in ``classifier`` rules.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from secretary.llm.schemas import EmailInput

# 2**20 buckets keep word bigrams from colliding; n-grams seen in fewer than MIN_DF training
# mails get idf 0 (dropped), like a vocabulary's min_df, so the stored weights stay sparse.
HASH_FEATURES = 2**20
MIN_DF = 2
MAX_TEXT_CHARS = 4000
_TOKEN_RE = re.compile(r"[\w$€£%]+|[!?]+")

_NOREPLY = re.compile(
    r"(?:^|[._+-])(?:no-?reply|do-?not-?reply|donotreply|notifications?|alerts?|"
    r"mailer-daemon|postmaster|bounces?|automailer|info|news(?:letter)?|"
    r"updates|marketing|promo)(?:[._+-]|@)",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail delivery)", re.IGNORECASE)
_URL = re.compile(r"https?://", re.IGNORECASE)
_ESP_HEADERS = (
    "Feedback-ID",
    "X-Campaign",
    "X-Mailgun-Tag",
    "X-MC-User",
    "X-SES-Outgoing",
    "X-Report-Abuse",
)

HEADER_FEATURES = (
    "list_id",
    "list_unsubscribe",
    "list_unsubscribe_one_click",
    "precedence_bulk",
    "precedence_list",
    "precedence_junk",
    "auto_submitted",
    "esp_header",
    "noreply_sender",
    "daemon_sender",
    "html_only",
    "log_recipients",
    "no_visible_recipient",
    "log_links",
    "has_attachments",
    "reply_subject",
    "forward_subject",
)


def header(email: EmailInput, name: str) -> str | None:
    """Case-insensitive header lookup (pipelines differ in how they spell names)."""
    wanted = name.lower()
    for key, value in email.headers.items():
        if key.lower() == wanted:
            return value
    return None


def is_automated_sender(email: EmailInput) -> bool:
    addr = email.from_addr or ""
    return bool(_NOREPLY.search(addr.split("@")[0] + "@")) or bool(
        _DAEMON.match(addr) or _DAEMON.match(email.from_name or "")
    )


def mail_text(email: EmailInput) -> str:
    """What the embedder reads: subject, then the newest text (it truncates to 64 tokens)."""
    body = email.body_text.strip() or (email.full_text or "").strip()
    return f"{email.subject.strip()}\n{body}"[:MAX_TEXT_CHARS]


def hash_text(email: EmailInput) -> str:
    """What the TF-IDF hasher reads: subject and the whole body (spam hides below the fold)."""
    body = (email.full_text or "").strip() or email.body_text.strip()
    return f"{email.subject.strip()}\n{body}"[:MAX_TEXT_CHARS]


def header_vector(email: EmailInput) -> npt.NDArray[np.float32]:
    precedence = (header(email, "Precedence") or "").strip().lower()
    auto = (header(email, "Auto-Submitted") or "no").strip().lower()
    content_type = (header(email, "Content-Type") or "").lower()
    subject = email.subject.strip().lower()
    text = email.full_text or email.body_text
    recipients = len(email.to) + len(email.cc)
    values = [
        header(email, "List-Id") is not None,
        header(email, "List-Unsubscribe") is not None,
        "one-click" in (header(email, "List-Unsubscribe-Post") or "").lower(),
        precedence == "bulk",
        precedence == "list",
        precedence == "junk",
        not auto.startswith("no"),
        any(header(email, name) is not None for name in _ESP_HEADERS),
        bool(_NOREPLY.search((email.from_addr or "").split("@")[0] + "@")),
        bool(_DAEMON.match(email.from_addr or "") or _DAEMON.match(email.from_name or "")),
        content_type.startswith("text/html"),
        np.log1p(recipients) / 3.0,
        recipients == 0,
        np.log1p(len(_URL.findall(text))) / 3.0,
        email.has_attachments,
        subject.startswith(("re:", "re ", "aw:")),
        subject.startswith(("fw:", "fwd:", "tr:")),
    ]
    return np.asarray(values, dtype=np.float32)


def header_matrix(emails: Sequence[EmailInput]) -> npt.NDArray[np.float32]:
    if not emails:
        return np.zeros((0, len(HEADER_FEATURES)), dtype=np.float32)
    return np.vstack([header_vector(e) for e in emails])


class TextHasher:
    """Hashed word uni+bigram TF-IDF; only the IDF vector (with min-df pruning) is learned.

    Hand-rolled instead of sklearn's HashingVectorizer because importing sklearn (with scipy)
    takes 4-6 s on the 2-core target and the tier must load in < 3 s; crc32 is stable across
    Python versions and platforms, so an artifact hashes the same everywhere.
    """

    def __init__(self, idf: npt.NDArray[np.float32] | None = None) -> None:
        self.idf = idf

    @staticmethod
    def buckets(text: str) -> npt.NDArray[np.int64]:
        tokens = _TOKEN_RE.findall(text.lower())
        grams = tokens + [f"{a} {b}" for a, b in pairwise(tokens)]
        return np.fromiter(
            (zlib.crc32(g.encode()) % HASH_FEATURES for g in grams),
            dtype=np.int64,
            count=len(grams),
        )

    def fit_idf(self, texts: Sequence[str]) -> TextHasher:
        df = np.zeros(HASH_FEATURES, dtype=np.float64)
        for text in texts:
            df[np.unique(self.buckets(text))] += 1
        idf = np.log((1 + len(texts)) / (1 + df)) + 1
        idf[df < MIN_DF] = 0.0
        self.idf = idf.astype(np.float32)
        return self

    def weights(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Sparse L2-normalised TF-IDF of one text: (bucket indices, values)."""
        if self.idf is None:
            raise RuntimeError("fit_idf first")
        index, counts = np.unique(self.buckets(text), return_counts=True)
        values = (np.log1p(counts) * self.idf[index]).astype(np.float32)  # sublinear tf
        kept = values > 0
        index, values = index[kept], values[kept]
        norm = float(np.linalg.norm(values))
        return index, values / norm if norm else values

    def scores(self, text: str, coef: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """``coef[:, text_block] @ tfidf(text)`` without building a sparse matrix."""
        index, values = self.weights(text)
        return (coef[:, index].astype(np.float32) @ values).astype(np.float32)


# --- phishing / modern-spam evidence --------------------------------------------------------------
# The license-clean spam (SpamAssassin) is from 2002; modern phishing impersonates brands, asks to
# "verify" accounts and wallets and disguises words with look-alike Unicode. These cues are
# language-level facts about the message, not fitted to any one set; their weight in the tier was
# picked on the phishing_pot dev split under the ham false-positive budget (docs/evaluation.md).
_BRANDS = re.compile(
    r"\b(?:paypal|apple|icloud|microsoft|office ?365|outlook|onedrive|sharepoint|amazon|netflix|"
    r"wells ?fargo|chase|citi|hsbc|dhl|fedex|ups|usps|docusign|dropbox|google|gmail|facebook|meta|"
    r"instagram|linkedin|coinbase|binance|metamask|trust ?wallet|ledger|adobe|webmail|mailbox|"
    r"it support|help ?desk|administrator|postmaster|costco|walmart|bank)\b",
    re.IGNORECASE,
)
_LURES = re.compile(
    r"\b(?:verify (?:your|the) (?:account|identity|email|wallet|information|details)|"
    r"(?:account|mailbox|wallet|card) (?:has been |will be |is |was )?(?:temporar(?:il)?y )?"
    r"(?:suspend(?:ed)?|locked|disabled|deactivated|closed|restricted|on hold)|suspension|"
    r"unusual (?:sign.?in|activity|login)|password (?:is )?(?:expir(?:e|es|ed|ing)|reset)|"
    r"confirm your (?:account|identity|details|information|payment)|update your (?:payment|billing|"
    r"account)|(?:blocked|pending|incoming) (?:messages|emails)|mailbox (?:is )?(?:full|quota|storage)|"
    r"you(?:'ve| have)? (?:been selected|won)|congratulations|winner|claim your|free gift|reward|"
    r"bitcoin|btc|crypto|seed phrase|recovery phrase|beneficiary|inheritance|next of kin|"
    r"million (?:dollars|usd)|wire transfer|gift card|act now|limited time|expires? (?:today|soon)|"
    r"action required|final notice|urgent)\b"
    # The same lures in the languages phishing most often arrives in besides English
    # (Portuguese, Spanish, French, German): verify/confirm/update your account or data, the
    # account is blocked or suspended, an irregularity, a pending notice, a final reminder.
    r"|\b(?:(?:verifi|confirm|atualiz|actualiz|regulariz)\w* (?:sua|seu|seus|suas|su|sus|votre|vos|"
    r"ihr\w*) (?:conta|cuenta|compte|konto|dados|datos|donn[ée]es|daten|cadastro|identi\w+)|"
    r"(?:conta|cuenta|compte|konto|cart[ãa]o|tarjeta) (?:\w+ )?(?:bloquead[oa]|suspens[oa]|"
    r"suspendid[oa]|bloqu[ée]e?|suspendu|gesperrt)|irregularidade|irregularidad|pend[eê]ncia|"
    r"regulariza[çc][ãa]o|intima[çc][ãa]o|notifica[çc][ãa]o (?:oficial|judicial|extrajudicial)|"
    r"[úu]ltimo aviso|dernier rappel|letzte mahnung|aviso urgente|urgente)\b",
    re.IGNORECASE,
)
_DISGUISE = re.compile(
    r"[\u0300-\u036f\u0700-\u074f\u200b-\u200f\u2060\ufeff]|[\U0001d400-\U0001d7ff]"
)


def phishing_evidence(email: EmailInput) -> list[str]:
    """Named cues of phishing or modern spam (empty for ordinary mail)."""
    cues: list[str] = []
    name = email.from_name or ""
    addr = (email.from_addr or "").lower()
    domain = addr.rsplit("@", 1)[-1] if "@" in addr else ""
    brand = _BRANDS.search(name)
    if brand and brand.group(0).lower().replace(" ", "") not in domain.replace("-", ""):
        cues.append("display name claims a brand the sender domain is not")
    if addr and ("@" not in addr or "." not in domain):
        # No "@", or a domain without a dot ("avisos@receitafederal"): no real mail system
        # sends from that, a hand-made header does.
        cues.append("malformed sender address")
    if _DISGUISE.search(f"{email.subject} {name}"):
        cues.append("look-alike or hidden Unicode in subject/sender")
    text = f"{email.subject}\n{(email.full_text or email.body_text)[:MAX_TEXT_CHARS]}"
    lures = {m.group(0).lower() for m in _LURES.finditer(text)}
    if lures:
        cues.append(f"{len(lures)} lure phrase(s)")
    reply_to = (header(email, "Reply-To") or "").lower()
    if reply_to and domain and "@" in reply_to and domain not in reply_to:
        cues.append("Reply-To goes to another domain")
    cues.extend(authentication_failures(email))
    return cues


_AUTH_VERDICT = {
    method: re.compile(rf"\b{method}\s*=\s*([a-z]+)", re.IGNORECASE)
    for method in ("spf", "dkim", "dmarc")
}


def authentication_results(email: EmailInput) -> dict[str, str]:
    """SPF/DKIM/DMARC verdicts of the user's own provider (RFC 8601 Authentication-Results).

    Only the first (topmost) header is read: it is the one the user's provider added on
    receipt; any below it came with the message and may be forged. ``Received-SPF``
    (RFC 7208) fills SPF in when the results header lacks it.
    """
    results = " ".join((header(email, "Authentication-Results") or "").split())
    verdicts = {}
    for method, pattern in _AUTH_VERDICT.items():
        match = pattern.search(results)
        if match:
            verdicts[method] = match.group(1).lower()
    received_spf = (header(email, "Received-SPF") or "").split()
    if "spf" not in verdicts and received_spf:
        verdicts["spf"] = received_spf[0].lower()
    return verdicts


def authentication_failures(email: EmailInput) -> list[str]:
    """Named authentication failures: a forged or unauthenticated sender domain.

    Mailing lists re-send mail and legitimately break SPF and DKIM, so list mail (List-Id)
    is never judged here.
    """
    verdicts = authentication_results(email)
    if not verdicts or header(email, "List-Id") is not None:
        return []
    cues = []
    if verdicts.get("dmarc") == "fail":
        cues.append("DMARC failed")
    if verdicts.get("spf") in ("fail", "softfail"):
        cues.append(f"SPF {verdicts['spf']}")
    if verdicts.get("dkim") == "fail":
        cues.append("DKIM failed")
    if all(verdicts.get(m, "none") == "none" for m in ("spf", "dkim", "dmarc")):
        # Since 2024 Gmail and Yahoo require SPF or DKIM of every sender: none at all is
        # either a hand-rolled server or a forged domain.
        cues.append("sender not authenticated (no SPF, DKIM or DMARC)")
    return cues


# --- bulk / newsletter evidence -----------------------------------------------------------------
# A sender-run list (marketing, newsletters) announces itself in its headers: an unsubscribe
# address without a discussion list's List-Id (RFC 2369/2919), RFC 8058 one-click
# unsubscribe, Precedence: bulk, or a bulk-mail system in X-Mailer. Discussion lists carry
# List-Id or List-Post and stay "list" mail (the learned head handles them).
_BULK_MAILER = re.compile(
    r"\b(?:lyris|listmanager|accucast|stormpost|roving|constant ?contact|mailchimp|mailerlite|"
    r"sendgrid|campaign ?monitor|exacttarget|responsys|sendinblue|brevo|klaviyo|hubspot|"
    r"marketo|eloqua|phplist|mailjet|silverpop|emarsys|benchmark email|icontact|aweber|"
    r"getresponse|mailwizz|acumbamail)\b",
    re.IGNORECASE,
)
_BULK_SUBJECT = re.compile(
    r"\b(?:digest|newsletter|bulletin|weekly|monthly|issue\s*#?\s*\d+|vol(?:ume)?\.?\s*\d+|"
    r"(?:word|tip|quote|slang|joke) of the (?:day|week))\b",
    re.IGNORECASE,
)


def bulk_evidence(email: EmailInput) -> list[str]:
    """Named cues that a sender-run list sent this (empty for person-to-person mail)."""
    cues: list[str] = []
    # A list one can post to is a discussion list (older list servers send List-Post
    # without List-Id).
    list_id = header(email, "List-Id") is not None or header(email, "List-Post") is not None
    if header(email, "List-Unsubscribe") is not None and not list_id:
        cues.append("List-Unsubscribe without List-Id")
    if "one-click" in (header(email, "List-Unsubscribe-Post") or "").lower():
        cues.append("one-click unsubscribe")
    if (header(email, "Precedence") or "").strip().lower() == "bulk" and not list_id:
        cues.append("Precedence: bulk")
    if _BULK_MAILER.search(header(email, "X-Mailer") or ""):
        cues.append("sent by a bulk-mail system")
    if _BULK_SUBJECT.search(email.subject):
        cues.append("newsletter-style subject")
    return cues


def phishing_score(cues: list[str]) -> float:
    """Lure phrases count per phrase (capped); every other cue counts once."""
    score = 0.0
    for cue in cues:
        if cue.endswith("lure phrase(s)"):
            score += min(int(cue.split()[0]), 3) * 0.5
        else:
            score += 1.0
    return score
