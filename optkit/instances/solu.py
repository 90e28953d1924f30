"""Reference optima of instance sets, in MIPLIB's ``.solu`` style (DESIGN §4).

One line per instance: ``=opt= NAME VALUE`` (proven optimal), ``=best= NAME VALUE`` (best
known, not proven), ``=inf= NAME`` (proven infeasible). Values are in the family's own sense
(caching: utility, maximised; scheduling: cost, minimised), written with 15 significant digits.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from optkit.errors import InvalidFileError, OptkitError
from optkit.gaps import agree
from optkit.instances.jsonio import write_text_atomic

Kind = Literal["opt", "best", "inf"]


@dataclass(frozen=True)
class Reference:
    name: str
    kind: Kind
    value: float | None

    def line(self) -> str:
        if self.kind == "inf" or self.value is None:
            return f"=inf= {self.name}"
        return f"={self.kind}= {self.name} {self.value:.15g}"


def read_solu(path: str | os.PathLike[str]) -> dict[str, Reference]:
    """Read a ``.solu`` file; every malformed line is reported (file:line: rule)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OptkitError(f"{p}: no such file") from None
    refs: dict[str, Reference] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        where = f"{p}:{number}"
        kind = parts[0].strip("=")
        if parts[0] not in ("=opt=", "=best=", "=inf=") or len(parts) != (
            2 if kind == "inf" else 3
        ):
            problems.append(
                f"{where}: expected '=opt= NAME VALUE', '=best= NAME VALUE' or '=inf= NAME'"
            )
            continue
        value = None
        if kind != "inf":
            try:
                value = float(parts[2])
            except ValueError:
                problems.append(f"{where}: {parts[2]!r} is not a number")
                continue
        if parts[1] in refs:
            problems.append(f"{where}: {parts[1]} is listed twice")
        refs[parts[1]] = Reference(parts[1], kind, value)  # type: ignore[arg-type]
    if problems:
        raise InvalidFileError(problems)
    return refs


def read_solu_folder(folder: str | os.PathLike[str]) -> dict[str, Reference]:
    """The references of every ``*.solu`` file in a folder."""
    refs: dict[str, Reference] = {}
    for path in sorted(Path(folder).glob("*.solu")):
        refs.update(read_solu(path))
    return refs


def write_solu(path: str | os.PathLike[str], references: Iterable[Reference]) -> None:
    """Write references sorted by name, atomically."""
    lines = [r.line() for r in sorted(references, key=lambda r: r.name)]
    write_text_atomic(path, "\n".join(lines) + "\n")


def references_from_results(records: Iterable[Mapping[str, Any]]) -> list[Reference]:
    """References from results lines (:func:`optkit.solvers.read_results`).

    An instance with an ``optimal`` result gets ``=opt=``; every optimal result of it must agree
    (DESIGN §4: 1e-6 relative) — two proofs that disagree raise :class:`OptkitError`, since one
    method is wrong. Otherwise the best feasible objective (in the family's sense) gets
    ``=best=``. Instances with no feasible result are left out.
    """
    optimal: dict[str, list[tuple[str, float]]] = {}
    best: dict[str, tuple[str, float]] = {}
    for r in records:
        if r["objective"] is None or not r["feasible"]:
            continue
        name, value, method = r["instance"], float(r["objective"]), r["method"]
        if r["status"] == "optimal":
            optimal.setdefault(name, []).append((method, value))
        better = (lambda a, b: a > b) if r["family"] == "caching" else (lambda a, b: a < b)
        if name not in best or better(value, best[name][1]):
            best[name] = (method, value)
    out = []
    for name in sorted(set(optimal) | set(best)):
        proofs = optimal.get(name, [])
        for (m1, v1), (m2, v2) in itertools.pairwise(proofs):
            if not agree(v1, v2):
                raise OptkitError(
                    f"{name}: {m1} proves {v1:.15g} but {m2} proves {v2:.15g} (they must agree to 1e-6)"
                )
        if proofs:
            out.append(Reference(name, "opt", proofs[0][1]))
        else:
            out.append(Reference(name, "best", best[name][1]))
    return out
