"""Fault drills that need real gunicorn processes and PostgreSQL servers.

``.venv/bin/python bench/drills.py worker-kill`` (``make drill-worker-kill``):
a gunicorn worker is killed with SIGKILL during a checkout, at three places
in turn (bench/drill_app.py): inside the order's transaction, just after it
committed, and inside the payment's confirmation. After each kill the drill
checks what the database holds (nothing placed; placed and waiting for its
payment; paid but not yet confirmed), the buyer retries as a browser would
(the same form again, or the return page), and the drill checks the end
state: one order, paid once (one captured payment of its total, one order
confirmation mail), the stock reserved once. Uses a scratch database on
``BENCH_DATABASE_URL`` (default the local test server; it is not restarted).

``.venv/bin/python bench/drills.py postgres-restart`` (``make drill-postgres-restart``):
starts a PRIVATE PostgreSQL server (``initdb`` into a temporary directory,
``pg_ctl`` on a free loopback port; as the ``postgres`` user when run as root;
``PG_BIN`` names the binaries, default /usr/lib/postgresql/15/bin), serves the
shop on it with 4 gunicorn workers and runs visitors (browsing, carts,
sandbox checkouts). Mid-run the server is stopped (``pg_ctl stop -m fast``)
for a few seconds and started again. Checks: no error before; while it is
down every failure is the shop's friendly 503 page (Swedish, no traceback)
and the workers keep answering; after it is back every request works again
with no restart of the app (idle connections pinged: shop/database.py); no purchase the buyers saw
paid is missing, and the stock and payment checks of bench/orders.py hold.
The private server and its files are removed at the end.

Exit status 0 when every check passed, 1 otherwise; each check is printed.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from load import HOT_STOCK, Catalogue, browse, cart, prepare
from orders import (
    _CSRF_RE,
    STOCK,
    Answer,
    FlowError,
    Guest,
    _token,
    pay_in_sandbox,
    to_summary,
)
from orders import verify_database as orders_checks
from run import ROOT, admin_database_url, gunicorn, shop_environment, throwaway_database

from shop.testing import psycopg_url

DRILL_STOCK = 5
FRIENDLY_503 = "Butiken är tillfälligt otillgänglig"


class Checks:
    """Named checks, printed as they are made; ``ok`` when all passed."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, what: str, found: object, expected: object) -> None:
        ok = found == expected
        print(
            f"  [{'pass' if ok else 'FAIL'}] {what}: {found!r}"
            + ("" if ok else f" (expected {expected!r})")
        )
        if not ok:
            self.failed.append(what)

    @property
    def ok(self) -> bool:
        return not self.failed


def _scalar(url: str, sql: str, **params: object) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar() or 0)
    finally:
        engine.dispose()


def _shop_env(url: str, instance: Path, **settings: str) -> dict[str, str]:
    return shop_environment(
        url,
        instance,
        ENV="testing",
        PAYMENT_SANDBOX="true",
        PAYMENT_SANDBOX_STATE_FILE=str(instance / "sandbox-payments.json"),
        **settings,
    )


# --------------------------------------------------------------------------- worker kill


@dataclass(frozen=True)
class Found:
    orders: int
    confirmed: int
    payments: int
    captured: int
    reserved: int
    on_hand: int
    movements: int
    mails: int


def _found(url: str, email: str, product_id: int) -> Found:
    order = "(SELECT id FROM shop_order WHERE email = :email)"
    return Found(
        orders=_scalar(url, "SELECT count(*) FROM shop_order WHERE email = :email", email=email),
        confirmed=_scalar(
            url,
            "SELECT count(*) FROM shop_order WHERE email = :email AND status = 'confirmed'",
            email=email,
        ),
        payments=_scalar(
            url, f"SELECT count(*) FROM payment WHERE order_id IN {order}", email=email
        ),
        captured=_scalar(
            url,
            "SELECT count(*) FROM payment p JOIN shop_order o ON o.id = p.order_id "
            "WHERE o.email = :email AND p.status = 'captured' AND p.amount_ore = o.total_ore",
            email=email,
        ),
        reserved=_scalar(
            url, "SELECT reserved FROM stock_level WHERE product_id = :p", p=product_id
        ),
        on_hand=_scalar(url, "SELECT on_hand FROM stock_level WHERE product_id = :p", p=product_id),
        movements=_scalar(
            url,
            "SELECT count(*) FROM stock_movement WHERE product_id = :p AND kind = 'reserve'",
            p=product_id,
        ),
        mails=_scalar(
            url,
            "SELECT count(*) FROM outbox_message WHERE template = 'order_confirmation' "
            "AND to_address = :email",
            email=email,
        ),
    )


def _product(url: str, slug: str) -> int:
    product_id = _scalar(url, "SELECT id FROM product WHERE slug = :slug", slug=slug)
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE stock_level SET on_hand = :n, reserved = 0 WHERE product_id = :p"),
                {"n": DRILL_STOCK, "p": product_id},
            )
    finally:
        engine.dispose()
    return product_id


def _killed(guest: Guest, method: str, path: str, form: dict[str, str] | None = None) -> bool:
    """True when the worker died under the request (the connection broke, no answer)."""
    try:
        guest.request(method, path, form)
    except OSError:
        return True
    return False


def kill_point(point: str, url: str, slug: str, number: int, tmp: Path, checks: Checks) -> None:
    print(f"worker killed at {point!r}:")
    product_id = _product(url, slug)
    email = f"kopare{number}@example.se"
    once = tmp / f"killed-{point}"
    env = _shop_env(url, tmp / "instance", DRILL_KILL_AT=point, DRILL_KILL_ONCE=str(once))
    with gunicorn(f"drill-{point}", "bench.drill_app:app", env, 2, tmp, ROOT) as base:
        guest = Guest(base)
        csrf, key = to_summary(guest, slug, number)
        place = {"csrf_token": csrf, "checkout_key": key, "accept_terms": "y"}
        if point in ("place-order", "placed"):
            checks.expect(
                "the worker died under 'Slutför köp'",
                _killed(guest, "POST", "/kassa/slutfor", place),
                True,
            )
            after = _found(url, email, product_id)
            if point == "place-order":
                checks.expect("orders after the kill (rolled back)", after.orders, 0)
                checks.expect("stock reserved after the kill", after.reserved, 0)
                checks.expect("reserve movements after the kill", after.movements, 0)
            else:
                checks.expect("orders after the kill (committed)", after.orders, 1)
                checks.expect("its stock reserved", (after.reserved, after.movements), (1, 1))
                checks.expect("payments started", after.payments, 0)
            # The buyer presses "Slutför köp" again: the same form, the same checkout key.
            answer = guest.request("POST", "/kassa/slutfor", place)
            checks.expect(
                "the retry is sent to the test payment page",
                "/betalning/sandbox/" in answer.location,
                True,
            )
            pay_in_sandbox(guest, answer.location)
        else:
            answer = guest.request("POST", "/kassa/slutfor", place)
            page = guest.get("sandbox page", answer.location).body
            token = _token(_CSRF_RE, page, "sandbox page", "CSRF token")
            pay = {"csrf_token": token, "outcome": "pay"}
            checks.expect(
                "the worker died under 'Genomför testbetalning'",
                _killed(guest, "POST", answer.location, pay),
                True,
            )
            after = _found(url, email, product_id)
            checks.expect("confirmed orders after the kill (rolled back)", after.confirmed, 0)
            checks.expect("captured payments after the kill", after.captured, 0)
            # The buyer comes back to the order's return page, which asks the provider.
            number_ = _scalar(
                url, "SELECT number FROM shop_order WHERE email = :email", email=email
            )
            back: Answer = guest.get("return page", f"/betalning/{number_}/retur")
            checks.expect(
                "the return page says paid", 'data-payment-state="paid"' in back.body, True
            )
        checks.expect("the kill happened once", once.exists(), True)
    end = _found(url, email, product_id)
    checks.expect("orders in the end", end.orders, 1)
    checks.expect("paid (confirmed) orders", end.confirmed, 1)
    checks.expect("payments / captured of the total", (end.payments, end.captured), (1, 1))
    checks.expect(
        "stock: on hand, reserved, reserve movements",
        (end.on_hand, end.reserved, end.movements),
        (DRILL_STOCK, 1, 1),
    )
    checks.expect("order confirmation mails", end.mails, 1)


def worker_kill(args: argparse.Namespace) -> int:
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="shop-drill-") as tmp:
        tmp_path = Path(tmp)
        os.environ["SHOP_INSTANCE_PATH"] = str(tmp_path / "instance")
        with throwaway_database(admin_database_url(), prefix="shop_drill") as url:
            shop = prepare(url, args.products, args.seed)
            for n, point in enumerate(("place-order", "placed", "confirm"), start=1):
                try:
                    kill_point(point, url, shop.slugs[n], n, tmp_path, checks)
                except (FlowError, OSError) as error:
                    checks.expect(f"{point}: the buyer's purchase went through", repr(error), "")
    return _verdict(checks)


# --------------------------------------------------------------------------- PostgreSQL restart


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    bin_dir: Path
    directory: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def create_database(self, name: str) -> str:
        """A database on this server (removed with the server); its URL."""
        import sqlalchemy as sa

        admin = sa.create_engine(psycopg_url(self.admin_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return psycopg_url(f"postgresql://postgres@127.0.0.1:{self.port}/{name}")

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"), "-w"]
        if action == "start":
            command += ["-o", options, "-l", str(self.directory / "server.log"), "start"]
        else:
            command += ["-m", "fast", "stop"]
        self._run(*command)


@contextmanager
def private_postgres(bin_dir: Path) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of our own (never the shared one), removed afterwards."""
    if not (bin_dir / "initdb").exists():
        raise SystemExit(f"no PostgreSQL binaries in {bin_dir} (set PG_BIN)")
    directory = Path(tempfile.mkdtemp(prefix="shop-drill-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(bin_dir, directory, _free_port())
    try:
        server._run(
            str(bin_dir / "initdb"),
            "-D",
            str(directory / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        server.pg_ctl("start")
        print(f"private PostgreSQL on 127.0.0.1:{server.port} ({directory})")
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):  # not running
            server.pg_ctl("stop")
        shutil.rmtree(directory, ignore_errors=True)
        print("private PostgreSQL stopped and removed")


@dataclass(frozen=True)
class Asked:
    """One request of the run: when it was asked and answered, its status (None: the
    connection broke) and whether a 503 was the shop's friendly page."""

    asked: float
    answered: float
    status: int | None
    friendly: bool
    what: str


@dataclass
class Seen:
    answers: list[Asked] = field(default_factory=list)
    paid_numbers: list[int] = field(default_factory=list)


class Recording(Guest):
    seen: Seen

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        asked = time.monotonic()
        try:
            answer = super().request(method, path, form)
        except OSError:
            what = f"{method} {path}"
            self.seen.answers.append(Asked(asked, time.monotonic(), None, False, what))
            raise
        friendly = answer.status != 503 or (
            FRIENDLY_503 in answer.body and "Traceback" not in answer.body
        )
        what = f"{method} {path}"
        self.seen.answers.append(Asked(asked, time.monotonic(), answer.status, friendly, what))
        return answer


def _visitors(
    base: str, shop: Catalogue, users: int, stop: threading.Event, seen: Seen
) -> list[threading.Thread]:
    numbers = iter(range(1000, 10**9))
    lock = threading.Lock()

    def visitor(index: int) -> None:
        rng = random.Random(index)
        while not stop.is_set():
            task = rng.choices(["browse", "cart", "checkout"], weights=[60, 15, 25])[0]
            if task == "checkout":
                with lock:
                    number = next(numbers)
                recording = _recording(base, seen)
                done, _, _ = _purchase(recording, rng.choice(shop.slugs), number)
                if done:
                    seen.paid_numbers.append(number)
                continue
            guest = _recording(base, seen)
            try:
                (browse if task == "browse" else cart)(guest, rng, shop)
            except (FlowError, OSError):
                time.sleep(0.05)  # the outage: do not spin

    threads = [threading.Thread(target=visitor, args=(n,), daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    return threads


def _recording(base: str, seen: Seen) -> Recording:
    guest = Recording(base)
    guest.seen = seen
    return guest


def _purchase(guest: Guest, slug: str, number: int) -> tuple[bool, Guest, FlowError | None]:
    try:
        csrf, key = to_summary(guest, slug, number)
        target = guest.post(
            "Slutför köp",
            "/kassa/slutfor",
            {"csrf_token": csrf, "checkout_key": key, "accept_terms": "y"},
            expect="/betalning/sandbox/",
        )
        pay_in_sandbox(guest, target)
    except FlowError as error:
        time.sleep(0.05)
        return False, guest, error
    except OSError as error:
        return False, guest, FlowError("connection", repr(error))
    return True, guest, None


def postgres_restart(args: argparse.Namespace) -> int:
    checks = Checks()
    seen = Seen()
    pg_bin = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    with (
        private_postgres(pg_bin) as pg,
        tempfile.TemporaryDirectory(prefix="shop-drill-") as tmp,
    ):
        tmp_path = Path(tmp)
        os.environ["SHOP_INSTANCE_PATH"] = str(tmp_path / "instance")
        url = pg.create_database("shop_drill")
        shop = prepare(url, args.products, args.seed)
        env = _shop_env(url, tmp_path / "instance", PAGE_CACHE_SECONDS="0")
        with gunicorn("shop", "wsgi:app", env, args.workers, tmp_path, ROOT) as base:
            stop = threading.Event()
            threads = _visitors(base, shop, args.users, stop, seen)
            time.sleep(args.phase)
            down_at = time.monotonic()
            pg.pg_ctl("stop")
            print(f"PostgreSQL stopped; down for {args.down:g} s")
            time.sleep(args.down)
            pg.pg_ctl("start")
            up_at = time.monotonic()
            print("PostgreSQL started again")
            time.sleep(args.phase)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        _server_errors(tmp_path / "shop.log")
        _check_restart(checks, seen, down_at, up_at)
        _check_orders(checks, url, seen)
    return _verdict(checks)


def _check_orders(checks: Checks, url: str, seen: Seen) -> None:
    """No lost order: every purchase a buyer saw paid is there, and the books hold."""
    for what, found, expected in orders_checks(url, len(seen.paid_numbers), (STOCK, HOT_STOCK)):
        if what == "paid (confirmed) orders":
            # A purchase paid while its return page met the outage is paid but not "seen".
            checks.expect("paid orders, at least those the buyers saw", found >= expected, True)
        else:
            checks.expect(what, found, expected)
    missing = sum(
        1
        for n in seen.paid_numbers
        if not _scalar(
            url,
            "SELECT count(*) FROM shop_order WHERE email = :e AND status = 'confirmed'",
            e=f"kopare{n}@example.se",
        )
    )
    checks.expect(f"of {len(seen.paid_numbers)} purchases seen paid, missing", missing, 0)


def _server_errors(log: Path) -> None:
    """The exceptions the server logged (the 503s log one line each), by kind."""
    kinds = collections.Counter(
        match.group(1)
        for line in log.read_text(errors="replace").splitlines()
        if (match := re.match(r"^([\w.]+(?:Error|Exception|Shutdown))\b", line))
        or (match := re.search(r"database unavailable: \(([\w.]+)\)", line))
    )
    print("server log, exceptions: " + (", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"))
    block: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Traceback") or "Exception on" in line:
            block = [line]
        elif block:
            block.append(line)
            if not line.startswith((" ", "Traceback", "The above", "During")) and line.strip():
                shown = [x for x in block if "Exception on" in x or str(ROOT / "shop") in x]
                print("\n".join(f"  | {x[:200]}" for x in [*shown, line]))
                block = []


def _failed(answers: list[Asked]) -> int:
    return sum(1 for a in answers if a.status is None or a.status >= 500)


def _check_restart(checks: Checks, seen: Seen, down_at: float, up_at: float) -> None:
    before = [a for a in seen.answers if a.answered < down_at]
    during = [a for a in seen.answers if a.answered >= down_at and a.asked < up_at]
    after = [a for a in seen.answers if a.asked >= up_at]
    print(f"answers: {len(before)} before the stop, {len(during)} while down, {len(after)} after")
    for a in seen.answers:
        if (a.status is None or a.status >= 500) and not (a.status == 503 and a.friendly):
            print(f"  failed: {a.status} {a.what} at {a.asked - down_at:+.2f} s from the stop")
    checks.expect("before: failed answers (5xx or none)", _failed(before), 0)
    checks.expect("while down: some answers were 503", any(a.status == 503 for a in during), True)
    checks.expect(
        "while down: 5xx other than 503",
        sum(1 for a in during if a.status is not None and a.status >= 500 and a.status != 503),
        0,
    )
    checks.expect(
        "while down: 503 answers that were not the friendly Swedish page",
        sum(1 for a in during if not a.friendly),
        0,
    )
    checks.expect(
        "while down: broken connections (the workers must keep answering)",
        sum(1 for a in during if a.status is None),
        0,
    )
    checks.expect("after the start: some answers", len(after) > 0, True)
    checks.expect("after the start: failed answers (5xx or none)", _failed(after), 0)


def _verdict(checks: Checks) -> int:
    if checks.ok:
        print("drill passed")
        return 0
    print("drill FAILED: " + "; ".join(checks.failed))
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="drill", required=True)
    kill = sub.add_parser("worker-kill", help="SIGKILL a gunicorn worker during checkouts")
    restart = sub.add_parser("postgres-restart", help="restart a private PostgreSQL under load")
    restart.add_argument("--users", type=int, default=6)
    restart.add_argument("--workers", type=int, default=4)
    restart.add_argument("--phase", type=float, default=5.0, help="seconds before and after")
    restart.add_argument("--down", type=float, default=4.0, help="seconds PostgreSQL is down")
    for sub_parser in (kill, restart):
        sub_parser.add_argument("--products", type=int, default=300)
        sub_parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return worker_kill(args) if args.drill == "worker-kill" else postgres_restart(args)


if __name__ == "__main__":
    sys.exit(main())
