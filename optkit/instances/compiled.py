"""Compiled numpy views of instances, built once per instance for solvers, environments and the
evaluator. Arrays are read-only; indices are 0-based as in the files; the cloud is server −1.

Caching, per request r (home server h, model m):
- ``radio_s_share``: (d_r + o_m)/(W_h·η_r), so the radio delay is ``radio_s_share / b_r``;
- ``transfer_s[r, v]``: 0 at home, (d_r + o_m)/R_{h,v} + ℓ_{h,v} at a linked server, +inf
  where v may not serve r (``allowed[r, v]``);
- ``cloud_delay_s``: everything but the radio delay when the cloud serves r;
- generation at edge v with s steps: ``(seconds_per_step[m]·s + overhead_s[m]) / speed[v]``.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optkit.instances.caching import CachingInstance
    from optkit.instances.scheduling import SchedulingInstance

# Dense quality tables are built when they stay below this many entries.
_MAX_TABLE_ENTRIES = 5_000_000


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class CompiledCaching:
    """Numpy arrays of a :class:`~optkit.instances.caching.CachingInstance` (see module doc)."""

    def __init__(self, inst: CachingInstance) -> None:
        self.instance = inst
        E, M, R = len(inst.servers), len(inst.models), len(inst.requests)
        self.n_servers, self.n_models, self.n_requests = E, M, R
        self.frames, self.slots_per_frame = inst.frames, inst.slots_per_frame
        self.n_slots = inst.frames * inst.slots_per_frame
        w = inst.weights
        self.w_quality, self.w_delay, self.w_cost = w.quality, w.delay, w.cost
        self.w_late, self.w_switch = w.late, w.switch

        servers = inst.servers
        self.storage_gb = _frozen(np.array([s.storage_gb for s in servers], float))
        self.bandwidth_mhz = _frozen(np.array([s.bandwidth_mhz for s in servers], float))
        self.step_capacity = _frozen(np.array([s.step_capacity for s in servers], np.int64))
        self.speed = _frozen(np.array([s.speed for s in servers], float))
        self.cost_per_step = _frozen(np.array([s.cost_per_step for s in servers], float))
        linked = np.zeros((E, E), bool)
        rate = np.full((E, E), np.inf)
        latency = np.zeros((E, E))
        for e, s in enumerate(servers):
            for link in s.links:
                for a, b in ((e, link.to), (link.to, e)):
                    linked[a, b] = True
                    rate[a, b], latency[a, b] = link.rate_mbps, link.latency_s
        self.linked, self.link_rate_mbps = _frozen(linked), _frozen(rate)
        self.link_latency_s = _frozen(latency)

        models = inst.models
        self.size_gb = _frozen(np.array([m.size_gb for m in models], float))
        self.output_mbit = _frozen(np.array([m.output_mbit for m in models], float))
        self.seconds_per_step = _frozen(np.array([m.seconds_per_step for m in models], float))
        self.overhead_s = _frozen(np.array([m.overhead_s for m in models], float))
        self.steps_min = _frozen(np.array([m.steps_min for m in models], np.int64))
        self.steps_max = _frozen(np.array([m.steps_max for m in models], np.int64))
        self.breakpoint_steps = tuple(
            _frozen(np.array([s for s, _ in m.quality], float)) for m in models
        )
        self.breakpoint_quality = tuple(
            _frozen(np.array([q for _, q in m.quality], float)) for m in models
        )
        self._build_pieces()

        cloud = inst.cloud
        self.cloud_steps = cloud.steps
        clamped = np.clip(cloud.steps, self.steps_min, self.steps_max)
        self.cloud_quality = _frozen(
            np.array([models[m].quality_at(float(clamped[m])) for m in range(M)], float)
        )
        self.cloud_cost = cloud.cost_per_step * cloud.steps
        self.cloud_generation_s = _frozen(
            (self.seconds_per_step * cloud.steps + self.overhead_s) / cloud.speed
        )

        reqs = inst.requests
        self.req_frame = _frozen(np.array([r.frame for r in reqs], np.int64))
        self.req_slot = _frozen(np.array([r.slot for r in reqs], np.int64))
        self.req_user = _frozen(np.array([r.user for r in reqs], np.int64))
        self.req_home = _frozen(np.array([r.server for r in reqs], np.int64))
        self.req_model = _frozen(np.array([r.model for r in reqs], np.int64))
        self.req_input_mbit = _frozen(np.array([r.input_mbit for r in reqs], float))
        self.req_eta = _frozen(np.array([r.spectral_efficiency for r in reqs], float))
        self.req_max_delay_s = _frozen(np.array([r.max_delay_s for r in reqs], float))
        self.req_global_slot = _frozen(self.req_frame * self.slots_per_frame + self.req_slot)
        payload = self.req_input_mbit + self.output_mbit[self.req_model]
        self.req_payload_mbit = _frozen(payload)
        self.radio_s_share = _frozen(payload / (self.bandwidth_mhz[self.req_home] * self.req_eta))
        allowed = linked[self.req_home].copy() if R else np.zeros((0, E), bool)
        if R:
            allowed[np.arange(R), self.req_home] = True
        self.allowed = _frozen(allowed)
        with np.errstate(divide="ignore", invalid="ignore"):
            transfer = payload[:, None] / rate[self.req_home] + latency[self.req_home]
        transfer = np.where(allowed, transfer, np.inf)
        if R:
            transfer[np.arange(R), self.req_home] = 0.0
        self.transfer_s = _frozen(transfer)
        self.cloud_delay_s = _frozen(
            payload / cloud.rate_mbps + cloud.latency_s + self.cloud_generation_s[self.req_model]
        )
        self.req_cloud_quality = _frozen(self.cloud_quality[self.req_model])
        order = np.argsort(self.req_global_slot, kind="stable")
        self.slot_order = _frozen(order)
        self.slot_start = _frozen(
            np.searchsorted(self.req_global_slot[order], np.arange(self.n_slots + 1))
        )
        init = np.zeros((E, M), bool)
        for e, cached in enumerate(inst.initial_cache):
            init[e, list(cached)] = True
        self.initial_cache = _frozen(init)

    def _build_pieces(self) -> None:
        """Linear pieces of each quality curve: q_m(s) = min_j (slope[m,j]·s + intercept[m,j])
        on [steps_min, steps_max] (concavity makes the minimum exact); padded by repeating the
        last piece. ``quality_table[m, s]`` is q_m at integer s when small enough to tabulate."""
        M = self.n_models
        pieces = [max(len(b) - 1, 1) for b in self.breakpoint_steps]
        P = max(pieces)
        slope = np.zeros((M, P))
        intercept = np.zeros((M, P))
        for m in range(M):
            s, q = self.breakpoint_steps[m], self.breakpoint_quality[m]
            if len(s) == 1:
                sl, ic = np.zeros(1), q[:1]
            else:
                sl = np.diff(q) / np.diff(s)
                ic = q[:-1] - sl * s[:-1]
            slope[m, : len(sl)], intercept[m, : len(ic)] = sl, ic
            slope[m, len(sl) :], intercept[m, len(ic) :] = sl[-1], ic[-1]
        self.piece_slope, self.piece_intercept = _frozen(slope), _frozen(intercept)
        top = int(self.steps_max.max())
        self.quality_table: np.ndarray | None = None
        if M * (top + 1) <= _MAX_TABLE_ENTRIES:
            grid = np.arange(top + 1, dtype=float)
            table = np.vstack(
                [
                    np.interp(grid, self.breakpoint_steps[m], self.breakpoint_quality[m])
                    for m in range(M)
                ]
            )
            self.quality_table = _frozen(table)

    def quality(self, model: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Quality of ``model[i]`` after ``steps[i]`` steps (clamped into the model's range)."""
        model = np.asarray(model, np.int64)
        steps = np.asarray(steps, float)
        s = np.clip(steps, self.steps_min[model], self.steps_max[model])
        if self.quality_table is not None:
            whole = np.rint(s)
            if np.array_equal(whole, s):
                return self.quality_table[model, whole.astype(np.int64)]
        out = np.empty(len(s))
        for m in np.unique(model):
            mask = model == m
            out[mask] = np.interp(s[mask], self.breakpoint_steps[m], self.breakpoint_quality[m])
        return out

    def slot_requests(self, global_slot: int) -> np.ndarray:
        """Indices of the requests of one slot (``frame·slots_per_frame + slot``), in file order."""
        return self.slot_order[self.slot_start[global_slot] : self.slot_start[global_slot + 1]]

    @cached_property
    def request_counts(self) -> np.ndarray:
        """Requests per frame and model, shape [frames, models]."""
        counts = np.zeros((self.frames, self.n_models), np.int64)
        np.add.at(counts, (self.req_frame, self.req_model), 1)
        return _frozen(counts)


class CompiledScheduling:
    """Numpy arrays of a :class:`~optkit.instances.scheduling.SchedulingInstance`.

    ``process_s[n, j]`` is a_{n,j} = D_n ρ_n / f_j + [j ≠ b_n]·D_n / r_j (DESIGN §3.3) and
    ``transfer_s[n, j]`` its transfer part.
    """

    def __init__(self, inst: SchedulingInstance) -> None:
        self.instance = inst
        J, N = len(inst.servers), len(inst.tasks)
        self.n_servers, self.n_tasks, self.slots = J, N, inst.slots
        self.slot_seconds, self.deadline_s = inst.slot_seconds, inst.deadline_s
        self.failure_penalty = inst.failure_penalty
        #: A task fails iff its make-span exceeds this (DESIGN §6).
        self.fail_threshold_s = inst.deadline_s + 1e-9 * max(1.0, inst.deadline_s)
        self.cpu_ghz = _frozen(np.array([s.cpu_ghz for s in inst.servers], float))
        self.rate_mbps = _frozen(np.array([s.rate_mbps for s in inst.servers], float))
        self.queue0_gcycles = _frozen(np.array([s.queue_gcycles for s in inst.servers], float))
        self.task_slot = _frozen(np.array([t.slot for t in inst.tasks], np.int64))
        self.task_bs = _frozen(np.array([t.bs for t in inst.tasks], np.int64))
        self.task_input_mbit = _frozen(np.array([t.input_mbit for t in inst.tasks], float))
        self.task_density = _frozen(
            np.array([t.density_gcycles_per_mbit for t in inst.tasks], float)
        )
        self.task_work_gcycles = _frozen(self.task_input_mbit * self.task_density)
        remote = np.ones((N, J), bool)
        if N:
            remote[np.arange(N), self.task_bs] = False
        self.remote = _frozen(remote)
        self.transfer_s = _frozen(
            np.where(remote, self.task_input_mbit[:, None] / self.rate_mbps, 0.0)
        )
        self.process_s = _frozen(self.task_work_gcycles[:, None] / self.cpu_ghz + self.transfer_s)
        self.slot_start = _frozen(np.searchsorted(self.task_slot, np.arange(self.slots + 1)))
        self.capacity_gcycles_per_slot = _frozen(self.cpu_ghz * self.slot_seconds)

    def slot_tasks(self, slot: int) -> range:
        """Indices of the tasks of ``slot`` (tasks are sorted by slot)."""
        return range(int(self.slot_start[slot]), int(self.slot_start[slot + 1]))

    def allowed_sizes(self) -> list[int]:
        """Subset sizes a task may use under ``max_servers`` / ``exact_servers``."""
        k = self.instance.max_servers
        if k is None:
            return list(range(1, self.n_servers + 1))
        return [k] if self.instance.exact_servers else list(range(1, k + 1))

    @cached_property
    def allowed_subsets(self) -> np.ndarray:
        """Every allowed server subset as a bool mask [subsets, servers], by size then
        lexicographically (the action index of the scheduling environment)."""
        rows = [
            combo
            for k in self.allowed_sizes()
            for combo in itertools.combinations(range(self.n_servers), k)
        ]
        masks = np.zeros((len(rows), self.n_servers), bool)
        for i, combo in enumerate(rows):
            masks[i, list(combo)] = True
        return _frozen(masks)
