"""Reading results files (``results.jsonl``, DESIGN §4): one result record per line, each
checked against the record schema — exactly the keys of :data:`~optkit.solvers.result.RESULT_KEYS`,
JSON types (numbers are numbers, not strings or booleans), the status enum, and the few rules
that tie the fields together (a proof has a feasible objective). ``optkit solve --resume``,
``optkit gap --reference`` and ``optkit reference`` read through here.

A file that is not a results file at all (an instance, a solution, a ``.solu`` file, any other
JSON document) is one error saying what it looks like. Otherwise every bad line is one error
naming ``file:line`` and the rules it breaks; the first :data:`SHOWN_PROBLEMS` are shown, then
a count of the rest.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optkit.errors import InvalidFileError, OptkitError
from optkit.instances.common import FAMILIES
from optkit.instances.jsonio import parse_json, read_text
from optkit.instances.schema import is_number
from optkit.solvers.result import RESULT_KEYS, RESULTS_SCHEMA, Status

#: Bad lines reported one by one; the rest are counted.
SHOWN_PROBLEMS = 5

#: Statuses whose record carries a solution (DESIGN §4): a number objective, feasible true.
WITH_SOLUTION = (Status.OPTIMAL.value, Status.GAP_LIMIT.value, Status.FEASIBLE.value)

_STATUSES = tuple(s.value for s in Status)
_SOLU_TAGS = ("=opt=", "=best=", "=inf=")


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a results file, in file order (see the module doc for the checks)."""
    return [record for _, record in read_numbered_results(path)]


def read_numbered_results(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for every record of a results file; blank lines are skipped,
    an empty file has none. Raises :class:`OptkitError` (one line) for a file that is not a
    results file and :class:`InvalidFileError` (one message per bad line, capped) otherwise."""
    p = Path(path)
    text = read_text(p, "results file")
    what = _looks_like(text)
    if what is not None:
        raise OptkitError(
            f"{p}: not a results file ({what}); a results file has one result record per line, "
            "as 'optkit solve --out' writes them"
        )
    records: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    record_like = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = parse_json(line, f"{p}:{number}")
        except InvalidFileError as exc:
            problems.append((number, _json_rule(exc.messages[0], f"{p}:{number}")))
            continue
        record_like = record_like or (isinstance(record, dict) and "schema" in record)
        rule = record_problems(record)
        if rule is None:
            records.append((number, record))
        else:
            problems.append((number, rule))
    if problems and not records and not record_like:
        number, rule = problems[0]
        raise OptkitError(
            f"{p}: not a results file (no line is a result record; line {number}: {rule})"
        )
    if problems:
        messages = [f"{p}:{number}: {rule}" for number, rule in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            messages.append(f"{p}: … and {len(problems) - SHOWN_PROBLEMS} more bad lines")
        raise InvalidFileError(messages)
    return records


def record_problems(record: Any) -> str | None:
    """The rules a parsed results line breaks, as one text (``None`` when it is a record)."""
    if not isinstance(record, dict) or "schema" not in record:
        return f"not a result record (a JSON object with the keys {', '.join(RESULT_KEYS)})"
    missing = [k for k in RESULT_KEYS if k not in record]
    unknown = [k for k in record if k not in RESULT_KEYS]
    if missing or unknown:
        parts = [f"missing key(s) {', '.join(missing)}"] if missing else []
        parts += [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        return "; ".join(parts) + f" (a result record of schema {RESULTS_SCHEMA} has exactly these)"
    problems = [f"{key}: {rule}" for key, check in _FIELDS.items() if (rule := check(record[key]))]
    if not problems:
        problems = _consistency(record)
    return "; ".join(problems) if problems else None


def _consistency(record: dict[str, Any]) -> list[str]:
    status, objective, feasible = record["status"], record["objective"], record["feasible"]
    if status in WITH_SOLUTION and (objective is None or feasible is not True):
        return [f"status {status} needs a solution: a number objective and feasible true"]
    if feasible is True and objective is None:
        return ["feasible true needs a number objective"]
    if status == Status.ERROR.value and feasible is True:
        return ["status error cannot have feasible true"]
    if status == Status.BOUND_ONLY.value and objective is not None:
        return ["status bound_only has no solution: objective must be null"]
    return []


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(*, null: bool, minimum: float | None = None) -> Callable[[Any], str | None]:
    what = "a finite JSON number" + (f" ≥ {minimum:g}" if minimum is not None else "")
    what += " or null" if null else ""

    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if _is_number(value) and (minimum is None or value >= minimum):
            return None
        return f"{_show(value)} is not {what}"

    return check


def _count(value: Any) -> str | None:
    return (
        None
        if value is None or _is_count(value)
        else f"{_show(value)} is not an integer ≥ 0 or null"
    )


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else f"{_show(value)} is not a non-empty string"


def _one_of(allowed: tuple[str, ...], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in allowed:
            return None
        return f"{_show(value)} is not {what} ({', '.join(allowed)})"

    return check


def _schema(value: Any) -> str | None:
    if _is_count(value) and value == RESULTS_SCHEMA:
        return None
    return f"{_show(value)} is not {RESULTS_SCHEMA} (the results schema this optkit reads)"


def _feasible(value: Any) -> str | None:
    return (
        None
        if value is None or isinstance(value, bool)
        else f"{_show(value)} is not true, false or null"
    )


def _metrics(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{_show(value)} is not an object or null"
    for key, entry in value.items():
        entries = entry if isinstance(entry, list) else [entry]
        if not all(_is_number(e) for e in entries):
            return f"{key}: {_show(entry)} is not a finite number or a list of them"
    return None


_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "schema": _schema,
    "instance": _text,
    "family": _one_of(FAMILIES, "a family"),
    "method": _text,
    "seed": _count,
    "status": _one_of(_STATUSES, "a status"),
    "objective": _number(null=True),
    "bound": _number(null=True),
    "gap": _number(null=True, minimum=0),
    "wall_time_s": _number(null=False, minimum=0),
    "nodes": _count,
    "feasible": _feasible,
    "metrics": _metrics,
}


def _json_rule(message: str, where: str) -> str:
    """parse_json's message for one line, without the file name and the line-1 position."""
    rule = message.removeprefix(f"{where}: ")
    return rule.replace("line 1 column", "column", 1) if rule.startswith("line 1 column") else rule


def _looks_like(text: str) -> str | None:
    """What a file that is plainly not a results file is (``None``: read it line by line)."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        return None
    first = body.split(None, 1)[0]
    if first in _SOLU_TAGS:
        return "it looks like a .solu file of reference optima"
    if not body.startswith(("{", "[")):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # several lines: a results file, or one to report line by line
    lines = body.count("\n") + 1
    if isinstance(document, dict):
        fmt = document.get("format")
        if fmt in ("optkit.caching", "optkit.scheduling"):
            name = document.get("name")
            return f"it is an {fmt} instance" + (f", {name}" if isinstance(name, str) else "")
        if fmt == "optkit.solution":
            return "it is an optkit solution"
        if isinstance(fmt, str):
            return f"it is a {fmt if fmt.isprintable() and len(fmt) < 40 else _show(fmt)} document"
        if "schema" in document and lines == 1:
            return None  # one record: checked as a line
    if lines > 1:
        kind = "object" if isinstance(document, dict) else "value"
        return f"it is one JSON {kind} over {lines} lines"
    return None
