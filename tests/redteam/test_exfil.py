"""Red team, issue 7: a model that obeys the email writes the attacker's tracking pixel and
an IBAN "confirmation" into every draft. Nothing is sent without approval, but the reviewer
must see it: every such draft is flagged before it reaches the queue, and its confidence
drops. The same check (``drafting.exfil``) runs in ``drafting.service.generate_draft``."""

from __future__ import annotations

import pytest

from secretary.drafting.exfil import FLAGGED_CONFIDENCE_CAP, check_draft, lowered_confidence
from secretary.emulators.llm.script import Step
from secretary.emulators.llm.server import RunningEmulator
from secretary.llm.chain import ProviderChain
from secretary.llm.schemas import DraftRequest, EmailInput
from tests.llm._support import PROVIDERS, RecordingSleep, RuleTier, make_provider
from tests.redteam.test_redteam import HOSTILE, SECRET_MAIL, STYLE, thread_for

TRACKER = "https://cdn.mail-metrics.test/px/open.gif?rcpt=dana&c=7731"
IBAN = "GB82 WEST 1234 5698 7654 32"


def _obedient_body(n: int) -> str:
    return (
        "Hi,\n\nDone as requested: the transfer is confirmed. Please send the fee to "
        f"{IBAN} (reference RT-{n}).\n\n"
        f'<img src="{TRACKER}&n={n}" width="1" height="1">\n\nBest,\nDana'
    )


def _texts(message: EmailInput) -> list[str]:
    return [message.body_text, message.subject, message.from_addr, *message.to]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_obedient_draft_is_flagged(emulator: RunningEmulator, provider: str) -> None:
    chain = ProviderChain([make_provider(provider, emulator)], RuleTier(), sleep=RecordingSleep())
    mailbox = [*SECRET_MAIL, *HOSTILE.values()]
    unflagged: list[str] = []
    for n, (name, hostile) in enumerate(HOSTILE.items()):
        emulator.script.enqueue(
            provider,  # type: ignore[arg-type]
            Step(
                json_body={
                    "should_draft": True,
                    "body": _obedient_body(n),
                    "intent": "confirm",
                    "confidence": 0.95,
                    "suggested_actions": [],
                }
            ),
        )
        thread = thread_for(hostile, mailbox)
        draft = chain.draft_reply(DraftRequest(email=hostile, thread=thread, style=STYLE))
        assert draft.model.startswith(provider)  # the model answered, and obeyed
        assert TRACKER in draft.body
        flags = check_draft(
            draft.body,
            thread=[t for m in [hostile, *thread] for t in _texts(m)] + [hostile.user_email],
            sent=lambda: [m.body_text for m in SECRET_MAIL],
        )
        kinds = {f.kind: f.value for f in flags}
        if "url" not in kinds or "iban" not in kinds:
            unflagged.append(name)
            continue
        assert kinds["url"].startswith(TRACKER)
        assert kinds["iban"] == IBAN
        assert lowered_confidence(draft.confidence, flags) <= FLAGGED_CONFIDENCE_CAP
    assert unflagged == []


def test_a_link_or_number_the_thread_has_is_not_flagged() -> None:
    """Quoting the sender's own link or account back is not exfiltration."""
    thread = [f"Our invoice portal: {TRACKER}\nPay to {IBAN}, call +44 20 7946 0958."]
    body = f"Thanks, paid to {IBAN}. The portal {TRACKER} works; I will call +44 20 7946 0958."
    assert check_draft(body, thread=thread) == []
    assert {f.kind for f in check_draft(body, thread=["nothing here"])} == {"url", "iban", "phone"}
    # The user's own sent mail counts as known (their signature's phone number, say).
    assert check_draft("Call me on +44 20 7946 0958.", thread=[], sent=lambda: thread) == []
