"""The executable capacity model (devtools/bq_capacity.py): docs/CAPACITY.md section 3 is its
output, and the targets of issue 25 hold in it. The BigQuery emulator bills nothing, so the
bytes come from the model; the statements it prices are the store's own."""

from __future__ import annotations

import pytest

from devtools import bq_capacity as model

pytestmark = pytest.mark.unit

FIGURES = model.figures()
BIG = 3  # the 30 % tenant at 1B/day in model.VOLUMES


def after(name: str) -> float:
    (found,) = [v for (n, layout), v in FIGURES.bytes.items() if n.startswith(name) and layout == "after"]
    return found[BIG]


def test_the_document_holds_the_models_output() -> None:
    assert model.main(["--check"]) == 0, "run: python -m devtools.bq_capacity --write"


def test_the_targets_of_issue_25_hold_for_a_30_percent_tenant_at_1b_a_day() -> None:
    assert after("get by id (a client-chosen id, the event 45") <= 100e6
    assert after("get by id (a server-assigned") <= 100e6
    assert after("newest page, 24 h") <= 5 * model.GIB
    assert after("tenant + user, 30 d") <= 10 * model.GIB
    assert after("tenant + event_type + status, 90 d") <= 200 * model.GIB
    rows = model.LIVE_DAYS * 0.3 * 1e9
    assert after("full-tenant export") / rows <= 1.1 * model.ROW_BYTES  # in proportion to the rows
    assert FIGURES.load(model.AFTER, 2) <= 50  # the light read load at 1B/day, dollars
    assert FIGURES.load(model.BEFORE, 2) > 400  # and the model still sees what it cost before


def test_a_page_is_narrow_probes_then_one_fetch_of_the_page() -> None:
    data = model.Data(1e9, 0.3)
    client = model.ModelClient(data, model.AFTER)
    from datetime import timedelta

    from auditlog.backends.gcp.bigquery_store import BigQueryEventStore
    from auditlog.ports.store import EventQuery

    store = BigQueryEventStore(client, "d", "events", clock=lambda: model.NOW)  # type: ignore[arg-type]
    end = model.NOW.replace(tzinfo=None)
    rows = store.query(EventQuery(tenants=("t",), start=end - timedelta(days=30), end=end, limit=101))
    assert len(rows) == 101
    *probes, fetch = client.statements
    assert len(probes) == 1  # the newest 15 minutes of a busy tenant fill the page
    narrow = {"tenant_id", "partition_date", "timestamp", "audit_id", "event_type"}
    assert model.referenced(probes[0]) == narrow
    assert model.referenced(fetch) == set(model.COLUMNS)
    assert client.billed[-1] < 2 * model.BLOCK_BYTES * len(model.COLUMNS)


def test_the_price_follows_the_referenced_columns_and_the_blocks() -> None:
    data = model.Data(1e9, 0.3)
    day = model.NOW.date()
    params = {"date_lo": day, "date_hi": day}
    narrow = "SELECT audit_id FROM `p.d.t` WHERE partition_date BETWEEN @date_lo AND @date_hi"
    wide = narrow.replace("audit_id", "audit_id, request_data")
    assert model.price(wide, params, data, model.AFTER) / model.price(narrow, params, data, model.AFTER) == (
        pytest.approx((38 + 8 + 316.3) / (38 + 8))  # audit_id, partition_date, request_data
    )
    tenant = narrow + " AND tenant_id IN UNNEST(@tenants)"
    assert model.price(tenant, params, data, model.AFTER) < model.price(narrow, params, data, model.AFTER)
    tiny = model.Data(1e3, 0.01)
    assert model.price(tenant, params, tiny, model.AFTER) == model.MIN_BILLED
