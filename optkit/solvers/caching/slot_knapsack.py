"""Exact allocation of big slots: a Lagrangian branch-and-bound whose bounds are knapsack DPs.

:func:`optkit.solvers.caching.allocation.allocate_slot` hands a slot here when its small
searches would not scale: one serving server with many requests (t2drl's large preset: ~21
requests, 438 steps of capacity) or servers with too many request sets to list (edgeaigc's
large preset). Everything stays exact; only the bounds change.

The bound. Price each home server's bandwidth (Σ_r b_r ≤ 1) at ν_e ≥ 0 and each request's
"served exactly once" at μ_r. Then, for every ν ≥ 0 and μ (weak duality),

    slot value ≤ Σ_e ν_e + Σ_r μ_r + Σ_v K_v(ν, μ),

    K_v = max over requests v may serve (each with integer steps in its range, Σ steps ≤ S_v)
          of Σ [F_r(v, s; ν) − μ_r],
    F_r(o; ν) = w_q·q_r(o) − w_c·cost_r(o) − w_d·κ_r(o)
                + max_{0<b≤1} [−w_d·a_r/b − w_l·max(0, a_r/b + κ_r(o) − D_r) − ν_{h_r}·b],

with μ_r = F_r(cloud; ν) + δ_r (δ_r ≥ 0) for requests that may still go to the cloud. Each
request keeps its own radio delay and late penalty exactly (the shares problem of a fixed
routing is convex, so its own prices close it: the bound of a single decision equals its
value). K_v is a 0-1 multiple-choice knapsack over integer steps, solved exactly by a dynamic
program over the capacity; an option with more steps and no more value than another of the
same request is dominated and left out (the tail past the maximum of F_r over s).

The search. Depth first; at each node a few rounds: the bound at (ν, δ), its maximiser made
feasible (a request taken by several servers keeps its best one) and valued exactly, then ν ←
the exact bandwidth prices of that decision (they certify it when it maximises the priced
problem) and δ ← a projected Polyak step on the duplicates. A node whose bound falls to the
incumbent (within 1e-10 relative) is closed; otherwise it branches on a request where the
bound's maximiser and the node's best decision differ: first on the route (cloud or one
server, every route a child), then on the steps (split between the two). Leaves fix every
decision, where the bound at the decision's own prices is its value, so the search is finite
and exact.

Units: seconds, denoising steps; values are utilities (the objective's units).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from optkit.solvers.caching.shares import bandwidth_price

if TYPE_CHECKING:
    from optkit.solvers.caching.allocation import _Search

#: Rounds of (ν, δ) updates at the root and at every other node.
_ROOT_ROUNDS = 12
_NODE_ROUNDS = 4

# A node: per request, (cloud allowed, {edge option index: (lowest, highest) steps}).
_Options = tuple[bool, dict[int, tuple[int, int]]]
_Node = list[_Options]
# A bound's maximiser: per request, [(option index, steps, value less μ)] per server taking it
_Taken = list[list[tuple[int, int, float]]]


def priced_values(
    radio_s: np.ndarray,
    deadline_s: np.ndarray,
    kappa_s: np.ndarray,
    nu: np.ndarray,
    w_delay: float,
    w_late: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise max over 0 < b ≤ 1 of −w_d·a/b − w_l·max(0, a/b + κ − D) − ν·b and its
    maximiser b (the vectorised :func:`optkit.solvers.caching.shares.priced_radio_value`;
    a = 0 transmits nothing: b = 0)."""
    a = radio_s
    idle = a <= 0
    if w_delay + w_late <= 0:
        zero = np.zeros(np.broadcast(a, kappa_s, nu).shape)
        return zero, zero
    safe_a = np.where(idle, 1.0, a)
    priced = nu > 0
    safe_nu = np.where(priced, nu, 1.0)
    low = np.sqrt(w_delay * safe_a / safe_nu)
    high = np.sqrt((w_delay + w_late) * safe_a / safe_nu)
    room = deadline_s - kappa_s
    kink = np.where(room > 0, safe_a / np.where(room > 0, room, 1.0), math.inf)
    # free bandwidth (ν = 0): the whole of it
    share = np.where(priced, np.minimum(np.maximum(low, np.minimum(kink, high)), 1.0), 1.0)
    radio = safe_a / share
    value = -w_delay * radio - w_late * np.maximum(0.0, radio + kappa_s - deadline_s) - nu * share
    idle_value = -w_late * np.maximum(0.0, kappa_s - deadline_s)
    return np.where(idle, idle_value, value), np.where(idle, 0.0, share)


class KnapsackSearch:
    """The branch-and-bound above over one slot; offers its decisions to ``search`` (whose
    incumbent, tolerance and exact values it shares)."""

    def __init__(self, search: _Search) -> None:
        self.search = search
        d = search.data
        reqs = d.requests
        n = len(reqs)
        self.n = n
        self.w_delay, self.w_late = d.w_delay, d.w_late
        homes = sorted({q.home for q in reqs})
        self.group_of = np.array([homes.index(q.home) for q in reqs], np.int64)
        self.n_groups = len(homes)
        self.radio = np.array([q.radio_s for q in reqs])
        self.deadline = np.array([q.max_delay_s for q in reqs])
        self.cloud_kappa = np.array([q.cloud_delay_s for q in reqs])
        self.cloud_base = np.array([q.cloud_gain for q in reqs]) - d.w_delay * self.cloud_kappa
        # every edge option (request, option index) as a slice of flat arrays over its steps
        self.offset: dict[tuple[int, int], int] = {}
        self.servers = sorted(
            {q.edges[k].server for i, q in enumerate(reqs) for k in search.routes[i][1:]}
        )
        owner, kappa, base = [], [], []
        size = 0
        for i, q in enumerate(reqs):
            for k in search.routes[i][1:]:
                opt = q.edges[k]
                steps = np.arange(opt.steps_min, opt.steps_max + 1)
                quality = np.full(len(steps), opt.quality_min)
                for start, end, slope in opt.pieces:
                    quality += slope * np.clip(steps - start, 0, end - start)
                k_s = opt.fixed_s + opt.per_step_s * steps
                self.offset[i, k] = size
                size += len(steps)
                owner.append(np.full(len(steps), i))
                kappa.append(k_s)
                base.append(
                    d.w_quality * quality - d.w_cost * opt.cost_per_step * steps - d.w_delay * k_s
                )
        self.owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        self.kappa = np.concatenate(kappa) if kappa else np.zeros(0)
        self.base = np.concatenate(base) if base else np.zeros(0)
        self._priced: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self._index: dict[tuple[int, int, int], np.ndarray] = {}

    # --- the bound ---------------------------------------------------------------------------

    def values(self, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F at the cloud per request, F of every edge option and step (flat)) at ν."""
        key = nu.tobytes()
        found = self._priced.get(key)
        if found is None:
            g = self.group_of
            cloud, _ = priced_values(
                self.radio, self.deadline, self.cloud_kappa, nu[g], self.w_delay, self.w_late
            )
            o = self.owner
            edge, _ = priced_values(
                self.radio[o], self.deadline[o], self.kappa, nu[g[o]], self.w_delay, self.w_late
            )
            found = (self.cloud_base + cloud, self.base + edge)
            if len(self._priced) > 256:
                self._priced.clear()
            self._priced[key] = found
        return found

    def bound(self, node: _Node, nu: np.ndarray, delta: np.ndarray) -> tuple[float, _Taken]:
        """The bound at (ν, δ) and the maximiser's choices per request, (option index, steps,
        value less μ) for each server that takes it (−inf when the node's forced routes do
        not fit)."""
        search = self.search
        reqs = search.data.requests
        cloud, edge = self.values(nu)
        total = float(nu.sum())
        items: dict[int, list[tuple[int, int, int, np.ndarray, bool]]] = {}
        taken: _Taken = [[] for _ in range(self.n)]
        mu = np.zeros(self.n)
        for i, (cloud_ok, edges) in enumerate(node):
            forced = not cloud_ok
            if cloud_ok:
                mu[i] = cloud[i] + delta[i]
                total += mu[i]
            for k, (lo, hi) in edges.items():
                first = self.offset[i, k] + lo - reqs[i].edges[k].steps_min
                vals = edge[first : first + hi - lo + 1] - mu[i]
                top = int(np.argmax(vals))
                if not forced and vals[top] <= 0:
                    continue
                v = reqs[i].edges[k].server
                items.setdefault(v, []).append((i, k, lo, vals[: top + 1], forced))
        for v, rows in items.items():
            result = self._knapsack(search.data.step_capacity[v], rows)
            if result is None:
                return -math.inf, taken
            value, chosen = result
            total += value
            for (i, k, lo, vals, _), s in zip(rows, chosen, strict=True):
                if s >= 0:
                    taken[i].append((k, s, float(vals[s - lo])))
        return total, taken

    def _knapsack(
        self, capacity: int, rows: list[tuple[int, int, int, np.ndarray, bool]]
    ) -> tuple[float, list[int]] | None:
        """max Σ vals[s − lo] over the rows' chosen steps (−1: not taken; forced rows must be),
        Σ steps ≤ capacity, by a DP over the capacity used; None when the forced rows do not
        fit."""
        best = np.full(capacity + 1, -math.inf)
        best[0] = 0.0
        back: list[np.ndarray | None] = []
        columns = np.arange(capacity + 1)
        for _, _, lo, vals, forced in rows:
            length = len(vals)
            if lo > capacity:
                if forced:
                    return None
                back.append(None)
                continue
            key = (lo, length, capacity)
            index = self._index.get(key)
            if index is None:
                pad = lo + length - 1
                index = columns[None, :] - (lo + np.arange(length))[:, None] + pad
                self._index[key] = index
            padded = np.concatenate([np.full(lo + length - 1, -math.inf), best])
            table = padded[index] + vals[:, None]
            arg = np.argmax(table, axis=0)
            top = table[arg, columns]
            if forced:
                best, choice = top, arg
            else:
                take = top > best
                best = np.where(take, top, best)
                choice = np.where(take, arg, -1)
            back.append(choice)
        used = int(np.argmax(best))
        if best[used] == -math.inf:
            return None
        chosen = [-1] * len(rows)
        for j in range(len(rows) - 1, -1, -1):
            choice_j = back[j]
            if choice_j is None or choice_j[used] < 0:
                continue
            s = rows[j][2] + int(choice_j[used])
            chosen[j] = s
            used -= s
        return float(best.max()), chosen

    # --- primal --------------------------------------------------------------------------------

    def repair(self, taken: _Taken) -> tuple[list[int], list[int]]:
        """A feasible decision from a maximiser: a request taken by several servers keeps the
        one it gains most at (dropping the others frees capacity only)."""
        route, steps = [-1] * self.n, [0] * self.n
        for i, options in enumerate(taken):
            if options:
                k, s, _ = max(options, key=lambda row: row[2])
                route[i], steps[i] = k, s
        return route, steps

    def prices(self, route: list[int], steps: list[int]) -> np.ndarray:
        """The exact bandwidth prices ν of each group at a decision (they close its shares'
        dual: the bound of that decision alone equals its value)."""
        reqs = self.search.data.requests
        slack = [0.0] * self.n
        for i, q in enumerate(reqs):
            k = route[i]
            kappa = (
                q.cloud_delay_s if k < 0 else q.edges[k].fixed_s + q.edges[k].per_step_s * steps[i]
            )
            slack[i] = q.max_delay_s - kappa
        nu = np.zeros(self.n_groups)
        for e in range(self.n_groups):
            members = np.flatnonzero(self.group_of == e).tolist()
            nu[e] = bandwidth_price(
                [reqs[i].radio_s for i in members],
                [slack[i] for i in members],
                self.w_delay,
                self.w_late,
            )
        return nu

    # --- search ------------------------------------------------------------------------------

    def run(self) -> None:
        """Search the whole slot (the incumbent of ``search`` is kept and improved)."""
        search = self.search
        node: _Node = []
        for i in range(self.n):
            edges = {}
            for k in search.routes[i][1:]:
                opt = search.data.requests[i].edges[k]
                edges[k] = (opt.steps_min, opt.steps_max)
            node.append((True, edges))
        nu = self.prices(*search.best) if search.best is not None else np.zeros(self.n_groups)
        self._node(node, nu, np.zeros(self.n), _ROOT_ROUNDS)

    def _closed(self, bound: float) -> bool:
        search = self.search
        return bound <= search.best_value + search.tolerance()

    def _node(self, node: _Node, nu: np.ndarray, delta: np.ndarray, rounds: int) -> None:
        search = self.search
        search.nodes += 1
        best_bound = math.inf
        bound_taken: _Taken = []
        bound_nu, bound_delta = nu, delta
        local_value = -math.inf
        local: tuple[list[int], list[int]] | None = None
        tried: set[bytes] = set()
        for _ in range(rounds):
            tried.add(nu.tobytes() + delta.tobytes())
            bound, taken = self.bound(node, nu, delta)
            if bound == -math.inf:
                return
            if bound < best_bound:
                best_bound, bound_taken, bound_nu, bound_delta = bound, taken, nu, delta
            if self._closed(best_bound):
                return
            route, steps = self.repair(taken)
            value = search.offer(route, steps)
            if value > local_value:
                local_value, local = value, (route, steps)
            if self._closed(best_bound):
                return
            # next multipliers: the decision's own prices; a Polyak step on the duplicates
            nu = self.prices(route, steps)
            grad = np.array([1.0 - len(t) for t in taken])
            grad[[not node[i][0] for i in range(self.n)]] = 0.0
            grad[(delta <= 0) & (grad > 0)] = 0.0
            norm = float(grad @ grad)
            if norm > 0:
                step = (bound - search.best_value) / norm
                delta = np.maximum(0.0, delta - step * grad)
            if nu.tobytes() + delta.tobytes() in tried:
                break
        assert local is not None
        for child in self._children(node, bound_taken, local):
            self._node(child, bound_nu, bound_delta, _NODE_ROUNDS)

    def _children(
        self, node: _Node, taken: _Taken, local: tuple[list[int], list[int]]
    ) -> list[_Node]:
        """A partition of the node on one request: by route where the bound's maximiser is
        infeasible or differs from the node's best decision in a route, else by steps."""
        route, steps = local
        pick, pick_score = -1, -math.inf
        for i in range(self.n):
            cloud_ok, edges = node[i]
            routes = len(edges) + cloud_ok
            if routes < 2:
                continue
            mine = [k for k, _, _ in taken[i]] or [-1]
            if len(mine) > 1:
                score = 2.0
            elif mine[0] != route[i]:
                score = 1.0
            else:
                continue
            if score > pick_score:
                pick, pick_score = i, score
        if pick >= 0:
            return self._by_route(node, pick, taken[pick])
        # steps: the request whose steps differ most between the two
        gap_i, gap = -1, 0
        for i in range(self.n):
            if len(taken[i]) == 1 and taken[i][0][0] == route[i] and route[i] >= 0:
                diff = abs(taken[i][0][1] - steps[i])
                if diff > gap:
                    gap_i, gap = i, diff
        if gap_i >= 0:
            cloud_ok, edges = node[gap_i]
            if cloud_ok or len(edges) > 1:
                return self._by_route(node, gap_i, taken[gap_i])
            a, b = taken[gap_i][0][1], steps[gap_i]
            return self._by_steps(node, gap_i, (a + b) // 2, a > b)
        # the maximiser is the node's best decision but the bound is not attained: split the
        # request with the most routes, else the widest steps (boxes shrink to points)
        widest, width = -1, 0
        for i, (cloud_ok, edges) in enumerate(node):
            routes = len(edges) + cloud_ok
            if routes > 1:
                return self._by_route(node, i, taken[i])
            for lo, hi in edges.values():
                if hi - lo > width:
                    widest, width = i, hi - lo
        if widest < 0:
            return []
        (lo, hi) = next(iter(node[widest][1].values()))
        return self._by_steps(node, widest, (lo + hi) // 2, False)

    def _by_route(self, node: _Node, i: int, first: list[tuple[int, int, float]]) -> list[_Node]:
        cloud_ok, edges = node[i]
        order = [k for k, _, _ in sorted(first, key=lambda row: -row[2])]
        order += [k for k in edges if k not in order]
        children = []
        for k in order:
            child = list(node)
            child[i] = (False, {k: edges[k]})
            children.append(child)
        if cloud_ok:
            child = list(node)
            child[i] = (True, {})
            if first:
                children.append(child)
            else:
                children.insert(0, child)
        return children

    def _by_steps(self, node: _Node, i: int, cut: int, upper_first: bool) -> list[_Node]:
        cloud_ok, edges = node[i]
        ((k, (lo, hi)),) = edges.items()
        low, high = list(node), list(node)
        low[i] = (cloud_ok, {k: (lo, cut)})
        high[i] = (cloud_ok, {k: (cut + 1, hi)})
        return [high, low] if upper_first else [low, high]
