#!/usr/bin/env bash
# Issue 11, item 4: PPO, DQN and SAC-Discrete trained in the closed loop on
# scenarios/queueing.yaml, 5 training seeds each at the scenario's budget
# (rl.total_steps), one training at a time with one torch thread; then `netsim run`
# compares the 15 models with the queue-aware exact per-slot schedulers on the
# scenario's seeds. Resumable: a finished training is skipped, a killed one resumed.
#
#   bash benchmarks/closed_loop_rl.sh [OUT]      # default results/closed_loop_rl
set -euo pipefail
OUT=${1:-results/closed_loop_rl}
ALGOS=${ALGOS:-"ppo dqn sac"}
SEEDS=${SEEDS:-"0 1 2 3 4"}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
mkdir -p "$OUT"
for algo in $ALGOS; do
  for seed in $SEEDS; do
    dir="$OUT/train-$algo-$seed"
    [ -f "$dir/model.zip" ] && continue
    resume=""; [ -d "$dir/checkpoints" ] && resume="--resume"
    start=$(date +%s)
    netsim train scenarios/queueing.yaml --algo "$algo" --seed "$seed" --out "$dir" \
      --no-progress $resume > "$dir.log" 2>&1
    echo "$algo $seed $(( $(date +%s) - start )) s" >> "$OUT/train_times.txt"
  done
done
# the comparison scenario: queueing.yaml's cell and seeds, every model beside the
# queue-aware schedulers
python - "$OUT" <<'PY'
import sys, pathlib, yaml
out = pathlib.Path(sys.argv[1])
data = yaml.safe_load(open("scenarios/queueing.yaml"))
data["name"] = "closed_loop_rl"
data.pop("rl", None)
schedulers = [{"type": "queue_milp", "information": "statistical"},
              {"type": "queue_greedy", "information": "statistical"},
              {"type": "hungarian", "information": "statistical"},
              {"type": "fixed_encoder", "encoder": "ViT-B-32"}]
for model in sorted(out.glob("train-*/model.zip")):
    algo = model.parent.name.split("-")[1]
    schedulers.append({"type": "rl", "algo": algo,
                       "model_path": str(model.resolve()), "label": model.parent.name})
data["schedulers"] = schedulers
(out / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
PY
netsim run "$OUT/scenario.yaml" --out "$OUT/run" --no-progress
