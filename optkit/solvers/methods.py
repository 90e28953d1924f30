"""The table of built-in methods (one line each; implementations are imported on first use)."""

from optkit.solvers.registry import register

# Plain baselines (DESIGN §4, the normalised regret's v_base).
register(
    "caching",
    "no-cache",
    "optkit.solvers.baselines:no_cache",
    "cache nothing; every request to the cloud",
    "heuristic",
    variants=("equal",),
    default_variant="equal",
)
register(
    "scheduling",
    "local",
    "optkit.solvers.baselines:local",
    "every task on its own base station's server",
    "heuristic",
)

# Scheduling family (DESIGN §3, §6): the clairvoyant MILP, its brute-force oracle, and the
# online methods (task by task, present state only).
register(
    "scheduling",
    "highs",
    "optkit.solvers.scheduling.exact:highs",
    "the server-selection MILP by HiGHS: the clairvoyant optimum over the horizon",
    "exact",
)
register(
    "scheduling",
    "scip",
    "optkit.solvers.scheduling.exact:scip",
    "the server-selection MILP by SCIP: the clairvoyant optimum over the horizon",
    "exact",
)
register(
    "scheduling",
    "enumerate",
    "optkit.solvers.scheduling.enumerate:enumerate_method",
    "every subset per task (and failure set) with LP fractions; tiny instances, the oracle",
    "exact",
)
register(
    "scheduling",
    "greedy-opt",
    "optkit.solvers.scheduling.online_methods:greedy_opt",
    "online: per task the best allowed subset with water-filling (the authors' Optimal)",
    "heuristic",
)
register(
    "scheduling",
    "fastest-k",
    "optkit.solvers.scheduling.online_methods:fastest_k",
    "online: the K servers finishing the task soonest alone (fastest-k:K; default K = max_servers, else 3)",
    "heuristic",
)
register(
    "scheduling",
    "random-k",
    "optkit.solvers.scheduling.online_methods:random_k",
    "online: K random servers, water-filling (random-k:K; default K = max_servers, else 3; seeded)",
    "heuristic",
)
