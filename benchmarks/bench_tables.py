"""Write and load time of a large records table, CSV against Parquet (outside the test
suite).

The table is a real run's records (scenarios/paper.yaml, every scheduler) repeated to
ROWS rows with the seed column renumbered: the columns, dtypes and value mix of a
U = 100 x 1,000 slots x 10 schedulers x 3 seeds run (3 M rows), without simulating it.
Each format is written to and read back from a temporary folder REPEATS times,
interleaved (CSV, Parquet, CSV, ...); medians are printed with the file sizes.

    python benchmarks/bench_tables.py [--rows 3000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from netsim.api import load_scenario, run
from netsim.io import atomic_write_bytes
from netsim.table_files import read_table, table_bytes

PAPER = Path(__file__).resolve().parent.parent / "scenarios" / "paper.yaml"


def records_table(rows: int) -> pd.DataFrame:
    """paper.yaml's records, repeated to ``rows`` rows (seeds renumbered)."""
    base = run(load_scenario(PAPER)).records
    copies = -(-rows // len(base))
    frame = pd.concat([base] * copies, ignore_index=True).iloc[:rows].copy()
    frame["seed"] = np.repeat(np.arange(copies), len(base))[:rows]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame = records_table(args.rows)
    times: dict[tuple[str, str], list[float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as temp:
        for _ in range(args.repeats):
            for table_format in ("csv", "parquet"):
                path = Path(temp) / f"records.{table_format}"
                started = time.perf_counter()
                atomic_write_bytes(path, table_bytes(frame, table_format))
                written = time.perf_counter()
                loaded = read_table(path)
                done = time.perf_counter()
                assert len(loaded) == len(frame)
                times.setdefault((table_format, "write"), []).append(written - started)
                times.setdefault((table_format, "load"), []).append(done - written)
                sizes[table_format] = path.stat().st_size
    print(f"records table: {len(frame):,} rows x {frame.shape[1]} columns, "
          f"median of {args.repeats} (interleaved)")
    print(f"{'format':8s} {'write s':>8s} {'load s':>8s} {'size MB':>8s}")
    for table_format in ("csv", "parquet"):
        write = statistics.median(times[(table_format, "write")])
        load = statistics.median(times[(table_format, "load")])
        print(f"{table_format:8s} {write:8.2f} {load:8.2f} {sizes[table_format] / 1e6:8.1f}")
    ratio = {step: statistics.median(times[("csv", step)])
             / statistics.median(times[("parquet", step)]) for step in ("write", "load")}
    print(f"Parquet is {ratio['write']:.1f}x faster to write, {ratio['load']:.1f}x faster "
          f"to load, {sizes['csv'] / sizes['parquet']:.1f}x smaller")


if __name__ == "__main__":
    main()
