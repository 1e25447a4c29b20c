"""The drr verb: PNG, .npy and volume outputs, label projections, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

import hounsfield as hf
from _helpers import one_error_line, run_cli
from hounsfield.data.phantoms import thorax_phantom
from hounsfield.simulate.drr import drr_geometry, project_labels, render_drr
from hounsfield.tomo.geometry import Geometry

DETECTOR = ["--detector", "40", "48", "--pixel-mm", "8"]




@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    """A small thorax phantom CT and its label map (with label table) as NIfTI."""
    ct, labels = thorax_phantom((32, 40, 40), (9.0, 8.0, 8.0))
    folder = tmp_path_factory.mktemp("input")
    return hf.write(ct, folder / "ct.nii.gz"), hf.write(labels, folder / "seg.nii.gz")


def test_npy_holds_the_rendered_line_integrals(capsys, phantom_files, tmp_path):
    ct_path, _ = phantom_files
    out = tmp_path / "drr.npy"
    code, _, err = run_cli(capsys, "drr", ct_path, "--view", "lateral-left", "--rotate-deg",
                           "0", "0", "15", "--translate-mm", "0", "0", "10", *DETECTOR, "-o", out)
    assert code == 0, err
    ct = hf.read(ct_path)
    geometry = drr_geometry(ct, "lateral-left", rotate_deg=(0, 0, 15), translate_mm=(0, 0, 10),
                            detector_shape=(40, 48), pixel_spacing_mm=8.0)
    np.testing.assert_array_equal(np.load(out), render_drr(ct, geometry))


def test_intensity_volume_lies_on_the_detector(capsys, phantom_files, tmp_path):
    ct_path, _ = phantom_files
    out, saved = tmp_path / "drr.nii.gz", tmp_path / "view.json"
    code, _, err = run_cli(capsys, "drr", ct_path, "--kind", "intensity", *DETECTOR,
                           "--save-geometry", saved, "-o", out)
    assert code == 0, err
    volume, geometry = hf.read(out), Geometry.load(saved)
    assert volume.shape == (1, 40, 48)
    expected = render_drr(hf.read(ct_path), geometry, output="intensity")
    np.testing.assert_allclose(volume.array[0], expected, rtol=1e-6)
    np.testing.assert_allclose(volume.index_to_world([0, 39, 47]),
                               geometry.pixel_centers(0)[39, 47], atol=1e-3)


@pytest.mark.parametrize("options", [[], ["--kind", "intensity", "--log", "--invert"]])
def test_png_is_a_windowed_radiograph(capsys, phantom_files, tmp_path, options):
    ct_path, _ = phantom_files
    out = tmp_path / "drr.png"
    code, _, err = run_cli(capsys, "drr", ct_path, *options, *DETECTOR, "-o", out)
    assert code == 0, err
    picture = imread(out)
    assert picture.shape[:2] == (40, 48)
    grey = picture[..., 0]
    assert grey.min() == 0.0 and grey.max() == 1.0
    # Both show the body bright on dark air: the corner is air, the centre is body.
    assert grey[0, 0] < 0.1 and grey[20, 24] > 0.5


def test_labels_write_thickness_masks_and_overlay(capsys, phantom_files, tmp_path):
    ct_path, seg_path = phantom_files
    out = tmp_path / "chest.png"
    code, _, err = run_cli(capsys, "drr", ct_path, "--labels", seg_path, "--threshold-mm", "2",
                           *DETECTOR, "-o", out)
    assert code == 0, err
    labels = hf.read(seg_path, labels=True)
    stack = np.load(tmp_path / "chest-labels.npz")
    expected = project_labels(labels, drr_geometry(hf.read(ct_path), detector_shape=(40, 48),
                                                   pixel_spacing_mm=8.0), threshold_mm=2.0)
    assert tuple(stack["names"]) == expected.names == tuple(labels.labels.names)
    assert tuple(stack["label_ids"]) == expected.label_ids
    np.testing.assert_array_equal(stack["thickness_mm"], expected.thickness_mm)
    np.testing.assert_array_equal(stack["masks"], expected.masks)
    assert float(stack["threshold_mm"]) == 2.0
    overlay = imread(tmp_path / "chest-labels.png")
    assert overlay.shape[:2] == (40, 48)
    assert np.any(overlay[..., 0] != overlay[..., 1])  # coloured somewhere


def test_label_subset_and_own_paths(capsys, phantom_files, tmp_path):
    ct_path, seg_path = phantom_files
    npz, overlay = tmp_path / "lungs.npz", tmp_path / "lungs.png"
    code, _, err = run_cli(capsys, "drr", ct_path, "--labels", seg_path, "--label-names",
                           "lung_right", "lung_left", "--label-output", npz, "--overlay",
                           overlay, *DETECTOR, "-o", tmp_path / "drr.npy")
    assert code == 0, err
    assert tuple(np.load(npz)["names"]) == ("lung_right", "lung_left")
    assert overlay.exists()


@pytest.mark.parametrize("extra, message", [
    (["-o", "{tmp}/drr.jpg"], "write the DRR as .png, .npy"),
    (["--log", "-o", "{tmp}/drr.npy"], "--log and --invert shape a PNG"),
    (["--sod-mm", "1500", "-o", "{tmp}/drr.png"], "sod_mm must be below sdd_mm"),
    (["--pixel-mm", "1", "2", "3", "-o", "{tmp}/drr.png"], "--pixel-mm takes one value or two"),
    (["--labels", "{tmp}/missing.nii.gz", "-o", "{tmp}/drr.png"], "no such file"),
    (["--labels", "{seg}", "--label-names", "unicorn", "-o", "{tmp}/drr.png"],
     "no label named unicorn"),
    (["--labels", "{seg}", "--label-output", "{tmp}/t.npy", "-o", "{tmp}/drr.png"],
     "written as .npz"),
    (["--labels", "{seg}", "--threshold-mm", "-1", "-o", "{tmp}/drr.png"], "--threshold-mm"),
])
def test_bad_input_is_one_line(capsys, phantom_files, tmp_path, extra, message):
    ct_path, seg_path = phantom_files
    argv = [a.format(tmp=tmp_path, seg=seg_path) for a in extra]
    code, _, err = run_cli(capsys, "drr", ct_path, *DETECTOR, *argv)
    assert code == 2
    assert message in one_error_line(err)


def test_missing_ct_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "drr", tmp_path / "nothing.nii.gz", "-o", tmp_path / "d.png")
    assert code == 2 and "no such file" in one_error_line(err)
