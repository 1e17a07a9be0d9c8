"""The experiment contract of the book's chapters: ``Config`` -> ``run(cfg)`` -> ``ChapterResult`` ->
``claims(result, cfg)``.

- A chapter's **Config** is a dataclass deriving from :class:`Config`: its fields are the notebook's
  parameters, listed once, with the smoke values as defaults. :meth:`Config.for_profile` applies a
  profile of ``notebooks/profiles.yml`` and any overrides by field name; an unknown name is a
  :class:`ConfigError` that names the chapter, the profile and the fields that exist.
- ``run(cfg) -> ChapterResult``: named tables, figure data, the baselines (``freqlib.claims.Baseline``)
  and timings.
- ``claims(result, cfg) -> list[freqlib.claims.Claim]``: the chapter's verdicts, unit-tested.

:data:`PROFILES` is the one list of profiles (the book, the CLI and the experiments read it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The book's profiles, from quickest to the papers' scale (see notebooks/profiles.yml).
PROFILES = ("smoke", "cpu", "reference", "paper")
#: Where the profiles of the repository's notebooks live.
PROFILES_FILE = Path(__file__).resolve().parent.parent / "notebooks" / "profiles.yml"


class ConfigError(ValueError):
    """A profile or override names a field the chapter's Config does not have, or a bad profile."""


@dataclass(frozen=True)
class Config:
    """Base of every chapter's parameters (subclass it as a frozen dataclass; ``chapter`` names the
    entry of ``notebooks/profiles.yml``)."""

    profile: str = "smoke"

    #: the notebook's name in notebooks/profiles.yml (a class attribute of each subclass).
    chapter = ""

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ConfigError(f"{self._where()}: profile must be one of {PROFILES}, got {self.profile!r}")

    @classmethod
    def field_names(cls) -> list[str]:
        """The parameters of this chapter, in order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def profile_values(cls, profile: str, profiles: Mapping | None = None) -> dict[str, Any]:
        """What ``profile`` sets for this chapter in ``profiles`` (default: ``notebooks/profiles.yml``)."""
        if profile not in PROFILES:
            raise ConfigError(f"{cls._where()}: profile must be one of {PROFILES}, got {profile!r}")
        if profiles is None:
            import yaml  # only when the repository's file is read

            profiles = yaml.safe_load(PROFILES_FILE.read_text())
        chapters = profiles.get("notebooks", {})
        if cls.chapter not in chapters:
            raise ConfigError(f"{cls._where()}: no entry {cls.chapter!r} in the profiles")
        entry = chapters[cls.chapter] or {}
        if profile != "smoke" and profile not in entry:  # smoke: the defaults
            raise ConfigError(f"{cls._where()}: the profiles give no {profile!r} entry for {cls.chapter!r}")
        return dict(entry.get(profile) or {})

    @classmethod
    def for_profile(cls, profile: str, overrides: Mapping | None = None, profiles: Mapping | None = None):
        """The Config of ``profile`` (its values over the defaults), then ``overrides`` by field name."""
        values = {**cls.profile_values(profile, profiles), **dict(overrides or {})}
        return cls(**cls._checked(values, f"profile {profile!r}"), profile=profile)

    def replace(self, **changes):
        """A copy with ``changes`` (field names checked)."""
        return dataclasses.replace(self, **self._checked(changes, "replace()"))

    def device(self, device=None):
        """The torch device a run trains on: ``device`` if given, else CUDA when present, except at the
        smoke profile (CPU, so committed outputs do not depend on the machine)."""
        import torch

        if device is not None:
            return torch.device(device)
        return torch.device("cuda" if torch.cuda.is_available() and self.profile != "smoke" else "cpu")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a dict (what a record stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def _checked(cls, values: Mapping, what: str) -> dict:
        names = cls.field_names()
        unknown = [k for k in values if k not in names]
        if unknown:
            raise ConfigError(
                f"{cls._where()}: {what} sets unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"the parameters are: {', '.join(names)}"
            )
        return {k: v for k, v in values.items() if k != "profile"}

    @classmethod
    def _where(cls) -> str:
        return f"{cls.__name__} ({cls.chapter or 'no chapter'})"


@dataclass
class ChapterResult:
    """What a chapter's ``run(cfg)`` returns.

    ``tables``: named DataFrames (what the notebook shows and a record stores); ``figures``: the data
    behind each figure, by name; ``baselines``: the :class:`freqlib.claims.Baseline` of each dense or
    reference model, against its convergence target; ``timings``: seconds by phase; ``objects``:
    anything else the notebook needs in memory (trained models, histories), never serialized.
    """

    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    baselines: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)

    def table(self, name: str):
        """The table ``name``; KeyError naming the tables that exist."""
        if name not in self.tables:
            raise KeyError(f"no table {name!r}; the result has: {', '.join(self.tables) or 'none'}")
        return self.tables[name]
