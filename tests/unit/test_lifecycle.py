from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.lifecycle import (
    CALENDAR_YEAR,
    ROLLING_12_MONTHS,
    PointsPolicy,
    Tier,
    TierChange,
    TierMove,
    TierPolicy,
    TierProgress,
    add_months,
    check_points_policy,
    check_policy,
    check_tiers,
    end_of_day,
    expiry_of,
    kept_through,
    local_day,
    maturity_of,
    move_up,
    points_in_window,
    progress,
    review,
    review_due,
    tier_for,
    window_ends,
    window_months,
)
from loyalty.errors import ValidationError

BERLIN = ZoneInfo("Europe/Berlin")  # 2026-03-29 springs forward, 2026-10-25 falls back
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)

MEMBER = Tier("Member", 0, 100)
SILVER = Tier("Silver", 500, 125)
GOLD = Tier("Gold", 1000, 150)
PLATINUM = Tier("Platinum", 3000, 200)
TIERS = (MEMBER, SILVER, GOLD, PLATINUM)
NO_BASE = (SILVER, GOLD)

ROLLING = TierPolicy(window=ROLLING_12_MONTHS, grace_days=30)
CALENDAR = TierPolicy(window=CALENDAR_YEAR, grace_days=30)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def first_skipped_midnight(tz: tzinfo, year: int) -> date:
    """The first day of the year whose local midnight does not exist."""
    day = date(year, 1, 1)
    while day.year == year:
        midnight = datetime.combine(day, time(0), tz)
        round_trip = midnight.astimezone(UTC).astimezone(tz)
        if round_trip.replace(tzinfo=None) != midnight.replace(tzinfo=None):
            return day
        day += timedelta(days=1)
    raise AssertionError(f"no skipped midnight in {year}")


# add_months


def test_add_months_keeps_the_day_of_the_month() -> None:
    assert add_months(date(2026, 3, 15), 0) == date(2026, 3, 15)
    assert add_months(date(2026, 3, 15), 1) == date(2026, 4, 15)
    assert add_months(date(2026, 3, 15), 7) == date(2026, 10, 15)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 5, 31), -1, date(2026, 4, 30)),
    ],
)
def test_add_months_clamps_to_the_last_day_of_a_shorter_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (12, date(2029, 2, 28)),
        (24, date(2030, 2, 28)),
        (48, date(2032, 2, 29)),
        (-12, date(2027, 2, 28)),
        (-48, date(2024, 2, 29)),
    ],
)
def test_add_months_from_a_leap_day_lands_on_the_leap_day_only_in_leap_years(
    months: int, expected: date
) -> None:
    assert add_months(date(2028, 2, 29), months) == expected


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (-1, date(2025, 12, 15)),
        (-11, date(2025, 2, 15)),
        (-12, date(2025, 1, 15)),
        (-13, date(2024, 12, 15)),
        (-25, date(2023, 12, 15)),
    ],
)
def test_add_months_goes_back_across_years_with_negative_months(
    months: int, expected: date
) -> None:
    assert add_months(date(2026, 1, 15), months) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 13, date(2028, 1, 15)),
        (date(2026, 6, 30), 120, date(2036, 6, 30)),
    ],
)
def test_add_months_rolls_over_into_later_years(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# Local days and their ends


def test_local_day_is_the_day_in_the_program_timezone_not_in_utc() -> None:
    late_evening = utc(2026, 6, 11, 3, 30)  # 23:30 on 2026-06-10 in New York (UTC-4)
    assert local_day(late_evening, NEW_YORK) == date(2026, 6, 10)
    assert local_day(late_evening, UTC) == date(2026, 6, 11)
    just_after_midnight = utc(2026, 5, 31, 22, 30)  # 00:30 on 2026-06-01 in Berlin (UTC+2)
    assert local_day(just_after_midnight, BERLIN) == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 15), utc(2026, 1, 15, 23)),  # winter, +01:00
        (date(2026, 7, 15), utc(2026, 7, 15, 22)),  # summer, +02:00
        (date(2026, 3, 28), utc(2026, 3, 28, 23)),  # the next midnight is still +01:00
        (date(2026, 3, 29), utc(2026, 3, 29, 22)),  # the spring change: the next is +02:00
        (date(2026, 10, 24), utc(2026, 10, 24, 22)),  # the next midnight is still +02:00
        (date(2026, 10, 25), utc(2026, 10, 25, 23)),  # the autumn change: the next is +01:00
    ],
)
def test_end_of_day_is_the_next_local_midnight_in_utc(day: date, expected: datetime) -> None:
    end = end_of_day(day, BERLIN)
    assert end == expected
    assert end.tzinfo is UTC
    assert end.astimezone(BERLIN).replace(tzinfo=None) == datetime.combine(
        day + timedelta(days=1), time(0)
    )
    assert (end - TICK).astimezone(BERLIN).date() == day


def test_local_days_around_the_clock_changes_last_23_and_25_hours() -> None:
    spring = end_of_day(date(2026, 3, 29), BERLIN) - end_of_day(date(2026, 3, 28), BERLIN)
    autumn = end_of_day(date(2026, 10, 25), BERLIN) - end_of_day(date(2026, 10, 24), BERLIN)
    assert spring == timedelta(hours=23)
    assert autumn == timedelta(hours=25)


@pytest.mark.parametrize(
    ("zone", "year", "skipped", "expected"),
    [
        ("America/Santiago", 2026, date(2026, 9, 6), utc(2026, 9, 6, 4)),
        ("America/Santiago", 2027, date(2027, 9, 5), utc(2027, 9, 5, 4)),
        ("America/Havana", 2026, date(2026, 3, 8), utc(2026, 3, 8, 5)),
        ("America/Havana", 2027, date(2027, 3, 14), utc(2027, 3, 14, 5)),
    ],
)
def test_where_midnight_is_skipped_the_day_ends_at_the_first_instant_of_the_next(
    zone: str, year: int, skipped: date, expected: datetime
) -> None:
    tz = ZoneInfo(zone)
    day = first_skipped_midnight(tz, year)
    assert day == skipped
    end = end_of_day(day - timedelta(days=1), tz)
    assert end == expected
    assert end.astimezone(tz).date() == day
    assert end.astimezone(tz).time() == time(1)
    assert (end - TICK).astimezone(tz).date() == day - timedelta(days=1)


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # 01:00 goes back to 00:00: the new day's midnight happens twice; the first counts.
        ("America/Havana", date(2026, 10, 31), utc(2026, 11, 1, 4)),
        # 00:00 goes back to 23:00: the last hour of the day happens twice.
        ("America/Santiago", date(2026, 4, 4), utc(2026, 4, 5, 4)),
    ],
)
def test_where_the_clock_goes_back_around_midnight_the_day_ends_at_the_first_new_midnight(
    zone: str, day: date, expected: datetime
) -> None:
    tz = ZoneInfo(zone)
    end = end_of_day(day, tz)
    assert end == expected
    assert end.astimezone(tz).replace(tzinfo=None) == datetime.combine(
        day + timedelta(days=1), time(0)
    )
    assert (end - TICK).astimezone(tz).date() == day


# Expiry


def test_points_expire_at_the_end_of_the_local_day_months_later_after_the_autumn_change() -> None:
    earned = datetime(2025, 10, 25, 12, tzinfo=BERLIN)
    # The first instant of 2026-10-26 in Berlin, which is +01:00 again by then.
    assert expiry_of(earned, BERLIN, 12) == utc(2026, 10, 25, 23)


def test_points_expire_at_the_end_of_the_local_day_months_later_after_the_spring_change() -> None:
    earned = datetime(2025, 3, 29, 12, tzinfo=BERLIN)
    # The end of 2026-03-29, the day Berlin moved to +02:00.
    assert expiry_of(earned, BERLIN, 12) == utc(2026, 3, 29, 22)


def test_points_earned_on_a_leap_day_expire_at_the_end_of_february_28() -> None:
    earned = datetime(2028, 2, 29, 10, tzinfo=NEW_YORK)
    assert expiry_of(earned, NEW_YORK, 12) == utc(2029, 3, 1, 5)  # 2029-03-01 00:00 EST


def test_points_expiring_the_day_before_a_skipped_midnight_expire_at_local_one_oclock() -> None:
    santiago = ZoneInfo("America/Santiago")
    earned = datetime(2025, 9, 5, 12, tzinfo=santiago)
    expires = expiry_of(earned, santiago, 12)
    assert expires == utc(2026, 9, 6, 4)
    assert expires is not None
    assert expires.astimezone(santiago).replace(tzinfo=None) == datetime(2026, 9, 6, 1)


def test_points_kept_forever_have_no_expiry() -> None:
    assert expiry_of(datetime(2026, 5, 1, 12, tzinfo=BERLIN), BERLIN, None) is None


def test_expiry_counts_from_the_local_day_when_utc_is_already_on_the_next_day() -> None:
    earned = utc(2026, 6, 11, 3, 30)  # 23:30 on 2026-06-10 in New York
    # From 2026-06-10 local: the end of 2026-07-10, not of 2026-07-11.
    assert expiry_of(earned, NEW_YORK, 1) == utc(2026, 7, 11, 4)


def test_expiry_counts_from_the_local_day_when_utc_is_still_on_the_previous_day() -> None:
    earned = utc(2026, 5, 31, 22, 30)  # 00:30 on 2026-06-01 in Berlin
    # From 2026-06-01 local: the end of 2026-07-01, not of 2026-06-30.
    assert expiry_of(earned, BERLIN, 1) == utc(2026, 7, 1, 22)


def test_expiry_clamps_to_the_end_of_a_shorter_month() -> None:
    earned = datetime(2026, 1, 31, 9, tzinfo=BERLIN)
    assert expiry_of(earned, BERLIN, 1) == utc(2026, 2, 28, 23)  # the end of 2026-02-28


# Maturity


def test_points_without_a_return_window_are_spendable_at_once() -> None:
    earned = datetime(2026, 11, 1, 10, tzinfo=BERLIN)
    assert maturity_of(earned, BERLIN, 0) == earned
    assert maturity_of(utc(2026, 11, 1, 9, 17), BERLIN, 0) == utc(2026, 11, 1, 9, 17)


def test_points_mature_at_the_end_of_the_last_local_day_of_the_return_window() -> None:
    earned = datetime(2026, 11, 1, 10, tzinfo=BERLIN)
    assert maturity_of(earned, BERLIN, 14) == utc(2026, 11, 15, 23)  # the end of 2026-11-15


def test_maturity_crosses_a_clock_change_by_local_days() -> None:
    earned = datetime(2026, 10, 20, 10, tzinfo=BERLIN)  # +02:00
    assert maturity_of(earned, BERLIN, 14) == utc(2026, 11, 3, 23)  # +01:00
    assert maturity_of(datetime(2026, 3, 28, 10, tzinfo=BERLIN), BERLIN, 1) == utc(2026, 3, 29, 22)


def test_maturity_counts_from_the_local_day_when_utc_is_already_on_the_next_day() -> None:
    earned = utc(2026, 6, 11, 3, 30)  # 23:30 on 2026-06-10 in New York
    assert maturity_of(earned, NEW_YORK, 1) == utc(2026, 6, 12, 4)  # the end of 2026-06-11


# Tier windows


@pytest.mark.parametrize(
    ("policy", "day", "months", "ends", "kept"),
    [
        (
            ROLLING,
            date(2026, 11, 25),
            (date(2025, 12, 1), date(2026, 11, 1)),
            date(2026, 11, 30),
            date(2027, 11, 30),
        ),
        (
            CALENDAR,
            date(2026, 11, 25),
            (date(2026, 1, 1), date(2026, 12, 1)),
            date(2026, 12, 31),
            date(2026, 12, 31),
        ),
        (
            ROLLING,
            date(2026, 1, 1),
            (date(2025, 2, 1), date(2026, 1, 1)),
            date(2026, 1, 31),
            date(2027, 1, 31),
        ),
        (
            CALENDAR,
            date(2026, 1, 1),
            (date(2026, 1, 1), date(2026, 12, 1)),
            date(2026, 12, 31),
            date(2026, 12, 31),
        ),
        (
            ROLLING,
            date(2028, 2, 29),
            (date(2027, 3, 1), date(2028, 2, 1)),
            date(2028, 2, 29),
            date(2029, 2, 28),
        ),
        (
            CALENDAR,
            date(2028, 2, 29),
            (date(2028, 1, 1), date(2028, 12, 1)),
            date(2028, 12, 31),
            date(2028, 12, 31),
        ),
    ],
)
def test_window_months_ends_and_kept_through_follow_the_window_kind(
    policy: TierPolicy, day: date, months: tuple[date, date], ends: date, kept: date
) -> None:
    assert window_months(policy, day) == months
    assert window_ends(policy, day) == ends
    assert kept_through(policy, day) == kept


MONTHS = {
    date(2025, 11, 1): 1,
    date(2025, 12, 1): 10,
    date(2026, 6, 1): 100,
    date(2026, 11, 1): 1_000,
    date(2026, 12, 1): 10_000,
    date(2027, 1, 1): 100_000,
}


def test_points_in_window_sums_only_the_months_of_the_rolling_window() -> None:
    assert points_in_window(MONTHS, ROLLING, date(2026, 11, 25)) == 1_110  # 2025-12..2026-11
    assert points_in_window(MONTHS, ROLLING, date(2026, 10, 31)) == 111  # 2025-11..2026-10
    assert points_in_window(MONTHS, ROLLING, date(2027, 11, 1)) == 110_000  # 2026-12..2027-11


def test_points_in_window_sums_only_the_months_of_the_calendar_year() -> None:
    assert points_in_window(MONTHS, CALENDAR, date(2026, 11, 25)) == 11_100
    assert points_in_window(MONTHS, CALENDAR, date(2025, 1, 1)) == 11
    assert points_in_window(MONTHS, CALENDAR, date(2028, 6, 1)) == 0


def test_points_in_window_of_no_months_is_zero() -> None:
    assert points_in_window({}, ROLLING, date(2026, 11, 25)) == 0


# Tiers


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (-1, None),
        (0, MEMBER),
        (499, MEMBER),
        (500, SILVER),
        (999, SILVER),
        (1_000, GOLD),
        (2_999, GOLD),
        (3_000, PLATINUM),
        (10**9, PLATINUM),
    ],
)
def test_tier_for_is_the_highest_tier_the_points_reach(points: int, expected: Tier | None) -> None:
    assert tier_for(TIERS, points) == expected
    assert tier_for(tuple(reversed(TIERS)), points) == expected


def test_tier_for_is_none_below_the_lowest_tier() -> None:
    assert tier_for(NO_BASE, 499) is None
    assert tier_for(NO_BASE, 500) == SILVER
    assert tier_for((), 10**6) is None


def test_move_up_moves_to_the_reached_tier_and_keeps_it_through_the_window_period() -> None:
    rolling = move_up(TIERS, ROLLING, MEMBER, 1_000, date(2026, 11, 25))
    assert rolling == TierMove(MEMBER, GOLD, date(2027, 11, 30))
    assert rolling.changed
    assert rolling.change == TierChange("Member", "Gold", date(2027, 11, 30))
    calendar = move_up(TIERS, CALENDAR, MEMBER, 1_000, date(2026, 11, 25))
    assert calendar == TierMove(MEMBER, GOLD, date(2026, 12, 31))


def test_move_up_can_skip_tiers() -> None:
    move = move_up(TIERS, ROLLING, MEMBER, 5_000, date(2026, 3, 10))
    assert move == TierMove(MEMBER, PLATINUM, date(2027, 3, 31))


@pytest.mark.parametrize(("held", "points"), [(GOLD, 1_000), (GOLD, 2_999), (GOLD, 600), (GOLD, 0)])
def test_move_up_never_moves_sideways_or_down(held: Tier, points: int) -> None:
    assert move_up(TIERS, ROLLING, held, points, date(2026, 11, 25)) is None


def test_move_up_counts_no_tier_held_as_below_every_tier() -> None:
    assert move_up(TIERS, ROLLING, None, 600, date(2026, 11, 25)) == TierMove(
        None, SILVER, date(2027, 11, 30)
    )
    assert move_up(NO_BASE, CALENDAR, None, 500, date(2026, 11, 25)) == TierMove(
        None, SILVER, date(2026, 12, 31)
    )
    assert move_up(NO_BASE, CALENDAR, None, 499, date(2026, 11, 25)) is None


def test_tier_change_names_the_tiers_and_none_for_no_tier() -> None:
    move = TierMove(None, SILVER, date(2026, 12, 31))
    assert move.change == TierChange(None, "Silver", date(2026, 12, 31))
    assert TierMove(GOLD, None, None).change == TierChange("Gold", None, None)
    assert not TierMove(GOLD, GOLD, date(2027, 12, 31)).changed


# Review: a calendar-year Gold tier held through 2026-12-31, reviewed after 30 days' grace.
CALENDAR_KEPT = date(2026, 12, 31)
CALENDAR_REVIEW = date(2027, 1, 31)


def test_review_keeps_a_tier_the_window_at_the_period_end_reaches() -> None:
    months = {date(2026, 5, 1): 1_200}
    move = review(TIERS, CALENDAR, GOLD, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(GOLD, GOLD, date(2027, 12, 31))
    assert not move.changed


def test_review_keeps_a_tier_reached_again_with_points_earned_in_the_grace_period() -> None:
    months = {date(2026, 5, 1): 300, date(2027, 1, 1): 1_000}
    move = review(TIERS, CALENDAR, GOLD, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(GOLD, GOLD, date(2027, 12, 31))


def test_review_moves_down_to_the_tier_either_window_reaches() -> None:
    months = {date(2026, 5, 1): 600, date(2027, 1, 1): 100}
    move = review(TIERS, CALENDAR, GOLD, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(GOLD, SILVER, date(2027, 12, 31))
    assert move.changed
    assert move.change == TierChange("Gold", "Silver", date(2027, 12, 31))


def test_review_down_to_the_base_tier_keeps_it_without_an_end() -> None:
    months = {date(2026, 5, 1): 100}
    move = review(TIERS, CALENDAR, GOLD, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(GOLD, MEMBER, None)
    assert move.change == TierChange("Gold", "Member", None)


def test_review_of_a_base_tier_customer_changes_nothing_and_has_no_end() -> None:
    move = review(TIERS, CALENDAR, MEMBER, CALENDAR_KEPT, {}, CALENDAR_REVIEW)
    assert move == TierMove(MEMBER, MEMBER, None)
    assert not move.changed


def test_review_below_the_lowest_tier_leaves_no_tier() -> None:
    months = {date(2026, 5, 1): 499}
    move = review(NO_BASE, CALENDAR, SILVER, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(SILVER, None, None)
    assert move.change == TierChange("Silver", None, None)


def test_review_moves_up_when_a_window_reaches_a_higher_tier() -> None:
    months = {date(2027, 1, 1): 3_500}
    move = review(TIERS, CALENDAR, GOLD, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(GOLD, PLATINUM, date(2027, 12, 31))


def test_review_treats_a_held_tier_that_no_longer_exists_as_none() -> None:
    months = {date(2026, 5, 1): 600}
    gone = Tier("Diamond", 5_000, 300)
    move = review(TIERS, CALENDAR, gone, CALENDAR_KEPT, months, CALENDAR_REVIEW)
    assert move == TierMove(None, SILVER, date(2027, 12, 31))


# Review of a rolling-window Gold tier held through 2026-11-30: the window at the period
# end is 2025-12..2026-11; on 2027-01-05 it is 2026-02..2027-01.
ROLLING_KEPT = date(2026, 11, 30)
ROLLING_REVIEW = date(2027, 1, 5)


def test_rolling_review_keeps_a_tier_the_window_at_the_period_end_reaches() -> None:
    months = {date(2025, 12, 1): 800, date(2026, 6, 1): 300}
    move = review(TIERS, ROLLING, GOLD, ROLLING_KEPT, months, ROLLING_REVIEW)
    # Earned again by the period that ended: one more period from its end, not from the review.
    assert move == TierMove(GOLD, GOLD, date(2027, 11, 30))


def test_rolling_review_counts_points_earned_in_the_grace_period() -> None:
    months = {date(2025, 12, 1): 800, date(2026, 3, 1): 100, date(2026, 12, 1): 900}
    move = review(TIERS, ROLLING, GOLD, ROLLING_KEPT, months, ROLLING_REVIEW)
    assert move == TierMove(GOLD, GOLD, date(2028, 1, 31))


def test_rolling_review_moves_down_when_neither_window_reaches_the_tier() -> None:
    months = {date(2025, 12, 1): 800, date(2026, 3, 1): 100, date(2026, 12, 1): 100}
    move = review(TIERS, ROLLING, GOLD, ROLLING_KEPT, months, ROLLING_REVIEW)
    assert move == TierMove(GOLD, SILVER, date(2027, 11, 30))


@pytest.mark.parametrize(
    ("grace_days", "today", "due"),
    [
        (30, date(2026, 12, 31), False),
        (30, date(2027, 1, 29), False),
        (30, date(2027, 1, 30), False),  # the last day of grace
        (30, date(2027, 1, 31), True),
        (0, date(2026, 12, 31), False),
        (0, date(2027, 1, 1), True),
        (366, date(2028, 1, 1), False),
        (366, date(2028, 1, 2), True),
    ],
)
def test_review_is_due_only_after_the_period_and_its_grace(
    grace_days: int, today: date, due: bool
) -> None:
    policy = TierPolicy(window=CALENDAR_YEAR, grace_days=grace_days)
    assert review_due(date(2026, 12, 31), policy, today) is due


# Progress


def test_progress_names_the_points_to_the_next_tier_by_the_end_of_the_rolling_month() -> None:
    status = progress(TIERS, ROLLING, SILVER, 880, date(2027, 3, 10))
    assert status == TierProgress(880, GOLD, 120, date(2027, 3, 31))
    assert status.message == "120 points to Gold, by 2027-03-31"


def test_progress_in_a_calendar_year_is_by_the_end_of_the_year() -> None:
    status = progress(TIERS, CALENDAR, MEMBER, 40, date(2027, 3, 10))
    assert status == TierProgress(40, SILVER, 460, date(2027, 12, 31))
    assert status.message == "460 points to Silver, by 2027-12-31"


def test_progress_at_the_top_tier_says_so() -> None:
    status = progress(TIERS, ROLLING, PLATINUM, 4_000, date(2027, 3, 10))
    assert status == TierProgress(4_000, None, 0, date(2027, 3, 31))
    assert status.message == "the highest tier"


def test_progress_never_asks_for_negative_points() -> None:
    status = progress(TIERS, ROLLING, MEMBER, 700, date(2027, 3, 10))
    assert status == TierProgress(700, SILVER, 0, date(2027, 3, 31))
    assert status.message == "0 points to Silver, by 2027-03-31"


def test_progress_without_a_tier_aims_at_the_lowest_tier() -> None:
    status = progress(NO_BASE, ROLLING, None, 100, date(2027, 3, 10))
    assert status == TierProgress(100, SILVER, 400, date(2027, 3, 31))
    assert status.message == "400 points to Silver, by 2027-03-31"


# Checking an admin's tiers and policies


def test_check_tiers_returns_the_tiers_from_the_lowest_up() -> None:
    assert check_tiers([GOLD, MEMBER, PLATINUM, SILVER]) == (MEMBER, SILVER, GOLD, PLATINUM)


def test_check_tiers_trims_names() -> None:
    assert check_tiers([Tier("  Gold ", 1_000, 150, "free delivery")]) == (
        Tier("Gold", 1_000, 150, "free delivery"),
    )


def test_check_tiers_accepts_the_limits() -> None:
    tiers = [Tier(f"Tier {n}", n * 100, 100 if n % 2 else 1_000, "x" * 500) for n in range(20)]
    assert check_tiers(tiers) == tuple(tiers)
    assert check_tiers([]) == ()


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ([Tier("Gold", 0, 100), Tier("Gold", 500, 125)], "tiers"),
        ([Tier("Gold", 0, 100), Tier(" Gold ", 500, 125)], "tiers"),
        ([Tier("Silver", 500, 125), Tier("Gold", 500, 150)], "tiers"),
        ([Tier("Member", 0, 100), Tier("Silver", 500, 99)], "tiers[1].multiplierPercent"),
        ([Tier("Member", 0, 1_001)], "tiers[0].multiplierPercent"),
        ([Tier("Member", 0, 0)], "tiers[0].multiplierPercent"),
        ([Tier("Member", 0, 100), Tier("Silver", -1, 125)], "tiers[1].qualifyingPoints"),
        ([Tier(f"Tier {n}", n, 100) for n in range(21)], "tiers"),
        ([Tier("", 0, 100)], "tiers[0].name"),
        ([Tier("Member", 0, 100), Tier("   ", 500, 125)], "tiers[1].name"),
        ([Tier("Member", 0, 100, "x" * 501)], "tiers[0].benefits"),
    ],
)
def test_check_tiers_refuses_bad_tiers_naming_the_field(tiers: list[Tier], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_tiers(tiers)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "policy",
    [
        TierPolicy(),
        TierPolicy(window=ROLLING_12_MONTHS, grace_days=0),
        TierPolicy(window=CALENDAR_YEAR, grace_days=366),
    ],
)
def test_check_policy_accepts_each_window_and_grace_in_bounds(policy: TierPolicy) -> None:
    assert check_policy(policy) == policy


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (TierPolicy(window="monthly"), "window"),
        (TierPolicy(window="ROLLING_12_MONTHS"), "window"),
        (TierPolicy(window=""), "window"),
        (TierPolicy(grace_days=-1), "graceDays"),
        (TierPolicy(grace_days=367), "graceDays"),
    ],
)
def test_check_policy_refuses_an_unknown_window_or_grace_out_of_bounds(
    policy: TierPolicy, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        check_policy(policy)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "policy",
    [
        PointsPolicy(),
        PointsPolicy(expiry_months=1, pending_days=0),
        PointsPolicy(expiry_months=120, pending_days=365),
        PointsPolicy(expiry_months=None, pending_days=14),
    ],
)
def test_check_points_policy_accepts_expiry_and_pending_days_in_bounds(
    policy: PointsPolicy,
) -> None:
    assert check_points_policy(policy) == policy


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (PointsPolicy(expiry_months=0), "expiryMonths"),
        (PointsPolicy(expiry_months=-1), "expiryMonths"),
        (PointsPolicy(expiry_months=121), "expiryMonths"),
        (PointsPolicy(pending_days=-1), "pendingDays"),
        (PointsPolicy(pending_days=366), "pendingDays"),
    ],
)
def test_check_points_policy_refuses_expiry_or_pending_days_out_of_bounds(
    policy: PointsPolicy, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        check_points_policy(policy)
    assert refused.value.field == field
