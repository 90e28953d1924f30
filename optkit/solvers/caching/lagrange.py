"""Lagrangian upper bounds of one frame's value, separable per server, for ``bnb``.

Fix the caches of a frame. For every late multiplier vector λ ∈ [0, 1]^R and every π ≥ 0 (one
per request: the price of "served at most once at the edge"), each slot's value is at most

    C_g(λ) + Σ_r π_r + Σ_v F_{g,v}(S_v; λ, π)

where C_g(λ) holds the cloud values and the bandwidth term (Lagrangian duality on the late
penalty, as in :mod:`optkit.solvers.caching.allocation`), and

    F_{g,v}(S_v) = max over sets Q of requests v may serve in slot g, whose models v caches and
                   whose steps_min fit its step capacity, of  G_{g,v}(Q; λ) − Σ_{r∈Q} π_r

with G(Q; λ) the best gain over the cloud of serving exactly Q at v, steps allocated greedily
(exact for a fixed Q: each gain is concave in the steps above steps_min). The right side is
separable per server, so the best set of a free server is a maximum over its own sets, and the
switch cost keeps a per-server dynamic program. π = 0 counts a request at every server that
caches its model; the optimal π (found by subgradient steps) gives the Lagrangian dual of the
assignment. Any π ≥ 0 and λ give a valid bound.

The second form prices bandwidth instead (``FrameBound(..., prices=ν)``): with ν ≥ 0 per
(slot, home server) on Σ_r b_r ≤ 1, every request keeps its own radio delay and late penalty
exactly, max over 0 < b ≤ 1 of −w_d a/b − w_l max(0, a/b + κ − D) − ν b, a concave function
of its delay κ (so G(Q) is greedy over unit steps), and C_g adds Σ ν. The shares problem of a
fixed routing is convex, so its own ν closes the bound; a price moves little between
routings, where λ jumps between 0 and 1 as a request turns late, so ν bounds late requests
better than λ at caches other than the incumbent's.

How tight (edgeaigc, measured): with every server's cache fixed the bound is within about 1 %
of the frame's exact value; with all servers free it is the configuration LP of the assignment
(each server a convex combination of its sets), which on three servers is a few percent above
the frame's maximum and on edgeaigc's four-server ring 25–30 % above: fractional caches on
neighbouring servers cover every model at once.

Speed: the sets Q of each (slot, server) pair are enumerated once (a server serves a handful of
requests per slot: its step capacity over steps_min); for each π the cells (pair, cache
pattern) some class uses are one reduction over the subsets each allows, or, when those lists
are long, a per-bitmask reduction spread to supersets (a zeta transform).

Requests whose gain at v is not positive for λ = 0 nor for λ = 1 (the gain is convex in λ_r,
so these are the extreme points) are never worth serving at v: they are left out of the sets
Q, and the models only they ask for at v do not change the frame's value. Sets of v that
differ only in such models form one *class* per frame (:attr:`FrameTables.class_of`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optkit.instances.compiled import CompiledCaching
from optkit.solvers.caching.allocation import (
    SlotData,
    _EdgeOption,
    _Request,
    gain_terms,
    slot_data,
)
from optkit.solvers.caching.shares import late_dual_constant, priced_radio_value

#: The largest number of request sets Q enumerated for one (slot, server) pair.
MAX_SUBSETS_PER_PAIR = 200_000


def _quality_at(opt: _EdgeOption, s: int) -> float:
    q = opt.quality_min
    for start, end, slope in opt.pieces:
        if s <= start:
            break
        q += slope * (min(s, end) - start)
    return q


def best_gain(d: SlotData, q: _Request, opt: _EdgeOption, lam: float) -> float:
    """max over steps of the gain over the cloud of serving q at opt's server, alone."""
    base, pieces = gain_terms(d, q, opt, lam)
    return base + sum(m * n for m, n in pieces)


@dataclass
class _Pair:
    """One (slot, server) pair of a frame: its request sets Q."""

    slot: int
    server: int
    requests: list[int]  # positions in the slot's SlotData.requests
    options: list[_EdgeOption]
    models: list[int]  # bit i of a mask = models[i]
    members: np.ndarray  # bool [subsets, len(requests)]
    need: np.ndarray  # int64 [subsets]: mask of the models the subset needs


class FrameTables:
    """Everything about frame t that does not depend on the multipliers.

    ``sets[v]``: server v's cache sets (bool [sets, models]); ``class_of[v][i]``: the class of
    set i in this frame; ``class_rep[v][k]``: the class's cache restricted to the models that
    matter here (bool [models]); ``class_members[v][k]``: its sets; ``class_maximal[v][k]``:
    whether no other class of v caches a strict superset of it.
    """

    def __init__(self, c: CompiledCaching, t: int, sets: list[np.ndarray]) -> None:
        self.c = c
        self.frame = t
        E, K = c.n_servers, c.slots_per_frame
        self.slots = list(range(t * K, (t + 1) * K))
        self.requests = np.flatnonzero(c.req_frame == t)  # global indices, sorted
        local = {int(r): i for i, r in enumerate(self.requests)}
        self.n = len(self.requests)
        pairs: list[_Pair] = []
        relevant = np.zeros((E, c.n_models), bool)
        for g in self.slots:
            d = slot_data(c, g)
            for v in range(E):
                chosen: list[int] = []
                options: list[_EdgeOption] = []
                for i, q in enumerate(d.requests):
                    opt = next((o for o in q.edges if o.server == v), None)
                    if opt is None:
                        continue
                    if max(best_gain(d, q, opt, 0.0), best_gain(d, q, opt, 1.0)) <= 0:
                        continue  # never better than the cloud at v
                    chosen.append(i)
                    options.append(opt)
                if not chosen:
                    continue
                models = sorted({d.requests[i].model for i in chosen})
                relevant[v, models] = True
                bit = {m: 1 << k for k, m in enumerate(models)}
                smin = [o.steps_min for o in options]
                cap = int(c.step_capacity[v])
                rows: list[tuple[int, ...]] = []
                self._subsets(smin, cap, rows)
                members = np.zeros((len(rows), len(chosen)), bool)
                need = np.zeros(len(rows), np.int64)
                for s_i, row in enumerate(rows):
                    members[s_i, list(row)] = True
                    mask = 0
                    for j in row:
                        mask |= bit[d.requests[chosen[j]].model]
                    need[s_i] = mask
                pairs.append(_Pair(g, v, chosen, options, models, members, need))
        self.pairs = pairs
        self.relevant = relevant

        # classes of each server's sets: the sets restricted to the relevant models
        self.sets = sets
        self.class_of: list[np.ndarray] = []
        self.class_rep: list[np.ndarray] = []
        self.class_members: list[list[np.ndarray]] = []
        for v in range(E):
            restricted = sets[v] & relevant[v][None, :]
            reps, inverse = np.unique(restricted, axis=0, return_inverse=True)
            inverse = inverse.ravel()
            self.class_of.append(inverse)
            self.class_rep.append(reps)
            self.class_members.append([np.flatnonzero(inverse == k) for k in range(len(reps))])
        # a class whose cache is a strict subset of another's is never worth more in this
        # frame (a larger cache only adds options): the frame's maximum is among the others
        self.class_maximal = [_maximal(reps) for reps in self.class_rep]

        # flat layout of every pair's subsets, their request columns and bitmask buckets
        n_sub = [len(p.need) for p in pairs]
        self.offsets = np.concatenate([[0], np.cumsum(n_sub)]).astype(np.int64)
        total = int(self.offsets[-1])
        rows_i: list[np.ndarray] = []
        cols_i: list[np.ndarray] = []
        for p_i, p in enumerate(pairs):
            d = slot_data(c, p.slot)
            cols = np.array([local[d.requests[i].index] for i in p.requests], np.int64)
            r_idx, c_idx = np.nonzero(p.members)
            rows_i.append(r_idx + self.offsets[p_i])
            cols_i.append(cols[c_idx])
        rr = np.concatenate(rows_i) if rows_i else np.zeros(0, np.int64)
        cc = np.concatenate(cols_i) if cols_i else np.zeros(0, np.int64)
        self.member = sp.csr_matrix((np.ones(len(rr)), (rr, cc)), shape=(total, max(self.n, 1)))
        self.member_t = self.member.T.tocsr()
        # buckets: pairs grouped by their number of model bits; one block of 2^bits per pair
        self.bits = np.array([len(p.models) for p in pairs], np.int64)
        self.block = np.concatenate([[0], np.cumsum(1 << self.bits)]).astype(np.int64)
        bucket = (
            np.concatenate([self.block[p_i] + p.need for p_i, p in enumerate(pairs)])
            if pairs
            else np.zeros(0, np.int64)
        )
        self.order = np.argsort(bucket, kind="stable")
        sorted_bucket = bucket[self.order]
        starts = (
            np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
            if total
            else np.zeros(0, np.int64)
        )
        self.starts = starts
        self.bucket_ids = sorted_bucket[starts] if total else np.zeros(0, np.int64)
        self.counts = np.diff(np.r_[starts, total]) if total else np.zeros(0, np.int64)
        # zeta transform layout: per number of bits, the cells of those pairs [pairs, 2^bits]
        self.groups = [
            (
                int(b),
                self.block[np.flatnonzero(self.bits == b)][:, None]
                + np.arange(1 << int(b))[None, :],
            )
            for b in np.unique(self.bits)
            if b > 0
        ]
        self.pair_server = np.array([p.server for p in pairs], np.int64)
        self.pair_slot = np.array([p.slot - self.slots[0] for p in pairs], np.int64)
        self.sub_pair = np.repeat(np.arange(len(pairs)), n_sub)
        self.sub_need = np.concatenate([p.need for p in pairs]) if pairs else np.zeros(0, np.int64)
        self.req_slot = c.req_global_slot[self.requests] - self.slots[0]
        self.pair_row = np.zeros(len(pairs), np.int64)
        # per server: its pairs and, per class, the pattern index of each pair
        self.server_pairs: list[np.ndarray] = []
        self.class_cells: list[np.ndarray] = []  # [pairs of v, classes]: flat cell index
        for v in range(E):
            mine = np.array([i for i, p in enumerate(pairs) if p.server == v], np.int64)
            self.server_pairs.append(mine)
            self.pair_row[mine] = np.arange(len(mine))
            reps = self.class_rep[v]
            cells = np.zeros((len(mine), len(reps)), np.int64)
            for j, p_i in enumerate(mine):
                weights = 1 << np.arange(len(pairs[p_i].models))
                pattern = reps[:, pairs[p_i].models].astype(np.int64) @ weights
                cells[j] = self.block[p_i] + pattern
            self.class_cells.append(cells)
        # pattern of every (pair, class of the pair's server), flat: pair_base[p] + class
        flat: list[np.ndarray] = []
        self.pair_base = np.zeros(len(pairs), np.int64)
        offset = 0
        for v in range(E):
            mine = self.server_pairs[v]
            n_classes = len(self.class_rep[v])
            flat.append((self.class_cells[v] - self.block[mine][:, None]).ravel())
            self.pair_base[mine] = offset + np.arange(len(mine)) * n_classes
            offset += len(mine) * n_classes
        self.pattern_flat = np.concatenate(flat) if flat else np.zeros(0, np.int64)
        # the cells some class uses, each with the subsets it allows (need ⊆ pattern): when
        # that list is short, a cell's F is one reduction over it (no zeta transform)
        used = (
            np.unique(np.concatenate([x.ravel() for x in self.class_cells]))
            if any(x.size for x in self.class_cells)
            else np.zeros(0, np.int64)
        )
        cell_pair = np.searchsorted(self.block, used, side="right") - 1
        cell_pattern = used - self.block[cell_pair]
        incidence: list[np.ndarray] = []
        for p_i, pattern in zip(cell_pair.tolist(), cell_pattern.tolist(), strict=True):
            need = pairs[p_i].need
            incidence.append(self.offsets[p_i] + np.flatnonzero(need & ~pattern == 0))
        sizes = np.array([len(x) for x in incidence], np.int64)
        zeta_cost = int(sum((1 << int(b)) * max(int(b), 1) for b in self.bits))
        self.direct = bool(len(used)) and int(sizes.sum()) <= 4 * zeta_cost + 50_000
        if self.direct:
            self.cell_ids = used
            self.cell_subsets = np.concatenate(incidence)
            self.cell_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            self.cell_of_subset = np.repeat(np.arange(len(used)), sizes)
            lookup = np.full(int(self.block[-1]), -1, np.int64)
            lookup[used] = np.arange(len(used))
            self.direct_cells = [lookup[x] for x in self.class_cells]

    @staticmethod
    def _subsets(smin: list[int], cap: int, rows: list[tuple[int, ...]]) -> None:
        """Every subset of positions whose steps_min fit ``cap`` (the empty one first)."""
        n = len(smin)
        for size in range(n + 1):
            found = False
            for combo in itertools.combinations(range(n), size):
                if sum(smin[j] for j in combo) <= cap:
                    rows.append(combo)
                    found = True
                    if len(rows) > MAX_SUBSETS_PER_PAIR:
                        from optkit.errors import MethodRefused

                        raise MethodRefused(
                            f"more than {MAX_SUBSETS_PER_PAIR} request sets fit one "
                            "server's step capacity in one slot (instance beyond proof)"
                        )
            if not found:
                break


def _maximal(reps: np.ndarray) -> np.ndarray:
    """Which rows of ``reps`` (bool [classes, models], distinct) are no strict subset of
    another row."""
    as_int = reps.astype(np.int64)
    shared = as_int @ as_int.T  # [k, j]: models in both rows
    contains = shared == as_int.sum(axis=1)[:, None]  # [k, j]: row j ⊇ row k
    return contains.sum(axis=1) == 1  # only itself


class FrameBound:
    """The frame's Lagrangian bound for one late multiplier vector λ, or (``prices``) for one
    bandwidth price ν per request's home group (see the module doc)."""

    def __init__(
        self, tables: FrameTables, lam: np.ndarray, prices: np.ndarray | None = None
    ) -> None:
        self.tables = tables
        if prices is not None:
            self._priced(prices)
            return
        c = tables.c
        slot_constant = np.zeros(len(tables.slots))
        for k, g in enumerate(tables.slots):
            d = slot_data(c, g)
            reqs = d.requests
            constant = 0.0
            for group in d.groups:
                constant += late_dual_constant(
                    [reqs[i].radio_s for i in group],
                    [float(lam[reqs[i].index]) for i in group],
                    d.w_delay,
                    d.w_late,
                )
            for q in reqs:
                lr = float(lam[q.index])
                weight = d.w_delay + d.w_late * lr
                constant += q.cloud_gain - weight * q.cloud_delay_s + d.w_late * lr * q.max_delay_s
            slot_constant[k] = constant
        self.slot_constant = slot_constant
        self.constant = float(slot_constant.sum())
        values = []
        for p in tables.pairs:
            d = slot_data(c, p.slot)
            bases = []
            pieces: list[tuple[float, int, int]] = []
            for j, (i, opt) in enumerate(zip(p.requests, p.options, strict=True)):
                q = d.requests[i]
                base, ps = gain_terms(d, q, opt, float(lam[q.index]))
                bases.append(base)
                pieces += [(m, n, j) for m, n in ps]
            pieces.sort(key=lambda x: -x[0])
            members = p.members
            smin = np.array([o.steps_min for o in p.options], float)
            room = float(c.step_capacity[p.server]) - members @ smin
            value = members @ np.array(bases)
            if pieces:
                marg = np.array([x[0] for x in pieces])
                length = np.array([x[1] for x in pieces], float)
                owner = np.array([x[2] for x in pieces], np.int64)
                eff = members[:, owner] * length[None, :]
                before = np.cumsum(eff, axis=1) - eff
                take = np.clip(room[:, None] - before, 0.0, eff)
                value = value + take @ marg
            values.append(value)
        self.value = np.concatenate(values) if values else np.zeros(0)

    def _priced(self, prices: np.ndarray) -> None:
        """The bound with the bandwidth of each (slot, home server) priced at ν (``prices[r]``
        for request r's group): each request then has its own exact radio and late terms, a
        concave function of its delay; the steps of a set Q are greedy over unit steps."""
        tab = self.tables
        c = tab.c
        slot_constant = np.zeros(len(tab.slots))
        cloud: dict[int, float] = {}
        for k, g in enumerate(tab.slots):
            d = slot_data(c, g)
            total = 0.0
            for group in d.groups:
                total += float(prices[d.requests[group[0]].index])
            for q in d.requests:
                value = q.cloud_gain - d.w_delay * q.cloud_delay_s
                value += float(
                    priced_radio_value(
                        q.radio_s,
                        q.max_delay_s,
                        np.array([q.cloud_delay_s]),
                        float(prices[q.index]),
                        d.w_delay,
                        d.w_late,
                    )[0]
                )
                cloud[q.index] = value
                total += value
            slot_constant[k] = total
        self.slot_constant = slot_constant
        self.constant = float(slot_constant.sum())
        values = []
        for p in tab.pairs:
            d = slot_data(c, p.slot)
            bases = []
            pieces: list[tuple[float, int]] = []
            for j, (i, opt) in enumerate(zip(p.requests, p.options, strict=True)):
                q = d.requests[i]
                steps = np.arange(opt.steps_min, opt.steps_max + 1)
                kappa = opt.fixed_s + opt.per_step_s * steps
                quality = np.array([_quality_at(opt, int(x)) for x in steps])
                value = (
                    d.w_quality * quality
                    - d.w_cost * opt.cost_per_step * steps
                    - d.w_delay * kappa
                    + priced_radio_value(
                        q.radio_s, q.max_delay_s, kappa, float(prices[q.index]), d.w_delay, d.w_late
                    )
                    - cloud[q.index]
                )
                bases.append(float(value[0]))
                # concave in the steps: the positive unit marginals come first
                pieces += [(float(m), j) for m in np.diff(value) if m > 0]
            pieces.sort(key=lambda x: -x[0])
            members = p.members
            smin = np.array([o.steps_min for o in p.options], float)
            room = float(c.step_capacity[p.server]) - members @ smin
            value_q = members @ np.array(bases)
            if pieces:
                marg = np.array([x[0] for x in pieces])
                owner = np.array([x[1] for x in pieces], np.int64)
                eff = members[:, owner].astype(float)
                before = np.cumsum(eff, axis=1) - eff
                take = np.clip(room[:, None] - before, 0.0, eff)
                value_q = value_q + take @ marg
            values.append(value_q)
        self.value = np.concatenate(values) if values else np.zeros(0)

    def cells(self, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F of every (pair, pattern) cell at π, and the subset attaining it: arrays indexed
        by ``tables.block[pair] + pattern``, or (``tables.direct``) by the used cells'
        positions (``tables.direct_cells``)."""
        tab = self.tables
        vals = self.value - tab.member @ pi if len(self.value) else self.value
        if tab.direct:
            vs = vals[tab.cell_subsets]
            cmax = np.maximum.reduceat(vs, tab.cell_starts)
            is_max = vs >= cmax[tab.cell_of_subset]
            pos = np.where(is_max, np.arange(len(vs)), len(vs))
            return cmax, tab.cell_subsets[np.minimum.reduceat(pos, tab.cell_starts)]
        size = int(tab.block[-1])
        best = np.full(size, -math.inf)
        arg = np.zeros(size, np.int64)
        if not len(vals):
            return best, arg
        vs = vals[tab.order]
        bmax = np.maximum.reduceat(vs, tab.starts)
        is_max = vs >= np.repeat(bmax, tab.counts)
        pos = np.where(is_max, np.arange(len(vs)), len(vs))
        first = np.minimum.reduceat(pos, tab.starts)
        best[tab.bucket_ids] = bmax
        arg[tab.bucket_ids] = tab.order[first]
        # spread each mask's best to its supersets (pairs grouped by their number of bits)
        for bits, idx in tab.groups:
            b = best[idx]
            a = arg[idx]
            for k in range(bits):
                b4 = b.reshape(len(idx), -1, 2, 1 << k)
                a4 = a.reshape(len(idx), -1, 2, 1 << k)
                take = b4[:, :, 0, :] > b4[:, :, 1, :]
                b4[:, :, 1, :] = np.where(take, b4[:, :, 0, :], b4[:, :, 1, :])
                a4[:, :, 1, :] = np.where(take, a4[:, :, 0, :], a4[:, :, 1, :])
            best[idx] = b
            arg[idx] = a
        return best, arg


@dataclass(frozen=True)
class Variant:
    """What a bound adds for everything outside the frame: ``constant`` plus, when ``extras``
    is given, ``extras[v][class]`` per server (a per-server dynamic program's value)."""

    constant: float
    extras: list[np.ndarray] | None


@dataclass(frozen=True)
class NodeBound:
    """A bound at one π for a node (some servers' classes fixed): ``value`` = min over the
    variants of their totals; per variant its total and per server the bound of each class
    (``rows[variant][v]``, extras included); the chosen classes and the subgradient of the
    variant attaining the minimum."""

    value: float
    totals: list[float]
    rows: list[list[np.ndarray]]
    chosen: list[int]
    grad: np.ndarray


def evaluate(
    bound: FrameBound, pi: np.ndarray, fixed: list[int | None], variants: list[Variant]
) -> NodeBound:
    """The bound at π with the classes of some servers fixed (``fixed[v]``: a class or None)."""
    base, frame_rows, arg = class_rows(bound, pi)
    totals: list[float] = []
    rows: list[list[np.ndarray]] = []
    choices: list[list[int]] = []
    for variant in variants:
        total = base + variant.constant
        vrows = (
            frame_rows
            if variant.extras is None
            else [r + x for r, x in zip(frame_rows, variant.extras, strict=True)]
        )
        chosen: list[int] = []
        for v, row in enumerate(vrows):
            f = fixed[v]
            k = int(row.argmax()) if f is None else f
            chosen.append(k)
            total += float(row[k])
        totals.append(total)
        rows.append(vrows)
        choices.append(chosen)
    active = int(np.argmin(totals))
    grad = usage_gradient(bound, arg, choices[active])
    return NodeBound(totals[active], totals, rows, choices[active], grad)


def leaf_evaluate(
    bound: FrameBound, pi: np.ndarray, classes: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The bound of each slot of the frame for one joint class at π, and its subgradient
    (a leaf: every server fixed; each slot's bound is valid on its own)."""
    tab = bound.tables
    K = len(tab.slots)
    per_slot = bound.slot_constant.copy()
    if tab.n:
        per_slot += np.bincount(tab.req_slot, weights=pi, minlength=K)
    grad = np.ones(tab.n)
    if not len(tab.pairs):
        return per_slot, grad
    pattern = tab.pattern_flat[tab.pair_base + np.array(classes, np.int64)[tab.pair_server]]
    allowed = (tab.sub_need & ~pattern[tab.sub_pair]) == 0
    vals = np.where(allowed, bound.value - tab.member @ pi, -math.inf)
    starts = tab.offsets[:-1]
    best = np.maximum.reduceat(vals, starts)
    is_max = vals >= best[tab.sub_pair]
    pos = np.where(is_max, np.arange(len(vals)), len(vals))
    arg = np.minimum.reduceat(pos, starts)
    per_slot += np.bincount(tab.pair_slot, weights=best, minlength=K)
    use = np.bincount(arg, minlength=len(vals)).astype(float)
    grad -= tab.member_t @ use
    return per_slot, grad


def class_rows(bound: FrameBound, pi: np.ndarray) -> tuple[float, list[np.ndarray], np.ndarray]:
    """The frame's bound at π as a constant plus one term per server and class: (constant +
    Σπ, ``rows[v][class]``, the subset attaining each cell for :func:`usage_gradient`). Any
    choice of one class per server is bounded by the constant plus its rows."""
    tab = bound.tables
    best, arg = bound.cells(pi)
    class_cells = tab.direct_cells if tab.direct else tab.class_cells
    rows = [
        best[cells].sum(axis=0) if cells.shape[0] else np.zeros(len(reps))
        for cells, reps in zip(class_cells, tab.class_rep, strict=True)
    ]
    return bound.constant + float(pi.sum()), rows, arg


def usage_gradient(bound: FrameBound, arg: np.ndarray, chosen: list[int]) -> np.ndarray:
    """The subgradient in π of the bound of :func:`class_rows` at the classes ``chosen`` (one
    per server): 1 − how often each request is served by the subsets attaining their cells."""
    tab = bound.tables
    class_cells = tab.direct_cells if tab.direct else tab.class_cells
    grad = np.ones(tab.n)
    picked = [arg[class_cells[v][:, k]] for v, k in enumerate(chosen) if class_cells[v].shape[0]]
    if picked and tab.n:
        use = np.bincount(np.concatenate(picked), minlength=tab.member.shape[0]).astype(float)
        grad -= tab.member_t @ use
    return grad
