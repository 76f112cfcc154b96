"""A/B of ``bench/ingest.py``'s headless figure: two source trees, one emulator, same run.

``bench/ingest.py`` compares headless with other readers; this compares headless with
itself across two checkouts (e.g. ``git archive <base> | tar -x -C /tmp/base`` against the
working tree), so that a change to the journal can be judged on one machine state: the
same emulator process and backlog, the rounds interleaved A, B, B, A, ... so neither tree
always runs first, and the best round of each kept (as the bench does, because a shared
machine swings single runs by 20%). Each child imports ``tui_trader`` from its tree
(``PYTHONPATH``); the emulator runs from this tree.

    .venv/bin/python scripts/ingest_ab.py --a /tmp/base --b . [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import httpx
from _isolation import KEY, SECRET
from ingest import Result, child_env, emulator, run_headless, settle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", type=Path, required=True, help="tree A (e.g. the base commit)")
    parser.add_argument("--b", type=Path, required=True, help="tree B (e.g. this branch)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    n = args.events
    with tempfile.TemporaryDirectory(prefix="tui-trader-ab-") as tmp:
        root = Path(tmp)
        env = child_env(root)
        env["PYTHONPATH"] = str(trees["B"])
        with emulator(env, root) as url:
            reply = httpx.post(
                f"{url}/_emulator/backlog",
                json={"orders": max(34_000, -(-n // 3))},
                headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
                timeout=600,
            ).json()
            print(f"backlog: {reply['trade_events']:,} trade events; each run reads {n:,}")
            runs: dict[str, list[Result]] = {"A": [], "B": []}
            for k in range(args.rounds):
                for name in ("A", "B") if k % 2 == 0 else ("B", "A"):
                    where = root / f"{name}{k}"
                    where.mkdir()
                    settle(url)
                    r = run_headless(
                        url, n, where, {**env, "PYTHONPATH": str(trees[name])}, args.timeout
                    )
                    runs[name].append(r)
                    print(
                        f"round {k + 1} {name}: {r.seconds:6.2f} s, excl. start "
                        f"{r.after_first_line or 0:6.2f} s, CPU {r.cpu:6.2f} s, "
                        f"RSS {r.rss_mb:4.0f} MB {r.note}",
                        flush=True,
                    )
    print()
    for name, tree in trees.items():
        done = [r for r in runs[name] if r.ok]
        if not done:
            print(f"{name} ({tree}): no complete run")
            continue
        walls = [r.seconds for r in done]
        excl = [r.after_first_line for r in done if r.after_first_line]
        print(
            f"{name} ({tree}): best {min(walls):.2f} s ({n / min(walls):,.0f} events/s), "
            f"median {statistics.median(walls):.2f} s; excl. start-up best {min(excl):.2f} s, "
            f"median {statistics.median(excl):.2f} s; CPU best {min(r.cpu for r in done):.2f} s"
        )


if __name__ == "__main__":
    main()
