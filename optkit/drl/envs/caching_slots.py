"""Per-slot tables of a caching episode: each request's delay, quality and cost terms for every
routing option and step count, precomputed once per episode with the evaluator's formulas
(optkit/evaluate.py, ``_caching_scores``), so that playing a slot only looks values up.

For request r, routing option o (0 = cloud, 1 = home, 2… = linked neighbours by index) and
``steps_min + j`` steps the tables hold, element by element as the evaluator computes them:

- ``delay``: the delay except the radio part — ``transfer_s[r, v] + generation`` at edge
  server v, ``cloud_delay_s[r]`` at the cloud;
- ``quality_term``: ``w_quality · quality``; ``cost_term``: ``w_cost · cost``.

A request's utility with share b is then ``(quality_term − w_delay·(radio_s_share/b + delay)) −
cost_term − w_late·max(0, delay_total − max_delay_s)``: the evaluator's expression in the
evaluator's order, so the value is the evaluator's to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.evaluate import generation_s
from optkit.instances.compiled import CompiledCaching

#: Features per (server, user) entry of the slot observation.
SLOT_FEATURES = 8


@dataclass(frozen=True)
class SlotTables:
    """The requests of one global slot (arrays aligned, file order) and their tables; the
    ``[request, option, j]`` tables are flattened, ``key = rows_ws + option·depth + j``."""

    index: np.ndarray  #: request indices
    user: np.ndarray
    home: np.ndarray
    model: np.ndarray
    rows: np.ndarray  #: 0..n−1
    rows_w: np.ndarray  #: rows · width
    rows_ws: np.ndarray  #: rows · width · depth
    width: int  #: routing options per request, padded
    depth: int  #: step counts per request, padded
    action_at: np.ndarray  #: [n, 3] flat positions of each request's (share, steps, route)
    steps_min: np.ndarray  #: float
    span: np.ndarray  #: steps_max − steps_min, int
    half_span: np.ndarray  #: span / 2, float
    half_options: np.ndarray  #: options / 2 (2 + links of the home server), float
    top_option: np.ndarray  #: options − 1, float
    options: np.ndarray  #: [n·width] server of each option (−1: cloud or padding)
    option_of: np.ndarray  #: [n·(servers+1)] option of server v at v+1 (0: cloud, or not allowed)
    cache_key: np.ndarray  #: [n·width] v·models + model at edge options, servers·models else
    radio_s_share: np.ndarray  #: radio delay at share 1 (s)
    max_delay_s: np.ndarray
    delay: np.ndarray  #: [n·width·depth] delay except radio (s)
    quality_term: np.ndarray  #: [n·width·depth] w_quality · quality
    cost_term: np.ndarray  #: [n·width·depth] w_cost · cost
    home_model: np.ndarray  #: home · models + model (index into a raveled [server, model] array)
    observation: np.ndarray  #: the slot observation without its cache columns
    cached_at: np.ndarray  #: positions of the "cached at home" entries in it


def build(
    c: CompiledCaching, g: int, users: int, neighbours: list[np.ndarray], qtable: np.ndarray
) -> SlotTables:
    """The tables of global slot ``g`` of compiled instance ``c``."""
    E, M, U = c.n_servers, c.n_models, users
    idx = c.slot_requests(g)
    n = len(idx)
    home, model, user = c.req_home[idx], c.req_model[idx], c.req_user[idx]
    smin, smax = c.steps_min[model], c.steps_max[model]
    span = smax - smin
    degree = np.array([len(nb) for nb in neighbours], np.int64)
    width = 2 + int(degree.max())
    depth = int(span.max()) + 1 if n else 1
    options = np.full((n, width), -1, np.int64)
    options[:, 1] = home
    for i, h in enumerate(home.tolist()):
        options[i, 2 : 2 + degree[h]] = neighbours[h]
    option_of = np.zeros((n, E + 1), np.int64)
    for o in range(1, width):
        v = options[:, o]
        option_of[np.flatnonzero(v >= 0), v[v >= 0] + 1] = o
    # [n, width, depth] tables; padding (options past a request's own, j past its span) is never
    # looked up and holds harmless finite values
    j = np.minimum(np.arange(depth)[None, :], span[:, None])
    steps = (smin[:, None] + j).astype(float)  # [n, depth]
    delay = np.empty((n, width, depth))
    quality = np.empty((n, width, depth))
    cost = np.empty((n, width, depth))
    delay[:, 0, :] = c.cloud_delay_s[idx][:, None]
    quality[:, 0, :] = c.w_quality * c.req_cloud_quality[idx][:, None]
    cost[:, 0, :] = c.w_cost * c.cloud_cost
    for o in range(1, width):
        v = np.maximum(options[:, o], 0)
        generation = generation_s(c, model[:, None], v[:, None], steps)
        delay[:, o, :] = c.transfer_s[idx, v][:, None] + generation
        quality[:, o, :] = c.w_quality * qtable[model[:, None], steps.astype(np.int64)]
        cost[:, o, :] = c.w_cost * (c.cost_per_step[v][:, None] * steps)
    pad = options < 0
    pad[:, 0] = False
    delay[pad], quality[pad], cost[pad] = 0.0, 0.0, 0.0
    cache_key = np.where(options >= 0, options * M + model[:, None], E * M)
    cache_key[:, 0] = E * M
    rows = np.arange(n)
    entry = home * U + user  # (server, user) entry of the request
    observation, cached_at = _observation(c, g, idx, entry, home, model, smax, U, qtable)
    return SlotTables(
        index=idx,
        user=user,
        home=home,
        model=model,
        rows=rows,
        rows_w=rows * width,
        rows_ws=rows * width * depth,
        width=width,
        depth=depth,
        action_at=(3 * entry)[:, None] + np.arange(3),
        steps_min=smin.astype(float),
        span=span,
        half_span=0.5 * span,
        half_options=0.5 * (2 + degree[home]),
        top_option=(1 + degree[home]).astype(float),
        options=options.ravel(),
        option_of=option_of.ravel(),
        cache_key=cache_key.ravel(),
        radio_s_share=c.radio_s_share[idx],
        max_delay_s=c.req_max_delay_s[idx],
        delay=delay.ravel(),
        quality_term=quality.ravel(),
        cost_term=cost.ravel(),
        home_model=home * M + model,
        observation=observation,
        cached_at=cached_at,
    )


def _observation(
    c: CompiledCaching,
    g: int,
    idx: np.ndarray,
    entry: np.ndarray,
    home: np.ndarray,
    model: np.ndarray,
    smax: np.ndarray,
    users: int,
    qtable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The static part of the slot observation (see ``CachingEpisode.slot_observation``)."""
    E = c.n_servers
    grid = np.zeros((E * users, SLOT_FEATURES))
    grid[entry, 0] = 1.0
    grid[entry, 3] = c.radio_s_share[idx]
    grid[entry, 4] = c.cloud_delay_s[idx]
    grid[entry, 5] = (c.seconds_per_step[model] * smax + c.overhead_s[model]) / c.speed[home]
    grid[entry, 6] = c.req_max_delay_s[idx]
    grid[entry, 7] = qtable[model, smax] - c.req_cloud_quality[idx]
    need = np.bincount(home, smax.astype(float), minlength=E)
    extra = np.concatenate(
        [
            np.bincount(home, minlength=E) / users,
            np.divide(c.step_capacity, need, out=np.zeros(E), where=need > 0),
            [g // c.slots_per_frame / c.frames, g % c.slots_per_frame / c.slots_per_frame],
        ]
    )
    observation = np.concatenate([grid.ravel(), extra]).astype(np.float32)
    return observation, entry * SLOT_FEATURES + 1
