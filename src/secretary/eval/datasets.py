"""Loaders and deterministic splits for the labelled mail sets under ``shared/data``.

Every loader yields ``LabeledMail`` values whose ``label`` is the dataset's own label (not our
category): the metrics map predictions onto it. Splits come from a hash of the file's path
relative to the data root, so they never change when files are added elsewhere:
buckets [0, 60) train, [60, 80) dev, [80, 100) test. Sets that are evaluation-only (their
licence forbids training on them) split [0, 50) dev, [50, 100) test. Parakweet ships its own
test file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from secretary.llm.schemas import EmailInput
from secretary.mail.mime import parse_message

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")

SPAMASSASSIN = "spamassassin_public_corpus"
PHISHING = "phishing_pot_sample"
BERKELEY = "enron_berkeley_categories"
PARAKWEET = "parakweet_email_intent"
FLANKER = "flanker_fixtures"
DATASETS = (SPAMASSASSIN, PHISHING, BERKELEY, PARAKWEET)
ANONYMISED = "phishing@pot"  # phishing_pot's stand-in for addresses (its SOURCE.md)

# What each set may be used for, from its SOURCE.md (checked 2026-11-21).
LICENSES = {
    SPAMASSASSIN: (
        "ODC PDDL-1.0 / CC0-1.0 (stdlib-js packaging of the Apache SpamAssassin corpus)",
        True,
    ),
    PARAKWEET: ("Apache-2.0 (Parakweet Labs)", True),
    FLANKER: ("Apache-2.0 (mailgun/flanker test fixtures)", True),
    # The Enron mail text is public (FERC release); the Berkeley labels carry no licence, so
    # only the text of train-bucket messages is used for training, never the labels.
    BERKELEY: ("Enron text public (FERC); Berkeley labels unlicensed: evaluation only", False),
    PHISHING: ("CC BY-NC 4.0: evaluation only", False),
}

# Headers the classifier reads; the pipeline passes the same names in ``EmailInput.headers``.
KEPT_HEADERS = (
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Post",
    "Precedence",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Return-Path",
    "Reply-To",
    "Content-Type",
    "X-Mailer",
    "Feedback-ID",
    "X-Campaign",
    "X-Mailgun-Tag",
    "X-MC-User",
    "X-SES-Outgoing",
    "X-Report-Abuse",
    # The receiving server's verdicts on the sender (RFC 8601, RFC 7208): the first
    # (topmost) one is kept, which is the user's own provider's. Spam-filter scores are not.
    "Authentication-Results",
    "Received-SPF",
    "DKIM-Signature",
    "X-Spam-Status",
    "X-Spam-Flag",
)
# Headers that would leak the answer: spam-filter verdicts were added by the corpus donors.
LEAKY_HEADERS = ("X-Spam-Status", "X-Spam-Flag")


@dataclass(frozen=True, slots=True)
class LabeledMail:
    key: str  # path relative to the data root: the split hash and cache key
    label: str
    email: EmailInput


@dataclass(frozen=True, slots=True)
class LabeledSentence:
    key: str
    label: str  # "yes" (request/proposal intent) or "no"
    text: str


def bucket_of(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100


def split_of(key: str, *, trainable: bool = True) -> Split:
    bucket = bucket_of(key)
    if not trainable:  # evaluation-only sets: half dev, half test
        return "test" if bucket >= 50 else "dev"
    if bucket >= 80:
        return "test"
    if bucket >= 60:
        return "dev"
    return "train"


def email_input_from_raw(raw: bytes, *, user_email: str | None = None) -> EmailInput:
    """Build the ``EmailInput`` the pipeline would build for this raw message."""
    parsed = parse_message(raw)
    lowered = {name.lower(): name for name in KEPT_HEADERS}
    headers = {
        lowered[name]: value.strip()
        for name, value in parsed.headers.items()
        if name in lowered and lowered[name] not in LEAKY_HEADERS
    }
    sender = parsed.from_[0] if parsed.from_ else None
    body = parsed.text or parsed.html_text
    return EmailInput(
        subject=parsed.subject,
        from_name=sender.name if sender else None,
        from_addr=sender.email if sender else None,
        to=[a.email for a in parsed.to],
        cc=[a.email for a in parsed.cc],
        sent_at=parsed.date,
        body_text=parsed.reply or body,
        full_text=body,
        headers=headers,
        user_email=user_email,
        has_attachments=bool(parsed.attachments),
        has_calendar_invite=parsed.calendar_invite is not None,
    )


def _mail(root: Path, path: Path, label: str) -> LabeledMail:
    return LabeledMail(
        key=str(path.relative_to(root)), label=label, email=email_input_from_raw(path.read_bytes())
    )


def _wanted(key: str, split: Split | None, *, trainable: bool) -> bool:
    return split is None or split_of(key, trainable=trainable) == split


def load_spamassassin(root: Path, split: Split | None = None) -> Iterator[LabeledMail]:
    """Labels: ``spam``, ``newsletter`` (hard_ham: marketing the user subscribed to), ``ham``."""
    labels = {"spam-1": "spam", "spam-2": "spam", "hard-ham-1": "newsletter"}
    for path in sorted((root / SPAMASSASSIN).glob("*/*.txt")):
        key = str(path.relative_to(root))
        if _wanted(key, split, trainable=True):
            yield _mail(root, path, labels.get(path.parent.name, "ham"))


def load_phishing(root: Path, split: Split | None = None) -> Iterator[LabeledMail]:
    """All phishing (label ``spam``). Never follow links or open attachments in these."""
    for path in sorted((root / PHISHING / "email").glob("*.eml")):
        key = str(path.relative_to(root))
        if _wanted(key, split, trainable=False):
            item = _mail(root, path, "spam")
            if (item.email.from_addr or "").lower() == ANONYMISED:
                # The set's anonymisation replaced some senders too: no rule may read that
                # placeholder (it has no dot, so it would look like a forged address).
                email = item.email.model_copy(update={"from_addr": None, "from_name": None})
                item = LabeledMail(key=item.key, label=item.label, email=email)
            yield item


def berkeley_labels(cats: str) -> set[str]:
    """``{"1.4", "2.10", ...}`` from a ``.cats`` file (any annotator count)."""
    out = set()
    for line in cats.splitlines():
        parts = line.strip().split(",")
        if len(parts) == 3:
            out.add(f"{parts[0]}.{parts[1]}")
    return out


def load_berkeley(
    root: Path, split: Split | None = None, *, with_labels: bool = True
) -> Iterator[LabeledMail]:
    """Label ``meeting`` (1.4 logistics), ``newsletter`` (2.10) or ``other``.

    ``with_labels=False`` is the training path: it yields the public Enron text only, with the
    source-derived label ``personal`` (person-to-person work mail).
    """
    for path in sorted((root / BERKELEY).glob("*/*.txt")):
        key = str(path.relative_to(root))
        # Train on the train bucket only, so dev/test Enron text stays unseen.
        if not _wanted(key, split, trainable=True):
            continue
        if not with_labels:
            yield _mail(root, path, "personal")
            continue
        cats = berkeley_labels(path.with_suffix(".cats").read_text(errors="replace"))
        label = "meeting" if "1.4" in cats else "newsletter" if "2.10" in cats else "other"
        yield _mail(root, path, label)


def load_flanker_notifications(root: Path) -> Iterator[LabeledMail]:
    """Bounces and feedback-loop complaints: automated notifications (Apache-2.0)."""
    base = root / FLANKER / "messages"
    for path in sorted([*base.glob("bounce/*.eml"), *base.glob("complaints/*.eml")]):
        yield _mail(root, path, "notification")


def load_parakweet(root: Path, split: Split | None = None) -> Iterator[LabeledSentence]:
    """Sentences labelled ``yes``/``no``; the upstream test file is our test split."""
    base = root / PARAKWEET
    files: list[tuple[str, Split | None]] = [
        ("Ask0729-fixed.txt", None),
        ("testSet-qualifiedBatch-fixed.txt", "test"),
    ]
    for name, fixed in files:
        lines = (base / name).read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines):
            label, _, text = line.partition("\t")
            if label.strip().lower() not in ("yes", "no") or not text.strip():
                continue
            key = f"{PARAKWEET}/{name}:{number}"
            # Ask0729 has no test part: its test bucket joins dev.
            own: Split = fixed or ("train" if split_of(key) == "train" else "dev")
            if split is None or own == split:
                yield LabeledSentence(key=key, label=label.strip().lower(), text=text.strip())


def load(root: Path, dataset: str, split: Split | None = None) -> list[LabeledMail]:
    if dataset == SPAMASSASSIN:
        return list(load_spamassassin(root, split))
    if dataset == PHISHING:
        return list(load_phishing(root, split))
    if dataset == BERKELEY:
        return list(load_berkeley(root, split))
    raise ValueError(f"not a mail dataset: {dataset}")


def default_data_root() -> Path:
    """``../shared/data`` next to the checkout (as CI lays it out), else from the cwd."""
    repo = Path(__file__).resolve().parents[3]
    for candidate in (repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data"
