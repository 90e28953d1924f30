"""Loading, saving and validating instance and solution files (DESIGN §4, Appendix A)."""

from __future__ import annotations

import os
from typing import Any

from optkit.errors import InvalidFileError, OptkitError
from optkit.instances import caching, scheduling
from optkit.instances.caching import CachingInstance
from optkit.instances.common import CACHING_FORMAT, SCHEDULING_FORMAT, SOLUTION_FORMAT
from optkit.instances.jsonio import read_json, write_json
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.schema import INVALID, Problems, show
from optkit.instances.solution import INSTANCE_NOT_SOLUTION, Solution, read_solution

Instance = CachingInstance | SchedulingInstance
Document = Instance | Solution

_FAMILY_OF_FORMAT = {CACHING_FORMAT: caching, SCHEDULING_FORMAT: scheduling}
KNOWN_FORMATS = (CACHING_FORMAT, SCHEDULING_FORMAT, SOLUTION_FORMAT)


def _format_problem(data: Any, problems: Problems) -> str | None:
    if not isinstance(data, dict):
        problems.add("", f"{show(data)} is not an optkit document (a JSON object is expected)")
        return None
    fmt = data.get("format")
    if fmt not in KNOWN_FORMATS:
        known = ", ".join(f'"{f}"' for f in KNOWN_FORMATS)
        what = "missing" if "format" not in data else f"{show(fmt)} is not known"
        problems.add("format", f"{what} (known formats: {known})")
        return None
    return str(fmt)


def read_instance(data: Any, problems: Problems) -> Instance | None:
    """Validate an instance document; every broken rule goes to ``problems``."""
    fmt = _format_problem(data, problems)
    if fmt is None:
        return None
    if fmt == SOLUTION_FORMAT:
        problems.add("format", "this is a solution, an instance was expected")
        return None
    family = _FAMILY_OF_FORMAT[fmt]
    got = family.SPEC.read(data, "", problems)
    if got is INVALID:
        return None
    family.check(got, problems)
    if problems:
        return None
    instance: Instance = family.build(got)
    return instance


def instance_from_dict(data: Any, source: str = "<document>") -> Instance:
    """Build an instance from parsed JSON; raise :class:`InvalidFileError` listing every rule."""
    problems = Problems(source)
    instance = read_instance(data, problems)
    if problems or instance is None:
        raise InvalidFileError(problems.messages)
    return instance


def solution_from_dict(data: Any, source: str = "<document>") -> Solution:
    """Build a solution from parsed JSON (structure only; feasibility is ``evaluate``'s job)."""
    problems = Problems(source)
    fmt = _format_problem(data, problems)
    if fmt is not None and fmt != SOLUTION_FORMAT:
        problems.add("format", INSTANCE_NOT_SOLUTION)
    solution = read_solution(data, problems) if fmt == SOLUTION_FORMAT else None
    if problems or solution is None:
        raise InvalidFileError(problems.messages)
    return solution


def expect_solution(data: Any, source: str = "<document>") -> None:
    """Raise :class:`InvalidFileError` when ``data`` is an instance where a solution is expected
    (the wrong file, not a broken solution: structure and feasibility are ``evaluate``'s)."""
    if isinstance(data, dict) and data.get("format") in _FAMILY_OF_FORMAT:
        problems = Problems(source)
        problems.add("format", INSTANCE_NOT_SOLUTION)
        raise InvalidFileError(problems.messages)


def from_dict(data: Any, source: str = "<document>") -> Document:
    """An instance or a solution, by the document's ``format``."""
    if isinstance(data, dict) and data.get("format") == SOLUTION_FORMAT:
        return solution_from_dict(data, source)
    return instance_from_dict(data, source)


def load(path: str | os.PathLike[str]) -> Document:
    """Load an instance or a solution file (by its ``format``)."""
    return from_dict(read_json(path), str(path))


def load_instance(path: str | os.PathLike[str]) -> Instance:
    return instance_from_dict(read_json(path), str(path))


def load_solution(path: str | os.PathLike[str]) -> Solution:
    return solution_from_dict(read_json(path), str(path))


def save(document: Document, path: str | os.PathLike[str]) -> None:
    """Write an instance or a solution as deterministic JSON, atomically."""
    write_json(path, document.to_dict())


def validate_file(path: str | os.PathLike[str]) -> tuple[Document | None, list[str]]:
    """Validate one file; returns the decoded document (or None) and every broken rule.

    Unreadable JSON is a broken rule here (the file is invalid); a file that cannot be read as
    text at all (missing, not UTF-8) raises :class:`OptkitError` (it cannot be validated).
    """
    try:
        data = read_json(path)
    except InvalidFileError as exc:
        return None, exc.messages
    try:
        return from_dict(data, str(path)), []
    except InvalidFileError as exc:
        return None, exc.messages


__all__ = [
    "Document",
    "Instance",
    "OptkitError",
    "expect_solution",
    "from_dict",
    "instance_from_dict",
    "load",
    "load_instance",
    "load_solution",
    "read_instance",
    "save",
    "solution_from_dict",
    "validate_file",
]
