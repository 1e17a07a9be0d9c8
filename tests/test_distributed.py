"""Data-parallel training: a real 2-process ``torchrun`` (gloo, CPU) against single-process references,
and the ``freqlib experiment`` command's errors."""

import os
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import torch

from freqlib import cli, distributed, experiments
from freqlib.fr import fr_weights
from freqlib.train import make_loader, train_classifier

ROOT = Path(__file__).resolve().parents[1]

# An experiment module of our own, run through `torchrun -m freqlib.cli experiment probepkg.ddp_probe`.
PROBE = """
import pandas as pd
import torch
from torch.utils.data import TensorDataset

import freqlib
from freqlib import distributed
from freqlib.models import LeNet5
from freqlib.train import evaluate, train_classifier


class Plain(torch.utils.data.Dataset):  # no batch indexing: the DataLoader's own batching path
    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        return self.inner[i]


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g))


def fr_lenet():
    torch.manual_seed(0)
    return freqlib.frequency_regularize(LeNet5(), 0.02)


def snapshot(model):
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)},
        "k": {name: fr.k for name, _, _, fr in freqlib.fr_weights(model)},
        "masks": {name: fr.kept_mask() for name, _, _, fr in freqlib.fr_weights(model)},
    }


def run(out_dir, steps=2):
    torch.set_num_threads(1)
    rank = distributed.rank()
    assert distributed.world_size() == 2, "run me with torchrun --nproc_per_node 2"
    # (1) 2 steps of 32 (16 per rank) with progressive dropping, then a second call on the same model
    model = fr_lenet()
    schedule = freqlib.FrequencySchedule(model, steps, mode="geometric")
    h1 = train_classifier(model, data(), data(63, 1), epochs=1, batch_size=32, lr=0.05, schedule=schedule,
                          progress=False, desc="probe-schedule")
    h2 = train_classifier(model, data(), None, epochs=1, batch_size=32, lr=0.05, progress=False, desc="probe-again")
    # (2) one SGD step on all 64 examples (32 per rank)
    step = fr_lenet()
    h3 = train_classifier(step, data(), data(63, 1), epochs=1, batch_size=64, lr=0.1, optimizer="sgd",
                          progress=False, desc="probe-step")
    # (3) BatchNorm: each rank updates its statistics from its own shard; rank 0's are broadcast after the epoch
    torch.manual_seed(0)
    bn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, stride=4), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Linear(144, 10))
    freqlib.frequency_regularize(bn, 0.5, min_keep=0)
    h4 = train_classifier(bn, data(), None, epochs=1, batch_size=32, progress=False, desc="probe-bn")
    snaps = {"scheduled": snapshot(model), "step": snapshot(step), "bn": snapshot(bn), "t": schedule.t}
    snaps["rng"] = torch.rand(4)
    snaps["plain_acc"] = evaluate(step, Plain(data(63, 1)), batch_size=10)
    torch.save(snaps, f"{out_dir}/rank{rank}.pt")
    runs = [h1.assign(run="schedule"), h2.assign(run="again"), h3.assign(run="step"), h4.assign(run="bn")]
    return pd.concat(runs, ignore_index=True)
"""


def _probe_module(tmp_path: Path) -> types.ModuleType:
    """Write the probe as ``tmp_path/probepkg/ddp_probe.py`` and import it (without leaving it in sys.modules)."""
    (tmp_path / "probepkg").mkdir()
    (tmp_path / "probepkg" / "__init__.py").write_text("")
    (tmp_path / "probepkg" / "ddp_probe.py").write_text(PROBE)
    sys.path.insert(0, str(tmp_path))
    try:
        from probepkg import ddp_probe
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("probepkg.ddp_probe", None)
        sys.modules.pop("probepkg", None)
    return ddp_probe


def test_torchrun_two_ranks_match_single_process(tmp_path):
    probe = _probe_module(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(
        OMP_NUM_THREADS="1",
        CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
    )
    out = tmp_path / "out" / "probe.csv"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "freqlib.cli", "experiment", "probepkg.ddp_probe", "-p", "out_dir", str(tmp_path), "--out", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # rank 0 alone prints the summaries and the table and writes the CSV
    for desc in ("probe-schedule", "probe-again", "probe-step", "probe-bn"):
        assert done.stdout.count(f"{desc}: 1 epochs,") == 1, done.stdout
    assert "on 2 processes" in done.stdout and done.stdout.count(f"wrote {out} (4 rows)") == 1
    table = pd.read_csv(out)
    assert table.run.tolist() == ["schedule", "again", "step", "bn"] and table.steps.tolist() == [2, 2, 1, 2]

    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    # every rank ends with the same spectra, buffers, kept counts and masks; the schedule ran to its end
    assert r0["t"] == r1["t"] == 2
    assert torch.equal(r0["rng"], r1["rng"])  # the global RNGs agree again after training
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(r0["bn"]["state"])
    assert int(r0["bn"]["state"]["1.num_batches_tracked"]) == 2
    for key in ("scheduled", "step", "bn"):
        assert r0[key]["k"] == r1[key]["k"]
        for name, tensor in r0[key]["state"].items():
            assert torch.equal(tensor, r1[key]["state"][name]), (key, name)
        for name, mask in r0[key]["masks"].items():
            assert torch.equal(mask, r1[key]["masks"][name]), (key, name)
    targets = {name: fr.k for name, _, _, fr in fr_weights(probe.fr_lenet())}
    assert r0["scheduled"]["k"] == targets and int(table.kept.iloc[0]) == sum(targets.values())

    # one DDP step (2 ranks x 32) equals one single-process step on the same 64 examples
    torch.set_num_threads(1)
    ref = probe.fr_lenet()
    h = train_classifier(ref, probe.data(), probe.data(63, 1), epochs=1, batch_size=64, lr=0.1, optimizer="sgd")
    moved, start = 0.0, probe.fr_lenet().state_dict()
    assert set(r0["step"]["state"]) == {k for k, v in start.items() if isinstance(v, torch.Tensor)}
    for name, tensor in r0["step"]["state"].items():
        ours, single = tensor - start[name], ref.state_dict()[name] - start[name]  # the updates
        assert float((ours - single).abs().max()) <= min(1e-6, 1e-3 * float(single.abs().max())), name
        moved = max(moved, float(single.abs().max()))
    assert moved > 1e-3  # the step did something
    # the history is global: loss and accuracy over all 64 training examples, test accuracy over all 63
    step = table[table.run == "step"].iloc[0]
    assert step.train_loss == pytest.approx(h.train_loss.iloc[0], abs=1e-6)
    assert step.train_accuracy == h.train_accuracy.iloc[0]
    assert abs(step.test_accuracy - h.test_accuracy.iloc[0]) <= 1 / 63 + 1e-12
    assert round(step.test_accuracy * 63, 6) == round(step.test_accuracy * 63)
    assert r0["plain_acc"] == r1["plain_acc"] == step.test_accuracy


def test_outside_a_process_group_helpers_are_no_ops():
    assert not distributed.active() and distributed.rank() == 0 and distributed.world_size() == 1
    assert distributed.is_main() and distributed.shard(range(10), shuffle=True) is None
    x = torch.arange(3.0)
    assert distributed.all_sum(x) is x
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, "cpu") is model and distributed.unwrap(model) is model
    distributed.check_same(3, "three")
    distributed.broadcast_buffers(model)
    data = torch.utils.data.TensorDataset(torch.arange(10.0), torch.arange(10))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = [y.tolist() for _, y in make_loader(data, 4, shuffle=True, generator=g1, shard=True)]
    b = [y.tolist() for _, y in make_loader(data, 4, shuffle=True, generator=g2)]
    assert a == b and sorted(sum(a, [])) == list(range(10))


def test_local_batch_size():
    assert distributed.local_batch_size(64, 4) == 16 and distributed.local_batch_size(7, 1) == 7
    with pytest.raises(ValueError, match="batch_size 30 .* divisible by the number of processes 4"):
        distributed.local_batch_size(30, 4)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        distributed.local_batch_size(0, 1)


def test_experiment_command_errors(monkeypatch, capsys):
    assert cli.main(["experiment", "no_such_family"]) == 2
    err = capsys.readouterr().err
    known = ", ".join(cli.known_experiments()) or "none"
    assert f"unknown experiment 'no_such_family'; known experiments: {known}" in err
    assert cli.main(["experiment", "../etc"]) == 2
    assert "is not a module name" in capsys.readouterr().err

    toy = types.ModuleType("freqlib.experiments.toy")

    def run(size: int = 1, *, name: str = "x") -> pd.DataFrame:
        return pd.DataFrame({"size": [size], "name": [name]})

    toy.run = run
    monkeypatch.setitem(sys.modules, "freqlib.experiments.toy", toy)
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "toy")
    assert cli.main(["experiment", "toy", "-p", "size", "3", "-p", "sise", "4", "-p", "colour", "red"]) == 2
    err = capsys.readouterr().err
    assert "toy" in err and "has no parameter(s) sise, colour; it accepts: size, name" in err
    monkeypatch.setattr(toy, "run", lambda **kw: kw)
    with pytest.raises(TypeError, match="returned dict, not a pandas DataFrame"):
        cli.main(["experiment", "toy", "-p", "anything", "1"])


def test_experiment_command_prints_and_writes(monkeypatch, capsys, tmp_path):
    toy = types.ModuleType("freqlib.experiments.toy")
    toy.run = lambda size=1, name="x": pd.DataFrame({"size": [size, 2 * size], "name": [name, name]})
    monkeypatch.setitem(sys.modules, "freqlib.experiments.toy", toy)
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "toy")
    out = tmp_path / "sub" / "toy.csv"
    assert cli.main(["experiment", "toy", "-p", "size", "3", "-p", "name", "[a, b]", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "size" in printed and f"wrote {out} (2 rows)" in printed
    assert pd.read_csv(out).to_dict("list") == {"size": [3, 6], "name": ["['a', 'b']", "['a', 'b']"]}
