"""The Morse codebook, its class order, the generator's knobs and the named presets (SPEC §8).

**Class order** (stable, documented; the original came from Python 2 dict order and cannot be
recovered): by code length, then by the code read as a binary number (``.`` = 0, ``-`` = 1), with
``(`` before ``H^`` where the two share ``-.--.``. Index ``i`` of the labels is
``MORSE_CODEBOOK[i]``:

====== =====================================================================================
idx    symbols (name ``code``)
====== =====================================================================================
0–1    E ``.`` T ``-``
2–5    I A N M
6–13   S U R W D K G O
14–29  H V F U.. (Ü) L A.. (Ä) P J B X C Y Z Q O.. (Ö) CH
30–51  5 4 S^ (Ŝ) 3 E` (É) D- (Ð) 2 + J^ (Ĵ) 1 6 = / C, (Ç) ( H^ (Ĥ) 7 G^ (Ĝ) N~ (Ñ) 8 9 0
52–63  ? _ " . @ ' - ; ! ) , :
====== =====================================================================================

**Duplicate code.** ``(`` and ``H^`` share ``-.--.`` in the original codebook, so they are
indistinguishable and accuracy is capped at 63/64 on balanced data (the true Ĥ, ``----``, would
collide with CH, so there is no clean fix). ``codebook="faithful"`` (default: reproduces the
published datasets) keeps both; ``codebook="dedup"`` drops ``H^`` (63 classes, the others keep
their relative order).

Example:
    >>> spec = morse_preset("difficult")
    >>> spec.noise_sd, spec.leading_space, spec.lengths("dash"), spec.input_features
    (4.0, True, (3, 9), 64)
    >>> default_filename(spec)
    'morseGRAY448000_64i64o_noisesd4_lsp1_dash39.npz'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Style = Literal["GRAY", "BW"]
RoundMode = Literal["decimals", "integer_levels"]
Codebook = Literal["faithful", "dedup"]

STYLES = ("GRAY", "BW")
ROUND_MODES = ("decimals", "integer_levels")
CODEBOOKS = ("faithful", "dedup")
SPLITS = ("tr", "va", "te")  # file keys x{split}, y{split}: train, validation, test

# (name, code) in class order; see the module docstring.
MORSE_CODEBOOK: tuple[tuple[str, str], ...] = (
    ("E", "."), ("T", "-"),
    ("I", ".."), ("A", ".-"), ("N", "-."), ("M", "--"),
    ("S", "..."), ("U", "..-"), ("R", ".-."), ("W", ".--"),
    ("D", "-.."), ("K", "-.-"), ("G", "--."), ("O", "---"),
    ("H", "...."), ("V", "...-"), ("F", "..-."), ("U..", "..--"),
    ("L", ".-.."), ("A..", ".-.-"), ("P", ".--."), ("J", ".---"),
    ("B", "-..."), ("X", "-..-"), ("C", "-.-."), ("Y", "-.--"),
    ("Z", "--.."), ("Q", "--.-"), ("O..", "---."), ("CH", "----"),
    ("5", "....."), ("4", "....-"), ("S^", "...-."), ("3", "...--"),
    ("E`", "..-.."), ("D-", "..--."), ("2", "..---"), ("+", ".-.-."),
    ("J^", ".---."), ("1", ".----"), ("6", "-...."), ("=", "-...-"),
    ("/", "-..-."), ("C,", "-.-.."), ("(", "-.--."), ("H^", "-.--."),
    ("7", "--..."), ("G^", "--.-."), ("N~", "--.--"), ("8", "---.."),
    ("9", "----."), ("0", "-----"),
    ("?", "..--.."), ("_", "..--.-"), ('"', ".-..-."), (".", ".-.-.-"),
    ("@", ".--.-."), ("'", ".----."), ("-", "-....-"), (";", "-.-.-."),
    ("!", "-.-.--"), (")", "-.--.-"), (",", "--..--"), (":", "---..."),
)  # fmt: skip


def morse_codebook(codebook: Codebook = "faithful") -> tuple[tuple[str, str], ...]:
    """The ``(name, code)`` pairs in class order: all 64, or 63 without ``H^`` for ``"dedup"``.

    Example:
        >>> len(morse_codebook()), len(morse_codebook("dedup")), morse_codebook()[44]
        (64, 63, ('(', '-.--.'))
    """
    _choice("codebook", codebook, CODEBOOKS)
    if codebook == "dedup":
        return tuple(entry for entry in MORSE_CODEBOOK if entry[0] != "H^")
    return MORSE_CODEBOOK


@dataclass(frozen=True)
class MorseSpec:
    """Every knob of the Morse generator (SPEC §8.2). Defaults are the ``baseline`` preset.

    Lengths are in time steps before dilation; ``dilation`` multiplies the frame and every
    minimum and maximum length. GRAY-only knobs are ignored by BW frames, except that noise
    knobs of the other style are refused (``noise_sd`` with BW, ``max_flip`` with GRAY).

    Raises:
        ValueError: If a choice is unknown, a range has ``min > max``, an sd is negative or not
            finite, a length or count is not an integer of the allowed range, or the longest
            codeword at the maximum lengths does not fit ``frame_len × dilation`` (the message
            names the codeword and gives the numbers).

    Example:
        >>> spec = MorseSpec(dilation=4)
        >>> spec.lengths("dash"), spec.input_features, spec.num_classes, spec.total_samples
        ((16, 36), 256, 64, 448000)
        >>> MorseSpec(frame_len=56)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: codeword '-----' (class 51, '0') needs up to 57 time steps ... = 56
    """

    style: Style = "GRAY"  # GRAY: Gaussian grey marks, additive noise; BW: 0/1 with bit flips
    frame_len: int = 64  # time steps per frame before dilation
    dot_min: int = 1  # dot length, inclusive uniform range
    dot_max: int = 3
    dash_min: int = 4  # dash length; dash_min <= dot_max makes dashes look like dots
    dash_max: int = 9
    space_min: int = 1  # space between two marks of one symbol (none after the last)
    space_max: int = 3
    leading_space: bool = False  # uniform 0…(frame − codeword) zeros before the codeword
    dilation: int = 1  # multiplies frame_len and every length range
    symbol_mean: float = 12.0  # GRAY: mean level of every time step inside a mark
    symbol_sd: float = 1.34  # GRAY: its sd (one independent draw per time step)
    noise_mean: float = 0.0  # GRAY: mean of the i.i.d. noise added to the whole frame
    noise_sd: float = 0.0  # GRAY: sd of that noise
    levels: int = 16  # GRAY: clip to [0, levels], then divide by levels
    round_mode: RoundMode = "decimals"  # round to `decimals` after scaling, or integer levels
    decimals: int = 3  # GRAY with round_mode "decimals"
    max_flip: int = 0  # BW: flip a uniform 0…max_flip distinct positions per frame
    per_class: tuple[int, int, int] = (5000, 1000, 1000)  # train, validation, test per class
    codebook: Codebook = "faithful"  # keep the duplicate '(' / 'H^' code, or drop H^

    def __post_init__(self) -> None:
        _choice("style", self.style, STYLES)
        _choice("round_mode", self.round_mode, ROUND_MODES)
        _choice("codebook", self.codebook, CODEBOOKS)
        for name in ("frame_len", "dilation", "levels", "dot_min", "dash_min"):
            _integer(name, getattr(self, name), minimum=1)
        for name in ("space_min", "decimals", "max_flip"):
            _integer(name, getattr(self, name), minimum=0)
        for kind in ("dot", "dash", "space"):
            low, high = getattr(self, f"{kind}_min"), getattr(self, f"{kind}_max")
            _integer(f"{kind}_max", high, minimum=0)
            if low > high:
                raise ValueError(f"{kind}_min = {low} must not exceed {kind}_max = {high}")
        for name in ("symbol_mean", "symbol_sd", "noise_mean", "noise_sd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        for name in ("symbol_sd", "noise_sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if not isinstance(self.leading_space, bool | np.bool_):
            raise ValueError(f"leading_space must be True or False, got {self.leading_space!r}")
        try:
            per_class = tuple(self.per_class)
        except TypeError:
            raise ValueError(f"per_class must be 3 counts, got {self.per_class!r}") from None
        if len(per_class) != 3:
            raise ValueError(f"per_class needs 3 counts (train, val, test), got {per_class}")
        for name, count in zip(("train", "val", "test"), per_class, strict=True):
            _integer(f"per_class {name} count", count, minimum=0)
        if sum(per_class) == 0:
            raise ValueError("per_class = (0, 0, 0) asks for no samples at all")
        # Plain Python values, so specs compare, hash and serialise the same however built.
        object.__setattr__(self, "per_class", tuple(int(c) for c in per_class))
        object.__setattr__(self, "leading_space", bool(self.leading_space))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.integer):
                object.__setattr__(self, field.name, int(value))
            elif field.name in ("symbol_mean", "symbol_sd", "noise_mean", "noise_sd"):
                object.__setattr__(self, field.name, float(value))
        if self.style == "BW" and (self.noise_sd != 0 or self.noise_mean != 0):
            raise ValueError(
                f"noise_sd = {self.noise_sd} and noise_mean = {self.noise_mean} apply to style "
                "GRAY; BW noise is max_flip"
            )
        if self.style == "GRAY" and self.max_flip != 0:
            raise ValueError(f"max_flip = {self.max_flip} applies to style BW only")
        if self.max_flip > self.input_features:
            raise ValueError(
                f"max_flip = {self.max_flip} exceeds the {self.input_features} positions of a frame"
            )
        self._check_fits()

    # ---------------------------------------------------------------- derived sizes
    @property
    def input_features(self) -> int:
        """Values per frame: ``frame_len × dilation`` (the network's input width)."""
        return self.frame_len * self.dilation

    @property
    def codes(self) -> tuple[str, ...]:
        """The codewords in class order."""
        return tuple(code for _, code in morse_codebook(self.codebook))

    @property
    def names(self) -> tuple[str, ...]:
        """The symbol names in class order."""
        return tuple(name for name, _ in morse_codebook(self.codebook))

    @property
    def num_classes(self) -> int:
        """64 for the faithful codebook, 63 deduplicated."""
        return len(self.codes)

    @property
    def total_samples(self) -> int:
        """All samples of all splits: ``sum(per_class) × num_classes``."""
        return sum(self.per_class) * self.num_classes

    def lengths(self, kind: Literal["dot", "dash", "space"]) -> tuple[int, int]:
        """Inclusive ``(min, max)`` length of a dot, dash or space after dilation."""
        low, high = getattr(self, f"{kind}_min"), getattr(self, f"{kind}_max")
        return low * self.dilation, high * self.dilation

    def _check_fits(self) -> None:
        """The longest codeword at the maximum lengths must fit the frame (SPEC §8.2)."""
        dot, dash, space = self.lengths("dot")[1], self.lengths("dash")[1], self.lengths("space")[1]
        needs = [
            code.count("-") * dash + code.count(".") * dot + (len(code) - 1) * space
            for code in self.codes
        ]
        index = int(np.argmax(needs))
        if needs[index] > self.input_features:
            name, code = morse_codebook(self.codebook)[index]
            dashes, dots = code.count("-"), code.count(".")
            raise ValueError(
                f"codeword {code!r} (class {index}, {name!r}) needs up to {needs[index]} time "
                f"steps ({dashes} dashes × {dash} + {dots} dots × {dot} + {len(code) - 1} spaces "
                f"× {space}) but the frame has frame_len × dilation = "
                f"{self.frame_len} × {self.dilation} = {self.input_features}"
            )

    # ---------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready knobs (``per_class`` as a list)."""
        values = dataclasses.asdict(self)
        values["per_class"] = list(self.per_class)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MorseSpec:
        """Rebuild a spec from :meth:`to_dict` output.

        Raises:
            ValueError: On unknown keys (listing the valid ones) or invalid values.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown MorseSpec field(s) {unknown}; valid: {sorted(known)}")
        values = dict(values)
        if "per_class" in values:
            values["per_class"] = tuple(values["per_class"])
        return cls(**values)


def _choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")


def _integer(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


# -------------------------------------------------------------------- presets
def _sized(train: int) -> tuple[int, int, int]:
    return (train, train // 5, train // 5)


# name -> (spec, what it changes). Each family steps one difficulty knob of the slides.
_PRESETS: dict[str, tuple[MorseSpec, str]] = {
    "baseline": (MorseSpec(), "all defaults: no noise, no leading spaces, dashes 4-9"),
    "difficult": (
        MorseSpec(noise_sd=4.0, leading_space=True, dash_min=3),
        "noise_sd 4, leading spaces, dash_min 3 (dashes can look like dots)",
    ),
    "legacy": (
        MorseSpec(round_mode="integer_levels", noise_sd=1.0),
        "older release: integer levels before clipping (multiples of 1/16), noise_sd 1",
    ),
    **{
        f"noise-{sd}": (MorseSpec(noise_sd=float(sd)), f"baseline with noise_sd {sd}")
        for sd in (1, 2, 3, 4)
    },
    "leading-space": (
        MorseSpec(leading_space=True),
        "baseline with a uniform number of leading spaces (codeword position varies)",
    ),
    **{
        f"dash-overlap-{k}": (
            MorseSpec(dash_min=4 - k),
            f"baseline with dash_min {4 - k}: {k} dash length(s) shared with dots",
        )
        for k in (1, 2)
    },
    **{
        f"dilation-{d}": (
            MorseSpec(dilation=d),
            f"baseline stretched ×{d}: frame {64 * d}, every length range ×{d}",
        )
        for d in (2, 4)
    },
    **{
        f"size-{train}": (
            MorseSpec(per_class=_sized(train)),
            f"baseline with {train}/{train // 5}/{train // 5} train/val/test samples per class",
        )
        for train in (1000, 2500, 10000)
    },
    "bw": (MorseSpec(style="BW"), "black and white: marks 1, spaces 0, no bit flips"),
    "bw-flip-2": (MorseSpec(style="BW", max_flip=2), "black and white, up to 2 bit flips"),
}

MORSE_PRESETS: dict[str, MorseSpec] = {name: spec for name, (spec, _) in _PRESETS.items()}
PRESET_NOTES: dict[str, str] = {name: note for name, (_, note) in _PRESETS.items()}


def morse_preset(name: str) -> MorseSpec:
    """The spec of a named preset (see :data:`PRESET_NOTES` for what each one changes).

    Raises:
        ValueError: For an unknown name, listing the valid ones.

    Example:
        >>> morse_preset("difficult").noise_sd
        4.0
    """
    try:
        return MORSE_PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown Morse preset {name!r}; valid: {', '.join(MORSE_PRESETS)}"
        ) from None


def default_filename(spec: MorseSpec) -> str:
    """File name encoding the knobs (SPEC §8.3), plus a suffix for each other non-default knob.

    ``morseGRAY{total}_{inputs}i{classes}o_noisesd{σ}_lsp{0|1}_dash{min}{max}.npz`` or
    ``morseBW{total}_{inputs}i{classes}o_noise{max_flip}_lsp{0|1}.npz``; ``inputs`` is
    ``frame_len × dilation``. Lengths are before dilation; ranges with a two-digit bound are
    written ``{min}-{max}``.

    Example:
        >>> default_filename(MorseSpec(style="BW", max_flip=2, dilation=4, per_class=(10, 0, 0)))
        'morseBW640_256i64o_noise2_lsp0_dil4.npz'
    """
    base = MorseSpec()
    lsp = int(spec.leading_space)
    size = f"{spec.total_samples}_{spec.input_features}i{spec.num_classes}o"
    if spec.style == "GRAY":
        parts = [f"morseGRAY{size}", f"noisesd{spec.noise_sd:g}", f"lsp{lsp}"]
        parts.append("dash" + _range(spec.dash_min, spec.dash_max))
    else:
        parts = [f"morseBW{size}", f"noise{spec.max_flip}", f"lsp{lsp}"]
        if (spec.dash_min, spec.dash_max) != (base.dash_min, base.dash_max):
            parts.append("dash" + _range(spec.dash_min, spec.dash_max))
    for kind, tag in (("dot", "dot"), ("space", "sp")):
        low, high = getattr(spec, f"{kind}_min"), getattr(spec, f"{kind}_max")
        if (low, high) != (getattr(base, f"{kind}_min"), getattr(base, f"{kind}_max")):
            parts.append(tag + _range(low, high))
    if spec.dilation != 1:
        parts.append(f"dil{spec.dilation}")
    if spec.style == "GRAY":
        if spec.noise_mean != 0:
            parts.append(f"noisemean{spec.noise_mean:g}")
        if (spec.symbol_mean, spec.symbol_sd) != (base.symbol_mean, base.symbol_sd):
            parts.append(f"symb{spec.symbol_mean:g}sd{spec.symbol_sd:g}")
        if spec.levels != base.levels:
            parts.append(f"lev{spec.levels}")
        if spec.round_mode == "integer_levels":
            parts.append("intlev")
        elif spec.decimals != base.decimals:
            parts.append(f"dec{spec.decimals}")
    return "_".join(parts) + ".npz"


def _range(low: int, high: int) -> str:
    return f"{low}{high}" if max(low, high) < 10 else f"{low}-{high}"
