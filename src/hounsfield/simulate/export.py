"""Paired datasets for learning: a degraded scan and its clean CT per case.

The folder follows the Medical Segmentation Decathlon layout that nnU-Net
and MONAI read::

    DIR/imagesTr/CASE_0000.nii.gz   input: the simulated reconstruction (HU, channel 0)
    DIR/labelsTr/CASE.nii.gz        target: the CT that was scanned (HU), same grid
    DIR/dataset.json                channels, file ending, numTraining and the
                                    "training" list of {"image", "label"} pairs
                                    (MONAI's load_decathlon_datalist resolves both)
    DIR/manifest.json               per case: source, settings (seed included)
                                    and the sha256 of every file written

Case ``i`` (0-based, in the order given) is simulated with seed
``settings.seed + i``: the cases differ, and the whole dataset is
reproducible from the manifest. Every file is written atomically; an HDF5
variant is not offered (h5py is not a dependency).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from .. import __version__
from ..io import write
from ..io.paths import atomic_write_text
from ..volume import Volume
from .nict import ScanSettings, SimulatedScan, simulate_scan

__all__ = ["export_dataset", "write_pair", "write_dataset_json", "write_manifest",
           "case_settings", "check_case_id", "sha256_of", "IMAGES_DIR", "TARGETS_DIR"]

IMAGES_DIR = "imagesTr"
TARGETS_DIR = "labelsTr"
FILE_ENDING = ".nii.gz"
_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_case_id(case_id: str) -> str:
    """A case identifier usable in file names: letters, digits, '.', '_' and '-'.

    >>> check_case_id("chest_001")
    'chest_001'
    """
    if not isinstance(case_id, str) or not _CASE_ID.fullmatch(case_id):
        raise ValueError(f"case_id must start with a letter or digit and hold only letters, "
                         f"digits, '.', '_' and '-', got {case_id!r}")
    return case_id


def case_settings(settings: ScanSettings, index: int) -> ScanSettings:
    """The settings of case ``index``: seed ``settings.seed + index``.

    >>> case_settings(ScanSettings(seed=10), 2).seed
    12
    """
    return settings.replace(seed=settings.seed + index)


def sha256_of(path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_pair(scan: SimulatedScan, case_id: str, output_dir) -> dict:
    """Write one case's input and target; return its manifest entry (without source).

    Returns
    -------
    dict
        ``case``, ``image`` and ``label`` (paths relative to ``output_dir``),
        ``seed``, ``settings`` (as :meth:`ScanSettings.to_dict`) and
        ``sha256`` (relative path → hex digest).
    """
    output_dir = Path(output_dir)
    files = {"image": f"{IMAGES_DIR}/{check_case_id(case_id)}_0000{FILE_ENDING}",
             "label": f"{TARGETS_DIR}/{case_id}{FILE_ENDING}"}
    write(scan.degraded, output_dir / files["image"])
    write(scan.reference, output_dir / files["label"])
    checksums = {relative: sha256_of(output_dir / relative) for relative in files.values()}
    return {"case": case_id, **files, "seed": scan.settings.seed,
            "settings": scan.settings.to_dict(), "sha256": checksums}


def write_dataset_json(output_dir, entries: list[dict], settings: ScanSettings) -> Path:
    """Write ``dataset.json`` (Decathlon/nnU-Net fields, MONAI's "training" list)."""
    description = (f"simulated scans ({settings.summary()}) as input, the scanned CT as "
                   f"target; both in HU on the CT's grid")
    dataset = {
        "name": "hounsfield simulate",
        "description": description,
        "reference": f"hounsfield {__version__}",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "channel_names": {"0": "CT"},
        "file_ending": FILE_ENDING,
        "numTraining": len(entries),
        "training": [{"image": f"./{entry['image']}", "label": f"./{entry['label']}"}
                     for entry in entries],
    }
    path = Path(output_dir) / "dataset.json"
    atomic_write_text(path, json.dumps(dataset, indent=1))
    return path


def write_manifest(output_dir, entries: list[dict]) -> Path:
    """Write ``manifest.json``: every case with its source, settings, seed and checksums."""
    manifest = {"hounsfield_version": __version__, "cases": entries}
    path = Path(output_dir) / "manifest.json"
    atomic_write_text(path, json.dumps(manifest, indent=1))
    return path


def export_dataset(cases: Iterable[tuple[str, Volume]], output_dir, settings: ScanSettings, *,
                   on_case: Callable[[dict, SimulatedScan], None] | None = None) -> list[dict]:
    """Simulate every case and write the paired dataset (see the module docstring).

    Parameters
    ----------
    cases : iterable of (case_id, Volume)
        CTs in HU; a generator may read them one at a time. A CT's
        ``meta["source"]``, when present, is recorded as the case's source.
    output_dir : path
        The dataset folder (created if needed).
    settings : ScanSettings
        Settings of case 0; case ``i`` uses seed ``settings.seed + i``.
    on_case : callable, optional
        Called with each case's manifest entry and scan, as soon as the case
        is written (progress, summaries).

    Returns
    -------
    list of dict
        The manifest entries, as written to ``manifest.json``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> ct = Volume(np.full((2, 24, 24), -1000.0, np.float32), spacing_mm=(5.0, 4.0, 4.0))
    >>> ct.array[:, 6:18, 6:18] = 40.0
    >>> with tempfile.TemporaryDirectory() as name:
    ...     folder = Path(name)
    ...     entries = export_dataset([("case_a", ct)], folder, ScanSettings(n_views=30))
    ...     sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*"))
    ['dataset.json', 'imagesTr/case_a_0000.nii.gz', 'labelsTr/case_a.nii.gz', 'manifest.json']
    """
    if not isinstance(settings, ScanSettings):
        raise TypeError(f"settings must be ScanSettings, got {type(settings).__name__}")
    output_dir = Path(output_dir)
    entries: list[dict] = []
    seen: set[str] = set()
    for index, (case_id, ct) in enumerate(cases):
        if check_case_id(case_id) in seen:
            raise ValueError(f"case_id {case_id!r} appears twice; case ids must be unique")
        seen.add(case_id)
        scan = simulate_scan(ct, case_settings(settings, index))
        entry = {**write_pair(scan, case_id, output_dir), "source": ct.meta.get("source")}
        entries.append(entry)
        if on_case is not None:
            on_case(entry, scan)
    write_dataset_json(output_dir, entries, settings)
    write_manifest(output_dir, entries)
    return entries
