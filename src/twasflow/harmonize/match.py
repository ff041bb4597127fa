"""The panel index (sorted chromosome-position keys) and the allele-by-allele match of rows to it: swaps,
strand flips, palindromes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import HarmonizeError

from .codes import _N_CODES, _R, CODE_CHROM, PANEL_COLUMNS, allele_codes, chrom_codes


# --------------------------------------------------------------------------------------------------
# Panel index


@dataclass
class PanelIndex:
    """The panel's variants sorted by (chromosome code, position), with integer allele codes.

    ``table`` holds the output columns (variant_id, chrom, pos, other_allele, counted_allele, rsid) in
    the sorted order; every other array is aligned with it.
    """

    table: pa.Table
    keys: np.ndarray  # int64 (V,)
    run_end: np.ndarray  # int64 (V,), one past the last panel row with the same key
    counted: np.ndarray  # uint8 (V,)
    other: np.ndarray  # uint8 (V,)
    pair: np.ndarray  # uint8 (V,), 5 * counted + other: the code of (effect = counted, other)
    pair_sw: np.ndarray  # uint8 (V,), 5 * other + counted: the code of the swapped pair
    freq: np.ndarray  # float64 (V,), counted-allele frequency (NaN if unknown)
    chrom_present: np.ndarray  # bool (27,)
    max_run: int
    chrom_lo_key: np.ndarray  # int64 (27,), smallest panel key per chromosome code (int64 max if none)
    chrom_hi_key: np.ndarray  # int64 (27,), largest panel key per chromosome code (-1 if none)
    chrom_label: list  # (27,), the panel's own label of each chromosome code ('X' or '23', …)
    #: int64 sorted keys of positions the panel store dropped for ``panel.maf_min`` (a row there is counted as
    #: ``panel_maf_below_min``, not ``not_in_panel``)
    maf_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def build(cls, panel_variants: pd.DataFrame | pa.Table, maf_dropped: pd.DataFrame | None = None) -> "PanelIndex":
        """Index ``panel_variants`` (V rows, ``PANEL_COLUMNS``). ``maf_dropped`` (``chrom, pos``): positions the
        store dropped for minor allele frequency; default the table read by
        :func:`twasflow.io.panel.read_maf_dropped` from ``panel_variants.attrs['panel_dir']`` when set (the
        store's own ``variants.parquet`` read by :func:`twasflow.io.panel.read_panel_variants`)."""
        if maf_dropped is None and isinstance(panel_variants, pd.DataFrame) and panel_variants.attrs.get("panel_dir"):
            from ..io.panel import read_maf_dropped
            maf_dropped = read_maf_dropped(panel_variants.attrs["panel_dir"])
        if isinstance(panel_variants, pd.DataFrame):
            missing = [c for c in PANEL_COLUMNS if c not in panel_variants.columns]
            if missing:
                raise HarmonizeError.at("panel variants table lacks columns", file="panel_variants", column=missing[0],
                                        found=f"columns {list(panel_variants.columns)}",
                                        expected=f"columns {list(PANEL_COLUMNS)}")
            t = pa.Table.from_pandas(panel_variants[list(PANEL_COLUMNS)], preserve_index=False)
        else:
            missing = [c for c in PANEL_COLUMNS if c not in panel_variants.column_names]
            if missing:
                raise HarmonizeError.at("panel variants table lacks columns", file="panel_variants", column=missing[0],
                                        found=f"columns {panel_variants.column_names}",
                                        expected=f"columns {list(PANEL_COLUMNS)}")
            t = panel_variants.select(list(PANEL_COLUMNS))
        t = t.replace_schema_metadata(None)
        ccode = chrom_codes(t.column("chrom")).astype(np.int64)
        pos = t.column("pos").to_numpy().astype(np.int64)
        keys = (ccode << 32) | pos
        if len(keys) > 1 and not np.all(keys[1:] >= keys[:-1]):
            order = np.argsort(keys, kind="stable")
            t = t.take(pa.array(order))
            keys = keys[order]
            ccode = ccode[order]
        counted, _ = allele_codes(t.column("counted_allele"))
        other, _ = allele_codes(t.column("other_allele"))
        freq = t.column("counted_freq").to_numpy(zero_copy_only=False).astype(np.float64)
        v = len(keys)
        if v:
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            ends = np.r_[starts[1:], v]
            run_end = np.repeat(ends, ends - starts).astype(np.int64)
            max_run = int((ends - starts).max())
        else:
            run_end = np.zeros(0, dtype=np.int64)
            max_run = 0
        present = np.zeros(_N_CODES, dtype=bool)
        lo_key = np.full(_N_CODES, np.iinfo(np.int64).max)
        hi_key = np.full(_N_CODES, -1, dtype=np.int64)
        labels = [CODE_CHROM.get(c, "") for c in range(_N_CODES)]
        if v:
            # keys are sorted, so each chromosome is one run; its ends give the key range and the label
            cstart = np.flatnonzero(np.r_[True, ccode[1:] != ccode[:-1]])
            cend = np.r_[cstart[1:], v] - 1
            chrom_col = t.column("chrom")
            for a, b in zip(cstart, cend):
                c = int(ccode[a])
                if 0 < c < _N_CODES:
                    present[c] = True
                    lo_key[c], hi_key[c] = keys[a], keys[b]
                    labels[c] = str(chrom_col[int(a)].as_py())
        # single-chunk columns: taking rows from a chunked array would concatenate its chunks on every call
        out = t.select(["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid"]).combine_chunks()
        out = out.set_column(2, "pos", pa.array(pos if not len(keys) else (keys & 0xFFFFFFFF), type=pa.int64()))
        maf_keys = np.zeros(0, np.int64)
        if maf_dropped is not None and len(maf_dropped):
            mk = (chrom_codes(pa.array(maf_dropped["chrom"].astype(str))).astype(np.int64) << 32) \
                | maf_dropped["pos"].to_numpy().astype(np.int64)
            maf_keys = np.unique(mk)
        return cls(table=out, keys=keys, run_end=run_end, counted=counted, other=other,
                   pair=counted * np.uint8(5) + other, pair_sw=other * np.uint8(5) + counted, freq=freq,
                   chrom_present=present, max_run=max_run, chrom_lo_key=lo_key, chrom_hi_key=hi_key,
                   chrom_label=labels, maf_keys=maf_keys)

    def strings_of(self, pidx: np.ndarray) -> dict[str, pa.Array]:
        """chrom, other_allele and counted_allele of panel rows ``pidx`` as dictionary arrays.

        Cheaper than taking strings from the panel table: integer codes over a handful of labels. Alleles that
        are not one base (indels of a variant table) are taken from the table and appended to the labels, so
        the type is the same dictionary type either way.
        """
        def dict_str(codes: np.ndarray, labels: list[str]) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels, pa.string()))

        def alleles(codes: np.ndarray, column: str) -> pa.Array:
            c = codes[pidx].astype(np.int32)
            labels = ["", "A", "C", "G", "T"]
            rest = np.flatnonzero(c == 0)
            if len(rest):
                enc = pc.dictionary_encode(self.table.column(column).chunk(0).take(pa.array(pidx[rest])).cast(pa.string()))
                c[rest] = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32) + len(labels)
                labels = labels + enc.dictionary.to_pylist()
            return dict_str(c, labels)

        cc = (self.keys[pidx] >> 32).astype(np.int32)
        return {"chrom": dict_str(cc, self.chrom_label), "other_allele": alleles(self.other, "other_allele"),
                "counted_allele": alleles(self.counted, "counted_allele")}

    def __len__(self) -> int:
        return len(self.keys)

    def chrom_range(self, code: int) -> tuple[int, int]:
        """Index range [lo, hi) of the panel rows on chromosome ``code``."""
        lo = int(np.searchsorted(self.keys, np.int64(code) << 32, "left"))
        hi = int(np.searchsorted(self.keys, np.int64(code + 1) << 32, "left"))
        return lo, hi

    @property
    def chrom_labels(self) -> list[str]:
        return [CODE_CHROM[c] for c in np.flatnonzero(self.chrom_present)]


@dataclass
class Match:
    """Result of matching rows to the panel: panel row (or -1), status, orientation and flags."""

    pidx: np.ndarray  # int64 (R,)
    status: np.ndarray  # int8 (R,): 0 matched, else a reason code
    sign: np.ndarray  # int8 (R,): +1 effect allele is the counted allele, -1 it is the other
    flipped: np.ndarray  # bool (R,): matched only after complementing (non-palindromic)
    palin: np.ndarray  # bool (R,): A/T or C/G


def match_to_panel(index: PanelIndex, ccode: np.ndarray, pos: np.ndarray, ea: np.ndarray, oa: np.ndarray) -> Match:
    """Match SNVs (codes 1..4) at (ccode, pos) to the panel, allele pair by allele pair.

    A direct match (same alleles, either orientation) wins over a strand-flipped one; among panel rows
    at one position the first that matches is taken.
    """
    r = len(pos)
    key = (ccode.astype(np.int64) << 32) | pos.astype(np.int64)
    pidx = np.full(r, -1, dtype=np.int64)
    status = np.zeros(r, dtype=np.int8)
    sign = np.zeros(r, dtype=np.int8)
    flipped = np.zeros(r, dtype=bool)
    palin = ea == (5 - oa)
    cc = np.clip(ccode, 0, _N_CODES - 1)
    chrom_ok = index.chrom_present[cc] & (ccode > 0)
    status[~chrom_ok] = _R["chrom_not_in_panel"]
    if len(index) == 0 or r == 0:
        status[chrom_ok] = _R["not_in_panel"]
        _mark_maf_dropped(index, key, status)
        return Match(pidx, status, sign, flipped, palin)
    # a block of a sorted file covers a short stretch of the panel: searching only there stays in cache
    a = int(np.searchsorted(index.keys, key.min(), "left"))
    b = int(np.searchsorted(index.keys, key.max(), "right"))
    loc = np.searchsorted(index.keys[a:b], key, "left") + a
    np.minimum(loc, len(index) - 1, out=loc)
    hit = chrom_ok & (index.keys[loc] == key)
    status[chrom_ok & ~hit] = _R["not_in_panel"]
    # first panel row at the position, same strand: one comparison of pair codes per orientation
    rp = ea * np.uint8(5) + oa
    same = hit & (index.pair[loc] == rp)
    swap = hit & (index.pair_sw[loc] == rp)
    found = same | swap
    pidx[found] = loc[found]
    sign[same] = 1
    sign[swap] = -1
    rest = np.flatnonzero(hit & ~found)
    # the rare rest: other panel rows at the position (multi-allelic sites), then the complemented pair
    for flip_pass in (False, True):
        todo = rest[~found[rest]]
        if flip_pass:
            todo = todo[~palin[todo]]  # a palindromic pair reads the same on both strands
        for k in range(1 if not flip_pass else 0, index.max_run):
            if not len(todo):
                break
            cand = loc[todo] + k
            ok = cand < index.run_end[loc[todo]]
            rows, cand = todo[ok], cand[ok]
            q = rp[rows] if not flip_pass else (5 - ea[rows]) * np.uint8(5) + (5 - oa[rows])
            s_ = index.pair[cand] == q
            w_ = index.pair_sw[cand] == q
            m = s_ | w_
            pidx[rows[m]] = cand[m]
            sign[rows[s_]] = 1
            sign[rows[w_]] = -1
            flipped[rows[m]] = flip_pass
            found[rows[m]] = True
            todo = todo[~found[todo]]
    status[hit & ~found] = _R["allele_mismatch"]
    _mark_maf_dropped(index, key, status)
    return Match(pidx, status, sign, flipped, palin)


def _mark_maf_dropped(index: PanelIndex, key: np.ndarray, status: np.ndarray) -> None:
    """Rows not in the panel at a position the panel store dropped for ``maf_min``: their own reason."""
    if not len(index.maf_keys):
        return
    miss = np.flatnonzero(status == _R["not_in_panel"])
    if not len(miss):
        return
    loc = np.minimum(np.searchsorted(index.maf_keys, key[miss]), len(index.maf_keys) - 1)
    status[miss[index.maf_keys[loc] == key[miss]]] = _R["panel_maf_below_min"]


def match_indels(index: PanelIndex, ccode: np.ndarray, pos: np.ndarray, ea: pa.Array | np.ndarray,
                 oa: pa.Array | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(panel row or -1 int64 (K,), sign int8 (K,)) of indel rows (K,): the first panel variant at the position
    with the same allele strings (case-insensitive), effect = counted (+1) or effect = other (-1).

    No strand flip and no palindrome: an indel's other strand is its reverse complement, which no file writes,
    and its two alleles differ in length, so a label swap is never ambiguous the way A/T is. Only the candidate
    panel rows' strings are read (a genotype store, SNVs only, never matches).
    """
    k = len(pos)
    pidx, sign = np.full(k, -1, np.int64), np.zeros(k, np.int8)
    if not len(index) or not k:
        return pidx, sign
    up = lambda a: pc.utf8_upper(pa.array(a, pa.string()) if not isinstance(a, (pa.Array, pa.ChunkedArray))  # noqa: E731
                                 else a.cast(pa.string()))
    e, o = up(ea), up(oa)
    key = (ccode.astype(np.int64) << 32) | pos.astype(np.int64)
    loc = np.searchsorted(index.keys, key)
    cnt_col = index.table.column("counted_allele").chunk(0)
    oth_col = index.table.column("other_allele").chunk(0)
    for j in range(index.max_run):
        cand = loc + j
        live = np.flatnonzero((pidx < 0) & (cand < len(index)))
        if not len(live):
            break
        live = live[index.keys[cand[live]] == key[live]]
        if not len(live):
            continue
        take, rows = pa.array(cand[live]), pa.array(live)
        c, t = up(cnt_col.take(take)), up(oth_col.take(take))
        er, orr = e.take(rows), o.take(rows)
        eq = lambda a, b: pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)  # noqa: E731
        same = eq(c, er) & eq(t, orr)
        swap = eq(c, orr) & eq(t, er) & ~same
        pidx[live[same | swap]] = cand[live[same | swap]]
        sign[live[same]], sign[live[swap]] = 1, -1
    return pidx, sign


def match_rows(index: PanelIndex, ccode: np.ndarray, pos: np.ndarray, ea: np.ndarray, oa: np.ndarray,
               indel: np.ndarray | None = None, ea_str: pa.Array | None = None, oa_str: pa.Array | None = None
               ) -> Match:
    """:func:`match_to_panel` for SNV rows and :func:`match_indels` for the rows flagged ``indel`` (bool (R,);
    ``ea_str``/``oa_str`` their allele strings, (R,)). An indel without a panel variant of the same alleles at
    its position gets the reason ``indel`` (a genotype store holds SNVs), or ``chrom_not_in_panel``."""
    if indel is None or not indel.any():
        return match_to_panel(index, ccode, pos, ea, oa)
    si, ii = np.flatnonzero(~indel), np.flatnonzero(indel)
    r = len(pos)
    m = Match(np.full(r, -1, np.int64), np.zeros(r, np.int8), np.zeros(r, np.int8), np.zeros(r, bool),
              np.zeros(r, bool))
    ms = match_to_panel(index, ccode[si], pos[si], ea[si], oa[si])
    m.pidx[si], m.status[si], m.sign[si], m.flipped[si], m.palin[si] = ms.pidx, ms.status, ms.sign, ms.flipped, ms.palin
    take = pa.array(ii)
    p, s = match_indels(index, ccode[ii], pos[ii], ea_str.take(take), oa_str.take(take))
    cc = np.clip(ccode[ii], 0, _N_CODES - 1)
    on_chrom = index.chrom_present[cc] & (ccode[ii] > 0)
    m.pidx[ii], m.sign[ii] = p, s
    m.status[ii] = np.where(p >= 0, 0, np.where(on_chrom, _R["indel"], _R["chrom_not_in_panel"]))
    return m
