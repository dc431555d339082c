"""Poll percentages add up to 100 (largest remainder), in every report that shows them."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from broadcasts.poll_results import resident_results, staff_results
from messaging.i18n import Catalog
from storage.polls import Results, Tally, percentages


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        # Equal remainders: the option listed later gets the point.
        ([1, 1, 1], [33, 33, 34]),
        ([0, 0, 0], [0, 0, 0]),
        ([5], [100]),
        ([1, 0], [100, 0]),
        ([2, 1], [67, 33]),
        ([1, 1, 1, 1, 1, 1], [16, 16, 17, 17, 17, 17]),
        ([1, 1, 1, 1, 1, 1, 1], [14, 14, 14, 14, 14, 15, 15]),
        # 66.67 and 33.33 each round to the nearest whole; no tie here.
        ([200, 100], [67, 33]),
        # 12.5 x 8: four go up, the later ones.
        ([1] * 8, [12, 12, 12, 12, 13, 13, 13, 13]),
        ([999, 1], [100, 0]),
        ([995, 5], [99, 1]),
    ],
)
def test_single_choice_cases(votes: list[int], expected: list[int]) -> None:
    assert percentages(votes, sum(votes)) == expected
    if sum(votes):
        assert sum(expected) == 100


def test_multiple_choice_shares_are_of_voters() -> None:
    # Three voters, each chose two options: every option 66.67% of the voters; the shares add
    # up to the exact total (200%), not to 100.
    assert percentages([2, 2, 2], 3) == [66, 67, 67]
    assert sum(percentages([2, 2, 2], 3)) == 200


def test_random_tallies_add_up_and_stay_near_the_exact_share() -> None:
    rng = random.Random(20261204)
    for _ in range(5000):
        options = rng.randint(1, 10)
        votes = [rng.choice((0, rng.randint(0, 5), rng.randint(0, 10_000))) for _ in range(options)]
        voters = sum(votes)
        shares = percentages(votes, voters)
        assert len(shares) == options and all(share >= 0 for share in shares)
        if voters == 0:
            assert shares == [0] * options
            continue
        assert sum(shares) == 100, votes
        for count, share in zip(votes, shares, strict=True):
            assert abs(share - 100 * count / voters) < 1, (votes, shares)
        # Deterministic: the same tally, the same shares.
        assert percentages(votes, voters) == shares


def test_random_multiple_choice_tallies_add_up_to_the_rounded_total() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        options = rng.randint(2, 10)
        voters = rng.randint(1, 500)
        votes = [rng.randint(0, voters) for _ in range(options)]
        shares = percentages(votes, voters)
        exact = [100 * count / voters for count in votes]
        # The exact total rounded half up (integers: no floating point doubt).
        assert sum(shares) == (200 * sum(votes) + voters) // (2 * voters)
        assert all(abs(s - e) < 1 for s, e in zip(shares, exact, strict=True))


def _results(votes: list[int]) -> Results:
    tally = Tally(votes=votes, voters=sum(votes))
    return Results(
        poll_id=3,
        question="Де лавки?",
        options=["Парк", "Сквер", "Набережна"],
        multiple=False,
        status="closed",
        closes_at=datetime(2026, 12, 4, 18, 0, tzinfo=UTC),
        reached=10,
        total=tally,
        by_district={"pokrovskyi": Tally(votes=[1, 1, 1], voters=3)},
        by_channel={"telegram": Tally(votes=votes, voters=sum(votes))},
    )


def test_reports_show_the_same_shares_that_add_up() -> None:
    catalog = Catalog.load()
    found = _results([1, 1, 1])
    resident = resident_results(catalog, "uk", found)
    assert "Парк — 1 (33%)" in resident and "Набережна — 1 (34%)" in resident
    staff = staff_results(catalog, found, ZoneInfo("Europe/Kyiv"))
    # Totals, the district and the channel: each group adds up to 100.
    assert staff.count("(34%)") == 3 and staff.count("(33%)") == 6
