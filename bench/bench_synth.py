"""How long `stratus synth` takes, against the CDK's own floor, side by side in one run.

- (a) floor: a fresh Python process that imports aws_cdk and synthesizes one empty stack
  (Node.js start, the jsii kernel, the CDK library): what any CDK app in Python pays.
- (b) `stratus synth apps/todo --no-dax`: the whole command, fresh process.
- (c) `stratus synth apps/todo`: with the DAX cluster and its VPC, and the DAX client bundled.

Each is run in turn, 5 rounds, medians reported; offline, no AWS credentials.
Writes results/synth.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import HERE, ROOT, machine

FLOOR = """
import os
from stratus.aws.deploy.synth import cdk
aws_cdk = cdk()
app = aws_cdk.App(outdir=os.environ["OUT"], analytics_reporting=False)
aws_cdk.Stack(app, "empty").node.add_metadata("x", "y")
app.synth()
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    rounds = 5
    runs: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OUT": f"{tmp}/floor"}
        stratus = [sys.executable, "-m", "stratus", "synth", "apps/todo"]
        for _ in range(rounds):
            runs["a"].append(timed([sys.executable, "-c", FLOOR], env))
            runs["b"].append(timed([*stratus, "--no-dax", "--out", f"{tmp}/b"], env))
            runs["c"].append(timed([*stratus, "--out", f"{tmp}/c"], env))
        template = json.loads(Path(f"{tmp}/c/todo/stratus-todo.template.json").read_text())
    med = {k: statistics.median(v) for k, v in runs.items()}
    doc = {"machine": machine(), "rounds": rounds, "seconds": runs, "median_seconds": med,
           "ratio_vs_floor": {k: round(med[k] / med["a"], 2) for k in ("b", "c")},
           "todo_resources": len(template["Resources"])}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "synth.json").write_text(json.dumps(doc, indent=2) + "\n")
    names = {"a": "(a) empty CDK stack, fresh process", "b": "(b) stratus synth apps/todo --no-dax",
             "c": "(c) stratus synth apps/todo (DAX + VPC)"}
    print("| run | median s | min s | vs (a) |\n|---|---|---|---|")
    for k, v in runs.items():
        print(f"| {names[k]} | {med[k]:.2f} | {min(v):.2f} | {med[k] / med['a']:.2f} |")
    print(f"\ntodo template: {doc['todo_resources']} resources")


if __name__ == "__main__":
    main()
