"""Error types. Bad input raises an :class:`InputError` whose message names the file, the column or key,
the row when there is one, what was found and what was expected. The CLI and the rule scripts print the
message without a traceback and exit 1.
"""

from __future__ import annotations

from typing import Any


class TwasflowError(Exception):
    """Base class of every error twasflow raises on purpose."""


class InputError(TwasflowError, ValueError):
    """Bad user input. Build it with :func:`input_error` or pass a complete message.

    Attributes ``file``, ``column``, ``row``, ``found`` and ``expected`` are kept for programmatic use.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        found: Any = None,
        expected: Any = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.column = column
        self.row = row
        self.found = found
        self.expected = expected
        super().__init__(message)

    @classmethod
    def at(
        cls,
        what: str,
        *,
        file: Any = None,
        column: str | None = None,
        row: int | None = None,
        found: Any = None,
        expected: Any = None,
    ) -> "InputError":
        """Format a message as ``file: column 'c', row r: what (found X; expected Y)``.

        ``row`` is 1-based data-row number (header excluded) as a user would count it in the file.
        """
        parts = []
        if file is not None:
            parts.append(str(file))
        loc = []
        if column is not None:
            loc.append(f"column '{column}'")
        if row is not None:
            loc.append(f"row {row}")
        head = ": ".join(parts + ([", ".join(loc)] if loc else []))
        detail = []
        if found is not None:
            detail.append(f"found {found}")
        if expected is not None:
            detail.append(f"expected {expected}")
        msg = f"{head}: {what}" if head else what
        if detail:
            msg += " (" + "; ".join(detail) + ")"
        return cls(msg, file=file, column=column, row=row, found=found, expected=expected)


class ConfigError(InputError):
    """The configuration or a sample sheet is invalid."""


class HarmonizeError(InputError):
    """A GWAS or xQTL file cannot be harmonized (missing column, wrong build, unreadable file…)."""


class PanelError(InputError):
    """The reference panel (PLINK bed or VCF) is unreadable or inconsistent."""


class ClumpError(InputError):
    """Clumping input (association file, flags) is invalid."""


class LocusError(InputError):
    """A per-locus input cannot be assembled."""


class SusieError(InputError):
    """Invalid numerical input to the SuSiE engine (NaN z, R of the wrong shape, non-symmetric R…)."""


class NumericalError(TwasflowError, ArithmeticError):
    """A numerical failure at one locus (a singular or non-finite system, no convergence where it is required):
    an expected per-locus problem that :func:`twasflow.chunks.run_loci` records instead of failing the job."""
