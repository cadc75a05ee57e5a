"""Chaos: the application's PostgreSQL connections terminated mid-transaction
(pg_terminate_backend) during gifts and checkouts.

    .venv/bin/python bench/chaos/pg_terminate.py [--clients 12] [--operations 12] [--every 0.3]

Every `--every` seconds, every backend of the chaos database that is inside a transaction
(`xact_start` set), other than this script's own, is terminated. Only backends whose
datname is the chaos database are ever touched. Requests that lose their connection
answer 5xx or nothing (unknown) and are retried with their key; at the end every operation
still unknown is retried until answered, and the checker's verdict is printed and written
to bench/README.md ("Chaos").
"""

from __future__ import annotations

import argparse
import contextlib
from urllib.parse import urlsplit

from harness import DEFAULT_DATABASE, Run

TERMINATE = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--operations", type=int, default=12, help="per client")
    parser.add_argument("--every", type=float, default=0.3, help="seconds between sweeps")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()

    run = Run("pg_terminate", database_url=args.database_url, workers=args.workers)
    name = urlsplit(args.database_url).path.lstrip("/")
    terminated = []
    try:
        run.prepare(buyers=args.clients)
        run.start()
        print(f"serving on {run.port}; history {run.history_path}", flush=True)

        def fault(stop):
            import psycopg

            parts = urlsplit(args.database_url)
            # Connected to the maintenance database, so that this connection is never one
            # of the chaos database's backends it terminates.
            with psycopg.connect(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=parts.username or "postgres",
                dbname="postgres",
                autocommit=True,
            ) as conn:
                while not stop.wait(args.every):
                    with contextlib.suppress(psycopg.Error):
                        rows = conn.execute(TERMINATE, (name,)).fetchall()
                        terminated.extend(r[0] for r in rows if r[0])

        run.load(clients=args.clients, operations=args.operations, fault=fault)
        verdict = run.verdict(quiet_seconds=5)
    finally:
        run.stop()
    run.finish(
        verdict,
        readme=not args.no_readme,
        title="PostgreSQL connections terminated mid-transaction (bench/chaos/pg_terminate.py)",
        injected=f"every {args.every} s, pg_terminate_backend on every backend of the chaos "
        f"database inside a transaction, while {args.clients} clients made "
        f"{args.operations} operations each (checkouts and gifts, half and half): "
        f"{len(terminated)} backends terminated",
        command=f".venv/bin/python bench/chaos/pg_terminate.py --clients {args.clients} "
        f"--operations {args.operations} --every {args.every}",
        notes=[f"Operations still unknown after settling: {run.unsettled}"],
    )


if __name__ == "__main__":
    main()
