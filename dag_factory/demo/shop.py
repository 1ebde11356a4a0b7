"""A deterministic little shop database (SQLite) that changes day by day.

Each simulated day inserts, updates and deletes rows with timestamps inside that
day (04:00-22:59 UTC), so a run for the day's interval has real work to do.
Amounts are exact decimals written as text; `note` mixes NULL and '' on purpose.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path

SCHEMA = """
create table if not exists customers (
  id integer primary key, name text not null, email text, city text,
  signup_date date not null, updated_at timestamp not null);
create table if not exists products (
  id integer primary key, name text not null, category text not null,
  price decimal(10,2) not null, active boolean not null);
create table if not exists orders (
  id integer primary key, customer_id integer not null, product_id integer not null,
  status text not null, amount decimal(12,2) not null, note text,
  order_date date not null, created_at timestamp not null, updated_at timestamp not null);
"""
CITIES = ["Seoul", "Berlin", "Lisbon", "Austin", "Osaka", "Nairobi"]
CATEGORIES = ["books", "games", "garden", "kitchen"]


def _ts(day: date, rng: random.Random) -> str:
    moment = datetime.combine(day, time(4)) + timedelta(seconds=rng.randrange(19 * 3600))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _money(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.randrange(low * 100, high * 100) / 100:.2f}"


def _next_id(db: sqlite3.Connection, table: str) -> int:
    return db.execute(f"select coalesce(max(id), 0) + 1 from {table}").fetchone()[0]  # noqa: S608 - fixed names


def create(path: Path, first_day: date) -> None:
    """A fresh shop with some history from the day before `first_day`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        rng = random.Random(7)
        before = first_day - timedelta(days=1)
        for i in range(1, 9):
            db.execute(
                "insert into products values (?,?,?,?,?)", (i, f"product {i}", rng.choice(CATEGORIES), _money(rng, 3, 90), True)
            )
        for _ in range(10):
            _new_customer(db, before, rng)
        for _ in range(20):
            _new_order(db, before, rng)


def _new_customer(db: sqlite3.Connection, day: date, rng: random.Random) -> None:
    cid = _next_id(db, "customers")
    db.execute(
        "insert into customers values (?,?,?,?,?,?)",
        (cid, f"customer {cid}", f"c{cid}@example.com" if cid % 4 else None, rng.choice(CITIES), day.isoformat(), _ts(day, rng)),
    )


def _new_order(db: sqlite3.Connection, day: date, rng: random.Random) -> None:
    oid = _next_id(db, "orders")
    customers = db.execute("select count(*) from customers").fetchone()[0]
    note = rng.choice([None, "", "gift", "express"])
    ts = _ts(day, rng)
    db.execute(
        "insert into orders values (?,?,?,?,?,?,?,?,?)",
        (oid, rng.randrange(1, customers + 1), rng.randrange(1, 9), "paid", _money(rng, 5, 500), note, day.isoformat(), ts, ts),
    )


def simulate_day(path: Path, day: date) -> dict[str, int]:
    """Apply one day of shop activity; returns what changed (for the demo's printout)."""
    rng = random.Random(day.toordinal())
    changes = {"new_orders": 0, "updated_orders": 0, "deleted_orders": 0, "new_customers": 0}
    with sqlite3.connect(path) as db:
        for _ in range(rng.randrange(1, 3)):
            _new_customer(db, day, rng)
            changes["new_customers"] += 1
        cid = rng.randrange(1, _next_id(db, "customers"))
        db.execute("update customers set city = ?, updated_at = ? where id = ?", (rng.choice(CITIES), _ts(day, rng), cid))
        for _ in range(rng.randrange(5, 9)):
            _new_order(db, day, rng)
            changes["new_orders"] += 1
        paid = [
            r[0]
            for r in db.execute("select id from orders where status = 'paid' and order_date < ? order by id", (day.isoformat(),))
        ]
        for oid in rng.sample(paid, min(2, len(paid))):
            db.execute("update orders set status = 'refunded', updated_at = ? where id = ?", (_ts(day, rng), oid))
            changes["updated_orders"] += 1
        if paid:
            db.execute("delete from orders where id = ?", (rng.choice(paid),))
            changes["deleted_orders"] += 1
        pid = rng.randrange(1, _next_id(db, "products"))
        db.execute("update products set price = ? where id = ?", (_money(rng, 3, 90), pid))
        if day.toordinal() % 2 == 0:
            nid = _next_id(db, "products")
            db.execute(
                "insert into products values (?,?,?,?,?)",
                (nid, f"product {nid}", rng.choice(CATEGORIES), _money(rng, 3, 90), True),
            )
    return changes
