"""DRL on optkit instances (DESIGN §7): agents train on the instances the exact solvers solve,
and a trained policy is a method whose solutions :func:`optkit.evaluate` scores like any other.

Layout::

    envs/         Gymnasium envs built from instances (caching-slot, caching-frame, scheduling),
                  their instance sources, the two-timescale CachingEpisode an agent pair drives
    agents/       one module per agent (dqn, ddqn, discrete_sac, ddpg, td3, sac) on base.Agent
    common.py     device choice, seeding and RNG states, MLP builder, Polyak update
    replay.py     the replay buffer
    config.py     hyperparameter dataclasses: docs per field, --set and TOML overrides
    train.py      the training loop (evaluation, atomic checkpoints, exact resume, Ctrl-C)
    checkpoint.py run directory files; evaluation.py held-out evaluation; setup.py CLI choices
    policy.py     the ``policy:RUN_DIR`` method

From the command line: ``optkit train AGENT --family F --preset P --steps N --out DIR``, then
``optkit solve FILES --method policy:DIR``.
"""
