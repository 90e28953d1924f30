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

# Trained DRL policies (optkit train); the variant is the training run directory.
for _family in ("caching", "scheduling"):
    register(
        _family,
        "policy",
        "optkit.drl.policy:solve",
        "a policy trained by optkit train (policy:RUN_DIR)",
        "policy",
    )
