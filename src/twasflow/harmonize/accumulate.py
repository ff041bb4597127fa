"""Accumulation over a file's batches (prefetching reader thread, per-row outcome), the palindromic/strand
resolution and deduplication at the end, the build check and the QC record."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import HarmonizeError
from ..io.gwas import RawBatch

from .codes import (_BUILD_MIN_ROWS, _N_CODES, _R, REASONS, STRAND_CONSENSUS_MAX_FLIP, STRAND_CONSENSUS_MIN_VARIANTS,
                    Settings, chrom_codes)
from .match import PanelIndex, match_rows, match_to_panel
from .rows import row_qc


# --------------------------------------------------------------------------------------------------
# Accumulation over a file


@dataclass
class _Acc:
    """Matched rows of one stream plus the counters for QC and the build check."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    extra_parts: dict[str, list[pa.Array]] = field(default_factory=dict)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(REASONS) + 1, dtype=np.int64))
    n_input: int = 0
    p_zero_kept: int = 0
    dom_rows: int = 0
    dom_match: int = 0
    fmin: np.ndarray = field(default_factory=lambda: np.full(_N_CODES, np.iinfo(np.int64).max))
    fmax: np.ndarray = field(default_factory=lambda: np.full(_N_CODES, -1, dtype=np.int64))
    rsid_sample: list[tuple[np.ndarray, np.ndarray, pa.Array]] = field(default_factory=list)
    rsid_sampled: int = 0
    chroms_seen: set[str] = field(default_factory=set)

    def add(self, name: str, arr: np.ndarray) -> None:
        self.parts.setdefault(name, []).append(arr)

    def cat(self, name: str, dtype: Any) -> np.ndarray:
        p = self.parts.get(name)
        return np.concatenate(p) if p else np.zeros(0, dtype=dtype)


class _Prefetch:
    """Read the next blocks in a background thread while the caller matches the current one.

    The thread starts at construction, so reading can begin while the panel index is being built.
    Decompression and CSV parsing (pyarrow, ISA-L) and most numpy matching release the GIL, so on two
    cores the reader and the matcher overlap. Exceptions of the reader are re-raised in the caller.
    :meth:`close` stops the thread (also when the blocks were never consumed).
    """

    _DONE = object()

    def __init__(self, batches: Iterable[RawBatch], depth: int = 3) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._work, args=(batches,), name="twasflow-reader", daemon=True)
        self._th.start()

    def _work(self, batches: Iterable[RawBatch]) -> None:
        try:
            for b in batches:
                if not self._put(b):
                    return
            self._put(self._DONE)
        except BaseException as exc:  # handed to the consumer thread
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[RawBatch]:
        try:
            while True:
                item = self._q.get()
                if item is self._DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._th.join(timeout=5)


def _prefetch(batches: Iterable[RawBatch]) -> Iterable[RawBatch]:
    return batches if isinstance(batches, _Prefetch) else _Prefetch(batches)


def _consume(batches: Iterable[RawBatch], index: PanelIndex, acc: _Acc, panel_hit: np.ndarray, *,
             sheet_n: float | None, extra: Sequence[str] = (), extra_num: Sequence[str] = (),
             on_block: Callable[[int, dict[str, Any]], None] | None = None, store: bool = True,
             indels: bool = False) -> None:
    """Row QC and matching of every block; matched rows are accumulated in ``acc`` (its counters always, its
    rows only when ``store``).

    ``indels``: rows whose alleles are written as bases but are not one base each (``C``/``CA``) are matched to
    the panel by their allele strings (:func:`~twasflow.harmonize.match.match_rows`) instead of being dropped
    as ``indel``; one not found in the panel is still counted as ``indel`` and left out of the build check
    (a genotype store holds SNVs only, so a GWAS's indels are no evidence about its build).

    ``on_block(offset, arrays)`` (optional) gets each block's matched rows (pidx, sign, palin, flipped, row, eaf,
    z, n, p, beta, se, the ``extra_num`` columns, and with ``store=False`` the ``extra`` Arrow columns;
    ``offset`` = matched rows of earlier blocks) as soon as the block is matched.
    """
    n_matched = 0
    for batch in _prefetch(batches):
        rows = row_qc(batch, sheet_n=sheet_n, indels=indels)
        acc.n_input += len(batch)
        acc.p_zero_kept += rows.p_zero_kept
        ok = rows.reason == 0
        if len(batch) and len(acc.chroms_seen) < 100:
            acc.chroms_seen.update(str(x) for x in pc.unique(batch.strings["chrom"]).to_pylist()[:100])
        sel = np.flatnonzero(ok)
        ind = None if rows.indel is None else rows.indel[sel]
        csel = rows.ccode[sel].astype(np.int64)
        if ind is not None and ind.any():
            t = pa.array(sel)
            m = match_rows(index, csel, rows.pos[sel], rows.ea[sel], rows.oa[sel], ind, batch.strings["ea"].take(t),
                           batch.strings["oa"].take(t))
        else:
            m = match_to_panel(index, csel, rows.pos[sel], rows.ea[sel], rows.oa[sel])
        reason = rows.reason
        reason[sel] = m.status
        acc.counts += np.bincount(reason, minlength=len(REASONS) + 1)
        # build check bookkeeping: rows on panel chromosomes within the panel's range there
        cc = rows.ccode[sel].astype(np.int64)
        ps = rows.pos[sel]
        onp = m.status != _R["chrom_not_in_panel"]
        if ind is not None:
            onp &= m.status != _R["indel"]
        if onp.any():
            cco, pso = cc[onp], ps[onp]
            present = np.flatnonzero(np.bincount(cco, minlength=_N_CODES))
            for c in present:
                pc_ = pso if len(present) == 1 else pso[cco == c]  # a sorted file: mostly one chromosome per block
                acc.fmin[c] = min(acc.fmin[c], int(pc_.min()))
                acc.fmax[c] = max(acc.fmax[c], int(pc_.max()))
            key = (cc << 32) | ps
            dom = onp & (key >= index.chrom_lo_key[cc]) & (key <= index.chrom_hi_key[cc])
            acc.dom_rows += int(dom.sum())
            acc.dom_match += int((dom & (m.status == 0)).sum())
        good = m.status == 0
        panel_hit[m.pidx[good]] = True
        if "rsid" in batch.strings and acc.rsid_sampled < 200_000:
            acc.rsid_sample.append((cc, ps, batch.strings["rsid"].take(pa.array(sel))))
            acc.rsid_sampled += len(sel)
        keep = sel[good]
        block = {"pidx": m.pidx[good], "sign": m.sign[good], "palin": m.palin[good], "flipped": m.flipped[good],
                 "row": batch.row[keep]}
        for name in ("z", "beta", "se", "p", "n", "eaf"):
            block[name] = getattr(rows, name)[keep]
        for name in extra_num:
            v = batch.numbers.get(name)
            block[name] = np.full(len(keep), np.nan) if v is None else v[keep]
        if store:
            for name, v in block.items():
                acc.add(name, v)
            if extra:
                take = pa.array(keep)
                for name in extra:
                    acc.extra_parts.setdefault(name, []).append(batch.extra[name].take(take))
        elif extra:
            take = pa.array(keep)
            for name in extra:
                block[name] = batch.extra[name].take(take)
        if on_block is not None:
            on_block(n_matched, block)
        n_matched += len(keep)


@dataclass
class _Final:
    """Kept rows after palindromic and duplicate resolution, oriented to the counted allele."""

    keep: np.ndarray  # indices into the accumulated arrays, sorted by output order
    pidx: np.ndarray
    sign: np.ndarray
    dropped: dict[str, int]
    flipped_strand: int
    swapped: int
    palindromic_aligned: int  # kept palindromic variants whose frequency confirmed the labels
    palindromic_by_strand: int  # kept palindromic variants without a frequency, labels vouched for by strand
    warnings: list[str]


def _resolve_palindromic(sign: np.ndarray, palin: np.ndarray, eaf: np.ndarray, pidx: np.ndarray,
                         panel_freq: np.ndarray, settings: Settings, *, reverse: bool, on_panel_strand: bool
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decide the palindromic rows among matched rows (R,), given the file's strand consensus.

    ``pidx`` (R,) are the matched panel rows and ``panel_freq`` (V,) the panel's counted-allele
    frequencies. Returns (reason int8 (R,) with 0 = kept, sign int8 (R,) with palindromic rows oriented by
    their labels on the consensus strand, by_strand bool (R,) rows kept on the strand consensus alone,
    nofreq bool (R,) palindromic rows without a usable frequency). Other rows keep reason 0 and their sign.
    """
    r = len(sign)
    reason = np.zeros(r, dtype=np.int8)
    by_strand = np.zeros(r, dtype=bool)
    nofreq = np.zeros(r, dtype=bool)
    ip = np.flatnonzero(palin)
    if not len(ip):
        return reason, sign, by_strand, nofreq
    if settings.palindromic == "drop":
        reason[ip] = _R["palindromic_dropped"]
        return reason, sign, by_strand, nofreq
    # labels on the file's consensus strand give one orientation, frequencies another
    lab = -sign[ip] if reverse else sign[ip]
    e, f = eaf[ip], panel_freq[pidx[ip]]
    mx = settings.maf_palindromic_max
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(e) & np.isfinite(f)
        low = usable & (np.minimum(e, 1 - e) <= mx) & (np.minimum(f, 1 - f) <= mx)
        by_freq = np.where((e - 0.5) * (f - 0.5) > 0, 1, -1)
    rp = np.zeros(len(ip), dtype=np.int8)
    rp[usable & ~low] = _R["palindromic_ambiguous"]
    rp[low & (by_freq != lab)] = _R["strand_inconsistent"]
    # without a frequency only the strand consensus can vouch for the labels
    nofreq[ip[~usable]] = True
    if on_panel_strand:
        by_strand = nofreq
    else:
        rp[~usable] = _R["palindromic_ambiguous"]
    reason[ip] = rp
    sign = sign.copy()
    sign[ip] = lab
    return reason, sign, by_strand, nofreq


@dataclass
class _Strand:
    """A file's strand consensus, from its matched non-palindromic rows."""

    n_flip: int  # matched only after complementing
    n_np: int  # all matched non-palindromic rows
    reverse: bool  # the file is strand-flipped overall: palindromic rows are read on the opposite strand
    on_panel_strand: bool  # (almost) no non-palindromic row needed complementing
    warnings: list[str]


def _strand_consensus(n_flip: int, n_direct: int, settings: Settings) -> _Strand:
    n_np = n_flip + n_direct
    flip_frac = n_flip / n_np if n_np else float("nan")
    on_panel_strand = n_np >= STRAND_CONSENSUS_MIN_VARIANTS and flip_frac <= settings.strand_consensus_max_flip
    warnings = []
    if n_flip:
        warnings.append(f"{n_flip} of {n_np} non-palindromic variants match the panel only on the "
                        "opposite strand (alleles complemented)")
    reverse = n_flip > n_direct
    if reverse:
        warnings.append("the file is strand-flipped overall: palindromic variants are read on the opposite strand")
    return _Strand(n_flip, n_np, reverse, on_panel_strand, warnings)


def _resolve_rows(sign: np.ndarray, flipped: np.ndarray, palin: np.ndarray, eaf: np.ndarray, pidx: np.ndarray,
                  index: PanelIndex, settings: Settings, strand: _Strand
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Palindromic resolution of matched rows (R,) under the file's strand consensus.

    Returns (reason int8, sign int8, flipped bool, by_strand bool, nofreq bool), all (R,); rows of one file
    can be resolved in any number of parts once ``strand`` is known.
    """
    reason = np.zeros(len(pidx), dtype=np.int8)
    by_strand = np.zeros(len(pidx), dtype=bool)
    nofreq = by_strand
    if palin.any():
        reason, sign, by_strand, nofreq = _resolve_palindromic(sign, palin, eaf, pidx, index.freq, settings,
                                                              reverse=strand.reverse,
                                                              on_panel_strand=strand.on_panel_strand)
        flipped = np.where(palin, strand.reverse, flipped)
    return reason, sign, flipped, by_strand, nofreq


def _nofreq_warning(n_nofreq: int, strand: _Strand, settings: Settings) -> list[str]:
    """The warning about palindromic rows dropped because the file's strand is not established."""
    if settings.palindromic == "drop" or strand.on_panel_strand or not n_nofreq:
        return []
    n_np = strand.n_np
    why = (f"{(strand.n_flip / n_np if n_np else float('nan')):.1%} of {n_np} non-palindromic variants match only "
           f"on the opposite strand (at most {settings.strand_consensus_max_flip:.1%} needed)" if
           n_np >= STRAND_CONSENSUS_MIN_VARIANTS else
           f"only {n_np} non-palindromic variants matched (at least {STRAND_CONSENSUS_MIN_VARIANTS} needed)")
    return [f"{n_nofreq} palindromic variants without a usable effect-allele frequency dropped as "
            f"palindromic_ambiguous: the file's strand is not established, {why}"]


def _finalize(acc: _Acc, index: PanelIndex, settings: Settings, *, dup_key: np.ndarray | None = None,
              order_key: Sequence[np.ndarray] = ()) -> _Final:
    pidx = acc.cat("pidx", np.int64)
    sign = acc.cat("sign", np.int8).astype(np.int8)
    flipped = acc.cat("flipped", bool)
    palin = acc.cat("palin", bool)
    eaf = acc.cat("eaf", np.float64)
    row = acc.cat("row", np.int64)
    npal = ~palin
    strand = _strand_consensus(int((flipped & npal).sum()), int((~flipped & npal).sum()), settings)
    reason, sign, flipped, by_strand, nofreq = _resolve_rows(sign, flipped, palin, eaf, pidx, index, settings,
                                                             strand)
    warnings = strand.warnings + _nofreq_warning(int(nofreq.sum()), strand, settings)
    # duplicates: the first row of the file wins
    dk = pidx if dup_key is None else dup_key
    cand = np.flatnonzero(reason == 0)
    dkc = dk[cand]
    # fast path for the common case of a file sorted like the panel, without duplicates: no sort at all
    if not (len(dkc) < 2 or np.all(dkc[1:] > dkc[:-1])):
        o = cand[np.lexsort((row[cand], dkc))]
        dup = np.zeros(len(o), dtype=bool)
        dup[1:] = dk[o][1:] == dk[o][:-1]
        reason[o[dup]] = _R["duplicate"]
    keep = np.flatnonzero(reason == 0)
    keys = [k[keep] for k in order_key] + [pidx[keep]]
    if len(keep) > 1 and (order_key or not np.all(pidx[keep][1:] > pidx[keep][:-1])):
        keep = keep[np.lexsort(tuple(reversed(keys)))]
    counts = acc.counts.copy()
    counts[0] = 0
    counts += np.bincount(reason, minlength=len(REASONS) + 1)
    counts[0] = 0
    dropped = {REASONS[i - 1]: int(counts[i]) for i in range(1, len(REASONS) + 1) if counts[i]}
    if acc.p_zero_kept:
        warnings.append(f"{acc.p_zero_kept} rows with p = 0 kept; their p is recomputed from beta/se")
    n_by_strand = int(by_strand[keep].sum())
    return _Final(keep=keep, pidx=pidx[keep], sign=sign[keep], dropped=dropped,
                  flipped_strand=int(flipped[keep].sum()), swapped=int((sign[keep] < 0).sum()),
                  palindromic_aligned=int(palin[keep].sum()) - n_by_strand,
                  palindromic_by_strand=n_by_strand, warnings=warnings)


# --------------------------------------------------------------------------------------------------
# Build check


def _rsid_evidence(acc: _Acc, index: PanelIndex) -> str | None:
    """Compare positions of variants matched by rsid; describe the offsets, or None without rsids."""
    if not acc.rsid_sample:
        return None
    cc = np.concatenate([a for a, _, _ in acc.rsid_sample])
    ps = np.concatenate([b for _, b, _ in acc.rsid_sample])
    rs = pa.chunked_array([c for _, _, c in acc.rsid_sample]).combine_chunks()
    prs = index.table.column("rsid").combine_chunks()
    if not pa.types.is_string(prs.type):
        prs = prs.cast(pa.string())
    rs_ok = pc.starts_with(pc.fill_null(rs, ""), "rs").to_numpy(zero_copy_only=False)
    where = pc.index_in(rs, value_set=prs).to_numpy(zero_copy_only=False)
    found = rs_ok & ~np.isnan(where.astype(np.float64))
    if found.sum() < 10:
        return None
    w = where[found].astype(np.int64)
    pk = index.keys[w]
    pchrom = pk >> 32
    ppos = pk & 0xFFFFFFFF
    same_chrom = pchrom == cc[found]
    d = ps[found][same_chrom] - ppos[same_chrom]
    n = len(d)
    if n == 0:
        return f"{int(found.sum())} rsids match panel rsids but all on other chromosomes"
    moved = d != 0
    if not moved.any():
        return f"all {n} rsid-matched variants sit at the panel position (alleles differ)"
    dm = d[moved]
    vals, cnts = np.unique(dm, return_counts=True)
    top = vals[np.argmax(cnts)]
    frac_top = cnts.max() / len(dm)
    desc = (f"{int(moved.sum())} of {n} rsid-matched variants sit at other positions "
            f"(offset median {int(np.median(dm))} bp, range {int(dm.min())}..{int(dm.max())} bp")
    if frac_top > 0.9:
        desc += f"; {frac_top:.0%} shifted by exactly {int(top)} bp"
        if abs(top) == 1:
            desc += ": positions look 0-based instead of 1-based"
    else:
        desc += "; offsets vary along the chromosome, the pattern of a different genome build"
    return desc + ")"


def _build_check(acc: _Acc, index: PanelIndex, panel_hit: np.ndarray, *, path: Any, declared: str | None,
                 panel: str | None, min_match: float, warnings: list[str], raise_on_fail: bool = True,
                 rsid_loader: Any = None) -> dict:
    """Match rate over comparable rows; raise :class:`HarmonizeError` if it is below ``min_match``.

    The rate is the larger of (a) matched / file rows that lie on a panel chromosome inside the panel's
    position range there and (b) matched / panel SNVs inside the file's position range on each shared
    chromosome, so a sparse panel (or a sparse file) does not look like a build mismatch.
    """
    file_rate = acc.dom_match / acc.dom_rows if acc.dom_rows else None
    pan_dom = 0
    pan_hit = 0
    snv = (index.counted > 0) & (index.other > 0)
    for c in np.flatnonzero(acc.fmax >= 0):
        lo = int(np.searchsorted(index.keys, (np.int64(c) << 32) | acc.fmin[c], "left"))
        hi = int(np.searchsorted(index.keys, (np.int64(c) << 32) | acc.fmax[c], "right"))
        pan_dom += int(snv[lo:hi].sum())
        pan_hit += int(panel_hit[lo:hi].sum())
    panel_rate = pan_hit / pan_dom if pan_dom else None
    rates = [r for r in (file_rate, panel_rate) if r is not None]
    rate = max(rates) if rates else None
    n_cmp = max(acc.dom_rows, pan_dom)
    ok = rate is not None and rate >= min_match
    if ok:
        best = panel or declared or "same as panel"
        if declared and panel and declared != panel:
            warnings.append(f"declared build {declared} differs from the panel build {panel}, but positions match "
                            f"the panel (match rate {rate:.3f}); treated as {panel}")
    else:
        if rate is not None and not acc.rsid_sample and rsid_loader is not None:
            for b in rsid_loader():
                acc.rsid_sample.append((chrom_codes(b.strings["chrom"]).astype(np.int64),
                                        np.nan_to_num(b.numbers["pos"], nan=0).astype(np.int64), b.strings["rsid"]))
        evidence = _rsid_evidence(acc, index) if rate is not None else None
        other = {"GRCh37": "GRCh38", "GRCh38": "GRCh37"}.get(panel or "")
        if declared and panel and declared != panel:
            best = declared
        elif evidence and "different genome build" in evidence and other:
            best = other
        elif evidence and "0-based" in evidence:
            best = f"{panel or 'panel build'} (0-based positions)"
        else:
            best = "unknown"
        if rate is not None and n_cmp >= _BUILD_MIN_ROWS and raise_on_fail:
            hint = []
            if declared and panel and declared != panel:
                hint.append(f"the file is declared {declared} but the panel is {panel}: lift the file over to "
                            f"{panel} (e.g. with liftOver/CrossMap) before harmonizing")
            if evidence:
                hint.append(evidence)
            if best != "unknown":
                hint.append(f"likely build: {best}")
            raise HarmonizeError(
                f"{path}: genome build check failed: only {rate:.1%} of the variants on panel chromosomes match "
                f"the panel at their position with compatible alleles (found match rate {rate:.3f}; expected ≥ "
                f"{min_match}); declared build {declared or 'not given'}, panel build {panel or 'not given'}"
                + ("; " + "; ".join(hint) if hint else ""),
                file=str(path), found=rate, expected=min_match)
        if rate is not None:
            warnings.append(f"low match rate {rate:.3f} over only {n_cmp} comparable variants; build check not "
                            f"conclusive")
    return {"declared": declared, "panel": panel, "match_rate": None if rate is None else round(float(rate), 6),
            "best_guess": best}


def _no_overlap_error(path: Any, acc: _Acc, index: PanelIndex) -> HarmonizeError:
    return HarmonizeError.at(
        "no variant lies on a panel chromosome", file=path, column="chrom",
        found=f"chromosomes {sorted(acc.chroms_seen)[:30]}", expected=f"some of {index.chrom_labels}")


def _qc_dict(path: Any, acc: _Acc, fin: _Final, build: dict, warnings: list[str], **extra: Any) -> dict:
    qc = {
        "input": str(path),
        "n_input": int(acc.n_input),
        "n_kept": int(len(fin.keep)),
        "dropped": fin.dropped,
        "flipped_strand": fin.flipped_strand,
        "swapped_alleles": fin.swapped,
        "palindromic_aligned": fin.palindromic_aligned,
        "palindromic_kept_by_strand_consensus": fin.palindromic_by_strand,
        "build": build,
        "warnings": fin.warnings + warnings,
    }
    qc.update(extra)
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values()), qc
    return qc


def _settings(palindromic: str, maf_palindromic_max: float, build_check_min_match: float,
              strand_consensus_max_flip: float = STRAND_CONSENSUS_MAX_FLIP) -> Settings:
    if palindromic not in ("align_by_freq", "drop"):
        raise HarmonizeError.at("unknown palindromic mode", column="palindromic", found=repr(palindromic),
                                expected="'align_by_freq' or 'drop'")
    if not 0 <= float(maf_palindromic_max) <= 0.5:
        raise HarmonizeError.at("maf_palindromic_max out of range", column="maf_palindromic_max",
                                found=maf_palindromic_max, expected="a number in [0, 0.5]")
    if not 0 <= float(build_check_min_match) <= 1:
        raise HarmonizeError.at("build_check_min_match out of range", column="build_check_min_match",
                                found=build_check_min_match, expected="a number in [0, 1]")
    if not 0 <= float(strand_consensus_max_flip) < 0.5:
        raise HarmonizeError.at("strand_consensus_max_flip out of range", column="strand_consensus_max_flip",
                                found=strand_consensus_max_flip, expected="a number in [0, 0.5)")
    return Settings(palindromic, float(maf_palindromic_max), float(build_check_min_match),
                    float(strand_consensus_max_flip))


