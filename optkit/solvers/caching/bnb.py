"""``bnb``: optkit's own exact solver for the caching family (DESIGN §2.4, §6).

The structure it exploits: once the caches of a frame are fixed its slots are independent and
each is solved exactly by the per-slot allocation (:mod:`optkit.solvers.caching.allocation`,
memoised by the part of the cache a slot can use); frames are coupled only through the switch
cost, which is separable per server. So the program is a longest path over frames whose nodes
are the frames' joint cache sets, and ``bnb`` solves it in four steps:

1. **Bounds.** For each frame, the Lagrangian bounds of :mod:`optkit.solvers.caching.lagrange`
   ("each request served at most once" priced by π, optimised by subgradient steps; the late
   penalty either dropped (λ = 0) or, when somebody is late in the incumbent, the bandwidth
   priced at the incumbent's ν; the least of the two), separable per server; a per-server
   dynamic program over the frames adds the switch costs exactly. Together they bound every
   path through a frame's given sets. Frames with more than :data:`HARD_JOINT_CLASSES` joint
   classes (no search gets through them) also get :data:`DUAL_STEPS` diminishing subgradient
   steps, close to the Lagrangian dual.
2. **Each frame's maximum** U_t, by a depth-first branch-and-bound over the servers' cache
   *classes* of the frame (a class: the sets that agree on every model that can matter in that
   frame). Only *maximal* classes are branched on (none of the server's other classes caches
   a strict superset): a larger cache only adds options, so the maximum lies among them
   (edgeaigc: about a third of each server's classes). Node bounds re-optimise π
   (warm-started from the parent); at a leaf the slots are valued exactly one by one, and the
   leaf is dropped as soon as its exact slots plus the bounds of the others fall below the
   best.
3. **Candidates.** The same search collects every joint class of frame t that can lie on a
   path at least as good as the incumbent: exact value + a bound of the rest of the path ≥
   incumbent, the rest bounded by the least of (a) Σ_{u≠t} U_u less the GB the frame's sets
   must load from the initial cache, (b) the per-server dynamic program of step 1. A path that
   avoids some frame's candidates is worse than the incumbent.
4. **The path.** A dynamic program over the candidates' member sets with the exact switch
   costs gives the optimum, proven: the bound reported is its value. With ``gap`` the
   candidates' threshold is raised by the allowed gap and the bound says so; and the solver
   stops (status ``gap_limit``) as soon as the proven bound is within the gap: before each
   frame's maximum search and every :data:`GAP_CHECK_NODES` nodes inside one (edgeaigc medium
   s100-000 with ``--gap 0.025``: 32 s, where the first frame's search ran to the time limit).

**The horizon tree** (``bnb:tree``; plain ``bnb`` and ``bnb:frames`` run the four steps
above): after the same incumbents and local search, a best-first branch-and-bound over single cache bits
x_{m,v,t} of the whole horizon (:class:`_Tree`). Its node bound couples frames and linked
servers through one Lagrangian: each frame's bound of step 1 (a constant plus a term per server
and class) with π optimised jointly over the frames, and per server a dynamic program over its
allowed sets of every frame with the exact switch costs. A node's fixings only mask classes;
π is warm-started from the parent; bits whose other value takes the bound below the incumbent
are fixed (reduced costs, from the DP's per-set path values); the branching bit is the most
fractional in the Lagrangian's average choice. Each node's own choice is offered as a solution
(valued exactly only while its slot bounds may beat the incumbent). Measured on edgeaigc medium
(bench seed 100, 300 s): the bound improves on the frame searches' (s100-000: −369.10 →
−370.22) but the Lagrangian dual there is about 1.9 % above the best known solution with a
highly fractional cache choice, so neither closes the gap in 300 s, and the tree's own
solutions improve the incumbent less than the frame searches do (s100-001: −367.87 against
−354.94), so it is not the default.

Incumbents: the empty caches, the heuristics' caches (``popularity-oracle``, ``lfu``), a local
search of best responses (one server's set in one frame, the rest kept, every class bounded at
once by the node bound with that server free and valued exactly best bound first), each
frame's best joint class, and frame-by-frame replacements in the incumbent path. Time limits
(and a stop request: :mod:`optkit.solvers.stop`, the CLI's first Ctrl-C) are checked between
nodes and between slot allocations: the best path so far and the proven bound come back with
status ``time_limit`` (a frame whose maximum search was under way counts
with the largest bound of its open nodes). ``--verbose`` prints ``Nodes | Open | Incumbent |
Bound | Gap | Time``; ``Result.bound_history`` keeps (seconds, incumbent, bound).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console

from optkit.errors import MethodRefused, OptkitError
from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.solvers import stop
from optkit.solvers.caching.allocation import slot_data
from optkit.solvers.caching.bounds import (
    bandwidth_prices,
    late_multipliers,
    load_matrix,
    server_sets,
)
from optkit.solvers.caching.lagrange import (
    FrameBound,
    FrameTables,
    NodeBound,
    Variant,
    best_gain,
    class_rows,
    evaluate,
    leaf_evaluate,
    usage_gradient,
)
from optkit.solvers.caching.plan import SlotValues, assemble
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

#: Relative gap at which the search stops when the user gives none (proven optimal).
OPTIMALITY_GAP = 1e-9
#: bnb refuses an instance with more cache sets than this at one server.
MAX_SETS = 5_000
#: Subgradient steps on π at each frame's root and at each node of the frame searches (a
#: node mostly inherits its parent's π; a few steps pay off, many do not).
ROOT_STEPS = 80
#: Frames with more joint classes than this cannot be searched through: their root bound is
#: what the search reports, so π gets DUAL_STEPS more subgradient steps of length
#: DUAL_STEP/√k (Polyak steps stall early there; edgeaigc medium: the frames' sum of root
#: bounds −355.6 → about −364, at 2–3 s per frame).
HARD_JOINT_CLASSES = 10**7
DUAL_STEPS = 3000
DUAL_STEP = 1.0
NODE_STEPS = 3
#: Subgradient steps of the horizon tree at its root and at every other node.
TREE_ROOT_STEPS = 300
TREE_NODE_STEPS = 30
#: ``bnb`` / ``bnb:frames``: the frame searches; ``bnb:tree``: the horizon tree.
VARIANTS = (None, "frames", "tree")
#: A frame maximum search re-reads the global bound every this many nodes, to stop once the
#: requested gap is proven (a frame's search may otherwise run long past it).
GAP_CHECK_NODES = 32
#: Entries of one block of the dynamic programs (memory bound).
_CHUNK = 2_000_000

Path = list[tuple[int, ...]]  # per frame, the set index of each server
_Open = tuple[list[int | None], list[np.ndarray], float]  # (classes fixed, π, bound)


class _Timeout(Exception):
    """The time limit passed inside a search."""


class _GapReached(Exception):
    """A frame maximum search brought the proven bound within the requested gap."""


def _switch_step(
    c: CompiledCaching,
    other_values: np.ndarray,
    other_sets: np.ndarray,
    my_sets: np.ndarray,
    into: bool = True,
) -> np.ndarray:
    """For each row s of ``my_sets``: max over rows s' of ``other_sets`` of other_values[s']
    − w_s·GB loaded moving from s' to s (``into``) or from s to s' (not ``into``)."""
    my_sized = my_sets * c.size_gb
    other_f = other_sets.astype(float)
    other_total = (other_sets * c.size_gb).sum(axis=1)
    out = np.empty(len(my_sets))
    step = max(1, _CHUNK // max(1, len(other_sets)))
    for a in range(0, len(my_sets), step):
        b = min(len(my_sets), a + step)
        kept = other_f @ my_sized[a:b].T  # [other, chunk]: GB in both
        total = my_sized[a:b].sum(axis=1)[None, :] if into else other_total[:, None]
        loaded = total - kept
        out[a:b] = (other_values[:, None] - c.w_switch * loaded).max(axis=0)
    return out


def _trivial_bound(c: CompiledCaching, check_time: Callable[[], None]) -> float:
    """A bound valid before any search: each request alone with the full bandwidth of its
    home server, served wherever it may be best, caches, capacities, the late penalty and the
    switch cost ignored."""
    total = 0.0
    for g in range(c.n_slots):
        check_time()
        d = slot_data(c, g)
        for q in d.requests:
            gain = max([0.0] + [best_gain(d, q, opt, 0.0) for opt in q.edges])
            total += q.cloud_gain - d.w_delay * (q.cloud_delay_s + q.radio_s) + gain
    return total


@dataclass
class _Frame:
    """One frame's tables, bounds and search results."""

    tables: FrameTables
    bounds: list[FrameBound] = field(default_factory=list)  # one per late multiplier vector
    root_pi: list[np.ndarray] = field(default_factory=list)
    root_value: float = math.inf  # least root bound over the late multipliers (frame only)
    root_rows: list[np.ndarray] = field(default_factory=list)  # per server, per class
    root_constant: float = 0.0  # constant + Σπ of the late multipliers giving root_value
    tree_variant: int = 0  # the bound (late multipliers) the horizon tree uses
    exact: dict[tuple[int, ...], float] = field(default_factory=dict)
    best: float = -math.inf  # the exact maximum found (U_t once ``solved``)
    solved: bool = False

    @property
    def upper(self) -> float:
        """A bound of the frame's maximum value."""
        return self.best if self.solved else self.root_value


class _Solver:
    def __init__(self, instance: CachingInstance, options: SolveOptions) -> None:
        self.instance = instance
        self.c = c = instance.compiled
        self.options = options
        self.start = time.perf_counter()
        self.deadline = math.inf if options.time_limit is None else self.start + options.time_limit
        self.target_gap = OPTIMALITY_GAP if options.gap is None else max(options.gap, 0.0)
        self.sets = [server_sets(c, e) for e in range(c.n_servers)]
        for e, s in enumerate(self.sets):
            if len(s) > MAX_SETS:
                raise MethodRefused(
                    f"server {e} has {len(s)} feasible cache sets, more than {MAX_SETS} "
                    "(instance beyond proof; use relax for a bound or a heuristic)"
                )
        self.values = SlotValues(c)
        self.best_value = -math.inf
        self.best_path: Path | None = None
        self.global_bound = math.inf  # the trivial bound, once run() has it
        self.sep_bound = math.inf
        self.extras: list[list[np.ndarray]] = []
        self.extra_constant: list[float] = []
        self.nodes = 0
        self.open_nodes = 0
        self.history: list[tuple[float, float | None, float | None]] = []
        self.console = Console(stderr=True, highlight=False) if options.verbose else None
        self.last_log = -math.inf
        self.frames: list[_Frame] = []
        # the frame maximum search under way: (frame, its open nodes, [bound of the node
        # being processed]); every joint class not yet valued lies under one of them
        self.live: tuple[int, list[_Open], list[float]] | None = None
        self.tree: _Tree | None = None  # the horizon tree under way
        self.fixings = 0  # the tree's bits fixed by the reduced-cost test
        self.branchings = 0  # the tree's nodes split

    # --- exact values ----------------------------------------------------------------------

    def check_time(self) -> None:
        """Raise :class:`_Timeout` once the time limit has passed or a stop was requested
        (:mod:`optkit.solvers.stop`: the CLI's first Ctrl-C)."""
        if time.perf_counter() > self.deadline or stop.requested():
            raise _Timeout

    def frame_cache(self, t: int, classes: tuple[int, ...]) -> np.ndarray:
        """The frame's cache of a joint class, only the models that can matter in the frame
        (bool [servers, models]); the frame's value is the same for every member set."""
        tab = self.frames[t].tables
        return np.stack([tab.class_rep[v][k] for v, k in enumerate(classes)])

    def slot_value(self, g: int, cache: np.ndarray) -> float:
        self.check_time()  # before the first incumbent too: a huge instance may have none
        return self.values.slot(g, cache).value

    def frame_value(self, t: int, classes: tuple[int, ...]) -> float:
        fr = self.frames[t]
        found = fr.exact.get(classes)
        if found is None:
            K = self.c.slots_per_frame
            cache = self.frame_cache(t, classes)
            found = sum(self.slot_value(t * K + k, cache) for k in range(K))
            fr.exact[classes] = found
        return found

    def classes_of(self, t: int, sets: tuple[int, ...]) -> tuple[int, ...]:
        tab = self.frames[t].tables
        return tuple(int(tab.class_of[v][i]) for v, i in enumerate(sets))

    def switch_cost(self, path: Path) -> float:
        c = self.c
        total = 0.0
        for v in range(c.n_servers):
            previous = c.initial_cache[v].astype(bool)
            for sets in path:
                current = self.sets[v][sets[v]]
                total += float(((current & ~previous) * c.size_gb).sum())
                previous = current
        return c.w_switch * total

    def offer(self, path: Path) -> None:
        value = sum(
            self.frame_value(t, self.classes_of(t, sets)) for t, sets in enumerate(path)
        ) - self.switch_cost(path)
        if value > self.best_value:
            self.best_value = value
            self.best_path = list(path)

    # --- incumbents ------------------------------------------------------------------------

    def empty_incumbent(self) -> None:
        """The first incumbent: every cache empty in every frame (every set list starts with
        the empty set), valued slot by slot before any frame table is built, so that a time
        limit that stops the set-up still has a solution to return (when it comes at all)."""
        c = self.c
        assert not any(s[0].any() for s in self.sets)  # server_sets lists the empty set first
        empty = np.zeros((c.n_servers, c.n_models), bool)
        value = sum(self.slot_value(g, empty) for g in range(c.n_slots))
        self.best_value = value  # the initial caches are kept or dropped at no cost
        self.best_path = [(0,) * c.n_servers] * c.frames

    def seed_incumbents(self) -> None:
        """The heuristics' caches restricted to the models each server can use."""
        from optkit.solvers.caching.heuristics import lfu_policy, popularity_oracle_policy

        c = self.c
        rng = np.random.default_rng(self.options.seed)
        for policy in (popularity_oracle_policy, lfu_policy):
            cache = policy(self.instance, rng)
            path = []
            for t in range(c.frames):
                row = []
                for v in range(c.n_servers):
                    useful = self.sets[v].any(axis=0)
                    match = np.flatnonzero((self.sets[v] == (cache[t, v] & useful)).all(axis=1))
                    row.append(int(match[0]) if len(match) else 0)
                path.append(tuple(row))
            self.offer(path)

    def replace_frame(self, t: int, classes: tuple[int, ...]) -> None:
        """Offer the incumbent path with frame t's joint class replaced by ``classes``, each
        server taking the member set cheapest to switch to and from its neighbours."""
        assert self.best_path is not None
        c = self.c
        tab = self.frames[t].tables
        path = list(self.best_path)
        row = []
        for v, k in enumerate(classes):
            members = tab.class_members[v][k]
            cand = self.sets[v][members]
            before = c.initial_cache[v].astype(bool) if t == 0 else self.sets[v][path[t - 1][v]]
            cost = ((cand & ~before[None, :]) * c.size_gb).sum(axis=1)
            if t + 1 < c.frames:
                after = self.sets[v][path[t + 1][v]]
                cost = cost + ((after[None, :] & ~cand) * c.size_gb).sum(axis=1)
            row.append(int(members[int(cost.argmin())]))
        path[t] = tuple(row)
        self.offer(path)

    def set_switch(self, t: int, v: int, path: Path) -> np.ndarray:
        """w_s · GB loaded into and out of each of server v's sets in frame t, its neighbours
        in ``path`` (the initial cache before frame 0) kept."""
        c = self.c
        sets = self.sets[v]
        before = c.initial_cache[v].astype(bool) if t == 0 else sets[path[t - 1][v]]
        loaded = ((sets & ~before[None, :]) * c.size_gb).sum(axis=1)
        if t + 1 < c.frames:
            after = sets[path[t + 1][v]]
            loaded = loaded + ((after[None, :] & ~sets) * c.size_gb).sum(axis=1)
        return c.w_switch * loaded

    def best_response(self, t: int, v: int) -> bool:
        """Local search on the incumbent: server v's best set in frame t with everything else
        kept. Each class's frame value is bounded by the node bound with only v free (one
        evaluation at the root π for all classes), and the classes are valued exactly, best
        bound first, until no bound beats the best found (``leaf_value`` stops a class as soon
        as its exact slots fall short). Offers and returns whether the incumbent improved."""
        assert self.best_path is not None
        fr = self.frames[t]
        tab = fr.tables
        path = list(self.best_path)
        classes = self.classes_of(t, path[t])
        switch = self.set_switch(t, v, path)
        # per class: its member set cheapest to switch to and from the neighbours
        per_class = np.array([float(switch[m].min()) for m in tab.class_members[v]])
        pick = [int(m[int(switch[m].argmin())]) for m in tab.class_members[v]]
        fixed: list[int | None] = list(classes)
        fixed[v] = None
        bound = np.full(len(per_class), math.inf)
        for fb, pi in zip(fr.bounds, fr.root_pi, strict=True):
            node = evaluate(fb, pi, fixed, [Variant(0.0, None)])
            row = node.rows[0][v]
            bound = np.minimum(bound, node.totals[0] - float(row[node.chosen[v]]) + row)
        best_score = self.frame_value(t, classes) - float(switch[path[t][v]])
        best_k = -1
        for k in np.argsort(-(bound - per_class)).tolist():
            tol = 1e-9 * max(1.0, abs(best_score))
            if bound[k] - per_class[k] <= best_score + tol:
                break
            trial = list(classes)
            trial[v] = k
            value = self.leaf_value(t, tuple(trial), fr.root_pi, best_score + per_class[k] + tol)
            if value is not None and value - per_class[k] > best_score + tol:
                best_score, best_k = value - per_class[k], k
        if best_k < 0:
            return False
        moved = list(path[t])
        moved[v] = pick[best_k]
        path[t] = tuple(moved)
        before = self.best_value
        self.offer(path)
        return self.best_value > before

    def local_search(self) -> bool:
        """Best responses (:meth:`best_response`) over every frame and server until none
        improves the incumbent; returns whether it improved."""
        c = self.c
        improved = False
        changed = True
        # (t, v) → the part of the incumbent its best response depends on, when it last
        # found nothing better: frame t's sets and server v's sets in frames t ± 1
        settled: dict[tuple[int, int], tuple[object, ...]] = {}
        while changed:
            changed = False
            for t in range(c.frames):
                for v in range(c.n_servers):
                    path = self.best_path
                    assert path is not None
                    key = (
                        path[t],
                        path[t - 1][v] if t > 0 else None,
                        path[t + 1][v] if t + 1 < c.frames else None,
                    )
                    if settled.get((t, v)) == key:
                        continue
                    if self.best_response(t, v):
                        changed = improved = True
                        self.log()
                    else:
                        settled[(t, v)] = key
        return improved

    # --- bounds ----------------------------------------------------------------------------

    def tighten(
        self,
        bound: FrameBound,
        fixed: list[int | None],
        variants: list[Variant],
        pi: np.ndarray,
        target: float,
        steps: int,
    ) -> tuple[NodeBound, np.ndarray]:
        """Subgradient steps on π from ``pi`` for a node (``fixed`` classes): Polyak steps
        towards ``target`` (or a little below the best bound when it is −inf), the factor
        halved after three steps without progress. Returns the best bound seen and its π;
        stops once it is below ``target``."""
        best = node = evaluate(bound, pi, fixed, variants)
        best_pi = current = pi
        alpha, stall = 1.0, 0
        for _ in range(steps):
            if best.value < target:
                break
            norm = float(node.grad @ node.grad)
            if norm <= 0:
                break  # π is optimal here
            aim = (
                target if math.isfinite(target) else best.value - max(1e-3, 1e-2 * abs(best.value))
            )
            nxt = np.maximum(current - alpha * (node.value - aim) / norm * node.grad, 0.0)
            if np.array_equal(nxt, current):
                break
            current = nxt
            node = evaluate(bound, current, fixed, variants)
            if node.value < best.value - 1e-12 * max(1.0, abs(best.value)):
                best, best_pi, stall = node, current, 0
            else:
                stall += 1
                if stall >= 3:
                    alpha, stall = alpha / 2, 0
                    current, node = best_pi, best
                    if alpha < 1e-3:
                        break
        return best, best_pi

    def dual_ascent(
        self, bound: FrameBound, node: NodeBound, pi: np.ndarray
    ) -> tuple[NodeBound, np.ndarray]:
        """More subgradient steps on a frame's root π, of length DUAL_STEP/√k (diminishing:
        they converge to the Lagrangian dual where Polyak steps towards the incumbent stall).
        Returns the best bound seen and its π."""
        free: list[int | None] = [None] * self.c.n_servers
        best, best_pi = node, pi
        current = pi
        for k in range(DUAL_STEPS):
            if k % 50 == 0:
                self.check_time()
            current = np.maximum(current - DUAL_STEP / math.sqrt(k + 1) * node.grad, 0.0)
            node = evaluate(bound, current, free, [Variant(0.0, None)])
            if node.value < best.value:
                best, best_pi = node, current
        return best, best_pi

    def node_bound(
        self,
        fr: _Frame,
        fixed: list[int | None],
        pis: list[np.ndarray],
        variants: list[Variant],
        target: float,
    ) -> tuple[float, list[NodeBound], list[np.ndarray]]:
        """The least over the late multipliers of the tightened bound of a node (some servers'
        classes fixed); stops early once below ``target``."""
        value = math.inf
        nodes: list[NodeBound] = []
        new_pis = list(pis)
        for i, bound in enumerate(fr.bounds):
            node, new_pis[i] = self.tighten(bound, fixed, variants, pis[i], target, NODE_STEPS)
            nodes.append(node)
            value = min(value, node.value)
            if value < target:
                break
        return value, nodes, new_pis

    def multipliers(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(λ, ν) of the bounds used: late multipliers 0 (exact whoever serves, as long as
        nobody is late) and, when somebody is late in the incumbent, the bandwidth prices of
        the incumbent's slots (exact for its routing; a price moves little between routings,
        unlike a late multiplier, which is 0 or 1 by routing)."""
        c = self.c
        zero = np.zeros(c.n_requests)
        out: list[tuple[np.ndarray, np.ndarray | None]] = [(zero, None)]
        if c.w_late > 0 and self.best_path is not None:
            K = c.slots_per_frame
            caches = [
                self.frame_cache(t, self.classes_of(t, self.best_path[t])) for t in range(c.frames)
            ]
            allocations = [self.values.slot(g, caches[g // K]) for g in range(c.n_slots)]
            if late_multipliers(c, allocations).any():
                out.append((zero, bandwidth_prices(c, allocations)))
        return out

    def build_bounds(self) -> None:
        """Each frame's root bound (π optimised towards the incumbent's frame value), then the
        per-server dynamic programs."""
        lams = self.multipliers()
        free: list[int | None] = [None] * self.c.n_servers
        frame_only = [Variant(0.0, None)]
        assert self.best_path is not None
        for t, fr in enumerate(self.frames):
            self.check_time()
            fr.bounds = [FrameBound(fr.tables, lam, nu) for lam, nu in lams]
            fr.root_pi = [np.zeros(fr.tables.n) for _ in lams]
            target = self.frame_value(t, self.classes_of(t, self.best_path[t]))
            best_i, best_node = 0, None
            for i, bound in enumerate(fr.bounds):
                node, fr.root_pi[i] = self.tighten(
                    bound, free, frame_only, fr.root_pi[i], target, ROOT_STEPS
                )
                if math.prod(len(r) for r in fr.tables.class_rep) > HARD_JOINT_CLASSES:
                    node, fr.root_pi[i] = self.dual_ascent(bound, node, fr.root_pi[i])
                if best_node is None or node.value < best_node.value:
                    best_i, best_node = i, node
            assert best_node is not None
            node = best_node
            fr.root_value = node.value
            fr.tree_variant = best_i
            fr.root_rows = node.rows[0]
            fr.root_constant = fr.bounds[best_i].constant + float(fr.root_pi[best_i].sum())
        self.build_extras()

    def build_extras(self) -> None:
        """Per frame t, server and set: the bound of everything outside frame t (the other
        frames' root bounds per set, through its class, and the exact switch costs) by a
        forward and a backward dynamic program over the server's sets."""
        c = self.c
        T, E = c.frames, c.n_servers
        self.extras = [[] for _ in range(T)]
        per_set = [[fr.root_rows[v][fr.tables.class_of[v]] for v in range(E)] for fr in self.frames]
        sep_bound = sum(fr.root_constant for fr in self.frames)
        for v in range(E):
            sets = self.sets[v]
            initial = c.initial_cache[v][None, :].astype(bool)
            into = [np.zeros(len(sets))] * T
            into[0] = _switch_step(c, np.zeros(1), initial, sets)
            for t in range(1, T):
                into[t] = _switch_step(c, into[t - 1] + per_set[t - 1][v], sets, sets)
            after = [np.zeros(len(sets))] * T
            for t in range(T - 2, -1, -1):
                after[t] = _switch_step(c, per_set[t + 1][v] + after[t + 1], sets, sets, into=False)
            for t in range(T):
                self.extras[t].append(into[t] + after[t])
            sep_bound += float((into[0] + per_set[0][v] + after[0]).max())
        self.extra_constant = [
            sum(fr.root_constant for u, fr in enumerate(self.frames) if u != t) for t in range(T)
        ]
        self.sep_bound = sep_bound

    def live_upper(self) -> tuple[int, float] | None:
        """The frame whose maximum search is under way and a bound of its maximum: its best
        so far or an open node's bound (None when no such search runs)."""
        if self.live is None:
            return None
        t, stack, current = self.live
        open_max = max([current[0]] + [parent for _, _, parent in stack])
        return t, min(self.frames[t].upper, max(self.frames[t].best, open_max))

    def update_bound(self) -> None:
        if len(self.frames) < self.c.frames:
            return  # stopped while the frame tables were built: no frame bound yet
        uppers = [fr.upper for fr in self.frames]
        live = self.live_upper()
        if live is not None:
            uppers[live[0]] = live[1]
        self.global_bound = min(self.global_bound, self.sep_bound, sum(uppers))
        if self.tree is not None:
            self.global_bound = min(self.global_bound, max(self.tree.open_bound(), self.best_value))

    def outside(self, t: int) -> list[tuple[float, list[np.ndarray]]]:
        """Two bounds of a path's value outside frame t given frame t's sets, each a constant
        plus a term per server and set: (a) the other frames' maxima less the GB each set must
        have loaded at some time (from the initial cache); (b) the per-server dynamic program
        over the other frames' root bounds with the exact switch costs."""
        c = self.c
        others = sum(f.upper for u, f in enumerate(self.frames) if u != t)
        first = [
            -c.w_switch
            * ((self.sets[v] & ~c.initial_cache[v][None, :].astype(bool)) * c.size_gb).sum(axis=1)
            for v in range(c.n_servers)
        ]
        return [(others, first), (self.extra_constant[t], self.extras[t])]

    # --- the frame searches ----------------------------------------------------------------

    def search(
        self,
        t: int,
        variants: list[Variant],
        threshold: Callable[[], float],
        leaf: Callable[[tuple[int, ...], list[np.ndarray], float], None],
        live: bool = False,
        maximal: bool = False,
    ) -> None:
        """Depth-first branch-and-bound over frame t's joint classes: ``leaf(classes, π per
        late multiplier, threshold)`` for every joint class whose node bounds (with
        ``variants``) reach ``threshold()`` (read again at every node: it may rise).
        ``live``: meanwhile the open nodes bound frame t's maximum (:meth:`update_bound`).
        ``maximal``: only maximal classes (enough for the maximum, not for the candidates)."""
        fr = self.frames[t]
        tab = fr.tables
        E = self.c.n_servers
        # the servers whose classes' root bounds spread most are fixed first
        spread = [float(r.max() - r.min()) if len(r) else 0.0 for r in fr.root_rows]
        order = sorted(range(E), key=lambda v: -spread[v])
        stack: list[_Open] = [([None] * E, list(fr.root_pi), math.inf)]
        current = [math.inf]
        if live:
            self.live = (t, stack, current)
        while stack:
            self.check_time()
            self.open_nodes = len(stack)
            fixed, pis, parent = stack.pop()
            current[0] = parent  # until the next pop: its children are no better
            theta = threshold()
            theta -= 1e-9 * max(1.0, abs(theta))
            if parent < theta:
                continue
            self.nodes += 1
            if self.console is not None:
                self.log()
            if live and self.nodes % GAP_CHECK_NODES == 0:
                self.update_bound()
                if self.gap(self.global_bound) <= self.target_gap:
                    raise _GapReached
            depth = sum(f is not None for f in fixed)
            if depth == E:
                leaf(tuple(f for f in fixed if f is not None), pis, theta)
                continue
            value, nodes, new_pis = self.node_bound(fr, fixed, pis, variants, theta)
            if value < theta:
                continue
            v = order[depth]
            child = np.full(len(tab.class_rep[v]), math.inf)
            for node in nodes:
                for total, rows in zip(node.totals, node.rows, strict=True):
                    row = rows[v]
                    child = np.minimum(child, total - row.max() + row)
            allowed = child >= theta
            if maximal:
                allowed &= tab.class_maximal[v]
            keep = np.flatnonzero(allowed)
            for k in keep[np.argsort(child[keep])]:  # the best child is popped first
                nxt = list(fixed)
                nxt[v] = int(k)
                stack.append((nxt, new_pis, float(child[k])))
        self.open_nodes = 0
        self.live = None

    def leaf_value(
        self,
        t: int,
        classes: tuple[int, ...],
        pis: list[np.ndarray],
        theta: float,
        outside: float = 0.0,
    ) -> float | None:
        """The exact value of frame t's joint class, or None as soon as its exact slots plus
        the leaf bounds of the others (at the parent's π) and ``outside`` fall below
        ``theta``."""
        fr = self.frames[t]
        value = fr.exact.get(classes)
        if value is not None:
            return value
        K = self.c.slots_per_frame
        per_slot = np.full(K, math.inf)
        for bound, pi in zip(fr.bounds, pis, strict=True):
            per_slot = np.minimum(per_slot, leaf_evaluate(bound, pi, classes)[0])
            if float(per_slot.sum()) + outside < theta:
                return None
        total = float(per_slot.sum()) + outside
        cache = self.frame_cache(t, classes)
        for k in np.argsort(-per_slot):
            total += self.slot_value(t * K + int(k), cache) - float(per_slot[k])
            if total < theta:
                return None
        return self.frame_value(t, classes)

    def solve_frame_max(self, t: int) -> None:
        """U_t: the frame's best joint class, exactly."""
        fr = self.frames[t]
        assert self.best_path is not None
        fr.best = self.frame_value(t, self.classes_of(t, self.best_path[t]))

        def threshold() -> float:
            return fr.best + 1e-9 * max(1.0, abs(fr.best))

        def leaf(classes: tuple[int, ...], pis: list[np.ndarray], theta: float) -> None:
            value = self.leaf_value(t, classes, pis, theta)
            if value is not None and value > fr.best:
                fr.best = value
                self.replace_frame(t, classes)

        self.search(t, [Variant(0.0, None)], threshold, leaf, live=True, maximal=True)
        fr.solved = True
        self.update_bound()
        self.log(force=True)

    def frame_candidates(self, t: int, slack: float) -> list[tuple[tuple[int, ...], float]]:
        """Every joint class of frame t that may lie on a path worth at least incumbent +
        slack, with its exact value."""
        fr = self.frames[t]
        variants = [
            Variant(
                constant,
                [
                    np.array([per_set[v][m].max() for m in fr.tables.class_members[v]])
                    for v in range(self.c.n_servers)
                ],
            )
            for constant, per_set in self.outside(t)
        ]
        found: list[tuple[tuple[int, ...], float]] = []

        def leaf(classes: tuple[int, ...], pis: list[np.ndarray], theta: float) -> None:
            outside = min(
                var.constant + sum(float(var.extras[v][k]) for v, k in enumerate(classes))
                for var in variants
                if var.extras is not None
            )
            value = self.leaf_value(t, classes, pis, theta, outside)
            if value is not None and value + outside >= theta:
                found.append((classes, value))

        self.search(t, variants, lambda: self.best_value + slack, leaf)
        return found

    # --- the path --------------------------------------------------------------------------

    def best_path_over(self, slack: float) -> None:
        """The longest path over the frames' candidates: a dynamic program over their member
        sets (those whose own bound of the rest of the path still reaches the threshold) with
        the exact switch costs; offered as incumbent."""
        c = self.c
        E, T = c.n_servers, c.frames
        theta = self.best_value + slack
        theta -= 1e-9 * max(1.0, abs(theta))
        layers: list[tuple[np.ndarray, np.ndarray]] = []  # (sets [N, E], value [N])
        for t in range(T):
            fr = self.frames[t]
            bounds = self.outside(t)
            rows, values = [], []
            for classes, value in self.frame_candidates(t, slack):
                members = [fr.tables.class_members[v][k] for v, k in enumerate(classes)]
                grid = np.stack(np.meshgrid(*members, indexing="ij"), axis=-1).reshape(-1, E)
                outside = np.min(
                    [
                        constant + sum(per_set[v][grid[:, v]] for v in range(E))
                        for constant, per_set in bounds
                    ],
                    axis=0,
                )
                grid = grid[value + outside >= theta]
                rows.append(grid)
                values.append(np.full(len(grid), value))
            if not rows or not sum(len(r) for r in rows):
                return  # no path reaches the threshold
            layers.append((np.concatenate(rows), np.concatenate(values)))
        sized = [self.sets[v] * c.size_gb for v in range(E)]
        score: np.ndarray = layers[0][1].copy()
        for v in range(E):
            cur = self.sets[v][layers[0][0][:, v]]
            score -= c.w_switch * ((cur & ~c.initial_cache[v][None, :]) * c.size_gb).sum(axis=1)
        back: list[np.ndarray] = []
        for t in range(1, T):
            prev, cur_sets = layers[t - 1][0], layers[t][0]
            best = np.empty(len(cur_sets))
            arg = np.empty(len(cur_sets), np.int64)
            step = max(1, _CHUNK // max(1, len(prev) * E))
            for a in range(0, len(cur_sets), step):
                self.check_time()
                b = min(len(cur_sets), a + step)
                moved = np.repeat(score[:, None], b - a, axis=1)
                for v in range(E):
                    cur = sized[v][cur_sets[a:b, v]]  # [chunk, models]
                    kept = self.sets[v][prev[:, v]].astype(float) @ cur.T
                    moved -= c.w_switch * (cur.sum(axis=1)[None, :] - kept)
                arg[a:b] = moved.argmax(axis=0)
                best[a:b] = moved[arg[a:b], np.arange(b - a)]
            back.append(arg)
            score = layers[t][1] + best
        j = int(score.argmax())
        path = [tuple(int(x) for x in layers[T - 1][0][j])]
        for t in range(T - 1, 0, -1):
            j = int(back[t - 1][j])
            path.append(tuple(int(x) for x in layers[t - 1][0][j]))
        path.reverse()
        self.offer(path)

    # --- driver ----------------------------------------------------------------------------

    def gap(self, bound: float) -> float:
        if not math.isfinite(self.best_value):
            return math.inf
        return abs(bound - self.best_value) / max(abs(bound), abs(self.best_value), 1.0)

    def log(self, force: bool = False) -> None:
        now = time.perf_counter() - self.start
        if (self.live is not None or self.tree is not None) and (
            force or now - self.last_log >= 0.5
        ):
            self.update_bound()
        incumbent = self.best_value if math.isfinite(self.best_value) else None
        shown = self.global_bound if incumbent is None else max(self.global_bound, incumbent)
        self.history.append((now, incumbent, shown if math.isfinite(shown) else None))
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
        bound_text = f"{shown:16.8f}" if math.isfinite(shown) else "-"
        self.console.print(
            f"{self.nodes:>8} {self.open_nodes:>8} {inc:>16} {bound_text:>16} {gap_text:>10} {now:7.2f}s"
        )

    def run(self) -> tuple[Status, float]:
        try:
            self.global_bound = _trivial_bound(self.c, self.check_time)
            self.empty_incumbent()
            for t in range(self.c.frames):
                self.check_time()
                self.frames.append(_Frame(FrameTables(self.c, t, self.sets)))
            self.seed_incumbents()
            self.build_bounds()
            self.update_bound()
            self.log(force=True)
            if self.gap(self.global_bound) > self.target_gap and self.local_search():
                # a better incumbent: better subgradient targets and bandwidth prices
                self.build_bounds()
                self.update_bound()
            self.log(force=True)
            if self.use_tree():
                if self.gap(self.global_bound) > self.target_gap:
                    _Tree(self).run(TREE_ROOT_STEPS, TREE_NODE_STEPS)
                self.log(force=True)
                return self.finish_status(self.global_bound)
            # each frame's maximum, loosest root bound first
            assert self.best_path is not None
            path = self.best_path
            order = sorted(
                range(self.c.frames),
                key=lambda t: (
                    self.frame_value(t, self.classes_of(t, path[t])) - self.frames[t].root_value
                ),
            )
            for t in order:
                if self.gap(self.global_bound) <= self.target_gap:
                    return self.finish_status(self.global_bound)
                self.solve_frame_max(t)
            if self.gap(self.global_bound) <= self.target_gap:
                return self.finish_status(self.global_bound)
            slack = 0.0
            if self.options.gap is not None and self.options.gap > 0:
                slack = self.options.gap * max(1.0, abs(self.best_value))
            self.best_path_over(slack)
            self.global_bound = min(self.global_bound, self.best_value + slack)
            self.log(force=True)
            return self.finish_status(self.global_bound)
        except _GapReached:
            self.log(force=True)
            return self.finish_status(self.global_bound)
        except _Timeout:
            self.update_bound()
            self.log(force=True)
            return Status.TIME_LIMIT, max(self.global_bound, self.best_value)

    def use_tree(self) -> bool:
        """Whether the horizon tree runs (``bnb:tree``) rather than the frame searches
        (``bnb``, ``bnb:frames``)."""
        return self.options.variant == "tree"

    def finish_status(self, bound: float) -> tuple[Status, float]:
        bound = max(bound, self.best_value)
        if self.gap(bound) <= OPTIMALITY_GAP:
            return Status.OPTIMAL, bound
        return Status.GAP_LIMIT, bound


# --- the horizon tree ------------------------------------------------------------------------


@dataclass
class _TreeNode:
    """A node of the horizon tree: per frame and server the classes still allowed, π per
    frame (warm start) and the bound it was pushed with."""

    bound: float
    masks: list[list[np.ndarray]]  # [frame][server]: bool over the frame's classes
    pis: list[np.ndarray]
    depth: int


@dataclass
class _NodeResult:
    """A node's best bound over its subgradient steps, with what branching and fixing need."""

    value: float
    pis: list[np.ndarray]
    server_best: list[float]  # per server: its part of ``value``
    through: list[list[np.ndarray]]  # [frame][server]: best path through each allowed set
    path: Path  # the Lagrangian's choice: one set per frame and server
    average: list[list[np.ndarray]]  # [frame][server]: mean of the chosen classes' caches


class _Tree:
    """Best-first branch-and-bound over single cache bits x_{m,v,t} of the whole horizon.

    The bound of a node: for each frame the Lagrangian of :func:`lagrange.class_rows` (one
    constant plus a term per server and class), and per server the exact switch costs by a
    dynamic program over its allowed sets of every frame: separable per server, so the node's
    fixings (classes allowed per frame and server) cost nothing but masks. π (one vector per
    frame) gets subgradient steps at every node, warm-started from the parent, towards the
    incumbent. Each node offers the Lagrangian's own caches as a solution (valued exactly);
    the node closes when that reaches its bound, when every frame and server is down to one
    class (its best member sets then come from the switch program, exactly), or when its bound
    falls below the incumbent. Before branching, bits whose other value would take the bound
    below the incumbent are fixed (the per-set path values give every such bound at once).
    The branching bit: the most fractional in the average of the classes the steps chose (the
    Lagrangian's primal estimate), else the one whose other value costs the bound most.
    """

    def __init__(self, solver: _Solver) -> None:
        self.s = solver
        c = solver.c
        self.T, self.E = c.frames, c.n_servers
        self.bounds = [fr.bounds[fr.tree_variant] for fr in solver.frames]
        self.w = c.w_switch
        self.load = [self.w * load_matrix(c, solver.sets[v], solver.sets[v]) for v in range(self.E)]
        self.load0 = [
            self.w * load_matrix(c, solver.sets[v], c.initial_cache[v][None, :].astype(bool))[0]
            for v in range(self.E)
        ]
        self.heap: list[tuple[float, int, _TreeNode]] = []
        self.counter = 0
        self.current = -math.inf  # bound of the node being processed

    # the bound of one node

    def layout(
        self, masks: list[list[np.ndarray]]
    ) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]], list[list[np.ndarray]]]:
        """Per frame and server the allowed sets and their classes, and per server and frame
        the switch matrices between the allowed sets (frame 0: from the initial cache)."""
        s = self.s
        idx: list[list[np.ndarray]] = []
        cls: list[list[np.ndarray]] = []
        for t in range(self.T):
            tab = s.frames[t].tables
            row_i, row_c = [], []
            for v in range(self.E):
                of = tab.class_of[v]
                keep = np.flatnonzero(masks[t][v][of])
                row_i.append(keep)
                row_c.append(of[keep])
            idx.append(row_i)
            cls.append(row_c)
        mats: list[list[np.ndarray]] = []
        for v in range(self.E):
            per = [self.load0[v][idx[0][v]]]
            for t in range(1, self.T):
                per.append(self.load[v][np.ix_(idx[t - 1][v], idx[t][v])])
            mats.append(per)
        return idx, cls, mats

    def bound_at(
        self,
        pis: list[np.ndarray],
        idx: list[list[np.ndarray]],
        cls: list[list[np.ndarray]],
        mats: list[list[np.ndarray]],
        full: bool,
    ) -> tuple[float, list[float], list[list[int]], list[np.ndarray], Path, list[list[np.ndarray]]]:
        """The bound at π: (value, per server part, chosen class [frame][server], subgradient
        per frame, chosen sets per frame, and with ``full`` the path value through each allowed
        set [frame][server])."""
        T, E = self.T, self.E
        value = 0.0
        rows: list[list[np.ndarray]] = []
        args: list[np.ndarray] = []
        for t in range(T):
            base, r, arg = class_rows(self.bounds[t], pis[t])
            value += base
            rows.append(r)
            args.append(arg)
        chosen = [[0] * E for _ in range(T)]
        sets = [[0] * E for _ in range(T)]
        through: list[list[np.ndarray]] = [[np.zeros(0)] * E for _ in range(T)]
        parts = []
        for v in range(E):
            r = [rows[t][v][cls[t][v]] for t in range(T)]
            m = mats[v]
            f = [r[0] - m[0]]
            for t in range(1, T):
                f.append((f[t - 1][:, None] - m[t]).max(axis=0) + r[t])
            after = [np.zeros(len(r[t])) for t in range(T)]
            for t in range(T - 2, -1, -1):
                after[t] = ((r[t + 1] + after[t + 1])[None, :] - m[t + 1]).max(axis=1)
            best = float(f[T - 1].max())
            parts.append(best)
            value += best
            j = int((f[0] + after[0]).argmax())
            for t in range(T):
                if t:
                    j = int((r[t] + after[t] - m[t][j]).argmax())
                chosen[t][v] = int(cls[t][v][j])
                sets[t][v] = int(idx[t][v][j])
                if full:
                    through[t][v] = f[t] + after[t]
        grads = [usage_gradient(self.bounds[t], args[t], chosen[t]) for t in range(T)]
        path = [tuple(row) for row in sets]
        return value, parts, chosen, grads, path, through

    def tighten(self, node: _TreeNode, steps: int) -> tuple[_NodeResult, list[list[np.ndarray]]]:
        """Subgradient steps on the node's π (Polyak towards the incumbent, the factor halved
        after three steps without progress); the best bound seen, and the allowed sets."""
        s = self.s
        idx, cls, mats = self.layout(node.masks)
        pis = node.pis
        target = s.best_value
        bits = [[s.frames[t].tables.class_rep[v] for v in range(self.E)] for t in range(self.T)]
        total = [[np.zeros(bits[t][v].shape[1]) for v in range(self.E)] for t in range(self.T)]
        alpha, stall, count = 1.0, 0, 0
        current = pis
        value, _, chosen, grads, _, _ = self.bound_at(current, idx, cls, mats, False)
        best_value, best_pis, best_grads = value, current, grads
        for step in range(steps + 1):
            count += 1
            for t in range(self.T):
                for v in range(self.E):
                    total[t][v] += bits[t][v][chosen[t][v]]
            if value < best_value - 1e-12 * max(1.0, abs(value)):
                best_value, best_pis, best_grads, stall = value, current, grads, 0
            elif step:
                stall += 1
                if stall >= 3:
                    alpha, stall = alpha / 2, 0
                    current, value, grads = best_pis, best_value, best_grads
                    if alpha < 1e-3:
                        break
            if best_value <= self.threshold() or step == steps:
                break
            norm = sum(float(g @ g) for g in grads)
            if norm <= 0:
                break  # π is optimal here
            aim = target if math.isfinite(target) else value - max(1e-3, 1e-2 * abs(value))
            scale = alpha * max(value - aim, 1e-9 * max(1.0, abs(value))) / norm
            current = [np.maximum(p - scale * g, 0.0) for p, g in zip(current, grads, strict=True)]
            s.check_time()
            value, _, chosen, grads, _, _ = self.bound_at(current, idx, cls, mats, False)
        value, parts, chosen, _, path, through = self.bound_at(best_pis, idx, cls, mats, True)
        average = [[total[t][v] / count for v in range(self.E)] for t in range(self.T)]
        return _NodeResult(value, best_pis, parts, through, path, average), idx

    def threshold(self) -> float:
        """Bounds at or below this cannot beat the incumbent (by the target gap)."""
        best = self.s.best_value
        return best + self.s.target_gap * max(1.0, abs(best))

    def offer(self, path: Path, pis: list[np.ndarray]) -> None:
        """Offers the Lagrangian's caches as a solution, valued exactly only while the slots'
        bounds at π say it may beat the incumbent (an exact slot allocation of poor caches,
        with many late requests, can take seconds)."""
        s = self.s
        if s.best_path is None:
            s.offer(path)
            return
        classes = [s.classes_of(t, sets) for t, sets in enumerate(path)]
        uppers = []
        for t, fr in enumerate(s.frames):
            found = fr.exact.get(classes[t])
            if found is None:
                per_slot = np.full(len(fr.tables.slots), math.inf)
                for i, (bound, root) in enumerate(zip(fr.bounds, fr.root_pi, strict=True)):
                    pi = pis[t] if i == fr.tree_variant else root
                    per_slot = np.minimum(per_slot, leaf_evaluate(bound, pi, classes[t])[0])
                found = float(per_slot.sum())
            uppers.append(found)
        switch = s.switch_cost(path)
        theta = s.best_value
        if sum(uppers) - switch <= theta:
            return
        for t, fr in enumerate(s.frames):
            if classes[t] in fr.exact:
                continue
            rest = sum(uppers) - uppers[t] - switch
            pis_t = [pis[t] if i == fr.tree_variant else r for i, r in enumerate(fr.root_pi)]
            value = s.leaf_value(t, classes[t], pis_t, theta - rest)
            if value is None:
                return
            uppers[t] = value
        s.offer(path)

    # the search

    def push(self, node: _TreeNode) -> None:
        heapq.heappush(self.heap, (-node.bound, self.counter, node))
        self.counter += 1

    def open_bound(self) -> float:
        """The largest bound of the open nodes and the node being processed."""
        top = -self.heap[0][0] if self.heap else -math.inf
        return max(top, self.current)

    def run(self, root_steps: int, node_steps: int) -> None:
        """Search until no open node can beat the incumbent (raises :class:`_Timeout`)."""
        s = self.s
        masks = [
            [np.ones(len(fr.tables.class_rep[v]), bool) for v in range(self.E)] for fr in s.frames
        ]
        pis = [fr.root_pi[fr.tree_variant] for fr in s.frames]
        self.push(_TreeNode(s.global_bound, masks, pis, 0))
        s.tree = self
        while self.heap:
            neg, _, node = heapq.heappop(self.heap)
            self.current = -neg
            s.open_nodes = len(self.heap)
            if -neg <= self.threshold():
                break  # best-first: no open node is better
            s.nodes += 1
            res, idx = self.tighten(node, root_steps if node.depth == 0 else node_steps)
            self.current = min(self.current, res.value)
            self.offer(res.path, res.pis)
            s.log()
            self.expand(node, res, idx)
            self.current = -math.inf  # closed, or its children carry its bound
        s.global_bound = min(s.global_bound, max(self.open_bound(), s.best_value))
        self.current = -math.inf
        self.heap.clear()
        s.tree = None

    def expand(self, node: _TreeNode, res: _NodeResult, idx: list[list[np.ndarray]]) -> None:
        """Closes the node or pushes its children."""
        s = self.s
        if res.value <= self.threshold():
            return
        if all(int(m.sum()) == 1 for row in node.masks for m in row):
            return  # the offered path is this node's exact best
        masks = [[m.copy() for m in row] for row in node.masks]
        split = self.fix_and_choose(res, masks, idx)
        if any(not m.any() for row in masks for m in row):
            return  # the fixings leave nothing that beats the incumbent
        if split is None:
            # the fixings left one class per frame and server: a leaf
            self.push(_TreeNode(res.value, masks, res.pis, node.depth + 1))
            return
        t, v, keep = split
        s.branchings += 1
        for side in (~keep, keep):
            child = [row[:] for row in masks]
            child[t] = child[t][:]
            child[t][v] = masks[t][v] & side
            self.push(_TreeNode(res.value, child, res.pis, node.depth + 1))

    def fix_and_choose(
        self, res: _NodeResult, masks: list[list[np.ndarray]], idx: list[list[np.ndarray]]
    ) -> tuple[int, int, np.ndarray] | None:
        """Fixes the bits whose other value takes the bound below the incumbent (``masks``
        narrowed in place) and returns the branching (frame, server, classes of one child;
        the other child gets the rest), or None when one class per frame and server is left.

        A bit is branched on when the Lagrangian's average choice is fractional in it; when
        the average is integral (the steps agree on one class everywhere, so bits would only
        peel that class off one model at a time), the (frame, server) whose other classes bound
        lowest is split into its chosen class and the rest."""
        s = self.s
        theta = self.threshold()
        best_frac, best_drop = -1.0, math.inf
        bit: tuple[int, int, int] | None = None
        rest_drop = math.inf
        rest: tuple[int, int, int] | None = None  # (t, v, the chosen class)
        for t in range(self.T):
            tab = s.frames[t].tables
            for v in range(self.E):
                through = res.through[t][v]
                classes = tab.class_of[v][idx[t][v]]
                rep = tab.class_rep[v]
                other = res.value - res.server_best[v]
                for m in np.flatnonzero(tab.relevant[v]).tolist():
                    have = rep[classes, m]
                    if have.all() or not have.any():
                        continue
                    with_bit = float(through[have].max())
                    without = float(through[~have].max())
                    if other + with_bit <= theta:
                        masks[t][v] &= ~rep[:, m]
                        s.fixings += 1
                        continue
                    if other + without <= theta:
                        masks[t][v] &= rep[:, m]
                        s.fixings += 1
                        continue
                    x = float(res.average[t][v][m])
                    frac = min(x, 1.0 - x)
                    drop = other + min(with_bit, without)
                    if frac > best_frac + 1e-9 or (
                        abs(frac - best_frac) <= 1e-9 and drop < best_drop
                    ):
                        best_frac, best_drop, bit = frac, drop, (t, v, m)
                chosen = int(tab.class_of[v][res.path[t][v]])
                others = classes != chosen
                if others.any():
                    drop = other + float(through[others].max())
                    if drop < rest_drop:
                        rest_drop, rest = drop, (t, v, chosen)
        if bit is not None and best_frac > 1e-9:
            t, v, m = bit
            keep = s.frames[t].tables.class_rep[v][:, m].copy()
            if masks[t][v][keep].any() and masks[t][v][~keep].any():
                return t, v, keep
        if rest is not None:
            t, v, chosen = rest
            keep = np.zeros(len(masks[t][v]), bool)
            keep[chosen] = True
            if masks[t][v][keep].any() and masks[t][v][~keep].any():
                return t, v, keep
        # the fixings settled the choices above: any (frame, server) with classes to split
        for t in range(self.T):
            for v in range(self.E):
                allowed = np.flatnonzero(masks[t][v])
                if len(allowed) > 1:
                    keep = np.zeros(len(masks[t][v]), bool)
                    keep[allowed[0]] = True
                    return t, v, keep
        return None


def solve(instance: CachingInstance, options: SolveOptions) -> Result:
    """optkit's exact solver (see the module docstring)."""
    if options.variant not in VARIANTS:
        known = ", ".join(f"bnb:{v}" for v in VARIANTS if v)
        raise OptkitError(f"unknown variant bnb:{options.variant} (known: {known})")
    start = time.perf_counter()
    search = _Solver(instance, options)
    status, bound = search.run()
    c = instance.compiled
    solution = None
    path = search.best_path
    if path is not None:
        K = c.slots_per_frame
        cache = np.stack(
            [
                np.stack([search.sets[v][path[t][v]] for v in range(c.n_servers)])
                for t in range(c.frames)
            ]
        )
        # the slots as valued (caches restricted to the models that matter: same optimum),
        # unless the time limit came before every frame's tables
        projected = (
            [search.frame_cache(t, search.classes_of(t, path[t])) for t in range(c.frames)]
            if len(search.frames) == c.frames
            else list(cache)
        )
        solution = assemble(
            c,
            instance.name,
            "bnb",
            cache,
            lambda g, _cache: search.values.slot(g, projected[g // K]),
        )
    if solution is None:
        status = Status.TIME_LIMIT
    stopped = status is Status.TIME_LIMIT and stop.requested()
    return finish(
        instance,
        "bnb",
        status,
        solution=solution,
        bound=bound,
        message="stopped on request (Ctrl-C): the best solution and proven bound so far"
        if stopped
        else "",
        wall_time_s=time.perf_counter() - start,
        nodes=search.nodes,
        seed=options.seed,
        bound_history=tuple(search.history),
    )
