"""Reference optima of instance sets, in MIPLIB's ``.solu`` style (DESIGN §4).

One line per instance: ``=opt= NAME VALUE`` (proven optimal), ``=best= NAME VALUE`` (best
known, not proven), ``=inf= NAME`` (proven infeasible). Values are in the family's own sense
(caching: utility, maximised; scheduling: cost, minimised), written with 15 significant digits.

References of one instance from two places (two ``.solu`` files, a ``.solu`` file and results
lines, an old ``.solu`` and new results) must not contradict each other (:func:`reconcile`):
two proofs agree to 1e-6 relative (DESIGN §4), no feasible value beats a proof by more than
that, and a value contradicts ``=inf=``. A contradiction is an error naming both sources —
one of them is wrong, and a gap measured against the wrong one would be silently wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

from optkit.errors import InvalidFileError, OptkitError
from optkit.gaps import Sense, agree, beats
from optkit.instances.common import SENSE
from optkit.instances.jsonio import read_text, write_text_atomic

Kind = Literal["opt", "best", "inf"]

#: Bad lines reported one by one; the rest are counted.
SHOWN_PROBLEMS = 5

_TAGS = ("=opt=", "=best=", "=inf=")
_LINE = "'=opt= NAME VALUE', '=best= NAME VALUE' or '=inf= NAME'"


@dataclass(frozen=True)
class Reference:
    """The reference of one instance. ``source`` says where it comes from (``set.solu:3``,
    ``bnb (results.jsonl:7)``, ``bnb run now``) and ``sense`` is the family's sense where
    known (results lines name the family; a ``.solu`` file does not); neither takes part in
    equality."""

    name: str
    kind: Kind
    value: float | None
    source: str = field(default="", compare=False)
    sense: Sense | None = field(default=None, compare=False)

    def line(self) -> str:
        if self.kind == "inf" or self.value is None:
            return f"=inf= {self.name}"
        return f"={self.kind}= {self.name} {self.value:.15g}"


def read_solu(path: str | os.PathLike[str]) -> dict[str, Reference]:
    """Read a ``.solu`` file; every malformed line is reported (``file:line: rule``, the first
    :data:`SHOWN_PROBLEMS`, then a count). A file none of whose lines starts with a tag
    (``=opt=``, ``=best=``, ``=inf=``) is one error: it is not a ``.solu`` file."""
    p = Path(path)
    text = read_text(p, ".solu file")
    refs: dict[str, Reference] = {}
    problems = []
    tagged = False
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        where = f"{p}:{number}"
        kind = parts[0].strip("=")
        tagged = tagged or parts[0] in _TAGS
        if parts[0] not in _TAGS or len(parts) != (2 if kind == "inf" else 3):
            problems.append(f"{where}: expected {_LINE}")
            continue
        value = None
        if kind != "inf":
            try:
                value = float(parts[2])
            except ValueError:
                problems.append(f"{where}: {parts[2]!r} is not a number")
                continue
            if not math.isfinite(value):
                problems.append(f"{where}: {parts[2]!r} is not a finite number")
                continue
        if parts[1] in refs:
            problems.append(f"{where}: {parts[1]} is listed twice")
        refs[parts[1]] = Reference(parts[1], kind, value, where)  # type: ignore[arg-type]
    if problems and not tagged:
        raise OptkitError(f"{p}: not a .solu file (no line is {_LINE})")
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        if len(problems) > SHOWN_PROBLEMS:
            shown.append(f"{p}: … and {len(problems) - SHOWN_PROBLEMS} more bad lines")
        raise InvalidFileError(shown)
    return refs


def read_solu_folder(
    folder: str | os.PathLike[str], sense: Sense | None = None
) -> dict[str, Reference]:
    """The references of every ``*.solu`` file in a folder; an instance listed in two of them
    is :func:`reconcile`-d (``sense``: the set's family's, when known)."""
    refs: dict[str, Reference] = {}
    for path in sorted(Path(folder).glob("*.solu")):
        for name, ref in read_solu(path).items():
            refs[name] = reconcile(refs[name], ref, sense) if name in refs else ref
    return refs


def write_solu(path: str | os.PathLike[str], references: Iterable[Reference]) -> None:
    """Write references sorted by name, atomically."""
    lines = [r.line() for r in sorted(references, key=lambda r: r.name)]
    write_text_atomic(path, "\n".join(lines) + "\n")


def reconcile(first: Reference, second: Reference, sense: Sense | None = None) -> Reference:
    """The reference to use when two sources give one for the same instance.

    A proof wins over a best-known value, two agreeing proofs give ``first``, and of two
    best-known values the better (``first`` when no sense is known). Contradictions raise
    :class:`OptkitError` naming both sources: two proofs that do not agree (DESIGN §4), a
    best-known (feasible) value better than a proof by more than that tolerance, ``=inf=``
    against a value. ``sense`` defaults to the one either reference knows.
    """
    sense = sense or first.sense or second.sense
    name = first.name
    if first.kind == "inf" or second.kind == "inf":
        if first.kind == second.kind:
            return first
        inf, other = (first, second) if first.kind == "inf" else (second, first)
        raise OptkitError(
            f"{name}: {_where(inf)} says it is infeasible (=inf=) but {_where(other)} gives "
            f"={other.kind}= {_show(other)}; one of them is wrong"
        )
    if first.kind == second.kind == "opt":
        if agree(_value(first), _value(second)):
            return first
        raise OptkitError(
            f"{name}: {_where(first)} proves {_show(first)} but {_where(second)} proves "
            f"{_show(second)} (proofs must agree to 1e-6 relative); one of "
            "them is wrong"
        )
    if first.kind == "opt" or second.kind == "opt":
        proof, known = (first, second) if first.kind == "opt" else (second, first)
        if sense is not None:
            check_feasible_value(proof, _value(known), f"{_where(known)} gives", sense)
        return proof
    if sense is not None and beats(_value(second), _value(first), sense, tol=0.0):
        return second
    return first


def check_feasible_value(ref: Reference, value: float, finder: str, sense: Sense) -> None:
    """Raise :class:`OptkitError` when a feasible ``value`` proves ``ref`` wrong: it beats a
    proven optimum by more than the agreement tolerance (DESIGN §4), or the reference says the
    instance is infeasible. ``finder`` names who found the value (``"lfu finds"``). A value
    better than a ``=best=`` reference is no contradiction (its gap is just negative)."""
    if ref.kind == "inf":
        raise OptkitError(
            f"{ref.name}: {finder} a feasible value {value:.15g} but {_where(ref)} says the "
            "instance is infeasible (=inf=); that reference is wrong"
        )
    if ref.kind == "opt" and beats(value, _value(ref), sense):
        goal = "maximising" if sense == "max" else "minimising"
        raise OptkitError(
            f"{ref.name}: {finder} a feasible value {value:.15g}, better ({goal}) than the "
            f"optimum {_show(ref)} that {_where(ref)} proves; that proof is wrong"
        )


def references_from_results(
    records: Iterable[Mapping[str, Any]], sources: Iterable[str] | None = None
) -> list[Reference]:
    """References from results lines (:func:`optkit.solvers.read_results`), sorted by name.

    An instance with an ``optimal`` result gets ``=opt=``; every optimal result of it must agree
    (DESIGN §4: 1e-6 relative) and no feasible result may beat it by more than that — either
    raises :class:`OptkitError` naming both, since one method is wrong. Otherwise the best
    feasible objective (in the family's sense) gets ``=best=``. Instances with no feasible
    result are left out. ``sources`` names each record's place (``file:line``; by default
    ``results line N``); a reference's ``source`` is its method and that place.
    """
    places = iter(sources) if sources is not None else (f"results line {n}" for n in count(1))
    proofs: dict[str, Reference] = {}
    best: dict[str, Reference] = {}
    for record, place in zip(records, places, strict=False):
        if record["status"] == "error" or record["objective"] is None or not record["feasible"]:
            continue
        sense = SENSE[record["family"]]
        ref = Reference(
            record["instance"],
            "opt" if record["status"] == "optimal" else "best",
            float(record["objective"]),
            f"{record['method']} ({place})",
            sense,
        )
        name = ref.name
        if ref.kind == "opt":
            proofs[name] = reconcile(proofs[name], ref) if name in proofs else ref
        if name not in best or beats(_value(ref), _value(best[name]), sense, tol=0.0):
            best[name] = ref
    for name, proof in proofs.items():
        check_feasible_value(
            proof, _value(best[name]), f"{_where(best[name])} finds", _sense(proof)
        )
    return [proofs.get(name) or best[name] for name in sorted(best)]


def references_from_files(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Reference]:
    """The references of results files (:func:`references_from_results`; each record's place
    is ``file:line``). A file without any result record is an error: an empty reference file
    is a mistake, not a set without references."""
    from optkit.solvers.results_file import read_numbered_results

    records: list[Mapping[str, Any]] = []
    places: list[str] = []
    for path in paths:
        numbered = read_numbered_results(path)
        if not numbered:
            raise OptkitError(f"{path}: no result records (the file is empty)")
        records += [record for _, record in numbered]
        places += [f"{path}:{number}" for number, _ in numbered]
    return {r.name: r for r in references_from_results(records, places)}


def solu_from_results(
    paths: Sequence[str | os.PathLike[str]], existing: Mapping[str, Reference] | None = None
) -> dict[str, Reference]:
    """What ``optkit reference`` writes: the references of results files merged into the
    ``existing`` ones (``--merge``) by :func:`reconcile` — a proof is never replaced by a worse
    best-known value, and a contradicting proof is an error. No reference at all is an error."""
    refs = dict(existing or {})
    for name, ref in references_from_files(paths).items():
        refs[name] = reconcile(ref, refs[name]) if name in refs else ref
    if not refs:
        names = ", ".join(str(p) for p in paths)
        raise OptkitError(f"{names}: no result with a feasible objective, so no reference to write")
    return refs


def _value(ref: Reference) -> float:
    if ref.value is None:  # only =inf= has none, and callers handle =inf= first
        raise ValueError(f"{ref.name}: ={ref.kind}= without a value")
    return ref.value


def _where(ref: Reference) -> str:
    return ref.source or f"a ={ref.kind}= reference"


def _sense(ref: Reference) -> Sense:
    if ref.sense is None:  # references from results lines always know theirs
        raise ValueError(f"{ref.name}: the sense of {_where(ref)} is not known")
    return ref.sense


def _show(ref: Reference) -> str:
    return f"{_value(ref):.15g}"
