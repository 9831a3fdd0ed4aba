"""Datasets: one offline loader (:func:`load_dataset`) and the Morse code family. numpy only."""

from neurofabric.data.datasets import (
    DatasetInfo,
    available_datasets,
    dataset_names,
    default_cache_dir,
    load_dataset,
)
from neurofabric.data.morse import (
    KEYS,
    MORSE_CODEBOOK,
    MORSE_PRESETS,
    PRESET_NOTES,
    MorseSpec,
    as_labels,
    default_filename,
    generate_morse,
    load_morse,
    load_morse_spec,
    morse_codebook,
    morse_preset,
    save_morse,
)
from neurofabric.data.morse_metrics import (
    DifficultyMetrics,
    class_statistics,
    dataset_metrics,
    difficulty_metrics,
)
from neurofabric.data.splits import DatasetSplits

__all__ = [
    "KEYS",
    "MORSE_CODEBOOK",
    "MORSE_PRESETS",
    "PRESET_NOTES",
    "DatasetInfo",
    "DatasetSplits",
    "DifficultyMetrics",
    "MorseSpec",
    "as_labels",
    "available_datasets",
    "class_statistics",
    "dataset_metrics",
    "dataset_names",
    "default_cache_dir",
    "default_filename",
    "difficulty_metrics",
    "generate_morse",
    "load_dataset",
    "load_morse",
    "load_morse_spec",
    "morse_codebook",
    "morse_preset",
    "save_morse",
]
