"""The table of built-in methods (one line each; implementations are imported on first use)."""

from optkit.solvers.registry import RUN_DIR, SERVER_COUNT, register

# Plain baselines (DESIGN §4, the normalised regret's v_base).
register(
    "caching",
    "no-cache",
    "optkit.solvers.caching.heuristics:no_cache",
    "cache nothing; every request to the cloud (equal: the plain baseline)",
    "heuristic",
    variants=("equal", "optimal"),
    default_variant="equal",
)

# Caching: exact methods, the relaxation and heuristics (optkit.solvers.caching).
_CACHING = "optkit.solvers.caching"
register(
    "caching",
    "bnb",
    f"{_CACHING}.bnb:solve",
    "optkit's branch-and-bound over cache sets with exact per-slot allocation; proves "
    "optimality (bnb:frames = bnb, frame by frame; bnb:tree: a best-first tree over the "
    "horizon's cache bits)",
    "exact",
    variants=("frames", "tree"),
)
register(
    "caching",
    "scip",
    f"{_CACHING}.pyomo_backends:scip",
    "the Pyomo MINLP through SCIP (the outside reference)",
    "exact",
)
register(
    "caching",
    "gurobi",
    f"{_CACHING}.pyomo_backends:gurobi",
    "the Pyomo MINLP through Gurobi (needs gurobipy and a licence)",
    "exact",
)
register(
    "caching",
    "highs",
    f"{_CACHING}.pyomo_backends:highs",
    "the Pyomo MILP through HiGHS (only when linear: delay and late weights 0)",
    "exact",
)
register(
    "caching",
    "enumerate",
    f"{_CACHING}.enumerate:solve",
    "brute force over caches, routes and steps (tiny instances; the test oracle)",
    "exact",
)
register(
    "caching",
    "relax",
    f"{_CACHING}.relax:solve",
    "the convex continuous relaxation (cvxpy + Clarabel): an upper bound",
    "relaxation",
)
register(
    "caching",
    "relax-sets",
    f"{_CACHING}.relax:solve_sets",
    "the relaxation over convex combinations of each server's cache sets: a tighter bound",
    "relaxation",
)
for _name, _summary in (
    ("random", "a random cache that fits, per frame and server (seeded)"),
    ("lfu", "cache the most requested models of the previous frame"),
    ("lru", "cache the most recently requested models"),
    (
        "popularity-oracle",
        "knapsack on the frame's true request counts (clairvoyant: sees the frame's requests)",
    ),
):
    register(
        "caching",
        _name,
        f"{_CACHING}.heuristics:{_name.replace('-', '_')}",
        _summary + "; allocation optimal (default) or equal",
        "heuristic",
        variants=("optimal", "equal"),
        default_variant="optimal",
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
    "online: the K servers finishing the task soonest alone (default K = max_servers, else 3)",
    "heuristic",
    variant_arg=SERVER_COUNT,
)
register(
    "scheduling",
    "random-k",
    "optkit.solvers.scheduling.online_methods:random_k",
    "online: K random servers, water-filling (default K = max_servers, else 3; seeded)",
    "heuristic",
    variant_arg=SERVER_COUNT,
)
register(
    "scheduling",
    "rand-coedge",
    "optkit.solvers.scheduling.rand_coedge:rand_coedge",
    "online: the local server plus one random server, water-filling (AMCoEdge's RandCoEdge; seeded)",
    "heuristic",
)

# Trained DRL policies (optkit train); the variant is the training run directory.
for _family in ("caching", "scheduling"):
    register(
        _family,
        "policy",
        "optkit.drl.policy:solve",
        "a policy trained by optkit train (RUN_DIR: its --out)",
        "policy",
        variant_arg=RUN_DIR,
    )
