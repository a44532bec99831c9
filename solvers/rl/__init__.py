"""Reinforcement-learning schedulers (stable-baselines3) for the paper's MDP
(:mod:`netsim.rl.env`): training, checkpoints, evaluation against the exact optimum."""
