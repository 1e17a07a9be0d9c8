"""Word-level LSTM language model of Zaremba et al. (2014), as used by the NR-period paper (Table 4).

Embedding -> a stack of LSTM layers -> linear softmax over the vocabulary, with dropout on the
non-recurrent connections (the embedding output, between layers, before the softmax) and every
parameter initialized uniformly in ``[-init_scale, init_scale]``. The sizes of Zaremba et al.:
small (200 units, no dropout), medium (650, dropout 0.5), large (1500, dropout 0.65); with PTB's
10,000 words the medium and large models have the paper's 19.8M and 66M parameters (Table 4).
"""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class WordLSTM(nn.Module):
    """``forward(x (T, B) int64 ids, state) -> (logits (T, B, vocab), state)``; ``state`` is
    ``(h, c)``, each ``(layers, B, hidden)`` (zeros when None). The embedding width is ``hidden``."""

    def __init__(self, vocab: int, hidden: int, layers: int = 2, dropout: float = 0.0, init_scale: float = 0.1):
        super().__init__()
        for name, value in (("vocab", vocab), ("hidden", hidden), ("layers", layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"WordLSTM: {name} must be a positive int, got {value!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"WordLSTM: dropout must be in [0, 1), got {dropout!r}")
        if not init_scale > 0:
            raise ValueError(f"WordLSTM: init_scale must be positive, got {init_scale!r}")
        self.vocab, self.hidden, self.layers = vocab, hidden, layers
        self.embedding = nn.Embedding(vocab, hidden)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(hidden, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocab)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-init_scale, init_scale)

    def init_state(self, batch: int, device: torch.device | str | None = None) -> State:
        """Zero ``(h, c)``, each ``(layers, batch, hidden)``."""
        device = device if device is not None else self.decoder.weight.device
        zeros = torch.zeros(self.layers, batch, self.hidden, device=device)
        return zeros, zeros.clone()

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if x.dim() != 2:
            raise ValueError(f"WordLSTM: x must be (T, B) token ids, got shape {tuple(x.shape)}")
        out, state = self.lstm(self.drop(self.embedding(x)), state)
        return self.decoder(self.drop(out)), state


def lstm_small(vocab: int = 10_000) -> WordLSTM:
    """Zaremba et al.'s small model: 2 x 200 units, no dropout, init 0.1."""
    return WordLSTM(vocab, 200, 2, dropout=0.0, init_scale=0.1)


def lstm_medium(vocab: int = 10_000) -> WordLSTM:
    """Zaremba et al.'s medium model: 2 x 650 units, dropout 0.5, init 0.05 (19.8M parameters at 10k words)."""
    return WordLSTM(vocab, 650, 2, dropout=0.5, init_scale=0.05)


def lstm_large(vocab: int = 10_000) -> WordLSTM:
    """Zaremba et al.'s large model: 2 x 1500 units, dropout 0.65, init 0.04 (66M parameters at 10k words)."""
    return WordLSTM(vocab, 1500, 2, dropout=0.65, init_scale=0.04)
