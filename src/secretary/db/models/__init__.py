"""All ORM models, imported here so Alembic and the app see one metadata."""

from secretary.db.models.api_token import ApiToken
from secretary.db.models.attachment import Attachment
from secretary.db.models.audit_log import AuditLog
from secretary.db.models.conversation import Conversation, ConversationTurn
from secretary.db.models.draft import Draft, DraftKind, DraftStatus
from secretary.db.models.draft_feedback import DraftFeedback
from secretary.db.models.google_account import AccountStatus, GoogleAccount
from secretary.db.models.label import Label
from secretary.db.models.message import Message
from secretary.db.models.proposed_action import ProposedAction, ProposedActionStatus
from secretary.db.models.push_receipt import PushReceipt
from secretary.db.models.rule import Rule
from secretary.db.models.scheduling import MeetingOffer, MeetingOfferStatus, SchedulingPreference
from secretary.db.models.search import SearchItem, SearchVector
from secretary.db.models.style_preference import StylePreference
from secretary.db.models.sync_state import SyncState
from secretary.db.models.task_record import TaskRecord, TaskStatus
from secretary.db.models.thread import Thread
from secretary.db.models.triage_result import TriageResult
from secretary.db.models.user import User
from secretary.db.models.web_session import WebSession
from secretary.db.models.workspace import (
    Calendar,
    CalendarEvent,
    CalendarInstance,
    DriveFile,
    QuotaBucket,
    QuotaLease,
)

__all__ = [
    "AccountStatus",
    "ApiToken",
    "Attachment",
    "AuditLog",
    "Calendar",
    "CalendarEvent",
    "CalendarInstance",
    "Conversation",
    "ConversationTurn",
    "Draft",
    "DraftFeedback",
    "DraftKind",
    "DraftStatus",
    "DriveFile",
    "GoogleAccount",
    "Label",
    "MeetingOffer",
    "MeetingOfferStatus",
    "Message",
    "ProposedAction",
    "ProposedActionStatus",
    "PushReceipt",
    "QuotaBucket",
    "QuotaLease",
    "Rule",
    "SchedulingPreference",
    "SearchItem",
    "SearchVector",
    "StylePreference",
    "SyncState",
    "TaskRecord",
    "TaskStatus",
    "Thread",
    "TriageResult",
    "User",
    "WebSession",
]
