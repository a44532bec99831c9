"""The table of benchmarks/closed_loop_rl.sh: mean reward per request of every scheduler
over the scenario's seeds (netsim run's summary.csv), and per (policy, algorithm) the
mean and 95 % CI over its training seeds, best and worst seed.

    python benchmarks/closed_loop_rl_table.py [OUT]     # default results/closed_loop_rl
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from netsim.statistics import ci95_half_width

out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/closed_loop_rl")
summary = pd.read_csv(out / "run" / "summary.csv").set_index("scheduler")
reference = summary.loc["queue_milp_statistical", "mean_reward"]
columns = ["mean_reward", "delay_violation_rate", "mean_queueing_delay_s"]
print("schedulers (mean over the run's seeds; score = reference cost / cost, reference "
      "= queue MILP, statistical):")
for name, row in summary.iterrows():
    if not str(name).startswith("train-"):
        print(f"  {name:40s} {row['mean_reward']:9.2f}  score {reference / row['mean_reward']:.3f}"
              f"  late {100 * row['delay_violation_rate']:5.1f} %")
agents = summary[summary.index.str.startswith("train-")].copy()
agents["group"] = [re.sub(r"-\d+$", "", name) for name in agents.index]
print("agents (over training seeds):")
for group, rows in agents.groupby("group"):
    reward = rows["mean_reward"].to_numpy()
    print(f"  {group:14s} seeds {len(rows)}  mean reward {reward.mean():8.2f} "
          f"± {ci95_half_width(reward):6.2f}  (best {reward.max():7.2f}, worst "
          f"{reward.min():8.2f})  score {reference / reward.mean():.3f}  late "
          f"{100 * rows['delay_violation_rate'].mean():5.1f} %  queueing "
          f"{rows['mean_queueing_delay_s'].mean():.3f} s")
