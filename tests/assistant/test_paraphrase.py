"""The local tier answers questions worded differently from the mail, and only those.

Each test is one generalisation (stems and paraphrase groups, value shapes, relative time
phrases, agenda questions, entity binding), checked on small items rather than on the
demo workspace, so that a rule cannot pass by knowing the eval's questions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from secretary.assistant.intent import parse_intent, parse_time_range
from secretary.assistant.lexicon import canonical, expected_shapes, has_shape, mentions, stem
from secretary.assistant.planner import plan_for
from secretary.assistant.schemas import Item, Operation, Service, StepResult
from secretary.assistant.synthesis import NOT_FOUND, best_sentence, synthesize

NOW = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)  # a Tuesday, 09:30 in New York
ZONE = "America/New_York"

ITINERARY = Item(
    kind="file",
    id="f-trip",
    title="Denver trip itinerary",
    text=(
        "Denver trip (3-4 March 2027)\n"
        "- 06:50 depart Boston Logan (BOS), Mesa Air MA 210, seat 7F\n"
        "- 09:35 arrive Denver (DEN), local time\n"
        "- 17:20 depart Denver (DEN), Mesa Air MA 211, seat 9C\n"
    ),
)
BOOKING = Item(
    kind="email",
    id="m-book",
    title="Your booking BX42QZ",
    text=(
        "Thanks for booking with Mesa Air.\n\n"
        "Outbound: Wednesday, March 3, 2027\n"
        "  Flight MA 210  Boston (BOS) 06:50  ->  Denver (DEN) 09:35\n"
        "  Seat 7F\n\n"
        "Return: Thursday, March 4, 2027\n"
        "  Flight MA 211  Denver (DEN) 17:20  ->  Boston (BOS) 22:55\n"
        "  Seat 9C\n"
    ),
    at=datetime(2027, 2, 1, 12, 0, tzinfo=UTC),
)
BUDGET = Item(
    kind="file",
    id="f-budget",
    title="Team budget 2027",
    text=(
        "Category,Budget (USD),Notes\n"
        "Travel,5000.00,Seattle trip 612.40; Denver flights 540.00\n"
        "Events,3000.00,Booth\n"
    ),
)


def _answer(question: str, *items: Item) -> str:
    intent = parse_intent(question, now=NOW, time_zone=ZONE)
    plan = plan_for(intent)
    results = {"drive_search": StepResult(step_id="drive_search", ok=True, items=list(items))}
    return synthesize(intent, plan, results, time_zone=ZONE, now=NOW).text


# --- stems, paraphrases, shapes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("arrival", "arrives"),
        ("departure", "depart"),
        ("delivery", "delivered"),
        ("cancellation", "cancelled"),
        ("prices", "price"),
        ("nights", "night"),
    ],
)
def test_inflections_share_a_stem(a: str, b: str) -> None:
    assert stem(a) == stem(b)


def test_paraphrase_groups_match_and_stay_narrow() -> None:
    assert mentions("arrival", "- 09:35 arrive Denver (DEN)")
    assert mentions("land", "Arrives 09:35 local time")
    assert mentions("fare", "Total price: USD 540.00")
    assert mentions("per-day", "the limit is now $75 per day")
    assert not mentions("home", "Return: Thursday, March 4")  # only "flight home" is a return
    assert not mentions("taxis", "taxes USD 32.86")


def test_multi_word_phrasings_become_one_word() -> None:
    assert canonical("When does my flight home take off?") == "When does my return flight depart?"
    assert canonical("What's my seat on the way back?") == "What's my seat on the return?"


@pytest.mark.parametrize(
    ("question", "shapes"),
    [
        ("What's my arrival time in Denver?", ["time"]),
        ("When does the pilot start?", ["time", "date"]),
        ("How many nights is the booking?", ["duration"]),
        ("How much notice do we need to give?", ["duration"]),
        ("By what percentage does the price go up?", ["percent", "amount"]),
        ("What is the order number?", ["code"]),
        ("What's the name of my hotel?", ["person"]),
        ("What does Priya need from me?", []),
    ],
)
def test_questions_ask_for_value_shapes(question: str, shapes: list[str]) -> None:
    assert expected_shapes(question) == shapes


def test_value_shapes() -> None:
    assert has_shape(["time"], "Check-in from 15:00")
    assert has_shape(["percent"], "a 12% revenue share")
    assert has_shape(["duration"], "King room, 1 night")
    assert not has_shape(["time", "date"], "Notes: Seattle trip 612.40")


# --- time phrases ---------------------------------------------------------------------


def _local_day(question: str) -> date:
    span = parse_time_range(question, now=NOW, time_zone=ZONE)
    assert span is not None
    assert span.start is not None
    return span.start.astimezone(ZoneInfo(ZONE)).date()


@pytest.mark.parametrize(
    ("question", "day"),
    [
        ("What's on the day after tomorrow?", date(2026, 11, 19)),
        ("What happened the day before yesterday?", date(2026, 11, 15)),
        ("Anything in 3 days?", date(2026, 11, 20)),
        ("What is on my agenda two days from now?", date(2026, 11, 19)),
        ("Which meetings did I have on Monday?", date(2026, 11, 16)),  # past tense: behind
        ("What do I have on Monday?", date(2026, 11, 23)),  # otherwise: ahead
        ("Anything planned for the weekend?", date(2026, 11, 21)),
        ("What did I do over the weekend?", date(2026, 11, 14)),
    ],
)
def test_relative_day_phrases(question: str, day: date) -> None:
    assert _local_day(question) == day


def test_time_phrase_is_not_a_search_word() -> None:
    intent = parse_intent("What's on my agenda two days from now?", now=NOW, time_zone=ZONE)
    assert "two" not in intent.keywords
    assert "now" not in intent.keywords


# --- intent ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "What does my Wednesday look like?",
        "Anything planned for this weekend?",
        "What's on my schedule the day after tomorrow?",
    ],
)
def test_a_time_and_agenda_words_list_the_calendar(question: str) -> None:
    intent = parse_intent(question, now=NOW, time_zone=ZONE)
    assert intent.operation is Operation.FIND  # "my schedule" is a noun, not a request
    assert intent.services == [Service.CALENDAR]
    assert intent.target == "agenda"
    assert [step.id for step in plan_for(intent).steps] == ["calendar_search", "answer"]


@pytest.mark.parametrize(
    ("question", "operation"),
    [
        ("Write back to Jordan saying Tuesday works", Operation.DRAFT),
        ("Let Priya know the guide is updated", Operation.DRAFT),
        ("Send Jordan a note proposing Wednesday", Operation.DRAFT),
        ("What's Jordan Lee's email address?", Operation.FIND),
        ("Can you let me know when the call is?", Operation.FIND),
    ],
)
def test_drafting_paraphrases(question: str, operation: Operation) -> None:
    assert parse_intent(question, now=NOW).operation is operation


def test_names_skip_capitalised_function_words_and_keep_apostrophes() -> None:
    intent = parse_intent("By what percentage does Contoso raise the price at O'Hare?", now=NOW)
    assert intent.entities.people == ["Contoso", "O'Hare"]


def test_follow_up_by_pronoun() -> None:
    first = parse_intent("When is the Contoso renewal call?", now=NOW)
    second = parse_intent("How much are they proposing?", now=NOW, previous=first)
    assert second.follow_up
    assert "contoso" in second.keywords


def test_then_asks_about_the_same_day() -> None:
    intent = parse_intent("When does my parcel arrive, and what's on my calendar then?", now=NOW)
    assert intent.same_day


# --- synthesis ------------------------------------------------------------------------


def test_arrival_time_is_found_under_another_word() -> None:
    answer = _answer("What's my arrival time in Denver?", ITINERARY)
    assert "09:35" in answer


def test_direction_picks_the_right_leg() -> None:
    intent = parse_intent("When does my flight to Denver leave?", now=NOW, time_zone=ZONE)
    assert "06:50" in best_sentence(intent, BOOKING.text)
    back = parse_intent("What's my seat on the way back?", now=NOW, time_zone=ZONE)
    assert "9C" in best_sentence(back, BOOKING.text)  # "Return:" and its indented lines


def test_entity_in_another_clause_of_a_row_does_not_answer() -> None:
    # The row names Seattle and flights, but not a Seattle flight: no answer, no citation.
    assert _answer("When is my flight to Seattle?", BUDGET) == NOT_FOUND
    assert _answer("Which hotel am I staying at in Seattle?", BUDGET) == NOT_FOUND
    assert "612.40" in _answer("How much did the Seattle trip cost?", BUDGET)


def test_when_is_not_answered_without_a_date() -> None:
    note = Item(kind="file", id="f1", title="Notes", text="The Denver offsite is being planned.")
    assert _answer("When is the Denver offsite?", note) == NOT_FOUND


def test_what_the_verb_is_about_must_be_there() -> None:
    receipt = Item(
        kind="email", id="m1", title="Denver receipt", text="Hotel: USD 240.00; taxes USD 31.00"
    )
    assert _answer("How much did I spend on taxis in Denver?", receipt) == NOT_FOUND
    assert "240.00" in _answer("How much did I spend on the hotel in Denver?", receipt)


# --- second round: value words, possessors, alternatives, ordinals, counting --------------


def test_an_amount_stands_in_for_the_verb_naming_it() -> None:
    renewal = Item(
        kind="email",
        id="m2",
        title="Fabrikam renewal",
        text="Our current agreement runs to June at USD 12,500 per year.\n\nBest,\nLee",
    )
    assert "12,500" in _answer("How much is Fabrikam paying per year right now?", renewal)


def test_every_word_of_a_name_must_be_there() -> None:
    receipt = Item(kind="email", id="m3", title="Denver receipt", text="Hotel: USD 240.00")
    assert _answer("How much did the Denver Lyft cost?", receipt) == NOT_FOUND


def test_an_owner_in_the_question_must_be_in_the_item() -> None:
    memo = Item(kind="email", id="m4", title="Policy memo", text="The cancellation policy: 48h.")
    assert _answer("What's the hotel's cancellation policy?", memo) == NOT_FOUND
    assert "48h" in _answer("What's the cancellation policy in the policy memo?", memo)


def test_alternatives_ask_for_their_unit() -> None:
    booking = Item(
        kind="email",
        id="m5",
        title="Reservation confirmed: Harbor Inn",
        text="Confirmation number: 5521\nHotel: Harbor Inn, Denver\nRoom: Queen, 2 nights\n",
    )
    answer = _answer("Is my hotel in Denver booked for one night or two?", booking)
    assert "2 nights" in answer


def test_ordinal_day_of_month() -> None:
    assert _local_day("What do I have on the 23rd?") == date(2026, 11, 23)
    assert _local_day("What did I have on the 2nd?") == date(2026, 11, 2)


def test_counting_things_on_the_calendar() -> None:
    intent = parse_intent("How many things are on my calendar on Friday?", now=NOW)
    assert intent.operation is Operation.COUNT
    assert intent.target == "events"


def test_per_unit_is_one_term() -> None:
    intent = parse_intent("How much do we pay Fabrikam per year?", now=NOW)
    assert "per-year" in intent.keywords
    assert mentions("per-year", "USD 72,000 per year")
    assert mentions("per-year", "the annual fee")


# --- third round: listings, addresses, bare follow-ups, event heads -----------------------


def test_rest_of_the_week() -> None:
    span = parse_time_range("Show my meetings for the rest of the week.", now=NOW, time_zone=ZONE)
    assert span is not None
    assert span.start is not None
    assert span.end is not None
    zone = ZoneInfo(ZONE)
    assert span.start.astimezone(zone).date() == date(2026, 11, 18)
    assert span.end.astimezone(zone).date() == date(2026, 11, 23)


def test_mail_of_a_time_is_listed() -> None:
    intent = parse_intent("What emails did I get today?", now=NOW, time_zone=ZONE)
    assert intent.services == [Service.MAIL]
    assert intent.target == "inbox"
    assert [step.id for step in plan_for(intent).steps] == ["mail_search", "answer"]
    listing = StepResult(
        step_id="mail_search",
        ok=True,
        items=[Item(kind="email", id="m9", title="Lunch?", people=["Ana Ruiz", "ana@x.test"])],
        value={"listing": "mail"},
    )
    text = synthesize(intent, plan_for(intent), {"mail_search": listing}, time_zone=ZONE).text
    assert text == "Your mail today: “Lunch?” from Ana Ruiz [1]."


def test_an_address_is_read_from_the_headers() -> None:
    mail = Item(
        kind="email",
        id="m6",
        title="Release checklist",
        text="Please sign off by Thursday.",
        people=["Marco Bianchi", "marco.bianchi@example.test"],
    )
    intent = parse_intent("What's Marco's email address?", now=NOW)
    results = {"mail_search": StepResult(step_id="mail_search", ok=True, items=[mail])}
    answer = synthesize(intent, plan_for(intent), results, time_zone=ZONE)
    assert "Marco: marco.bianchi@example.test [1]" in answer.text


def test_an_email_line_names_its_sender() -> None:
    mail = Item(
        kind="email",
        id="m7",
        title="Denver checklist",
        text="The Denver checklist needs your sign-off by Friday.",
        people=["Marco Bianchi", "marco@example.test"],
        at=datetime(2026, 11, 16, 16, 0, tzinfo=UTC),
    )
    answer = _answer("Who sent me the Denver checklist?", mail)
    assert "from Marco Bianchi" in answer


def test_a_bare_question_follows_up() -> None:
    first = parse_intent("Where is the Northwind on-site?", now=NOW)
    second = parse_intent("what time?", now=NOW, previous=first)
    assert second.follow_up
    assert "on-site" in second.keywords


def test_the_day_it_is_due_is_the_same_day() -> None:
    intent = parse_intent(
        "Marco asked for my sign-off; what's on my calendar the day it's due?", now=NOW
    )
    assert intent.same_day


def test_an_event_question_needs_that_event() -> None:
    mail = Item(
        kind="email",
        id="m8",
        title="Meet next week about the proposal?",
        text="Beyond Friday's on-site, I'd like to go through it before we take it to our board.",
    )
    assert _answer("When is the Fabrikam board meeting?", mail) == NOT_FOUND


def test_a_quarter_selects_a_value() -> None:
    sheet = Item(
        kind="file",
        id="f2",
        title="Budget 2027",
        text="Item,Q3,Q4\nDesign,18000,19000\n",
    )
    assert _answer("How much is the Design budget for Q1?", sheet) == NOT_FOUND
    assert "19000" in _answer("How much is the Design budget for Q4?", sheet)


def test_what_a_document_says_about_a_topic() -> None:
    guide = Item(
        kind="file",
        id="f3",
        title="Team handbook",
        text="Team handbook (draft)\nDay one: laptop and accounts.\nExpenses: the daily limit is $50.",
    )
    assert "$50" in _answer("What does the team handbook say about expenses?", guide)


def test_a_section_heading_dates_its_lines() -> None:
    from secretary.assistant.service import _section_times

    text = (
        "Trip\n\nThursday 19 November\n- 08:40 arrive Chicago\n\nFriday 20 November\n- 18:10 depart"
    )
    found = _section_times(text, "- 08:40 arrive Chicago", datetime(2026, 11, 9, tzinfo=UTC))
    assert found
    assert found[0].start is not None
    assert found[0].start.date() == date(2026, 11, 19)


# --- fourth round: parts of the day, yes/no questions, sources --------------------------


def test_parts_of_today_and_next_weekday() -> None:
    span = parse_time_range("Do I have anything tonight?", now=NOW, time_zone=ZONE)
    assert span is not None
    assert span.start is not None
    assert span.start.astimezone(ZoneInfo(ZONE)).hour == 17
    assert _local_day("What's on my calendar next Wednesday?") == date(2026, 11, 25)
    assert _local_day("What's on my calendar on Wednesday?") == date(2026, 11, 18)


def test_yes_no_question_needs_all_its_words() -> None:
    booking = Item(
        kind="email",
        id="m10",
        title="Your booking BX42QZ",
        text="Return: Thursday, March 4, 2027\n  Flight MA 211 Denver 17:20\n  Seat 9C\n",
    )
    assert _answer("Is a meal included on my return flight?", booking) == NOT_FOUND


def test_a_value_without_its_subject_is_no_answer() -> None:
    hotel = Item(
        kind="email",
        id="m11",
        title="Reservation confirmed: Harbor Inn",
        text="Rate: USD 180.00 per night; taxes USD 20.00",
    )
    assert _answer("How much does parking cost at Harbor Inn?", hotel) == NOT_FOUND
    assert "180.00" in _answer("How much does the room cost per night at Harbor Inn?", hotel)


def test_written_numbers_are_durations() -> None:
    assert has_shape(["duration"], "We propose a six-month pilot")


def test_start_is_answered_by_a_time() -> None:
    mail = Item(
        kind="email",
        id="m12",
        title="Re: Fabrikam on-site",
        text="Let's do 10:00 to 12:00 at our HQ.",
        people=["Jo Park", "jo@fabrikam.test"],
    )
    assert "10:00" in _answer("What time does the Fabrikam on-site start?", mail)


def test_contractions_are_not_search_words() -> None:
    intent = parse_intent("What is the name of the hotel I'm staying at?", now=NOW)
    assert "i'm" not in intent.keywords


def test_a_follow_up_keeps_the_direction_of_travel() -> None:
    first = parse_intent("When does my flight to Denver leave?", now=NOW, time_zone=ZONE)
    second = parse_intent("and what seat do I have?", now=NOW, time_zone=ZONE, previous=first)
    assert "7F" in best_sentence(second, BOOKING.text)
    home = parse_intent("When does my flight to Boston leave?", now=NOW, time_zone=ZONE)
    again = parse_intent("and what seat do I have?", now=NOW, time_zone=ZONE, previous=home)
    assert "9C" in best_sentence(again, BOOKING.text)
