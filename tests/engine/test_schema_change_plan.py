"""The schema-change plan on catalog types, per policy (no warehouse: the plan is pure)."""

from __future__ import annotations

import re

import pytest

from dag_factory.engine.schema_change import SchemaChangeError, plan
from dag_factory.engine.warehouses.capabilities import capabilities_for

PG = capabilities_for("postgres")
RS = capabilities_for("redshift")
TARGET = [("id", "bigint"), ("amount", "numeric(10,2)"), ("note", "text")]


def _plan(staged, policy="append_new_columns", caps=PG, fits=lambda c, t: False, existing=TARGET):
    return plan("public.t", existing, staged, policy, caps.types, caps.widenings, fits)


def test_no_difference_and_a_reorder_are_no_change():
    for policy in ("append_new_columns", "sync_all_columns", "fail", "ignore"):
        p = _plan([("note", "text"), ("id", "bigint"), ("amount", "numeric(10,2)")], policy)
        assert (p.changes, p.problems) == ((), ())
        assert p.insert_columns == ("note", "id", "amount")


def test_append_adds_widens_and_keeps():
    p = _plan([("id", "bigint"), ("amount", "numeric(12,2)"), ("coupon_code", "character varying(32)")])
    assert p.summary() == (
        "widened amount numeric(10,2) -> numeric(12,2); added column coupon_code character varying(32); "
        "kept column note text (not in the source: NULL in new rows)"
    )
    assert [c.kind for c in p.alters] == ["widen", "add"]
    assert p.insert_columns == ("id", "amount", "coupon_code")


def test_sync_drops_what_the_source_lost():
    p = _plan([("id", "bigint"), ("amount", "numeric(10,2)")], "sync_all_columns")
    assert [(c.kind, c.column) for c in p.alters] == [("drop", "note")]


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("smallint", "integer", "widen"),
        ("integer", "bigint", "widen"),
        ("real", "double precision", "widen"),
        ("character varying(10)", "character varying(20)", "widen"),
        ("character varying(10)", "text", "widen"),
        ("numeric(10,2)", "numeric(12,4)", "widen"),  # p2 - s2 = 8 >= p - s = 8
        ("numeric(10,2)", "numeric(11,4)", None),  # fewer integer digits
        ("numeric(10,2)", "numeric(12,1)", None),  # fewer decimals
        ("timestamp(3) without time zone", "timestamp without time zone", "widen"),
        ("TIMESTAMP_MS", "TIMESTAMP", "widen"),
        ("bigint", "integer", "holds"),  # the source narrowed: the target holds it
        ("bigint", "text", None),
        ("text", "date", None),
    ],
)
def test_type_changes(old, new, kind):
    p = _plan([("x", new)], existing=[("x", old)])
    if kind is None:
        assert p.changes == ()
        with pytest.raises(SchemaChangeError, match=rf"column x: target {re.escape(old)}, staged {re.escape(new)}.*full refresh"):
            p.raise_problems()
    else:
        assert [c.kind for c in p.changes] == [kind] and p.problems == ()


def test_a_narrower_target_is_loaded_when_the_values_fit():
    """A hand-made varchar(100) target with text staged: values decide, the target stays."""
    seen = []

    def fits(column, t):
        seen.append((column, t.length))
        return True

    p = _plan([("x", "text")], "ignore", fits=fits, existing=[("x", "character varying(100)")])
    assert seen == [("x", 100)]
    assert [c.kind for c in p.changes] == ["fit"] and p.problems == ()


def test_ignore_leaves_new_columns_out_and_never_alters():
    p = _plan([("id", "bigint"), ("amount", "numeric(12,2)"), ("extra", "text")], "ignore")
    assert [c.kind for c in p.changes] == ["ignore", "keep"]
    assert "amount" in p.problems[0]  # a widening it may not make, values that do not fit
    assert p.insert_columns == ("id", "amount")


def test_fail_lists_every_difference():
    p = _plan([("id", "integer"), ("extra", "text")], "fail")
    with pytest.raises(SchemaChangeError) as e:
        p.raise_problems()
    msg = str(e.value)
    for part in (
        "column id changed type: target bigint, staged integer",
        "new column extra text",
        "column amount",
        "column note",
    ):
        assert part in msg


def test_redshift_widens_only_varchar():
    p = _plan([("x", "bigint")], caps=RS, existing=[("x", "integer")])
    with pytest.raises(SchemaChangeError, match="not something this warehouse can do"):
        p.raise_problems()
    p = _plan([("x", "character varying(65535)")], caps=RS, existing=[("x", "character varying(100)")])
    assert [c.kind for c in p.alters] == ["widen"]
