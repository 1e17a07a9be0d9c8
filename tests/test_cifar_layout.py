"""The paper profiles' data path: CIFAR-10/100 in torchvision's layout under a data_dir, read by
freqlib.data and by the chapters' loaders (tiny pickles written here; torchvision's md5 check of the
real archives is bypassed for them, and kept for a damaged file)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torchvision.datasets.cifar as tv_cifar

from freqlib import data
from freqlib.experiments import load_labelled
from freqlib.experiments.nr import lowrank as nr_lowrank
from freqlib.experiments.pointwise import train as pointwise_train


def _write(path, images: np.ndarray, labels: list[int], key: str) -> None:
    with open(path, "wb") as f:
        pickle.dump({"data": images.reshape(len(images), -1), key: labels}, f)


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """tmp_path with cifar-10-batches-py (5 x 4 train, 4 test) and cifar-100-python (20 train, 4 test)."""
    rng = np.random.default_rng(0)

    def images(n):
        return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)

    c10 = tmp_path / "cifar-10-batches-py"
    c10.mkdir()
    for i in range(1, 6):
        _write(c10 / f"data_batch_{i}", images(4), [(i + j) % 10 for j in range(4)], "labels")
    _write(c10 / "test_batch", images(4), [0, 1, 2, 3], "labels")
    with open(c10 / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    c100 = tmp_path / "cifar-100-python"
    c100.mkdir()
    _write(c100 / "train", images(20), [i * 5 for i in range(20)], "fine_labels")
    _write(c100 / "test", images(4), [0, 25, 50, 99], "fine_labels")
    with open(c100 / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"fine{i}" for i in range(100)]}, f)
    return tmp_path


@pytest.fixture
def trusted(monkeypatch):
    """Skip torchvision's md5 check (the tiny pickles are not the real archives)."""
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)


def test_cifar_loaders_read_torchvisions_layout(cifar_dir, trusted):
    train, test = data.cifar10("train", cifar_dir), data.cifar10("test", cifar_dir)
    assert train.shape == (20, 3, 32, 32) and test.shape == (4, 3, 32, 32)
    assert train.name == "CIFAR-10 train" and train.classes[3] == "class3"
    assert test.labels.tolist() == [0, 1, 2, 3]
    c100 = data.cifar100("train", cifar_dir)
    assert c100.shape == (20, 3, 32, 32) and c100.labels.max() == 95 and c100.classes[99] == "fine99"


def test_chapters_use_cifar_when_present(cifar_dir, trusted):
    train, test, label = load_labelled("cifar10", cifar_dir, labels={"cifar10": "CIFAR-10"})
    assert len(train) == 20 and not label.startswith("stand-in") and "CIFAR-10" in label
    train, test, label = nr_lowrank.load_data("cifar10", cifar_dir, None, None, 32)
    assert train.shape[1:] == (3, 32, 32) and not label.startswith("stand-in")
    train, test, label, classes = pointwise_train.load_data("cifar100", profile="paper", data_dir=cifar_dir)
    assert classes == 100 and label == "CIFAR-100 (20 train / 4 test)"
    _, _, label, _ = pointwise_train.load_data("cifar100", profile="paper", data_dir=cifar_dir, train_subset=8)
    assert label.startswith("stand-in: CIFAR-100 subset: 8 train")


def test_a_damaged_cifar_file_fails_loudly(cifar_dir):
    with pytest.raises(data.DatasetMissing, match="cifar-10-batches-py.*corrupted"):
        data.cifar10("train", cifar_dir)  # md5 of the real archive's files does not match
