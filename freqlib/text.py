"""Word-level language-modelling corpora, offline first, and truncated-BPTT batching.

- :func:`ptb_corpus`: Mikolov's Penn Treebank files (``ptb.train.txt``, ``ptb.valid.txt``,
  ``ptb.test.txt``), already lowercased, with ``<unk>`` and ``N``; read from a ``data_dir``.
- :func:`kjv_corpus`: the King James Bible of the Debian packages ``bible-kjv`` and
  ``bible-kjv-text`` (the ``bible`` command; 31,102 verses, about 823k words), preprocessed the
  way PTB was (:func:`tokenize`): lowercase, words only, one verse per sentence.

A :class:`Corpus` holds a vocabulary (id -> word) and the three splits as int64 id streams, each
sentence followed by ``<eos>``. :func:`batchify` cuts a stream into ``batch_size`` columns and
:func:`bptt_batches` walks them ``bptt`` steps at a time (Zaremba et al., 2014: batches of 20,
unrolled 20 steps for the small model and 35 for the medium and large ones).

Evaluation of a recurrent language model ``model(x, state) -> (logits, state)`` on a batchified
stream: :func:`nll` and :func:`perplexity` (``exp`` of the mean negative log-likelihood per target
token), :func:`perplexity_se` (with the standard error over blocks of consecutive tokens); and a
reference without a network, :func:`bigram_perplexity` (an interpolated bigram of the training split).
"""

from __future__ import annotations

import collections
import hashlib
import math
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import DEFAULT_DOWNLOAD_DIR, DatasetMissing
from .loop import check_positive_int

EOS = "<eos>"
UNK = "<unk>"
#: Debian packages holding the ``bible`` command and the KJV text.
KJV_DEBS = ("bible-kjv", "bible-kjv-text")
#: The whole Bible as a verse range of the ``bible`` command.
KJV_RANGE = "gen1:1-rev22:21"
#: Where :func:`kjv_corpus` caches the tokenized verses (the data cache of :mod:`freqlib.data`).
KJV_CACHE = DEFAULT_DOWNLOAD_DIR / "kjv"
#: Split of the KJV by chapter: chapter ``k`` (0-based, canonical order, 1,189 chapters) goes to
#: ``valid`` when ``k % 20 == 18``, to ``test`` when ``k % 20 == 19``, else to ``train`` (90/5/5).
KJV_SPLIT_EVERY = 20
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
SPLITS = ("train", "valid", "test")

_WORD = re.compile(r"[a-z]+|'s\b|[0-9]+(?:[.,][0-9]+)*")
_VERSE = re.compile(r"^\s+(\d+) (.*)$")
_HEADING = re.compile(r"([1-3] )?[A-Z][A-Za-z ]+ (\d+)")


class CorpusMissing(DatasetMissing):
    """A text corpus is not on disk (or its Debian packages are not installed). The message names
    what is missing, where it was looked for and how to get it."""

    def __init__(self, name: str, places: Sequence[str], remedy: str, needed_by: str):
        self.name = name
        self.places = list(places)
        where = "\n".join(f"  - {p}" for p in self.places)
        FileNotFoundError.__init__(self, f"{name} was not found. Looked in:\n{where}\n{remedy}\n{needed_by}.")


@dataclass(frozen=True)
class Corpus:
    """A word-level corpus: ``vocab[i]`` is the word of id ``i``; ``train``, ``valid``, ``test`` are
    int64 id streams ``(N,)`` (every sentence ends with ``<eos>``); ``description`` says what it is."""

    name: str
    vocab: tuple[str, ...]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    description: str

    def __len__(self) -> int:
        """Vocabulary size."""
        return len(self.vocab)

    @property
    def ids(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocab)}

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def unk_rate(self, split: str = "test") -> float:
        """Fraction of ``<unk>`` tokens in ``split``."""
        ids = self.split(split)
        return float((ids == self.ids[UNK]).double().mean()) if UNK in self.vocab else 0.0

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s} {len(self.split(s)):,}" for s in SPLITS)
        return f"Corpus({self.name!r}, vocab {len(self.vocab):,}, tokens: {sizes})"


# ---------------------------------------------------------------------------------------------
# preprocessing


def tokenize(text: str) -> list[str]:
    """PTB-style words of ``text``: lowercase; runs of letters are words, a possessive ``'s`` is a
    word of its own (``"Lord's"`` -> ``lord 's``), numbers become ``N``; everything else (punctuation,
    hyphens, other apostrophes) separates words and is dropped."""
    return ["N" if t[0].isdigit() else t for t in _WORD.findall(text.lower())]


def parse_bible(text: str) -> list[tuple[int, str, list[str]]]:
    """Verses of the ``bible`` command's output: ``(chapter index, book, tokens)`` in order.

    The output has a heading line per chapter (``"Genesis 1"``, ``"1 Samuel 3"``) between blank
    lines and verses starting with indented verse numbers, wrapped onto unindented lines. Headings
    and verse numbers are dropped; a verse's lines are joined (a hyphen at a line end splits words).
    """
    verses: list[tuple[int, str, list[str]]] = []
    chapter, book, parts, blank = -1, "", [], True

    def close():
        if parts:
            verses.append((chapter, book, tokenize(" ".join(parts))))
            parts.clear()

    for line in text.splitlines():
        if not line.strip():
            blank = True
            continue
        verse = _VERSE.match(line)
        heading = _HEADING.fullmatch(line.strip()) if blank and not line[0].isspace() else None
        if verse:
            close()
            if chapter < 0:
                raise ValueError("bible output: a verse before the first chapter heading")
            parts.append(verse.group(2))
        elif heading:
            close()
            chapter, book = chapter + 1, line.strip().rsplit(" ", 1)[0]
        elif parts:
            parts.append(line)
        else:
            raise ValueError(f"bible output: cannot place the line {line!r}")
        blank = False
    close()
    return verses


def bible_text(bible: str | None = None) -> str:
    """The whole KJV as printed by the ``bible`` command (``bible gen1:1-rev22:21``; 0.1 s).

    Raises :class:`CorpusMissing` naming the Debian packages when the command is absent.
    """
    exe = bible or shutil.which("bible")
    if exe is None or not Path(exe).is_file():
        debs = " ".join(KJV_DEBS)
        raise CorpusMissing(
            "King James Bible (the bible command)",
            [f"PATH: {bible or 'bible'} (installed as /usr/bin/bible by the Debian package bible-kjv)"],
            f"Install the Debian packages {debs}: sudo apt-get install {debs} (make book-debs does it as root).",
            "The KJV is the stand-in corpus of the nr_lstm notebook (smoke and cpu profiles, and the paper "
            "profile without PTB)",
        )
    done = subprocess.run([exe, KJV_RANGE], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{exe} {KJV_RANGE} failed (exit {done.returncode}): {done.stderr.strip()[:500]}")
    return done.stdout


def _cached_verses(text: str, cache_dir: Path | None) -> list[tuple[int, str, list[str]]]:
    """:func:`parse_bible` of ``text``, cached in ``cache_dir`` under the text's SHA-256."""
    if cache_dir is None:
        return parse_bible(text)
    path = Path(cache_dir) / f"kjv-{hashlib.sha256(text.encode()).hexdigest()[:16]}.tsv"
    if path.is_file():
        rows = [line.split("\t") for line in path.read_text().splitlines()]
        return [(int(c), b, t.split()) for c, b, t in rows]
    verses = parse_bible(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{c}\t{b}\t{' '.join(t)}\n" for c, b, t in verses))
        tmp.replace(path)
    except OSError:  # a read-only cache is no error: parse again next time
        pass
    return verses


def split_of_chapter(chapter: int) -> str:
    """The KJV split of chapter ``chapter`` (0-based): see :data:`KJV_SPLIT_EVERY`."""
    r = chapter % KJV_SPLIT_EVERY
    return "valid" if r == KJV_SPLIT_EVERY - 2 else "test" if r == KJV_SPLIT_EVERY - 1 else "train"


def build_vocab(tokens: Sequence[str], size: int | None) -> tuple[str, ...]:
    """``<eos>``, ``<unk>`` and the ``size - 2`` most frequent other words of ``tokens`` (ties: in
    alphabetical order); ``size`` None keeps every word. Ids follow this order."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 3):
        raise ValueError(f"vocab_size must be an int >= 3 (<eos>, <unk> and a word) or None, got {size!r}")
    counts = collections.Counter(t for t in tokens if t not in (EOS, UNK))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    return (EOS, UNK, *(words if size is None else words[: size - 2]))


def encode(tokens: Sequence[str], vocab: Sequence[str]) -> torch.Tensor:
    """Ids of ``tokens`` (words outside ``vocab`` -> ``<unk>``), int64 ``(len(tokens),)``."""
    index = {w: i for i, w in enumerate(vocab)}
    unk = index[UNK]
    return torch.tensor([index.get(t, unk) for t in tokens], dtype=torch.int64)


def _check_words(name: str, value) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ValueError(f"{name} must be an int >= 2 (tokens) or None (all), got {value!r}")
    return value


def make_corpus(
    name: str,
    sentences: dict[str, list[list[str]]],
    *,
    vocab_size: int | None,
    words: dict[str, int | None],
    description: str,
) -> Corpus:
    """A :class:`Corpus` from tokenized sentences per split (``<eos>`` appended to each).

    ``words[split]`` keeps the first that many tokens of the split (None: all); the vocabulary is
    built from the kept training tokens (:func:`build_vocab`).
    """
    streams = {}
    for split in SPLITS:
        limit = _check_words(f"{split}_words", words.get(split))
        stream = [t for s in sentences[split] for t in (*s, EOS)]
        streams[split] = stream if limit is None else stream[:limit]
    vocab = build_vocab(streams["train"], vocab_size)
    ids = {split: encode(streams[split], vocab) for split in SPLITS}
    return Corpus(name, vocab, ids["train"], ids["valid"], ids["test"], description)


def kjv_corpus(
    vocab_size: int | None = 10_000,
    *,
    train_words: int | None = None,
    valid_words: int | None = None,
    test_words: int | None = None,
    cache_dir: str | Path | None = KJV_CACHE,
    bible: str | None = None,
) -> Corpus:
    """The King James Bible as a PTB-like corpus (about 855k tokens with ``<eos>``).

    Preprocessing (:func:`parse_bible`, :func:`tokenize`): book and chapter headings and verse
    numbers dropped, lowercase, words only (``'s`` split off, punctuation dropped), one verse per
    sentence. Split by chapter, deterministically (:func:`split_of_chapter`: every 19th and 20th
    of each 20 chapters go to valid and test; 90/5/5 of the chapters, each held-out chapter whole).
    ``vocab_size`` counts ``<eos>`` and ``<unk>`` (PTB: 10,000); rarer words become ``<unk>``.
    ``*_words`` keep the first that many tokens of a split (the earliest books). ``cache_dir``
    (None: no cache) keeps the tokenized verses, keyed by the text's hash.
    """
    verses = _cached_verses(bible_text(bible), None if cache_dir is None else Path(cache_dir))
    sentences: dict[str, list[list[str]]] = {s: [] for s in SPLITS}
    for chapter, _, tokens in verses:
        sentences[split_of_chapter(chapter)].append(tokens)
    limits = {"train": train_words, "valid": valid_words, "test": test_words}
    vocab = "all words" if vocab_size is None else f"{vocab_size:,}-word vocabulary"
    return make_corpus(
        "kjv",
        sentences,
        vocab_size=vocab_size,
        words=limits,
        description=f"the King James Bible (Debian bible-kjv, split by chapter 90/5/5; {vocab})",
    )


def ptb_corpus(
    data_dir: str | Path | None,
    *,
    vocab_size: int | None = None,
    train_words: int | None = None,
    valid_words: int | None = None,
    test_words: int | None = None,
) -> Corpus:
    """Mikolov's Penn Treebank (929k / 73k / 82k words, 10,000-word vocabulary with ``<unk>``) from
    ``data_dir``/ptb.{train,valid,test}.txt (one sentence per line, words separated by spaces).

    ``vocab_size`` None keeps all 10,000 words (the files' own vocabulary); ``*_words`` as in
    :func:`kjv_corpus`. Raises :class:`CorpusMissing` naming the files when one is absent.
    """
    folder = Path(data_dir) if data_dir is not None else None
    paths = {s: folder / f for s, f in PTB_FILES.items()} if folder is not None else {}
    missing = [f for s, f in PTB_FILES.items() if folder is None or not paths[s].is_file()]
    if missing:
        raise CorpusMissing(
            "Penn Treebank (PTB)",
            [str(folder) if folder is not None else "(no data_dir given)"],
            f"Files expected in data_dir: {', '.join(PTB_FILES.values())} (Mikolov's simple-examples/data; "
            f"missing: {', '.join(missing)}). Pass data_dir=<folder> (the notebook parameter data_dir).",
            "PTB is needed by the paper profile of the nr_lstm notebook",
        )
    sentences = {s: [line.split() for line in p.read_text().splitlines() if line.strip()] for s, p in paths.items()}
    limits = {"train": train_words, "valid": valid_words, "test": test_words}
    return make_corpus("ptb", sentences, vocab_size=vocab_size, words=limits, description="Penn Treebank")


# ---------------------------------------------------------------------------------------------
# batching for truncated backpropagation through time


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a stream ``(N,)`` into ``batch_size`` contiguous columns: ``(N // batch_size, batch_size)``,
    time first; column ``j`` is ``ids[j * L : (j + 1) * L]``. The last ``N % batch_size`` ids are dropped."""
    check_positive_int("batch_size", batch_size)
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-d stream, got shape {tuple(ids.shape)}")
    length = len(ids) // batch_size
    if length < 2:
        raise ValueError(f"{len(ids)} tokens are too few for {batch_size} columns of at least 2 tokens")
    return ids[: length * batch_size].view(batch_size, length).t().contiguous()


def bptt_count(data: torch.Tensor, bptt: int) -> int:
    """Number of chunks :func:`bptt_batches` yields for ``data`` ``(L, B)``."""
    check_positive_int("bptt", bptt)
    return math.ceil((len(data) - 1) / bptt)


def bptt_batches(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` chunks of a batchified stream ``(L, B)``: ``x = data[i : i + bptt]``, ``y`` the
    same shifted by one step, for ``i = 0, bptt, 2 bptt, ...``; the last chunk may be shorter.
    Every target ``data[1:]`` appears exactly once."""
    for i in range(0, bptt_count(data, bptt) * bptt, bptt):
        n = min(bptt, len(data) - 1 - i)
        yield data[i : i + n], data[i + 1 : i + 1 + n]


# ---------------------------------------------------------------------------------------------
# evaluation: perplexity with its standard error, and a bigram reference


def _chunks(model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device | str):
    """``(logits, targets)`` of each ``bptt`` chunk of ``data`` ``(L, B)`` under ``torch.no_grad``, the
    recurrent state carried from chunk to chunk, the model in eval mode (restored after)."""
    was = model.training
    model.eval()
    state = None
    try:
        with torch.no_grad():
            for x, y in bptt_batches(data.to(device), bptt):
                logits, state = model(x, state)
                yield logits.reshape(-1, logits.shape[-1]), y
    finally:
        model.train(was)


def nll(model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device | str = "cpu") -> tuple[float, int]:
    """(summed negative log-likelihood in nats, number of targets) of a batchified stream ``(L, B)``,
    the state carried from chunk to chunk (:func:`bptt_batches`), dropout off."""
    total, count = 0.0, 0
    for logits, y in _chunks(model, data, bptt, device):
        total += float(nn.functional.cross_entropy(logits, y.reshape(-1), reduction="sum").double())
        count += y.numel()
    return total, count


def perplexity(model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device | str = "cpu") -> float:
    """``exp(mean NLL per target token)`` of a batchified stream ``(L, B)`` (:func:`nll`)."""
    total, count = nll(model, data, bptt, device)
    return math.exp(total / count)


def nll_blocks(
    model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """(summed NLL in nats, number of targets) of every block of a batchified stream ``(L, B)``: a block
    is one column of one ``bptt`` chunk (consecutive tokens), the state carried as in :func:`nll`."""
    sums, counts = [], []
    for logits, y in _chunks(model, data, bptt, device):
        loss = nn.functional.cross_entropy(logits, y.reshape(-1), reduction="none")
        sums.append(loss.view_as(y).double().sum(0).cpu().numpy())
        counts.append(np.full(y.shape[1], y.shape[0]))
    return np.concatenate(sums), np.concatenate(counts)


def perplexity_se(
    model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device | str = "cpu"
) -> tuple[float, float]:
    """(perplexity, standard error of the mean NLL per token in nats) of a batchified stream ``(L, B)``.

    The error treats the blocks of :func:`nll_blocks` (runs of ``bptt`` consecutive tokens) as the
    independent units (a ratio estimator), since neighbouring tokens are not independent; it is also
    the standard error of the log-perplexity. Infinity with fewer than 2 blocks."""
    sums, counts = nll_blocks(model, data, bptt, device)
    n = counts.sum()
    mean = sums.sum() / n
    k = len(sums)
    se = math.sqrt(k / (k - 1) * float(((sums - mean * counts) ** 2).sum())) / n if k > 1 else math.inf
    return math.exp(mean), se


def bigram_perplexity(corpus: Corpus, split: str = "test") -> tuple[float, float]:
    """(perplexity of ``split``, lambda) of an interpolated bigram of the training split:
    ``p(w | v) = lambda c(v, w) / c(v) + (1 - lambda) p1(w)``, ``p1`` the add-one unigram (``p1`` alone
    after a word never seen as a predecessor); lambda in 0, 0.05, ..., 0.95 minimizes the validation
    perplexity. Every consecutive pair of the split is scored."""
    vocab = len(corpus)
    train = corpus.train.numpy().astype(np.int64)
    unigram = (np.bincount(train, minlength=vocab) + 1) / (len(train) + vocab)
    pairs, counts = np.unique(train[:-1] * vocab + train[1:], return_counts=True)
    before = np.bincount(train[:-1], minlength=vocab)

    def score(ids: np.ndarray, lam: float) -> float:
        v, w = ids[:-1], ids[1:]
        keys = v * vocab + w
        at = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
        seen_pair = np.where(pairs[at] == keys, counts[at], 0)
        seen = before[v] > 0
        cond = np.divide(seen_pair, before[v], out=np.zeros(len(keys)), where=seen)
        p = np.where(seen, lam * cond + (1 - lam) * unigram[w], unigram[w])
        return math.exp(-float(np.log(p).mean()))

    valid = corpus.valid.numpy().astype(np.int64)
    lam = min((i / 20 for i in range(20)), key=lambda x: score(valid, x))
    return score(corpus.split(split).numpy().astype(np.int64), lam), lam
