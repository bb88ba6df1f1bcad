"""Benchmark: the shop against a bare Flask app, both under gunicorn, from loopback.

``make bench`` (or ``.venv/bin/python bench/run.py``):

1. creates a throwaway PostgreSQL database ``shop_bench_<random>`` next to
   ``BENCH_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
   migrates it and loads 20,000 generated products;
2. serves the shop (``wsgi:app``, production mode, a generated secret) and a bare
   Flask "hello" app (bench/bare_app.py) with gunicorn, 4 sync workers each;
3. measures requests per second and p50/p99 latency of the catalogue page
   (24 products), a product page and a search with ``wrk`` (16 connections,
   10 s each, after a short warm-up), or with a small Python load generator
   when wrk is missing (``apt-get install wrk`` for the real thing);
4. prints a table of each page's share of the bare app's throughput against its
   goal and writes it to bench/results/latest.md.

The database and both servers are removed at the end, also on failure or Ctrl-C.
Exit status 1 when a page misses its goal.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results" / "latest.md"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: Minimum share of the bare app's requests per second, per page.
GOALS = {"catalogue": 0.35, "product": 0.50, "search": 0.25}


@dataclass
class Result:
    name: str
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str


# --------------------------------------------------------------------------- database


@contextmanager
def throwaway_database(admin_url: str, prefix: str = "shop_bench") -> Iterator[str]:
    """A new PostgreSQL database ``<prefix>_<random>``, dropped afterwards whatever happens."""
    import sqlalchemy as sa

    from shop.testing import scratch_postgres_database

    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres_database(admin_url, prefix=prefix))
        except ValueError as exc:
            raise SystemExit(f"BENCH_DATABASE_URL must be a PostgreSQL URL: {exc}") from None
        except sa.exc.OperationalError as exc:
            raise SystemExit(f"PostgreSQL is not reachable at {admin_url}: {exc.orig}") from None
        name = sa.make_url(url).database
        print(f"database: created {name}")
        try:
            yield url
        finally:
            print(f"database: dropping {name}")


def admin_database_url() -> str:
    """``BENCH_DATABASE_URL``, or the local test server's."""
    return os.environ.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL


def prepare_database(url: str, products: int, seed: int) -> dict[str, str]:
    """Migrate, load the products; return the paths to measure."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from shop import create_app
    from shop.demo import generate_products, insert_products
    from shop.extensions import db
    from shop.models import Product

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        insert_products(generate_products(products, seed))
        count = db.session.scalar(select(func.count(Product.id)).where(Product.active))
        print(f"database: {count} active products loaded in {time.perf_counter() - started:.1f} s")
        if not count or count < products:
            raise SystemExit(f"expected {products} products, found {count}")
        slug = db.session.scalar(
            select(Product.slug).where(Product.active).order_by(Product.id).offset(count // 2)
        )
        term = _common_title_word(
            db.session.scalars(select(Product.search_text).order_by(Product.id).limit(2000))
        )
        db.session.remove()
        db.engine.dispose()
    return {"catalogue": "/katalog", "product": f"/produkt/{slug}", "search": f"/sok?q={term}"}


def _common_title_word(texts: Any) -> str:
    """A title word many products share: the search returns full result pages."""
    words: collections.Counter[str] = collections.Counter()
    for text in texts:
        words.update(w for w in text.split("\n", 1)[0].split() if len(w) >= 4 and w.isalpha())
    if not words:
        raise SystemExit("the generated products have no searchable title words")
    return words.most_common(1)[0][0]


# --------------------------------------------------------------------------- servers


def base_environment() -> dict[str, str]:
    """This process's environment without the shop's settings (for the bare app)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHOP_") and key != "DATABASE_URL"
    }


def shop_environment(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    """The shop's environment: a generated secret, no rate limits, the database, ``settings``
    (``SHOP_<KEY>=value``; the default ``SHOP_ENV`` is production)."""
    env = base_environment() | {
        "SHOP_ENV": "production",
        "SHOP_SECRET_KEY": secrets.token_hex(32),
        "SHOP_RATELIMIT_ENABLED": "false",
        "SHOP_INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
    }
    env.update({f"SHOP_{key}": value for key, value in settings.items()})
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def gunicorn(
    name: str, app: str, env: dict[str, str], workers: int, log_dir: Path, chdir: Path
) -> Iterator[str]:
    """Serve ``app`` with gunicorn on a free loopback port; stopped afterwards."""
    port = _free_port()
    log = log_dir / f"{name}.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(chdir),
        "--log-level",
        "warning",
        app,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=chdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base, log)
        print(f"server: {name} ({app}, {workers} workers) on {base}")
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        print(f"server: {name} stopped")


def _wait_until_up(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {base} within 60 s:\n{log.read_text()}")


def check_page(base: str, path: str, expect_products: int | None = None) -> None:
    """The page answers 200 (a benchmark of error pages measures nothing)."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise SystemExit(
            f"{base}{path} answered {exc.code}; fix the page before benchmarking"
        ) from None
    if expect_products:
        links = set(re.findall(r'href="(/produkt/[^"/]+)"', body))
        if len(links) < expect_products:
            print(f"warning: {path} links to {len(links)} products, expected {expect_products}")


# --------------------------------------------------------------------------- load


def measure(
    name: str, url: str, duration: float, connections: int, headers: dict[str, str] | None = None
) -> Result:
    if shutil.which("wrk"):
        return _wrk(name, url, duration, connections, headers or {})
    return python_load(name, url, duration, connections, headers)


def _wrk(name: str, url: str, duration: float, connections: int, headers: dict[str, str]) -> Result:
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "report.lua"),
        *(arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")),
        url,
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in run.stdout.splitlines() if x.startswith("BENCH_JSON "))
    data = json.loads(line[len("BENCH_JSON ") :])
    seconds = data["duration_us"] / 1e6
    return Result(
        name=name,
        url=url,
        requests_per_s=data["requests"] / seconds,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        errors=data["status_errors"] + data["socket_errors"],
        tool="wrk",
    )


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of an ascending list; 0 for an empty one."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def python_load(
    name: str, url: str, duration: float, connections: int, headers: dict[str, str] | None = None
) -> Result:
    """Fallback: ``connections`` threads, each one keep-alive connection, for ``duration``.

    Every answer but 200 counts as an error unless ``headers`` are given (a page measured
    with a visitor's cookies may answer with a redirect by design)."""
    match = re.match(r"http://([^/:]+):(\d+)(/.*)$", url)
    assert match, url
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def worker() -> None:
        own: list[float] = []
        failed = 0
        conn: http.client.HTTPConnection | None = None
        while time.perf_counter() < stop:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                response.read()
            except OSError:
                failed += 1
                conn.close()
                conn = None
                continue
            own.append(time.perf_counter() - started)
            if response.status >= 400 or (headers is None and response.status != 200):
                failed += 1
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(own)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        name=name,
        url=url,
        requests_per_s=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors[0],
        tool="python",
    )


# --------------------------------------------------------------------------- report


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def report(
    bare: Result, pages: list[Result], paths: dict[str, str], settings: dict[str, str]
) -> tuple[str, bool]:
    """The results as Markdown, and whether every page met its goal."""
    rows = [
        "| Page | req/s | p50 | p99 | share of bare app | goal | result |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| bare Flask app | {bare.requests_per_s:,.0f} | {bare.p50_ms:.1f} ms | "
        f"{bare.p99_ms:.1f} ms | 100 % | | |",
    ]
    passed = True
    for result in pages:
        share = result.requests_per_s / bare.requests_per_s
        goal = GOALS[result.name]
        ok = share >= goal and result.errors == 0
        passed = passed and ok
        verdict = "pass" if ok else "FAIL"
        if result.errors:
            verdict += f" ({result.errors} errors)"
        rows.append(
            f"| {result.name} | {result.requests_per_s:,.0f} | {result.p50_ms:.1f} ms | "
            f"{result.p99_ms:.1f} ms | {_pct(share)} | ≥ {_pct(goal)} | {verdict} |"
        )
    urls = "\n".join(f"- {name}: `{path}`" for name, path in paths.items())
    details = "\n".join(f"- {key}: {value}" for key, value in settings.items())
    table = "\n".join(rows)
    text = f"# Benchmark {settings['date']}\n\n{table}\n\nPages:\n{urls}\n\nSettings:\n{details}\n"
    return text, passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    if not shutil.which("wrk"):
        print(
            "wrk is not installed (`sudo apt-get install wrk`); "
            "measuring with the slower Python load generator instead."
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    admin_url = admin_database_url()

    with tempfile.TemporaryDirectory(prefix="shop-bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["SHOP_INSTANCE_PATH"] = str(tmp_path / "instance")
        with throwaway_database(admin_url) as database_url:
            paths = prepare_database(database_url, args.products, args.seed)
            base_env = base_environment()
            shop_env = shop_environment(database_url, tmp_path / "instance")
            with (
                gunicorn("bare", "bare_app:app", base_env, args.workers, tmp_path, BENCH) as bare,
                gunicorn("shop", "wsgi:app", shop_env, args.workers, tmp_path, ROOT) as shop,
            ):
                for name, path in paths.items():
                    check_page(shop, path, 24 if name == "catalogue" else None)
                targets = [("bare", bare + "/")] + [(n, shop + p) for n, p in paths.items()]
                results: dict[str, Result] = {}
                for name, url in targets:
                    if args.warmup > 0:
                        measure(name, url, args.warmup, args.connections)
                    results[name] = measure(name, url, args.duration, args.connections)
                    r = results[name]
                    print(
                        f"measured {name}: {r.requests_per_s:,.0f} req/s, "
                        f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, {r.errors} errors"
                    )

    settings = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "products": f"{args.products:,}",
        "gunicorn": f"{args.workers} sync workers per app, production mode, PostgreSQL",
        "page cache": "PAGE_CACHE_SECONDS="
        + shop_env.get("SHOP_PAGE_CACHE_SECONDS", "default (10 s per worker)")
        + "; wrk sends no cookies, so every request is a new anonymous visitor",
        "load": f"{results['bare'].tool}, {args.connections} connections, "
        f"{args.duration:g} s per page after {args.warmup:g} s warm-up, loopback",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    text, passed = report(results["bare"], [results[n] for n in paths], paths, settings)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
