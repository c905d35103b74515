"""The user's writing style, learned from the mail they sent, for every draft.

``style_for`` reads the newest part (quotes and signatures already split off by the
parser) of the user's recent sent messages and learns greeting, closing, signature and
typical length with the pure ``llm.local.style.learn_style``. The profile is recomputed as
sent mail arrives: it is cached per user and keyed by the newest sent message, so a new
sent message changes the key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from secretary.db.models import Message
from secretary.llm.local.style import learn_style
from secretary.llm.schemas import StyleProfile

SENT_SAMPLE = 300  # about what Fyxer learns from
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[int, int, int], StyleProfile] = OrderedDict()
_lock = threading.Lock()


def style_for(session: Session, user_id: int) -> StyleProfile:
    """The style of the user's newest ``SENT_SAMPLE`` sent messages (defaults when none)."""
    newest, count = session.execute(
        select(func.max(Message.id), func.count(Message.id)).where(
            Message.user_id == user_id, Message.label_ids.contains(["SENT"])
        )
    ).one()
    key = (user_id, int(newest or 0), int(count or 0))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    texts = session.scalars(
        select(func.coalesce(Message.reply_text, Message.body_text))
        .where(Message.user_id == user_id, Message.label_ids.contains(["SENT"]))
        .order_by(Message.internal_date.desc().nulls_last())
        .limit(SENT_SAMPLE)
    ).all()
    # learn_style reads newest last; the signature block is kept with the text it ends.
    profile = learn_style([t for t in reversed(texts) if t])
    with _lock:
        _cache[key] = profile
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return profile
