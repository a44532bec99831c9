#!/usr/bin/env bash
# Issue 11, item 4: PPO, DQN and SAC-Discrete trained in the closed loop on
# scenarios/queueing.yaml, each with the MLP policy and the size-free policy
# (rl.policy: size_free, net_arch [64, 64]), 5 training seeds each at the scenario's
# budget (rl.total_steps), one torch thread per training; then `netsim run` compares
# every model with the queue-aware exact per-slot schedulers on the scenario's seeds.
# Resumable: a finished training is skipped, a killed one resumed.
#
#   bash benchmarks/closed_loop_rl.sh [OUT]        # default results/closed_loop_rl
#   POLICIES=size_free ALGOS=ppo SEEDS="0 1" bash benchmarks/closed_loop_rl.sh
#   JOBS=2 ...                                     # two trainings at a time
#   COMPARE_ONLY=1 ...                             # only the comparison run
set -euo pipefail
OUT=${1:-results/closed_loop_rl}
POLICIES=${POLICIES:-"mlp size_free"}
ALGOS=${ALGOS:-"ppo dqn sac"}
SEEDS=${SEEDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
mkdir -p "$OUT"
python - "$OUT" <<'PY'
import sys, pathlib, yaml
out = pathlib.Path(sys.argv[1])
data = yaml.safe_load(open("scenarios/queueing.yaml"))
data["name"] = "queueing_size_free"
data["rl"].update(policy="size_free", net_arch=[64, 64])
(out / "queueing_size_free.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
PY
train_one() {  # policy algo seed
  local scenario=scenarios/queueing.yaml dir="$OUT/train-$2-$3"
  if [ "$1" = size_free ]; then scenario="$OUT/queueing_size_free.yaml"; dir="$OUT/train-sf-$2-$3"; fi
  [ -f "$dir/model.zip" ] && return 0
  local resume="" start
  [ -d "$dir/checkpoints" ] && resume="--resume"
  start=$(date +%s)
  netsim train "$scenario" --algo "$2" --seed "$3" --out "$dir" --no-progress $resume \
    > "$dir.log" 2>&1
  echo "$1 $2 $3 $(( $(date +%s) - start )) s" >> "$OUT/train_times.txt"
}
if [ -z "${COMPARE_ONLY:-}" ]; then
  for policy in $POLICIES; do for algo in $ALGOS; do for seed in $SEEDS; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    train_one "$policy" "$algo" "$seed" &
  done; done; done
  wait
fi
# the comparison scenario: queueing.yaml's cell and seeds, every model beside the
# queue-aware schedulers (the queue MILP oracle is the reference every run carries)
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
    algo = model.parent.name.split("-")[-2]
    schedulers.append({"type": "rl", "algo": algo,
                       "model_path": str(model.resolve()), "label": model.parent.name})
data["schedulers"] = schedulers
(out / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
PY
rm -rf "$OUT/run"
netsim run "$OUT/scenario.yaml" --out "$OUT/run" --no-progress
