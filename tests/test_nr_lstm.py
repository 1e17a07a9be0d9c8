"""The LSTM language-model chapter: corpora (KJV, PTB), BPTT batching, the model, perplexity,
Table 4's transcription and a tiny run of :mod:`freqlib.experiments.nr.lstm`."""

import functools
import math
import shutil

import pytest
import torch

from freqlib import text
from freqlib.data import DatasetMissing
from freqlib.experiment import ChapterResult, ConfigError
from freqlib.experiments.nr import lstm as nr_lstm
from freqlib.models import WordLSTM, lstm_medium
from freqlib.occasional import OccasionalRegularizer, magnitude_prune


def _tag(k: int) -> str:
    """A letters-only word naming chapter ``k`` (digits would become ``N``)."""
    return "mark" + chr(97 + k // 26) + chr(97 + k % 26)


def _bible_output(chapters: int = 40) -> str:
    """Text in the ``bible`` command's layout: headings between blank lines, indented verse numbers,
    verses wrapped onto unindented lines."""
    parts = []
    for k in range(chapters):
        book, number = ("Genesis", k + 1) if k < 20 else ("1 Kings", k - 19)
        parts.append(f"\n{book} {number}\n\n")
        parts.append(f"  1 In the {_tag(k)} God's light, and the\nearth-quake.\n")
        parts.append(f"  2 And {_tag(k)} said: Let there be light!\n")
    return "".join(parts)


@pytest.fixture(autouse=True)
def _one_thread():
    """The LSTM's small products run fastest on one thread, and far slower on two of a busy host."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_bible(tmp_path):
    """An executable that prints :func:`_bible_output` (stands for /usr/bin/bible)."""
    out = tmp_path / "bible.txt"
    out.write_text(_bible_output())
    exe = tmp_path / "bible"
    exe.write_text(f"#!/bin/sh\ncat {out}\n")
    exe.chmod(0o755)
    return str(exe)


def test_tokenize_is_ptb_style():
    assert text.tokenize("And God said, Let there be light: the LORD's 12 sons-in-law; brethren' (sic).") == [
        "and", "god", "said", "let", "there", "be", "light", "the", "lord", "'s", "N", "sons", "in", "law",
        "brethren", "sic",
    ]  # fmt: skip


def test_parse_bible_drops_headings_and_verse_numbers():
    verses = text.parse_bible(_bible_output(2))
    assert [(c, b) for c, b, _ in verses] == [(0, "Genesis"), (0, "Genesis"), (1, "Genesis"), (1, "Genesis")]
    assert verses[0][2] == ["in", "the", "markaa", "god", "'s", "light", "and", "the", "earth", "quake"]
    assert verses[3][2] == ["and", "markab", "said", "let", "there", "be", "light"]


def test_vocab_unk_and_eos():
    sentences = {"train": [["a", "b", "a"], ["c", "a", "b"]], "valid": [["a", "z"]], "test": [["b"]]}
    corpus = text.make_corpus("toy", sentences, vocab_size=4, words={}, description="toy")
    assert corpus.vocab == ("<eos>", "<unk>", "a", "b")  # c (once) is cut, as z (unseen) is unknown
    assert corpus.decode(corpus.train) == ["a", "b", "a", "<eos>", "<unk>", "a", "b", "<eos>"]
    assert corpus.decode(corpus.valid) == ["a", "<unk>", "<eos>"]
    assert corpus.train.dtype == torch.int64
    first = text.make_corpus("toy", sentences, vocab_size=None, words={"train": 3}, description="toy")
    assert first.decode(first.train) == ["a", "b", "a"] and first.vocab == ("<eos>", "<unk>", "a", "b")
    with pytest.raises(ValueError, match="vocab_size"):
        text.build_vocab(["a"], 2)


def test_kjv_split_is_deterministic_and_disjoint(fake_bible, tmp_path):
    assert [text.split_of_chapter(k) for k in range(20)] == ["train"] * 18 + ["valid", "test"]
    counts = {s: sum(text.split_of_chapter(k) == s for k in range(1189)) for s in text.SPLITS}
    assert counts == {"train": 1071, "valid": 59, "test": 59}  # 90/5/5 of the KJV's 1,189 chapters
    a = text.kjv_corpus(None, bible=fake_bible, cache_dir=tmp_path / "cache")
    b = text.kjv_corpus(None, bible=fake_bible, cache_dir=tmp_path / "cache")  # from the cache
    assert list((tmp_path / "cache").glob("kjv-*.tsv"))
    for split in text.SPLITS:
        assert torch.equal(a.split(split), b.split(split))
    tags = {s: {w for w in a.decode(a.split(s)) if w.startswith("mark")} for s in text.SPLITS}
    assert tags["train"] == {_tag(k) for k in range(40) if k % 20 < 18}
    # held-out chapters 18, 19, 38, 39: their own tags are unseen in training, so <unk> (2 per chapter)
    assert tags["valid"] == tags["test"] == set()
    assert [a.decode(a.split(s)).count("<unk>") for s in ("valid", "test")] == [4, 4]
    assert a.decode(a.train[:11]) == [
        "in",
        "the",
        _tag(0),
        "god",
        "'s",
        "light",
        "and",
        "the",
        "earth",
        "quake",
        "<eos>",
    ]


def test_kjv_missing_names_the_debian_packages(tmp_path):
    with pytest.raises(DatasetMissing) as err:
        text.kjv_corpus(bible=str(tmp_path / "no-bible"))
    message = str(err.value)
    assert "bible-kjv bible-kjv-text" in message and "apt-get install" in message


@pytest.mark.skipif(shutil.which("bible") is None, reason="Debian packages bible-kjv, bible-kjv-text not installed")
def test_real_kjv_has_every_verse():
    verses = text.parse_bible(text.bible_text())
    assert len(verses) == 31_102 and verses[-1][0] == 1188 and verses[-1][1] == "Revelation"
    assert verses[0][2][:4] == ["in", "the", "beginning", "god"]


def test_ptb_reads_the_files_and_names_the_missing_ones(tmp_path):
    (tmp_path / "ptb.train.txt").write_text(" the cat <unk> sat \n the N dogs \n")
    with pytest.raises(DatasetMissing, match=r"ptb\.valid\.txt, ptb\.test\.txt"):
        text.ptb_corpus(tmp_path)
    with pytest.raises(DatasetMissing, match="no data_dir given"):
        text.ptb_corpus(None)
    (tmp_path / "ptb.valid.txt").write_text(" the cat \n")
    (tmp_path / "ptb.test.txt").write_text(" a dog \n")
    corpus = text.ptb_corpus(tmp_path)
    assert corpus.decode(corpus.train) == ["the", "cat", "<unk>", "sat", "<eos>", "the", "N", "dogs", "<eos>"]
    assert corpus.decode(corpus.test) == ["<unk>", "<unk>", "<eos>"]


def test_batchify_and_bptt_batches():
    ids = torch.arange(103)
    data = text.batchify(ids, 10)
    assert data.shape == (10, 10) and torch.equal(data[:, 3], torch.arange(30, 40))
    chunks = list(text.bptt_batches(data, 4))
    assert [tuple(x.shape) for x, _ in chunks] == [(4, 10), (4, 10), (1, 10)] == [tuple(y.shape) for _, y in chunks]
    assert text.bptt_count(data, 4) == 3
    assert torch.equal(torch.cat([y for _, y in chunks]), data[1:])
    assert torch.equal(torch.cat([x for x, _ in chunks]), data[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        text.batchify(ids, 0)


def test_model_shapes_and_regularizer_selection():
    model = WordLSTM(50, 8, layers=2)
    logits, (h, c) = model(torch.randint(50, (7, 3)))
    assert logits.shape == (7, 3, 50) and h.shape == c.shape == (2, 3, 8)
    default = OccasionalRegularizer(model, magnitude_prune(0.5), 1).names
    assert default == [
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.weight_ih_l1",
        "lstm.weight_hh_l1",
        "decoder.weight",
    ]
    ours = OccasionalRegularizer(model, magnitude_prune(0.5), 1, modules=list(nr_lstm.REGULARIZED)).names
    assert ours == ["embedding.weight", *default]
    assert sum(p.numel() for p in lstm_medium().parameters()) == 19_780_400  # Table 4: 19.8M


def test_perplexity_is_exp_mean_nll():
    torch.manual_seed(0)
    model = WordLSTM(30, 6)
    data = text.batchify(torch.randint(30, (203,)), 4)  # (50, 4)
    with torch.no_grad():  # one pass over the whole stream: no chunks, no carried state to get wrong
        logits, _ = model(data[:-1])
        logp = torch.log_softmax(logits.double(), -1).gather(2, data[1:].unsqueeze(2))
    expected = math.exp(-logp.mean().item())
    assert text.perplexity(model, data, 7) == pytest.approx(expected, rel=1e-5)
    total, count = text.nll(model, data, 7)
    assert count == 49 * 4 and total == pytest.approx(-logp.sum().item(), rel=1e-5)
    sums, counts = text.nll_blocks(model, data, 7)  # one block per column of each of the 7 chunks
    assert len(sums) == 7 * 4 and counts.sum() == count and sums.sum() == pytest.approx(total, rel=1e-6)
    ppl, se = text.perplexity_se(model, data, 7)
    assert ppl == pytest.approx(expected, rel=1e-5) and 0 < se < 1
    assert model.training  # evaluation leaves the mode as it found it


def test_paper_table4_as_printed():
    wide = nr_lstm.paper_table4()
    assert list(wide.columns) == ["model", "weights", "method", "0%", "80%", "85%", "90%", "95%", "97.5%"]
    t = nr_lstm.paper_table4_long().set_index(["model", "method", "p_f"]).perplexity
    assert t["Medium", "Proposed Scheme", 0.9] == 84.64
    assert t["Medium", "Zhu & Gupta (2017)", 0.0] == 83.37
    assert t["Large", "Zhu & Gupta (2017)", 0.975] == 103.20
    assert t["Large", "Proposed Scheme", 0.8] == 77.39
    assert len(t) == 24


def test_schedule_and_masked_pruner():
    assert [nr_lstm.lr_at(e, 1.0, 4, 0.5) for e in range(6)] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]
    torch.manual_seed(0)
    model = WordLSTM(20, 6)
    pruner = nr_lstm.MaskedPruner(model, lambda t: 0.5, 2, modules=["decoder"], t_f=2)
    pruner.step()
    assert nr_lstm.zero_fraction(model, ["decoder"]) == 0
    pruner.step()  # step 2: the mask is set
    zeros = model.decoder.weight == 0
    assert zeros.float().mean().item() == 0.5 and pruner.history[0]["rate"] == 0.5
    with torch.no_grad():
        model.decoder.weight.add_(1.0)  # an optimizer step would revive pruned weights; the mask holds them
    pruner.step()
    assert torch.equal(model.decoder.weight == 0, zeros)


def test_grid_helpers():
    import pandas as pd

    grid = pd.DataFrame(
        {
            "kind": ["none", "prune", "prune", "svd", "svd"],
            "period": [0, 1, 10, 1, 10],
            "strength": [0, 0.8, 0.8, 4, 4],
            "perplexity": [100.0, 90.0, 80.0, 70.0, 75.0],
            "e_w/pNR": [0.0, 0.1, 0.02, 0.04, 0.01],
        }
    )
    best = nr_lstm.best_cells(grid)
    assert list(zip(best.kind, best.period)) == [("prune", 10), ("svd", 1)]
    assert nr_lstm.e_opt(grid, ["prune", "svd"]) == pytest.approx(0.03)
    assert nr_lstm.fig6_frame(grid, ["prune"]).error.tolist() == pytest.approx([0.08, 0.0])
    assert nr_lstm.spearman([1, 2, 3], [2, 4, 9]) == pytest.approx(1.0)


def tiny_config(**changes) -> nr_lstm.Config:
    values = dict(vocab_size=40, train_words=None, valid_words=None, test_words=None, hidden=8, pretrain_epochs=1,
                  kinds=("decay", "prune"), periods=(1, 2), strengths={"decay": (0.01,), "prune": (0.5,)},
                  table4_period=2, rates=(0.5,))  # fmt: skip
    return nr_lstm.Config(**(values | changes))


def test_run_on_a_tiny_config(fake_bible, monkeypatch):
    monkeypatch.setattr(nr_lstm, "kjv_corpus", functools.partial(text.kjv_corpus, bible=fake_bible, cache_dir=None))
    cfg = tiny_config()
    result = nr_lstm.run(cfg, progress=False)
    assert result.table("data")["data"].iloc[0].startswith("stand-in: the King James Bible")
    grid = result.table("grid")
    assert list(grid.columns) == ["kind", "period", "strength", "perplexity", "events", "e_w", "e_w/pNR", "zeros",
                                  "train s", "nll se"]  # fmt: skip
    assert len(grid) == 5 and grid.perplexity.gt(1).all() and grid["nll se"].gt(0).all()
    assert grid[grid.kind == "prune"].zeros.round(2).eq(0.5).all()  # compressed at the end, whatever the period
    table4 = result.table("table4")
    assert list(table4.columns) == ["method", "p_f", "period", "perplexity", "valid perplexity", "zeros", "events",
                                    "train s", "nll se"]  # fmt: skip
    assert table4.method.tolist() == ["dense", "pnr", "zhu-gupta"] and table4.zeros.iloc[1:].round(2).eq(0.5).all()
    setups = result.table("setups")
    assert setups.role.tolist() == ["grid", "table4"] and setups.shares.tolist() == ["", "grid"]
    assert result.objects["setups"]["table4"] is result.objects["setups"]["grid"]
    assert [b.value for b in result.baselines] == [setups["test perplexity"].iloc[0]]  # one model, one baseline
    assert "interpolated bigram" in result.baselines[0].source
    assert result.table("pretraining").role.tolist() == ["grid"]
    assert result.table("sizes").parameters.tolist() == [19_780_400, 66_034_000]
    assert set(result.table("fig15").method) == {"pnr", "zhu-gupta"} and set(result.figures["fig15"]["weights"])
    assert set(result.table("fig6 rho").kind) == {"decay", "prune"}
    assert result.table("table4 side").loc["50%", "ours: pnr"] == round(table4.perplexity.iloc[1], 2)
    results = result.table("results")  # what freqlib experiment nr_lstm prints
    assert results.part.tolist() == ["grid"] * 5 + ["table4"] * 3 and results.columns[0] == "part"
    assert nr_lstm.stored(grid).columns[-1] == "zeros" and "nll se" not in nr_lstm.stored(table4)
    rows = nr_lstm.claims(result, cfg)
    assert [c.row() for c in nr_lstm.claims(ChapterResult(tables=dict(result.tables)), cfg)] == [c.row() for c in rows]
    assert {c.verdict for c in rows if c.kind == "trained"} <= {"undecided", "not comparable"}
    for plot in (nr_lstm.plot_grid, nr_lstm.plot_fig6, nr_lstm.plot_table4, nr_lstm.plot_fig15):
        assert plot(result, cfg).axes


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="data must be one of"):
        nr_lstm.run(tiny_config(data="wiki"))
    with pytest.raises(ValueError, match="grid_epochs must be a positive int"):
        nr_lstm.run(tiny_config(grid_epochs=0))
    with pytest.raises(ValueError, match="methods must be a non-empty list of pnr, zhu-gupta; unknown: \\['zhu'\\]"):
        nr_lstm.run(tiny_config(methods=("zhu",)))
    with pytest.raises(ConfigError, match=r"Config \(nr_lstm\): profile 'cpu' sets unknown parameter\(s\) 'epochs'"):
        nr_lstm.Config.for_profile("cpu", {"epochs": 3})
    cpu = nr_lstm.Config.for_profile("cpu")  # notebooks/profiles.yml
    assert cpu.hidden == 64 and cpu.strengths["svd"] == [8, 16] and cpu.table4_model == "small"


def test_noise_kind_is_figure_4_right():
    w = torch.randn(50, 40, dtype=torch.float64)
    t = nr_lstm.transform_for("noise", 0.3)
    out = t(w)
    ratio = out / w
    assert out.shape == w.shape and (ratio > 0.7 - 1e-12).all() and (ratio < 1.3 + 1e-12).all()
    assert not torch.equal(out, w) and getattr(t, "projection", True) is False  # not re-applied at the end
    with pytest.raises(ValueError, match="noise: amplitude a must be a real number in \\[0, 1\\)"):
        nr_lstm.transform_for("noise", 1.5)
    assert "noise" in nr_lstm.KINDS and "noise" in nr_lstm.PAPER_GRID["strengths"]
