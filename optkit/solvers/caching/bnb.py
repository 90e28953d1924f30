"""``bnb``: optkit's own branch-and-bound for the caching family (DESIGN §2.4, §6).

The tree is over cache *sets*: a node fixes the set of each (frame, server) pair in frame-major
order (frame 0's servers, then frame 1's, …); a child picks the next pair's set among the sets
that fit its storage. Everything below the caches is solved exactly by the per-slot allocation
(:mod:`optkit.solvers.caching.allocation`), because once the caches of a frame are fixed its
slots are independent; frames are coupled only through the switch cost, which the bound and the
search carry along as a path over cache sets.

Node bounds (upper, maximisation):
- completed frames: their exact value (Σ of exact slot allocations, memoised by the part of
  the cache each slot can use) minus the exact switch cost;
- the open frame and the future: the Lagrangian bound of :mod:`optkit.solvers.caching.bounds`,
  linear in the caches, maximised exactly over each free server's sets with storage and switch
  costs by a backward dynamic program (a request already served by a fixed server only counts
  its extra gain at the free ones).

Search: best-first on the bound with lazy evaluation (a child gets its parent's bound with one
term fixed; the exact frame values are computed only when it is popped), incumbents from dives
that follow the bound's maximiser, pruning at relative gap 1e-9 (or the user's ``gap``).
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np
from rich.console import Console

from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.solvers.caching.bounds import (
    SetBound,
    frame_request_slices,
    late_multipliers,
    load_matrix,
    server_sets,
)
from optkit.solvers.caching.plan import SlotValues, assemble
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

#: Relative gap at which a node is pruned when the user gives none (proven optimal).
OPTIMALITY_GAP = 1e-9


class _Tables:
    """Everything the node bounds need for one choice of multipliers."""

    def __init__(self, c: CompiledCaching, sets: list[np.ndarray], bound: SetBound) -> None:
        T, E = c.frames, c.n_servers
        self.bound = bound
        self.delta = bound.delta
        self.constant = bound.constant
        self.suffix_constant = np.concatenate([np.cumsum(bound.constant[::-1])[::-1], [0.0]])
        self.frame_requests = frame_request_slices(c)
        w_s = c.w_switch
        self.load = [w_s * load_matrix(c, sets[e], sets[e]) for e in range(E)]
        self.load0 = [
            w_s * load_matrix(c, sets[e], c.initial_cache[e][None, :].astype(bool))[0]
            for e in range(E)
        ]
        # set values of each frame and server with no fixed server (base 0)
        self.set_value = [
            [self.frame_set_values(c, sets, t, e, None) for e in range(E)] for t in range(T)
        ]
        # future[e][t][i]: best bound of frames t.. for server e when its set at t-1 is i
        self.future: list[list[np.ndarray]] = []
        for e in range(E):
            rows = [np.zeros(len(sets[e])) for _ in range(T + 1)]
            for t in range(T - 1, 0, -1):
                rows[t] = (self.set_value[t][e][None, :] - self.load[e] + rows[t + 1][None, :]).max(
                    axis=1
                )
            self.future.append(rows)

    def frame_set_values(
        self,
        c: CompiledCaching,
        sets: list[np.ndarray],
        t: int,
        e: int,
        base: np.ndarray | None,
    ) -> np.ndarray:
        """Bound of server e's extra gain in frame t for each of its sets (``base`` per request
        of the frame: what fixed servers already give)."""
        full = None
        if base is not None:
            full = np.zeros(c.n_requests)
            full[self.frame_requests[t]] = base
        return self.bound.set_values(t, e, sets[e], full)


class _BranchAndBound:
    def __init__(self, instance: CachingInstance, options: SolveOptions) -> None:
        self.instance = instance
        self.c = c = instance.compiled
        self.options = options
        self.start = time.perf_counter()
        self.deadline = math.inf if options.time_limit is None else self.start + options.time_limit
        self.target_gap = (
            OPTIMALITY_GAP if options.gap is None else max(options.gap, OPTIMALITY_GAP)
        )
        self.sets = [server_sets(c, e) for e in range(c.n_servers)]
        self.values = SlotValues(c)
        self.frame_memo: dict[tuple[int, tuple[int, ...]], float] = {}
        self.best_value = -math.inf
        self.best_prefix: tuple[int, ...] | None = None
        self.nodes = 0
        self.history: list[tuple[float, float | None, float | None]] = []
        self.console = Console(stderr=True, highlight=False) if options.verbose else None
        self.last_log = -math.inf
        self.tables = _Tables(c, self.sets, SetBound(c, np.zeros(c.n_requests)))

    # --- exact values ----------------------------------------------------------------------

    def frame_cache(self, prefix: tuple[int, ...], t: int) -> np.ndarray:
        E = self.c.n_servers
        return np.stack([self.sets[e][prefix[t * E + e]] for e in range(E)])

    def frame_value(self, prefix: tuple[int, ...], t: int) -> float:
        E = self.c.n_servers
        key = (t, prefix[t * E : (t + 1) * E])
        found = self.frame_memo.get(key)
        if found is None:
            found = self.values.frame(t, self.frame_cache(prefix, t))
            self.frame_memo[key] = found
        return found

    def switch(self, prefix: tuple[int, ...], upto: int) -> float:
        """Switch cost of the first ``upto`` pairs of ``prefix``."""
        E = self.c.n_servers
        total = 0.0
        for p in range(upto):
            t, e = divmod(p, E)
            i = prefix[p]
            total += self.tables.load0[e][i] if t == 0 else self.tables.load[e][prefix[p - E], i]
        return total

    def complete_value(self, prefix: tuple[int, ...]) -> float:
        return sum(self.frame_value(prefix, t) for t in range(self.c.frames)) - self.switch(
            prefix, len(prefix)
        )

    # --- bounds ----------------------------------------------------------------------------

    def open_frame(self, prefix: tuple[int, ...]) -> tuple[float, np.ndarray | None]:
        """(bound of the open frame's fixed part and of the future of its fixed servers, base)
        for the frame holding the next pair."""
        c, tab = self.c, self.tables
        E = c.n_servers
        p = len(prefix)
        t, j = divmod(p, E)
        if j == 0:
            return 0.0, None
        reqs = tab.frame_requests[t]
        base = np.zeros(len(reqs))
        for e in range(j):
            cached = self.sets[e][prefix[t * E + e]][c.req_model[reqs]]
            gain = np.where(cached, tab.delta[reqs, e], -math.inf)
            base = np.maximum(base, gain)
        value = float(base.sum())
        for e in range(j):
            value += tab.future[e][t + 1][prefix[t * E + e]]
        return value, base

    def free_terms(self, prefix: tuple[int, ...], e: int, base: np.ndarray | None) -> np.ndarray:
        """For each set of free server e in the open frame: its extra gain there, its switch
        cost from its previous set and its best future."""
        c, tab = self.c, self.tables
        E = c.n_servers
        t = len(prefix) // E
        values = (
            tab.set_value[t][e] if base is None else tab.frame_set_values(c, self.sets, t, e, base)
        )
        switch = tab.load0[e] if t == 0 else tab.load[e][prefix[(t - 1) * E + e]]
        result: np.ndarray = values - switch + tab.future[e][t + 1]
        return result

    def full_bound(self, prefix: tuple[int, ...]) -> float:
        c, tab = self.c, self.tables
        E, T = c.n_servers, c.frames
        p = len(prefix)
        t, j = divmod(p, E)
        value = sum(self.frame_value(prefix, u) for u in range(t)) - self.switch(prefix, p)
        if t == T:
            return value
        fixed, base = self.open_frame(prefix)
        value += fixed + float(tab.suffix_constant[t])
        for e in range(j, E):
            value += float(self.free_terms(prefix, e, base).max())
        return value

    # --- search ----------------------------------------------------------------------------

    def gap(self, bound: float) -> float:
        if not math.isfinite(self.best_value):
            return math.inf
        return abs(bound - self.best_value) / max(abs(bound), abs(self.best_value), 1.0)

    def prunable(self, bound: float) -> bool:
        return math.isfinite(self.best_value) and (
            bound <= self.best_value or self.gap(bound) <= self.target_gap
        )

    def dive(self, prefix: tuple[int, ...]) -> None:
        """Complete ``prefix`` by the bound's maximiser pair by pair; offer it as incumbent."""
        E, T = self.c.n_servers, self.c.frames
        path = list(prefix)
        while len(path) < T * E:
            e = len(path) % E
            _, base = self.open_frame(tuple(path))
            path.append(int(self.free_terms(tuple(path), e, base).argmax()))
            if time.perf_counter() > self.deadline:
                return
        self.offer(tuple(path))

    def offer(self, prefix: tuple[int, ...]) -> None:
        value = self.complete_value(prefix)
        if value > self.best_value:
            self.best_value = value
            self.best_prefix = prefix

    def seed_incumbents(self) -> None:
        """Incumbents from the caching heuristics' caches (restricted to useful models)."""
        from optkit.solvers.caching.heuristics import lfu_policy, popularity_oracle_policy

        c = self.c
        E = c.n_servers
        rng = np.random.default_rng(self.options.seed)
        for policy in (popularity_oracle_policy, lfu_policy):
            cache = policy(self.instance, rng)
            prefix = []
            for t in range(c.frames):
                for e in range(E):
                    useful = self.sets[e].any(axis=0)
                    row = cache[t, e] & useful
                    match = np.flatnonzero((self.sets[e] == row).all(axis=1))
                    if not len(match):
                        break
                    prefix.append(int(match[0]))
            if len(prefix) == c.frames * E:
                self.offer(tuple(prefix))

    def improve(self) -> None:
        """Local search on the incumbent: change one (frame, server) set at a time to the best
        one (exact values), until no change helps or a third of the time is spent."""
        assert self.best_prefix is not None
        budget = (self.deadline - time.perf_counter()) / 3
        stop = time.perf_counter() + (budget if math.isfinite(budget) else 30.0)
        improved = True
        while improved and time.perf_counter() < stop:
            improved = False
            for p in range(len(self.best_prefix)):
                e = p % self.c.n_servers
                current = list(self.best_prefix)
                for i in range(len(self.sets[e])):
                    if time.perf_counter() > stop:
                        return
                    if i == self.best_prefix[p]:
                        continue
                    current[p] = i
                    before = self.best_value
                    self.offer(tuple(current))
                    if self.best_value > before:
                        improved = True
                        current = list(self.best_prefix)

    def retune(self) -> None:
        """Multipliers from the incumbent's slots: a tighter bound near it."""
        assert self.best_prefix is not None
        c = self.c
        K = c.slots_per_frame
        allocations = [
            self.values.slot(g, self.frame_cache(self.best_prefix, g // K))
            for g in range(c.n_slots)
        ]
        lam = late_multipliers(c, allocations)
        self.tables = _Tables(c, self.sets, SetBound(c, lam))

    def log(self, bound: float, open_nodes: int, force: bool = False) -> None:
        now = time.perf_counter() - self.start
        incumbent = self.best_value if math.isfinite(self.best_value) else None
        shown = max(bound, self.best_value) if incumbent is not None else bound
        self.history.append((now, incumbent, shown))
        if self.console is None or (not force and now - self.last_log < 0.5):
            return
        if self.last_log == -math.inf:
            self.console.print(
                f"[bold]{'Nodes':>8} {'Open':>8} {'Incumbent':>16} {'Bound':>16} {'Gap':>10} {'Time':>8}"
            )
        self.last_log = now
        inc = "-" if incumbent is None else f"{incumbent:16.8f}"
        gap = self.gap(shown)
        gap_text = "-" if math.isinf(gap) else f"{100 * gap:9.4f}%"
        self.console.print(
            f"{self.nodes:>8} {open_nodes:>8} {inc:>16} {shown:16.8f} {gap_text:>10} {now:7.2f}s"
        )

    def run(self) -> tuple[Status, float]:
        E, T = self.c.n_servers, self.c.frames
        root: tuple[int, ...] = ()
        self.seed_incumbents()
        self.dive(root)
        if self.best_prefix is not None:
            self.improve()
            self.retune()
            self.dive(root)
        heap: list[tuple[float, int, tuple[int, ...]]] = []
        counter = 0
        root_bound = self.full_bound(root)
        heapq.heappush(heap, (-root_bound, counter, root))
        self.log(root_bound, 1, force=True)
        dive_depth = 0
        status = Status.OPTIMAL
        while heap:
            top = -heap[0][0]
            if self.prunable(top):
                break
            if time.perf_counter() > self.deadline:
                status = Status.TIME_LIMIT
                break
            self.log(top, len(heap))
            key, _, prefix = heapq.heappop(heap)
            self.nodes += 1
            bound = min(-key, self.full_bound(prefix))
            if self.prunable(bound):
                continue
            if bound < -key - 1e-12 * max(1.0, abs(bound)) and heap and bound < -heap[0][0]:
                counter += 1
                heapq.heappush(heap, (-bound, counter, prefix))
                continue
            p = len(prefix)
            if p == T * E:
                self.offer(prefix)
                continue
            t, j = divmod(p, E)
            if j == 0 and (t > dive_depth or self.nodes % 50 == 0):
                dive_depth = max(dive_depth, t)
                self.dive(prefix)
            _, base = self.open_frame(prefix)
            terms = self.free_terms(prefix, j, base)
            rest = bound - float(terms.max())
            for i in np.argsort(-terms):
                child = rest + float(terms[i])
                if self.prunable(child):
                    break
                counter += 1
                heapq.heappush(heap, (-child, counter, (*prefix, int(i))))
        else:
            top = self.best_value
        if status is Status.OPTIMAL and heap:
            top = -heap[0][0]
            if self.gap(top) > OPTIMALITY_GAP and top > self.best_value:
                status = Status.GAP_LIMIT
        final_bound = max(top, self.best_value) if heap else self.best_value
        if status is Status.TIME_LIMIT:
            final_bound = max(-heap[0][0], self.best_value)
        self.log(final_bound, len(heap), force=True)
        return status, final_bound


def solve(instance: CachingInstance, options: SolveOptions) -> Result:
    """optkit's branch-and-bound (see the module docstring)."""
    start = time.perf_counter()
    search = _BranchAndBound(instance, options)
    status, bound = search.run()
    c = instance.compiled
    solution = None
    if search.best_prefix is not None:
        prefix = search.best_prefix
        cache = np.stack([search.frame_cache(prefix, t) for t in range(c.frames)])
        solution = assemble(c, instance.name, "bnb", cache, search.values.slot)
    if solution is None:
        status = Status.TIME_LIMIT
    return finish(
        instance,
        "bnb",
        status,
        solution=solution,
        bound=bound,
        wall_time_s=time.perf_counter() - start,
        nodes=search.nodes,
        seed=options.seed,
        bound_history=tuple(search.history),
    )
