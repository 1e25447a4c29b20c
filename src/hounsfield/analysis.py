"""The main job: one CT to a report folder — read, segment, measure, report.

:func:`analyze` segments the CT without weights, measures every label (and
those of a label map the user gives, e.g. TotalSegmentator's), measures lung
density, the airway tree, vertebral heights and lesions, writes the findings
document, the narrative and the HTML page. The CLI verb ``analyze`` is a thin
shell around it.

Output folder:

- ``labels.nii.gz`` / ``labels.json``: our segmentation (as ``hounsfield segment``)
- ``given.nii.gz`` / ``given.json``: the given label map on the CT grid, when there is one
- ``lesions.nii.gz``: one id per measured lesion, when there are lesions
- ``stats.json``: statistics per label name (volume_ml, hu_mean, …)
- ``findings.json``, ``report.md``, ``report.html`` and the PNG figures
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .io import write
from .io.paths import atomic_write_text
from .labels import LabelTable
from .measure import label_statistics, measure_lesion
from .measure.density import EMPHYSEMA_LAA950_PERCENT, labels_cut_by_scan_edge, lung_density
from .measure.lesion import labels_on_ct_grid
from .measure.spine import vertebral_heights
from .metrics.aggregate import json_safe
from .report.figures import montage
from .report.findings import FindingsBuilder, Mask, section_of
from .report.html import Figure, render_html
from .report.narrative import narrative, to_markdown
from .report.plots import hu_histograms
from .segment import DEFAULT_STRUCTURES, Segmentation
from .segment.click import click
from .summary import describe
from .volume import Volume

__all__ = ["analyze", "Analysis"]

OWN_FILE, GIVEN_FILE, LESION_FILE = "labels.nii.gz", "given.nii.gz", "lesions.nii.gz"

#: Labels spread through the body, whose surface and diameter say nothing of a shape.
_SPREAD_OUT = ("body", "subcutaneous_fat", "torso_fat", "skeletal_muscle", "intermuscular_fat",
               "skeleton", "spine", "ribs", "other_bones", "lung_vessels")


@dataclass
class Analysis:
    """What :func:`analyze` wrote and found."""

    output: Path
    labels: Volume
    stats: dict
    findings: dict
    files: dict[str, Path] = field(default_factory=dict)


def analyze(ct: Volume, output, *, given_labels: Volume | None = None, lesion_points_mm=(),
            structures=DEFAULT_STRUCTURES, title: str = "CT report", phi: bool = False,
            status=None) -> Analysis:
    """Segment, measure and report one CT into the folder ``output``.

    Parameters
    ----------
    ct : Volume
        CT in HU.
    output : str or Path
        Report folder (created; files in it are replaced atomically).
    given_labels : Volume, optional
        A label map to measure as well (e.g. TotalSegmentator's; any grid:
        resampled nearest onto the CT grid). Its vertebrae give vertebral
        heights, its lesion-like labels (lesion, nodule, tumour, cyst, mass,
        metastasis) are measured as lesions.
    lesion_points_mm : sequence of (x, y, z)
        LPS world points (mm), one inside each lesion to segment by click and measure.
    structures : sequence of str
        What to segment (:data:`hounsfield.segment.STRUCTURES`).
    title : str
        Report title.
    phi : bool
        Put the patient identifiers of the CT's metadata into the findings and report.
    status : callable, optional
        Called with a short text as each stage starts (for progress display).

    Examples
    --------
    >>> import tempfile
    >>> from hounsfield.data.anatomy import thorax_phantom
    >>> ct, _ = thorax_phantom(shape=(40, 48, 48), spacing_mm=(7.5, 6.25, 6.25))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = analyze(ct, folder, structures=("body", "lungs"))
    ...     sorted(p.name for p in result.files.values() if p.suffix != ".png")
    ['findings.json', 'labels.json', 'labels.nii.gz', 'report.html', 'report.md', 'stats.json']
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    say = status or (lambda text: None)
    say("segmenting")
    segmentation = Segmentation(ct)
    own = segmentation.label_map(structures)
    given = labels_on_ct_grid(given_labels, ct)
    say("measuring")
    stats = {OWN_FILE: label_statistics(ct, own, skip_shape=_SPREAD_OUT)}
    if given is not None:  # volumes and shapes on the label map's own grid
        stats[GIVEN_FILE] = label_statistics(ct, given_labels)
    lesions = _lesions(ct, segmentation, own, given, lesion_points_mm)
    builder = FindingsBuilder(_study(ct, phi))
    _add_technique(builder, ct)
    _add_body(builder, ct, segmentation.body, own)
    _add_structures(builder, stats, own, given)
    _add_lung_density(builder, ct, own)
    if "airways" in structures:
        _add_airway_tree(builder, segmentation.airway_tree, own)
    if given is not None:
        _add_vertebrae(builder, given)
        _add_body_composition_level(builder, ct, own, given)
    _add_lesions(builder, lesions)
    findings = builder.to_dict()
    say("writing the report")
    files = _write_outputs(output, ct, own, given, lesions, stats, findings, title)
    return Analysis(output, own, _flat_stats(stats), findings, files)


# -- inputs ------------------------------------------------------------------------------------


def _study(ct: Volume, phi: bool) -> dict:
    facts = {key: value for key, value in describe(ct).items()
             if key in ("shape_zyx", "spacing_mm_zyx", "extent_mm_zyx", "orientation",
                        "modality", "series_description", "gantry_tilt_deg")}
    if phi and ct.meta.get("phi"):
        facts["patient"] = ct.meta["phi"]
    return facts


# -- lesions -----------------------------------------------------------------------------------


@dataclass
class _Lesion:
    name: str
    mask: np.ndarray
    source: Mask
    measurement: dict


def _lesions(ct, segmentation, own, given, points_mm) -> list[_Lesion]:
    masks = []
    for index, point in enumerate(points_mm, start=1):
        masks.append((f"lesion_{index}", click(ct, [point]), Mask(LESION_FILE, index)))
    if given is not None:
        for label in given.labels:
            if section_of(label.name) == "lesions":
                mask = np.asarray(given.array) == label.id
                if mask.any():
                    masks.append((label.name, mask, Mask(GIVEN_FILE, label.id)))
    if not masks:
        return []
    left, right = segmentation.lungs
    lungs = left | right
    context = {"labels": given if given is not None else own, "body": segmentation.body,
               "lungs": lungs if lungs.any() else None,
               "airways": _own_mask(own, ("trachea", "bronchus_left", "bronchus_right")),
               "vessels": _own_mask(own, ("lung_vessels",))}
    return [_Lesion(name, mask, source, measure_lesion(ct, mask, **context).to_dict())
            for name, mask, source in masks if mask.any()]


def _own_mask(own: Volume, names) -> np.ndarray | None:
    ids = [own.labels.id_of(n) for n in names if n in own.labels.names]
    mask = np.isin(np.asarray(own.array), ids) if ids else None
    return mask if mask is not None and mask.any() else None


# -- findings ----------------------------------------------------------------------------------


def _add_technique(builder: FindingsBuilder, ct: Volume) -> None:
    slices, rows, columns = ct.shape
    builder.add("technique", "technique", {
        "slices": slices, "rows": rows, "columns": columns,
        "pixel_spacing_mm": float(ct.spacing_mm[1]), "slice_spacing_mm": float(ct.spacing_mm[0]),
        "extent_z_mm": float(ct.extent_mm[0])})


def _add_body(builder: FindingsBuilder, ct: Volume, body: np.ndarray, own: Volume) -> None:
    """The whole body outline (the 'body' label of the map is only what no other label took)."""
    if not body.any():
        return
    builder.add("body_composition", "structure", {
        "volume_ml": float(body.sum() * ct.voxel_volume_ml),
        "hu_mean": float(np.asarray(ct.array)[body].mean(dtype=np.float64))}, structure="body",
        masks=[Mask(OWN_FILE, label.id) for label in own.labels])


def _add_structures(builder: FindingsBuilder, stats: dict, own: Volume, given) -> None:
    seen = {"body"}
    for file, labels in ((OWN_FILE, own), (GIVEN_FILE, given)):
        if labels is None:
            continue
        cut = set(labels_cut_by_scan_edge(labels))
        for name, entry in stats[file].items():
            if entry["voxel_count"] == 0 or name in seen or section_of(name) == "lesions":
                continue
            seen.add(name)
            measurements = {key: entry[key] for key in
                            ("volume_ml", "hu_mean", "hu_sd", "max_diameter_mm", "sphericity")}
            builder.add(section_of(name), "structure", measurements, structure=name,
                        masks=[Mask(file, entry["label_id"])],
                        flags=["cut_by_scan_edge"] if name in cut else [])


def _add_lung_density(builder: FindingsBuilder, ct: Volume, own: Volume) -> None:
    for name in ("lung_left", "lung_right"):
        if name not in own.labels.names:
            continue
        mask = np.asarray(own.array) == own.labels.id_of(name)
        if not mask.any():
            continue
        density = lung_density(ct, mask)
        flags = ["emphysema_laa950"] if density["laa950_percent"] >= EMPHYSEMA_LAA950_PERCENT \
            else []
        builder.add("lungs", "lung_density", density, structure=name,
                    masks=[Mask(OWN_FILE, own.labels.id_of(name))], flags=flags)


def _add_airway_tree(builder: FindingsBuilder, tree, own: Volume) -> None:
    summary = tree.to_dict()
    if not summary["found"]:
        return
    names = [n for n in ("trachea", "bronchus_left", "bronchus_right") if n in own.labels.names]
    builder.add("airways", "airway_tree", {
        "volume_ml": summary["volume_ml"], "branch_count": len(tree.branches),
        "max_generation_left": summary["max_generation"]["left"],
        "max_generation_right": summary["max_generation"]["right"],
        "threshold_hu": summary["threshold_hu"]}, structure="airways",
        masks=[Mask(OWN_FILE, own.labels.id_of(n)) for n in names])


def _add_vertebrae(builder: FindingsBuilder, given: Volume) -> None:
    if not any(n.startswith("vertebrae_") for n in given.labels.names):
        return
    for vertebra in vertebral_heights(given):
        if vertebra.anterior_mm is None:
            continue
        loss = vertebra.height_loss_fraction
        grade = vertebra.grade
        builder.add("bones", "vertebral_height", {
            "anterior_height_mm": vertebra.anterior_mm, "middle_height_mm": vertebra.middle_mm,
            "posterior_height_mm": vertebra.posterior_mm,
            "height_loss_percent": None if loss is None else 100.0 * loss, "grade": grade},
            structure=vertebra.name, masks=[Mask(GIVEN_FILE, given.labels.id_of(vertebra.name))],
            flags=[f"height_loss_{grade}"] if grade not in (None, "normal") else [])


_TISSUES = ("subcutaneous_fat", "torso_fat", "skeletal_muscle", "intermuscular_fat")


def _add_body_composition_level(builder: FindingsBuilder, ct: Volume, own: Volume,
                                given: Volume, level: str = "vertebrae_L1") -> None:
    """Tissue areas (cm²) in the axial slice through the centre of a vertebra (L1 by default)."""
    tissues = [n for n in _TISSUES if n in own.labels.names]
    if level not in given.labels.names or not tissues:
        return
    vertebra = np.asarray(given.array) == given.labels.id_of(level)
    if not vertebra.any() or level in labels_cut_by_scan_edge(given):
        return
    k = int(round(np.nonzero(vertebra)[0].mean()))
    plane = np.asarray(own.array[k])
    pixel_cm2 = ct.spacing_mm[1] * ct.spacing_mm[2] / 100.0
    areas = {f"{n}_area_cm2": float(np.count_nonzero(plane == own.labels.id_of(n)) * pixel_cm2)
             for n in tissues}
    z_mm = float(ct.index_to_world(np.array([k, 0, 0]))[2])
    builder.add("body_composition", "body_composition",
                {"level": level.removeprefix("vertebrae_"), "z_mm": z_mm, **areas},
                masks=[Mask(OWN_FILE, own.labels.id_of(n)) for n in tissues]
                + [Mask(GIVEN_FILE, given.labels.id_of(level))])


def _add_lesions(builder: FindingsBuilder, lesions: list[_Lesion]) -> None:
    keys = ("long_axis_mm", "short_axis_mm", "longest_diameter_3d_mm", "volume_ml", "hu_mean",
            "hu_sd", "sphericity", "location", "lobe", "laterality", "distance_to_pleura_mm",
            "distance_to_airway_mm", "distance_to_vessel_mm", "centroid_mm")
    for lesion in lesions:
        m = lesion.measurement
        builder.add("lesions", "lesion", {k: m[k] for k in keys}, structure=lesion.name,
                    masks=[lesion.source],
                    flags=["short_axis_ge_10mm"] if m["lymph_node_short_axis_ge_10mm"] else [])


# -- outputs -----------------------------------------------------------------------------------


def _flat_stats(stats: dict) -> dict:
    """One entry per label name; a given label whose name we also segment is 'given:<name>'."""
    flat = {}
    for file, entries in stats.items():
        for name, entry in entries.items():
            key = name if name not in flat else f"given:{name}"
            flat[key] = {"label_map": file, **entry}
    return flat


def _write_outputs(output: Path, ct, own, given, lesions, stats, findings, title) -> dict:
    files = {"labels": output / OWN_FILE, "labels_table": output / "labels.json",
             "stats": output / "stats.json", "findings": output / "findings.json",
             "report_md": output / "report.md", "report_html": output / "report.html"}
    write(own, files["labels"])
    atomic_write_text(files["labels_table"], json.dumps(own.labels.to_dict()["labels"], indent=1))
    if given is not None:
        files["given"] = output / GIVEN_FILE
        write(given, files["given"])
    lesion_map = _lesion_map(ct, lesions)
    if lesion_map is not None:
        files["lesions"] = output / LESION_FILE
        write(lesion_map, files["lesions"])
    atomic_write_text(files["stats"], json.dumps(json_safe(_flat_stats(stats)), indent=1))
    atomic_write_text(files["findings"], json.dumps(json_safe(findings), indent=1))
    sections = narrative(findings)
    atomic_write_text(files["report_md"], to_markdown(sections, title=title))
    figures = _figures(output, ct, own)
    files.update({f"figure_{i}": f.path for i, f in enumerate(figures)})
    colours = {label.name: "#{:02x}{:02x}{:02x}".format(*label.color) for label in own.labels}
    atomic_write_text(files["report_html"], render_html(findings, sections, figures=figures,
                                                        colours=colours, title=title))
    return files


def _lesion_map(ct: Volume, lesions: list[_Lesion]) -> Volume | None:
    clicked = [lesion for lesion in lesions if lesion.source.file == LESION_FILE]
    if not clicked:
        return None
    array = np.zeros(ct.shape, np.uint8)
    for lesion in clicked:
        array[lesion.mask] = lesion.source.label_id
    table = LabelTable.from_names({lesion.source.label_id: lesion.name for lesion in clicked})
    return ct.with_array(array, labels=table)


def _figures(output: Path, ct: Volume, own: Volume) -> list[Figure]:
    views = montage(ct, output / "montage.png", labels=own, dpi=80)
    figures = [Figure(views, "Axial, coronal and sagittal views",
                      "Centre slices in lung and mediastinal windows; the last row shows the "
                      "segmented structures.")]
    figures.append(Figure(_drr_figure(output / "drr.png", ct, own),
                          "Digitally reconstructed radiograph",
                          "AP projection of the CT (left) and of the segmented lungs, airways "
                          "and bones (right; where each is at least 1 mm thick)."))
    histogram = hu_histograms(ct, own, output / "hu_histograms.png")
    figures.append(Figure(histogram, "CT numbers per structure",
                          "Fraction of each structure's voxels per 10 HU."))
    return figures


def _drr_figure(path: Path, ct: Volume, own: Volume) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io.paths import atomic_output
    from .simulate.drr import (
        display_image,
        drr_geometry,
        overlay_labels,
        project_labels,
        render_drr,
    )

    geometry = drr_geometry(ct, "ap", detector_shape=(384, 384), pixel_spacing_mm=1.1)
    grey = display_image(render_drr(ct, geometry), invert=False)
    shown = [name for name in own.labels.names if section_of(name) in ("lungs", "airways", "bones")]
    coloured = overlay_labels(grey, project_labels(own, geometry, names=shown))
    figure, axes = plt.subplots(1, 2, figsize=(10, 5), facecolor="black")
    for axis, image in zip(axes, (grey, coloured), strict=True):
        axis.imshow(image, cmap="gray", vmin=0, vmax=1)
        axis.axis("off")
    figure.tight_layout()
    with atomic_output(path) as tmp:
        figure.savefig(tmp, dpi=80, facecolor="black", format="png")
    plt.close(figure)
    return path
