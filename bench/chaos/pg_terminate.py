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

import contextlib
from urllib.parse import urlsplit

from harness import Run, arguments

TERMINATE = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
"""


def main() -> None:
    args = arguments(__doc__, every=0.3, every_help="seconds between sweeps").parse_args()

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
