"""The tomography verbs: geometry, project and reconstruct, with one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hounsfield as hf
from _helpers import one_error_line, run_cli
from hounsfield.cli import main
from hounsfield.data.shepp_logan import MU_WATER_PER_MM
from hounsfield.tomo.geometry import Geometry
from hounsfield.tomo.project import Projector


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory):
    """Four axial slices (2.5 mm) of a water cylinder with a bone rod, in air, 1 mm pixels."""
    _, y, x = np.mgrid[:4, :40, :40]
    hu = np.full((4, 40, 40), -1000.0, np.float32)
    hu[np.hypot(y - 19.5, x - 19.5) < 15] = 0.0
    hu[np.hypot(y - 16.0, x - 24.0) < 4] = 1000.0
    volume = hf.Volume(hu, spacing_mm=(2.5, 1.0, 1.0), origin_mm=(-19.5, -19.5, 100.0))
    return hf.write(volume, tmp_path_factory.mktemp("input") / "ct.nii.gz")


@pytest.fixture(scope="module")
def parallel_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("geometry") / "parallel.json"
    assert main(["geometry", "parallel", "--views", "60", "--detectors", "60", "-o",
                 str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def sinogram_file(ct_file, parallel_json, tmp_path_factory):
    path = tmp_path_factory.mktemp("projections") / "sino.npy"
    assert main(["project", str(ct_file), "--geometry", str(parallel_json), "-o",
                 str(path)]) == 0
    return path


# -- geometry -------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, kind, shape", [
    (["parallel", "--views", "90", "--detectors", "64"], "parallel", (90, 64)),
    (["parallel", "--views", "90", "--detectors", "64", "--rows", "8"], "parallel", (90, 8, 64)),
    (["fan", "--views", "120", "--detectors", "80", "--det-spacing-mm", "1.5", "--sod-mm", "300",
      "--sdd-mm", "600", "--curved"], "cone", (120, 80)),
    (["cone", "--views", "45", "--detectors", "32", "--rows", "16", "--sod-mm", "200",
      "--sdd-mm", "400", "--arc-deg", "200"], "cone", (45, 16, 32)),
])
def test_geometry_verb_writes_a_loadable_geometry(capsys, tmp_path, argv, kind, shape):
    code, _, err = run_cli(capsys, "geometry", *argv, "-o", tmp_path / "g.json")
    geometry = Geometry.load(tmp_path / "g.json")
    assert code == 0 and "wrote" in err
    assert (geometry.kind, geometry.projection_shape) == (kind, shape)
    assert json.loads((tmp_path / "g.json").read_text())["kind"] == kind


def test_fan_geometry_keeps_its_distances_and_curvature(capsys, tmp_path):
    run_cli(capsys, "geometry", "fan", "--views", "10", "--detectors", "20", "--sod-mm", "300",
            "--sdd-mm", "500", "--curved", "-o", tmp_path / "fan.json")
    geometry = Geometry.load(tmp_path / "fan.json")
    assert geometry.is_fan and geometry.curved and (geometry.sod_mm, geometry.sdd_mm) == (300, 500)


@pytest.mark.parametrize("argv, message", [
    (["fan", "--views", "10", "--detectors", "8", "--sod-mm", "500", "--sdd-mm", "300"],
     "sdd_mm (300.0) must exceed sod_mm (500.0)"),
    (["cone", "--views", "10", "--detectors", "8", "--sod-mm", "100", "--sdd-mm", "300"],
     "a cone beam needs --rows"),
    (["parallel", "--views", "0", "--detectors", "8"], "n_angles must be a positive integer"),
])
def test_geometry_verb_refuses_bad_parameters_in_one_line(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "geometry", *argv, "-o", tmp_path / "g.json")
    assert code == 2 and message in one_error_line(err)
    assert not (tmp_path / "g.json").exists()


# -- project --------------------------------------------------------------------------------


def test_project_a_ct_slice_by_slice_in_mu(ct_file, parallel_json, sinogram_file):
    sinogram = np.load(sinogram_file)
    ct = hf.read(ct_file)
    mu = np.clip(MU_WATER_PER_MM * (1 + ct.array / 1000), 0, None)
    expected = Projector(Geometry.load(parallel_json), ct).forward(mu)
    assert sinogram.shape == (4, 60, 60) and sinogram.dtype == np.float32
    np.testing.assert_allclose(sinogram, expected, rtol=1e-6, atol=1e-6)
    # the longest chord: across the 30 mm cylinder and the 8 mm rod (μ of bone = 2 μ of water)
    assert sinogram.max() == pytest.approx((30 + 8) * MU_WATER_PER_MM, rel=0.05)


def test_project_an_npy_array_with_its_spacing(capsys, tmp_path, parallel_json):
    image = np.zeros((20, 20), np.float32)
    image[5:15, 8:12] = 0.02
    np.save(tmp_path / "image.npy", image)
    code, _, _ = run_cli(capsys, "project", tmp_path / "image.npy", "--geometry", parallel_json,
                         "--spacing-mm", "1.5", "-o", tmp_path / "sino.npy")
    expected = Projector(Geometry.load(parallel_json), (20, 20), 1.5).forward(image)
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "sino.npy"), expected)


@pytest.mark.parametrize("problem", ["missing geometry", "3d geometry on 2d", "bad output"])
def test_project_refuses_bad_input_in_one_line(capsys, tmp_path, parallel_json, problem):
    np.save(tmp_path / "image.npy", np.zeros((8, 8), np.float32))
    geometry, output = parallel_json, tmp_path / "sino.npy"
    if problem == "missing geometry":
        geometry = tmp_path / "absent.json"
    elif problem == "3d geometry on 2d":
        geometry = tmp_path / "cone.json"
        main(["geometry", "cone", "--views", "4", "--detectors", "8", "--rows", "4",
              "--sod-mm", "100", "--sdd-mm", "200", "-o", str(geometry)])
        capsys.readouterr()
    else:
        output = tmp_path / "sino.txt"
    code, _, err = run_cli(capsys, "project", tmp_path / "image.npy", "--geometry", geometry,
                           "-o", output)
    expected = {"missing geometry": "no such geometry file",
                "3d geometry on 2d": "a 3D geometry needs a 3D image",
                "bad output": "projections are written as .npy"}[problem]
    assert code == 2 and expected in one_error_line(err)


# -- reconstruct ----------------------------------------------------------------------------


@pytest.mark.parametrize("method, extra, tolerance_hu", [
    ("fbp", [], 60), ("sirt", ["--iterations", "40"], 60), ("cgls", [], 60),
    ("sart", ["--subsets", "6", "--iterations", "4"], 60), ("tv", ["--iterations", "60"], 30)])
def test_reconstruct_like_the_ct_recovers_its_hu(capsys, tmp_path, ct_file, parallel_json,
                                                   sinogram_file, method, extra, tolerance_hu):
    output = tmp_path / f"{method}.nii.gz"
    code, _, err = run_cli(capsys, "reconstruct", sinogram_file, "--geometry", parallel_json,
                           "--method", method, "--like", ct_file, "-o", output, *extra)
    assert code == 0, err
    ct, result = hf.read(ct_file), hf.read(output)
    assert result.same_grid(ct)
    water, bone = ct.array == 0, ct.array == 1000
    assert abs(np.median(result.array[water])) < tolerance_hu
    assert abs(np.median(result.array[bone]) - 1000) < 3 * tolerance_hu


def test_reconstruct_on_a_centred_shape_in_mu(capsys, tmp_path, parallel_json):
    image = np.zeros((24, 24), np.float32)
    image[6:18, 6:18] = 0.02
    np.save(tmp_path / "image.npy", image)
    main(["project", str(tmp_path / "image.npy"), "--geometry", str(parallel_json),
          "--spacing-mm", "2", "-o", str(tmp_path / "sino.npy")])
    code, _, err = run_cli(capsys, "reconstruct", tmp_path / "sino.npy", "--geometry",
                           parallel_json, "--method", "tv", "--shape", "24", "24",
                           "--spacing-mm", "2", "--units", "mu", "--tv-weight", "0.01",
                           "--iterations", "150", "-o", tmp_path / "out.nii.gz")
    result = hf.read(tmp_path / "out.nii.gz")
    assert code == 0 and "tv: 150 iterations" in err
    assert result.shape == (1, 24, 24) and result.spacing_mm[1:] == (2.0, 2.0)
    np.testing.assert_allclose(result.array[0], image, atol=0.002)


def test_reconstruct_a_cone_beam_by_fdk(capsys, tmp_path):
    _, y, x = np.mgrid[:12, :24, :24]
    z = np.arange(12)[:, None, None]
    ball = (np.sqrt((z - 5.5) ** 2 + (y - 11.5) ** 2 + (x - 11.5) ** 2) < 8) * np.float32(0.02)
    np.save(tmp_path / "ball.npy", ball.astype(np.float32))
    main(["geometry", "cone", "--views", "72", "--detectors", "40", "--rows", "24",
          "--det-spacing-mm", "2", "--sod-mm", "150", "--sdd-mm", "300",
          "-o", str(tmp_path / "cone.json")])
    main(["project", str(tmp_path / "ball.npy"), "--geometry", str(tmp_path / "cone.json"),
          "-o", str(tmp_path / "proj.npy")])
    code, _, err = run_cli(capsys, "reconstruct", tmp_path / "proj.npy", "--geometry",
                           tmp_path / "cone.json", "--method", "fdk", "--shape", "12", "24", "24",
                           "--units", "mu", "-o", tmp_path / "fdk.nii.gz")
    assert code == 0, err
    assert hf.read(tmp_path / "fdk.nii.gz").array[6, 12, 12] == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("problem, expected", [
    ("unknown method", "unknown method 'art'; choose one of fbp, fdk, sirt, sart, cgls, tv"),
    ("missing geometry", "no such geometry file"),
    ("shape mismatch", "do not match the geometry"),
    ("fdk of a 2d scan", "fdk reconstructs cone beams"),
    ("no such sinogram", "no such file"),
    ("bad output", "cannot write this format"),
])
def test_reconstruct_refuses_bad_input_in_one_line(capsys, tmp_path, parallel_json,
                                                     sinogram_file, problem, expected):
    options = {"sinogram": sinogram_file, "geometry": parallel_json, "method": "fbp",
               "shape": ["4", "40", "40"], "output": tmp_path / "out.nii.gz"}
    if problem == "unknown method":
        options["method"] = "art"
    elif problem == "missing geometry":
        options["geometry"] = tmp_path / "absent.json"
    elif problem == "shape mismatch":
        options["shape"] = ["3", "40", "40"]
    elif problem == "fdk of a 2d scan":
        options["method"] = "fdk"
    elif problem == "no such sinogram":
        options["sinogram"] = tmp_path / "absent.npy"
    else:
        options["output"] = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "reconstruct", options["sinogram"], "--geometry",
                           options["geometry"], "--method", options["method"], "--shape",
                           *options["shape"], "-o", options["output"])
    assert code == 2 and expected in one_error_line(err)
    assert not (tmp_path / "out.nii.gz").exists()
