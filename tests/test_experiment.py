"""The experiment contract: Config with profiles by field name, ChapterResult; the core imports no book tooling."""

import subprocess
import sys
from dataclasses import dataclass

import pandas as pd
import pytest

from freqlib.experiment import PROFILES, ChapterResult, Config, ConfigError

PROFILES_DATA = {
    "notebooks": {
        "toy": {"smoke": {}, "cpu": {"epochs": 3}, "paper": {"epochs": 30, "data": "mnist", "typo": 1}},
    }
}


@dataclass(frozen=True)
class ToyConfig(Config):
    chapter = "toy"
    epochs: int = 1
    data: str = "fashion_mnist"


def test_profiles_override_fields_by_name():
    assert ToyConfig() == ToyConfig(profile="smoke", epochs=1, data="fashion_mnist")
    cfg = ToyConfig.for_profile("cpu", profiles=PROFILES_DATA)
    assert (cfg.profile, cfg.epochs, cfg.data) == ("cpu", 3, "fashion_mnist")
    cfg = ToyConfig.for_profile("cpu", {"data": "mnist5k"}, profiles=PROFILES_DATA)
    assert cfg.as_dict() == {"profile": "cpu", "epochs": 3, "data": "mnist5k"}
    assert cfg.replace(epochs=5).epochs == 5 and ToyConfig.field_names() == ["profile", "epochs", "data"]


def test_unknown_names_and_profiles_are_clear_errors():
    with pytest.raises(ConfigError, match=r"ToyConfig \(toy\): profile 'paper' sets unknown parameter\(s\) 'typo'"):
        ToyConfig.for_profile("paper", profiles=PROFILES_DATA)
    with pytest.raises(ConfigError, match="the parameters are: profile, epochs, data"):
        ToyConfig.for_profile("cpu", {"epoch": 2}, profiles=PROFILES_DATA)
    with pytest.raises(ConfigError, match="replace\\(\\) sets unknown parameter\\(s\\) 'lr'"):
        ToyConfig().replace(lr=1.0)
    with pytest.raises(ConfigError, match="profile must be one of"):
        ToyConfig.for_profile("huge", profiles=PROFILES_DATA)
    with pytest.raises(ConfigError, match="profile must be one of"):
        ToyConfig(profile="huge")
    with pytest.raises(ConfigError, match="no entry 'toy' in the profiles"):
        ToyConfig.for_profile("cpu", profiles={"notebooks": {}})


def test_profiles_are_defined_once():
    from freqlib import book, experiments

    assert book.PROFILES is experiments.PROFILES is PROFILES


def test_chapter_result_names_its_tables():
    result = ChapterResult(tables={"accuracy": pd.DataFrame({"a": [1]})})
    assert list(result.table("accuracy").a) == [1]
    with pytest.raises(KeyError, match="no table 'loss'; the result has: accuracy"):
        result.table("loss")


def test_importing_the_core_loads_no_book_tooling():
    code = (
        "import sys\n"
        "import freqlib, freqlib.fr, freqlib.io, freqlib.occasional, freqlib.pointwise\n"
        "tooling = ('papermill', 'nbformat', 'nbclient', 'jupyter_book', 'IPython', 'matplotlib', 'yaml', 'dask',"
        " 'freqlib.book', 'freqlib.report', 'freqlib.cli', 'freqlib.experiments', 'freqlib.sweep')\n"
        "print(sorted(m for m in sys.modules if m in tooling or m.split('.')[0] in tooling))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
