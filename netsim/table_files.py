"""Result tables on disk, as CSV or Parquet: the same columns and values either way.

CSV is text with stable bytes (floats to 10 significant digits, ``\\n`` line ends);
Parquet (pyarrow, zstd-compressed) is columnar and keeps each column's dtype and every
float's full precision, so a large records table writes and loads many times faster
(``benchmarks/bench_tables.py``); every page carries a CRC, checked on reading, so a
damaged file is an error, not wrong numbers. Formatting a Parquet table with :func:`csv_text` gives
the CSV file's bytes exactly (tested). A run folder holds each of its tables in one
format, ``records.csv`` or ``records.parquet``; readers find either.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

TABLE_FORMATS = ("csv", "parquet")
"""What ``--format`` takes."""
FLOAT_FORMAT = "%.10g"
PARQUET_COMPRESSION = "zstd"


def csv_text(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text: fixed float format, '\\n' line ends, no index."""
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as Parquet file bytes (no index; the same bytes for the same frame
    and pyarrow version)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False,
                     compression=PARQUET_COMPRESSION, write_page_checksum=True)
    return buffer.getvalue()


def table_bytes(frame: pd.DataFrame, table_format: str) -> bytes:
    """The file bytes of ``frame`` in ``table_format`` (one of :data:`TABLE_FORMATS`)."""
    if table_format == "csv":
        return csv_text(frame).encode("utf-8")
    if table_format == "parquet":
        return parquet_bytes(frame)
    raise ValueError(f"unknown table format {table_format!r} (known: "
                     f"{', '.join(TABLE_FORMATS)})")


def table_file(folder: Path, stem: str) -> Path:
    """FOLDER/STEM.csv or FOLDER/STEM.parquet, whichever exists (the CSV if both or
    neither do: the name an error message should give)."""
    folder = Path(folder)
    parquet = folder / f"{stem}.parquet"
    if parquet.is_file() and not (folder / f"{stem}.csv").is_file():
        return parquet
    return folder / f"{stem}.csv"


def has_table(folder: Path, stem: str) -> bool:
    """Whether FOLDER holds STEM in one of the formats."""
    return any((Path(folder) / f"{stem}.{suffix}").is_file() for suffix in TABLE_FORMATS)


def read_table(path: Path, **csv_options) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A table file by its suffix: Parquet, else CSV (``csv_options`` to pandas; of them
    a Parquet read honours ``usecols``, a list or a test on the column name)."""
    path = Path(path)
    if path.suffix != ".parquet":
        return pd.read_csv(path, **csv_options)
    wanted = csv_options.get("usecols")
    columns = None
    if wanted is not None:
        import pyarrow.parquet

        names = pyarrow.parquet.read_schema(path).names
        columns = [n for n in names if (wanted(n) if callable(wanted) else n in wanted)]
    return pd.read_parquet(path, engine="pyarrow", columns=columns,
                           page_checksum_verification=True)
