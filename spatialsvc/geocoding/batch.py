"""``spatialsvc geocode batch``: a CSV file in, the same rows with their geocodes out.

The output is written to ``OUT.partial`` chunk by chunk; after each chunk a sidecar
``OUT.progress.json`` records how many input rows and how many output bytes are done.  Killed
at any point, the same command continues: the partial file is cut back to the recorded size
(dropping a chunk written after the last record), the rows done are skipped, and the rest is
appended, so the file ends byte for byte as an uninterrupted run would have written it.  At the
end ``OUT.partial`` is renamed to ``OUT``: a reader never sees half a result.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addressing.result import ROW_FIELDS
from spatialsvc.errors import EncodingError, InvalidInput
from spatialsvc.fileio import write_atomic
from spatialsvc.geocoding.pool import GeocodePool, csv_chunk
from spatialsvc.geocoding.progress import Progress
from spatialsvc.settings import Settings

OUTPUT_COLUMNS = ROW_FIELDS  # after every input column
CHUNK = 2_000
AUTO_ENCODINGS = ("utf-8-sig", "gb18030")
SNIFF_BYTES = 1 << 20
STATE_VERSION = 1

Echo = Callable[[str], None]


@dataclass
class BatchReport:
    """What a batch run did."""

    rows: int = 0  # rows in the input
    resumed_from: int = 0  # rows already done by an interrupted run
    seconds: float = 0.0  # wall time in all
    ready_seconds: float = 0.0  # of which building the address index
    levels: dict[str, int] = field(default_factory=dict)  # this run's rows by match level
    encoding: str = ""

    @property
    def rate(self) -> float:
        """Rows geocoded per second by this run, end to end (index build included)."""
        done = self.rows - self.resumed_from
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def geocode_rate(self) -> float:
        """Rows geocoded per second once the index was built."""
        done = self.rows - self.resumed_from
        took = self.seconds - self.ready_seconds
        return done / took if took > 0 else 0.0

    def lines(self) -> list[str]:
        """A short human-readable summary."""
        out = [f"geocoded {self.rows:,} rows ({self.encoding})"]
        if self.resumed_from:
            out.append(f"  resumed after {self.resumed_from:,} rows done by an earlier run")
        out.append(
            f"  {self.seconds:.1f} s in all, {self.rate:,.0f} rows/s end to end; "
            f"index built in {self.ready_seconds:.1f} s, then {self.geocode_rate:,.0f} rows/s"
        )
        done = sum(self.levels.values())
        for level, n in sorted(self.levels.items(), key=lambda kv: -kv[1]):
            share = 100.0 * n / done if done else 0.0
            out.append(f"  {level or 'no match':<13} {n:>10,}  {share:5.1f}%")
        return out


def detect_encoding(path: Path) -> str:
    """The first of AUTO_ENCODINGS that decodes the start of ``path``."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        final = len(head) < SNIFF_BYTES
    for name in AUTO_ENCODINGS:
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=final)
        except UnicodeDecodeError:
            continue
        return name
    raise EncodingError(
        f"{path.name} is neither UTF-8 nor GB18030/GBK: give its encoding with --encoding"
    )


def check_encoding(name: str) -> str:
    """A codec name Python knows and that keeps ASCII as is (as CSV needs), or InvalidInput."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InvalidInput(f"unknown encoding {name!r} (try utf-8, gbk or gb18030)") from None
    if info.encode(',"\n')[0] != b',"\n':
        raise InvalidInput(f"encoding {name!r} is not supported: use an ASCII-compatible one")
    return info.name


@dataclass
class Source:
    """The input CSV: where, how to decode it, its header and the address column."""

    path: Path
    encoding: str
    header: list[str] = field(default_factory=list)
    column: int = -1

    def lines(self) -> Iterator[str]:
        """The file's lines, decoded one by one so that a bad byte is reported by line."""
        rest = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    yield raw.decode(self.encoding if number == 1 else rest)
                except UnicodeDecodeError:
                    raise EncodingError(
                        f"{self.path.name} is not valid {self.encoding} at line {number}: "
                        "give its encoding with --encoding"
                    ) from None

    def rows(self) -> Iterator[list[str]]:
        """Data rows (blank lines skipped), each padded to the header's width."""
        width = len(self.header)
        reader = csv.reader(self.lines())
        try:
            next(reader, None)
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                elif len(row) > width:
                    if any(v.strip() for v in row[width:]):
                        raise InvalidInput(
                            f"{self.path.name} line {reader.line_num} has {len(row)} fields, "
                            f"the header has {width}"
                        )
                    del row[width:]
                yield row
        except csv.Error as exc:
            raise InvalidInput(
                f"{self.path.name} line {reader.line_num} is not valid CSV ({exc})"
            ) from exc


def open_source(path: Path, column: str, encoding: str | None) -> Source:
    """Check the input file and its header; raise a one-line error if it is not usable."""
    if not path.is_file():
        raise InvalidInput(f"input file {path} does not exist")
    source = Source(path, check_encoding(encoding) if encoding else detect_encoding(path))
    try:
        header = next(csv.reader(source.lines()), None)
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} is not a CSV file ({exc})") from exc
    if not header:
        raise InvalidInput(f"{path.name} is empty: a CSV file with a header row is needed")
    names = [h.strip() for h in header]
    if column.strip() not in names:
        shown = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
        raise InvalidInput(f"{path.name} has no column {column!r}; its columns are: {shown}")
    clash = [c for c in OUTPUT_COLUMNS if c in names]
    if clash:
        raise InvalidInput(
            f"{path.name} already has column(s) {', '.join(clash)} that the output adds: "
            "rename or drop them"
        )
    source.header, source.column = header, names.index(column.strip())
    return source


def _csv_text(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


@dataclass
class Output:
    """The output file being written, its partial file and the sidecar recording progress."""

    path: Path

    @property
    def partial(self) -> Path:
        """Where rows are appended until the run ends."""
        return self.path.with_name(self.path.name + ".partial")

    @property
    def sidecar(self) -> Path:
        """JSON record of the rows and bytes done in ``partial``."""
        return self.path.with_name(self.path.name + ".progress.json")

    def resume_point(self, fingerprint: dict[str, Any]) -> tuple[int, int] | None:
        """(rows, bytes) done by an interrupted run of the same job, or None to start over."""
        try:
            state = json.loads(self.sidecar.read_text(encoding="utf-8"))
            size = self.partial.stat().st_size
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("job") != fingerprint:
            return None
        rows, done = state.get("rows"), state.get("bytes")
        if not isinstance(rows, int) or not isinstance(done, int) or not 0 < done <= size:
            return None  # the partial file is shorter than recorded (a crash of the machine)
        return rows, done

    def record(self, fingerprint: dict[str, Any], rows: int, done: int) -> None:
        """Record (atomically) that ``rows`` input rows are in the first ``done`` bytes."""
        state = {"job": fingerprint, "rows": rows, "bytes": done}
        write_atomic(self.sidecar, json.dumps(state, ensure_ascii=False).encode("utf-8"))

    def finish(self) -> None:
        """Put the finished file in place and drop the sidecar."""
        os.replace(self.partial, self.path)
        self.sidecar.unlink(missing_ok=True)


def _fingerprint(source: Source, chunk: int) -> dict[str, Any]:
    st = source.path.stat()
    return {
        "version": STATE_VERSION,
        "input": str(source.path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "encoding": source.encoding,
        "column": source.column,
        "header": source.header,
        "chunk": chunk,
    }


def _chunks(
    rows: Iterator[list[str]], skip: int, size: int, column: int
) -> Iterator[tuple[list[list[str]], int]]:
    chunk: list[list[str]] = []
    for i, row in enumerate(rows):
        if i < skip:
            continue
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk, column
            chunk = []
    if chunk:
        yield chunk, column


def _check_output(source: Source, output: Path) -> None:
    if output.resolve() == source.path.resolve():
        raise InvalidInput("the output file must not be the input file")
    if not output.parent.is_dir():
        raise InvalidInput(f"folder {output.parent} does not exist")


def _start(out: Output, source: Source, fingerprint: dict[str, Any]) -> tuple[int, int]:
    """(rows, bytes) done: from an interrupted run, or a new partial file holding the header."""
    point = out.resume_point(fingerprint)
    if point is not None:
        return point
    header = _csv_text(source.header + list(OUTPUT_COLUMNS)).encode("utf-8")
    out.partial.write_bytes(header)
    out.record(fingerprint, 0, len(header))
    return 0, len(header)


def _executor(settings: Settings, workers: int, scheduler: str | None) -> Any:
    """This machine's worker processes, or a Dask cluster's workers: the same interface."""
    if scheduler is None:
        return GeocodePool(settings, workers)
    from spatialsvc.geocoding.dask_pool import DaskPool

    return DaskPool(settings, scheduler, workers)


def run_batch(
    settings: Settings,
    input_path: Path,
    column: str,
    output: Path,
    workers: int | None = None,
    encoding: str | None = None,
    chunk: int = CHUNK,
    echo: Echo | None = None,
    scheduler: str | None = None,
) -> BatchReport:
    """Geocode ``column`` of every row of ``input_path`` into ``output``; resumable.

    ``scheduler`` (``local`` or ``tcp://HOST:PORT``) runs the chunks on a Dask cluster instead
    of this machine's worker processes; nothing else changes (see geocoding/dask_pool.py).
    """
    import time

    t0 = time.perf_counter()
    source = open_source(input_path, column, encoding)
    _check_output(source, output)
    total = sum(1 for _ in source.rows())  # also checks encoding and shape before writing
    fingerprint = _fingerprint(source, chunk)
    out = Output(output)
    report = BatchReport(rows=total, encoding=source.encoding)
    with _executor(settings, workers or os.cpu_count() or 1, scheduler) as pool:
        report.ready_seconds = pool.ready_seconds
        rows_done, bytes_done = _start(out, source, fingerprint)
        report.resumed_from = rows_done
        if rows_done and echo:
            echo(f"resuming {output.name}: {rows_done:,} of {total:,} rows already done")
        progress = Progress("geocoded", total, done=rows_done)
        jobs = _chunks(source.rows(), rows_done, chunk, source.column)
        with out.partial.open("r+b") as fh:
            fh.truncate(bytes_done)
            fh.seek(bytes_done)
            for text, levels in pool.map(csv_chunk, jobs):
                data = text.encode("utf-8")
                fh.write(data)
                fh.flush()
                n = sum(levels.values())
                rows_done += n
                bytes_done += len(data)
                out.record(fingerprint, rows_done, bytes_done)
                for k, v in levels.items():
                    report.levels[k] = report.levels.get(k, 0) + v
                progress.advance(n)
        progress.finish()
    out.finish()
    report.seconds = time.perf_counter() - t0
    return report
