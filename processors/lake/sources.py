"""List a lake's Parquet files and bind them as the `raw_<table>` relations the views read.

Two readers, one listing (the store's own pyarrow filesystem, `Store.arrow_fs()`):
- `file://`: DuckDB's native Parquet reader over the listed paths. It filters before it decodes
  the other columns, which makes a lookup by id ~5x cheaper than an Arrow scan.
- `s3://`: a pyarrow dataset, because DuckDB would fetch its `httpfs` extension from the
  internet at run time (impossible here). DuckDB pushes filters and projections into it; each
  file's day and size come from the listing, so other days are never opened and no file is
  HEAD-requested before it is read.
Either way the relation has exactly the table's Arrow schema: columns missing from older files
read as NULL, columns unknown to this version are dropped. A snapshot is the file list at one
moment: take a new one to see new files. Superseded files (the originals of a compaction, kept
for a grace period so that readers holding an older snapshot can still open them) are left out
of every snapshot, so no row is read twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from processors.errors import StorageError
from processors.keys import LAKE_PREFIX
from processors.lake import layout
from processors.lake.layout import LakeFile
from processors.storage import Store, arrow_filesystem
from schemas.lake import TABLES, Table

# pre_buffer coalesces the column-chunk reads of a file into few large requests (S3: ~2x faster).
_FORMAT: Final = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=True)
)
# hive columns read from folder names; brand ids like "2024" must stay strings
_HIVE_TYPES: Final = "{'dt': DATE, 'brand_id': VARCHAR}"
Listed = tuple[LakeFile, pafs.FileInfo]


def raw_name(table_name: str) -> str:
    """Name of the relation a table's view de-duplicates (`raw_uploads` for `uploads`)."""
    return f"raw_{table_name}"


def empty_name(table_name: str) -> str:
    """Name of the empty, typed table that fixes a table's columns for the native reader."""
    return f"lake_empty_{table_name}"


@dataclass
class LakeFiles:
    """The lake folder of a store, seen through pyarrow's filesystem for that store."""

    fs: pafs.FileSystem
    root: str
    footers: Footers

    @classmethod
    def of(cls, store: Store) -> LakeFiles:
        """Open the lake of a store (`file://` or `s3://`; `memory://` cannot back a lake)."""
        fs, root = arrow_filesystem(store)
        return cls(fs, f"{root}/{LAKE_PREFIX}" if root else LAKE_PREFIX, Footers(fs))

    @property
    def native(self) -> bool:
        """Whether DuckDB can read the files itself (a local disk)."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def listing(self, table: Table, day: dt.date | None = None) -> list[Listed]:
        """Every data file of a table (one day folder if `day` is given), superseded or not."""
        folder = f"{self.root}/{table.name}" + (f"/dt={day.isoformat()}" if day else "")
        selector = pafs.FileSelector(folder, allow_not_found=True, recursive=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as e:
            msg = f"listing {folder} failed: {e}"
            raise StorageError(msg) from e
        found = [
            (f, i)
            for i in infos
            if i.type == pafs.FileType.File and (f := layout.parse(i.path)) is not None
        ]
        return sorted(found, key=lambda e: e[0].path)

    def files(self, table: Table, day: dt.date | None = None) -> list[Listed]:
        """The files a reader should read: the listing without superseded files."""
        return layout.live(self.listing(table, day))

    def key_of(self, info: pafs.FileInfo) -> str:
        """The store key of a listed file (`lake/<table>/dt=…/<name>.parquet`)."""
        return f"{LAKE_PREFIX}/{info.path[len(self.root) + 1 :]}"

    def empty(self) -> Snapshot:
        """A snapshot without files: every `raw_<table>` is empty but typed."""
        return Snapshot(self.fs, {t: [] for t in TABLES}, self.native, self.footers)

    def snapshot(self, day: dt.date | None = None) -> Snapshot:
        """The files of every table now (only one day folder each if `day` is given)."""
        files = {name: self.files(t, day) for name, t in TABLES.items()}
        if day is None:  # the whole lake: forget files compacted away
            self.footers.retain({i.path for listed in files.values() for _, i in listed})
        return Snapshot(self.fs, files, self.native, self.footers)


@dataclass
class Snapshot:
    """Every table's files at one listing, ready to bind on any DuckDB connection."""

    fs: pafs.FileSystem
    files: dict[str, list[Listed]]
    native: bool
    footers: Footers
    _datasets: dict[str, ds.Dataset] = field(default_factory=dict, repr=False)

    def same_files(self, other: Snapshot | None) -> bool:
        """Whether `other` lists exactly these files (then its bound views can stay)."""
        return other is not None and {
            t: [i.path for _, i in listed] for t, listed in self.files.items()
        } == {t: [i.path for _, i in listed] for t, listed in other.files.items()}

    def days(self, tables: Iterable[str]) -> set[dt.date]:
        """Day partitions that hold files of the given tables."""
        return {f.day for t in tables for f, _ in self.files[t]}

    def bind(self, con: duckdb.DuckDBPyConnection) -> None:
        """Define `raw_<table>` on this connection (temporary, so cursors never collide)."""
        for name, table in TABLES.items():
            con.execute(f"DROP VIEW IF EXISTS temp.{raw_name(name)}")
            if self.native and self.files[name]:
                paths = [i.path for _, i in self.files[name]]
                self.footers.prefetch(paths)
                fits = [self.footers.current(p, table) for p in paths]
                current = [p for p, ok in zip(paths, fits, strict=True) if ok]
                other = [p for p, ok in zip(paths, fits, strict=True) if not ok]
                con.execute(native_view_sql(table, current, other))
            else:
                con.register(raw_name(name), self.dataset(table))

    def dataset(self, table: Table) -> ds.Dataset:
        """A pyarrow dataset over the table's files (typed and empty if there are none)."""
        if table.name not in self._datasets:
            fragments = [self.footers.fragment(f, info) for f, info in self.files[table.name]]
            self._datasets[table.name] = ds.FileSystemDataset(
                fragments, table.schema, _FORMAT, self.fs
            )
        return self._datasets[table.name]

    def where(self, keep: Callable[[str, LakeFile, pafs.FileInfo], bool]) -> Snapshot:
        """The same lake with only the files `keep(table, file, info)` accepts."""
        files = {
            t: [(f, i) for f, i in listed if keep(t, f, i)] for t, listed in self.files.items()
        }
        return Snapshot(self.fs, files, self.native, self.footers)

    def narrowed(self, lo_id: str, hi_id: str) -> Snapshot:
        """The files that may hold a media id in [lo_id, hi_id] (by their footers' statistics).

        Within a day, files of the same minutes overlap (one per brand and partition), but a
        lookup no longer opens the day's older and newer files, which is what keeps it fast
        while a day still holds thousands of small files.
        """
        return self.where(lambda _, __, info: self.footers.overlaps(info, lo_id, hi_id))

    def only(self, table_name: str) -> Snapshot:
        """The files of one table; the others read as empty (cheap to bind)."""
        return self.where(lambda table, _, __: table == table_name)

    def of_brand(self, brand_id: str) -> Snapshot:
        """Only the files of one brand's folders, and of the brandless ones (dead letters)."""
        return self.where(lambda _, f, __: f.brand_id in (brand_id, None))


@dataclass(frozen=True)
class Footer:
    """What a lookup and a reader need from a file's footer."""

    schema: pa.Schema
    ids: tuple[str, str] | bool  # (smallest, largest) media id; True: unknown; False: none


class Footers:
    """Footer facts per file, read once: lake files never change once written (a name always
    holds the same rows), so they are cached by path for the life of the process."""

    def __init__(self, fs: pafs.FileSystem) -> None:
        self.fs = fs
        self._cache: dict[str, Footer] = {}
        self._fragments: dict[str, ds.Fragment] = {}

    def fragment(self, f: LakeFile, info: pafs.FileInfo) -> ds.Fragment:
        """The file as a pyarrow fragment, made once: it keeps the footer it read on its first
        scan, so later scans skip that read (on S3, GET requests)."""
        if info.path not in self._fragments:
            self._fragments[info.path] = _FORMAT.make_fragment(
                info.path, self.fs, partition_expression=_partition(f), file_size=info.size
            )
        return self._fragments[info.path]

    def retain(self, paths: set[str]) -> None:
        """Drop what is cached for files not in `paths` (no longer listed)."""
        for cache in (self._cache, self._fragments):
            for path in [p for p in list(cache) if p not in paths]:
                cache.pop(path, None)

    def overlaps(self, info: pafs.FileInfo, lo_id: str, hi_id: str) -> bool:
        """Whether the file may hold an id in [lo_id, hi_id]; True when it has no statistics."""
        ids = self._get(info.path).ids
        if isinstance(ids, bool):
            return ids
        return ids[0] <= hi_id and lo_id <= ids[1]

    def current(self, path: str, table: Table) -> bool:
        """Whether the file has exactly the table's columns (written by this schema version)."""
        return bool(self._get(path).schema.equals(table.schema, check_metadata=False))

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read the footers not cached yet, several at a time (a first look at a big lake)."""
        missing = [p for p in paths if p not in self._cache]
        if len(missing) > 1:
            with ThreadPoolExecutor(8) as pool:
                for path, footer in zip(missing, pool.map(self._read, missing), strict=True):
                    self._cache[path] = footer

    def _get(self, path: str) -> Footer:
        if path not in self._cache:
            self._cache[path] = self._read(path)
        return self._cache[path]

    def _read(self, path: str) -> Footer:
        try:
            meta = pq.read_metadata(path, filesystem=self.fs)
        except OSError as e:
            msg = f"reading the footer of {path} failed: {e}"
            raise StorageError(msg) from e
        schema = meta.schema.to_arrow_schema()
        return Footer(schema, _id_range(meta) if "media_id" in schema.names else True)


def _id_range(meta: pq.FileMetaData) -> tuple[str, str] | bool:
    column = meta.schema.names.index("media_id")  # leaf columns: nested ones come later
    lows, highs = [], []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max:
            if stats is not None and stats.null_count == group.num_rows:
                continue  # only NULL ids: no lookup by id can match
            return True
        lows.append(str(stats.min))
        highs.append(str(stats.max))
    return (min(lows), max(highs)) if lows else False


def create_empty_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the empty typed tables the native views union with (once per database)."""
    for name, table in TABLES.items():
        con.register("lake_empty_arrow", table.schema.empty_table())
        con.execute(f"CREATE OR REPLACE TABLE {empty_name(name)} AS FROM lake_empty_arrow")
        con.unregister("lake_empty_arrow")


def native_view_sql(table: Table, current: list[str], other: list[str]) -> str:
    """A view with exactly the table's columns over Parquet files DuckDB reads itself.

    Files with the current columns are read as one plain scan, which keeps projection pushdown
    and costs little per file; files of other schema versions (if any) are matched by name
    through an empty typed table, so columns they lack read as NULL.
    """
    columns = ", ".join(f'"{c}"' for c in table.schema.names)
    hive = f"hive_partitioning = true, hive_types = {_HIVE_TYPES}"
    parts = []
    if current:
        parts.append(f"SELECT {columns} FROM read_parquet({_sql_list(current)}, {hive})")
    if other or not current:
        parts.append(
            f"SELECT {columns} FROM (SELECT * FROM {empty_name(table.name)} UNION ALL BY NAME "
            f"SELECT * FROM read_parquet({_sql_list(other)}, {hive}, union_by_name = true))"
        )
    return f"CREATE OR REPLACE TEMP VIEW {raw_name(table.name)} AS " + " UNION ALL ".join(parts)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _partition(f: LakeFile) -> ds.Expression:
    """What a file's folders say about its rows, so pyarrow skips files a filter excludes."""
    brand = ds.field("brand_id")
    return (ds.field("dt") == f.day) & (
        brand.is_null() if f.brand_id is None else brand == f.brand_id
    )
