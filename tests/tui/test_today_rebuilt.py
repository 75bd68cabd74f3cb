"""Today survives a restart: the day's totals also count today's earlier recordings."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import pytest
from conftest import make_app, pipeline_factory, settle, sim_items
from items_transport import ItemsTransport
from recordings import record_today

from monitor.live import stream_for
from monitor.session import earlier_totals, todays_recordings
from monitor.totals import ActivityTotals


def test_todays_recordings_are_today_s_finished_ones_but_the_current() -> None:
    paths = record_today()
    assert todays_recordings() == paths
    assert todays_recordings(exclude=paths[1]) == paths[:1]
    yesterday = dt.date.today() - dt.timedelta(days=1)
    assert [p.name for p in todays_recordings(day=yesterday)] == ["yesterday.tiltmon"]


async def test_the_dashboard_s_today_adds_the_earlier_sessions() -> None:
    paths = record_today()
    sim = sim_items("desk_short", 1, 50)
    alone = await stream_for(
        ItemsTransport(sim.items, hold_open=False), math.inf, live=pipeline_factory()()
    )
    earlier = await earlier_totals(paths)
    assert earlier.sitting_s > 30 and earlier.breaks >= 1
    app, transport = make_app(sim)
    app.session.today_from = paths
    async with app.run_test() as pilot:
        await settle(pilot, app, transport)
        async with asyncio.timeout(60):
            while app.state.rebuilt_from == 0:
                await pilot.pause(0.1)
        totals = app.state.live.totals
        assert totals.sitting_s == pytest.approx(alone.totals.sitting_s + earlier.sitting_s)
        assert totals.breaks == alone.totals.breaks + earlier.breaks
        assert len(totals.all_bouts) == len(alone.totals.all_bouts) + len(earlier.all_bouts)
        for zone, seconds in earlier.seconds_by_zone.items():
            assert totals.seconds_by_zone[zone] == pytest.approx(
                alone.totals.seconds_by_zone[zone] + seconds
            )


def test_absorbing_is_order_free() -> None:
    """The attached dashboard may finish its rebuild before or after the service's."""
    a, b = ActivityTotals(), ActivityTotals()
    a.bouts = [(10.0, 20.0)]
    a.open_bout = (30.0, 40.0)
    b.bouts = [(0.0, 5.0)]
    b.nudges_shown = 2
    first, second = ActivityTotals(), ActivityTotals()
    first.absorb(a)
    first.absorb(b)
    second.absorb(b)
    second.absorb(a)
    assert first.summary() == second.summary()
    assert first.breaks == 2 and first.all_bouts == [(0.0, 5.0), (10.0, 20.0), (30.0, 40.0)]
