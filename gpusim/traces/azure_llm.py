"""Azure LLM inference traces (Azure/AzurePublicDataset; CC BY 4.0).

Columns ``TIMESTAMP, ContextTokens, GeneratedTokens``. The 2023 files (Patel et al.,
"Splitwise", ISCA 2024) write timestamps as ``YYYY-MM-DD HH:MM:SS.fffffff`` (seven fractional
digits); the 2024 week-long files (Stojkovic et al., "DynamoLLM", HPCA 2025) use the same schema
with other timestamp spellings (six or no fractional digits, a ``+00:00`` offset). All are parsed
as ISO 8601 to nanoseconds, in UTC when an offset is given.

Records: ``arrival_s`` (seconds since the first request of the file), ``prompt_tokens``
(ContextTokens), ``output_tokens`` (GeneratedTokens). Week-long files (tens of millions of rows)
are read in chunks with `iter_azure_llm`; the whole-file `read_azure_llm` concatenates them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.traces._io import (
    RowChecker,
    flag_numeric,
    parse_timestamps,
    read_csv_chunks,
    read_header,
    require_columns,
    resolve_path,
)
from gpusim.traces.records import ReadReport, request_frame

COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
DEFAULT_CHUNK_ROWS = 1_000_000


class AzureLLMReader:
    """Iterate an Azure LLM trace in chunks of request records; `report` fills as it goes.

    Arrivals are measured from the first valid timestamp of the file. Each chunk is sorted; a
    row earlier than the end of the previous chunk is skipped as out of order (the published
    files are sorted, so this only catches damaged files).
    """

    def __init__(self, path: str | Path, *, strict: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.path = resolve_path(path, "azure-llm")
        header = read_header(self.path)
        require_columns(header, COLUMNS, self.path, "azure-llm")
        # Without usecols pandas reports rows with too many fields; with it, it drops them silently.
        self.usecols = None if header == COLUMNS else COLUMNS
        self.strict = strict
        self.chunk_rows = chunk_rows
        self.report = ReadReport(str(path), "azure-llm")
        self.origin_ns: int | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        last = -np.inf
        for df, lines, extra in read_csv_chunks(
            self.path,
            "azure-llm",
            strict=self.strict,
            chunk_rows=self.chunk_rows,
            usecols=self.usecols,
            dtype={"TIMESTAMP": "str"},
        ):
            chk = RowChecker(lines)
            chk.extra(extra)
            ns = parse_timestamps(chk, df["TIMESTAMP"], "TIMESTAMP")
            prompt = flag_numeric(chk, df, "ContextTokens", minimum=0, integer=True)
            output = flag_numeric(chk, df, "GeneratedTokens", minimum=0, integer=True)
            if self.origin_ns is None:
                ok = chk.reasons == None  # noqa: E711
                if ok.any():
                    self.origin_ns = int(ns[ok].min())
            origin = self.origin_ns if self.origin_ns is not None else 0
            arrival = (ns - origin) / 1e9
            chk.flag(arrival < last, "out of order: earlier than the previous chunk")
            keep = chk.finish(self.report, self.strict, self.path)
            out = request_frame(
                {
                    "arrival_s": arrival[keep],
                    "prompt_tokens": prompt[keep],
                    "output_tokens": output[keep],
                }
            )
            if len(out):
                last = float(out["arrival_s"].iloc[-1])
                yield out


def iter_azure_llm(path: str | Path, *, strict: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> AzureLLMReader:
    """Chunked reader of an Azure LLM trace (iterate it; its `.report` holds the counts)."""
    return AzureLLMReader(path, strict=strict, chunk_rows=chunk_rows)


def read_azure_llm(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """Read a whole Azure LLM trace into request records."""
    reader = AzureLLMReader(path, strict=strict)
    parts = list(reader)
    if parts:
        df = pd.concat(parts, ignore_index=True)
    else:
        df = request_frame({"arrival_s": [], "prompt_tokens": [], "output_tokens": []})
    return df, reader.report
