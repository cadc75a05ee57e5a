"""Chaos: an ASGI worker process SIGKILLed mid-checkout, clients retrying with the same
Idempotency-Key.

    .venv/bin/python bench/chaos/asgi_kill.py [--clients 12] [--operations 12] [--every 1.5]

While the clients check out and send gifts, one of uvicorn's worker processes (taken in
turn) is killed with SIGKILL every `--every` seconds; uvicorn starts a new one. Requests in
flight on it get no answer (unknown); the client retries the same key. At the end every
operation still unknown is retried until it is answered, the checker's verdict is printed
and written to bench/README.md ("Chaos").
"""

from __future__ import annotations

import itertools
import time

from harness import Run, arguments, kill


def main() -> None:
    args = arguments(__doc__, every=1.5, every_help="seconds between kills").parse_args()

    run = Run("asgi_kill", database_url=args.database_url, workers=args.workers)
    kills = []
    try:
        run.prepare(buyers=args.clients)
        run.start()
        print(f"serving on {run.port}; history {run.history_path}", flush=True)

        def fault(stop):
            turn = itertools.count()
            while not stop.wait(args.every):
                workers = run.processes()["asgi"]
                if workers and kill(workers[next(turn) % len(workers)]):
                    kills.append(time.monotonic())

        run.load(clients=args.clients, operations=args.operations, fault=fault)
        verdict = run.verdict(quiet_seconds=5)
    finally:
        run.stop()
    run.finish(
        verdict,
        readme=not args.no_readme,
        title="ASGI worker killed mid-checkout (bench/chaos/asgi_kill.py)",
        injected=f"SIGKILL to one of the {args.workers} uvicorn worker processes every "
        f"{args.every} s while {args.clients} clients made {args.operations} operations "
        f"each (checkouts and gifts, half and half): {len(kills)} kills; every request "
        "without an answer retried with its Idempotency-Key until answered",
        command=f".venv/bin/python bench/chaos/asgi_kill.py --clients {args.clients} "
        f"--operations {args.operations} --every {args.every}",
        notes=[
            f"Operations still unknown after settling: {run.unsettled}",
            "The first run (8 clients × 8 operations, before the fix) found a bug: a "
            "checkout killed after its stock claim and before its payment, retried with "
            "its key (once the killed request's claim on the key went stale, 2 minutes), "
            "got its order back as 201 pending_payment and nobody paid it: it would have "
            "been cancelled at its pay-by time. Fixed: order_place retried with a "
            "checkout key takes the payment its first attempt did not finish "
            "(orders.services._pay_all; tests/orders/test_retry_after_crash.py).",
        ],
    )


if __name__ == "__main__":
    main()
