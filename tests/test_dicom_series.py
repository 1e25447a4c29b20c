"""Series in folders: discovery, choice, sorting, missing and uneven slices, duplicates, tilt."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

from hounsfield.errors import HounsfieldWarning, InputError
from hounsfield.io.dicom import choose_series, read_dicom, scan_dicom, write_dicom_series
from hounsfield.volume import Volume


def patch(path, **attributes):
    """Rewrite some header attributes of a written file."""
    dataset = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)


def move_slice(path, shift_mm):
    """Move a slice along its position vector by ``shift_mm`` (x, y, z)."""
    dataset = pydicom.dcmread(path)
    position = np.array([float(v) for v in dataset.ImagePositionPatient]) + shift_mm
    patch(path, ImagePositionPatient=[f"{v:.6f}" for v in position])


def structure_set(path):
    """A minimal RT structure set: an RTSTRUCT object with no pixel data."""
    dataset = Dataset()
    dataset.SOPClassUID = RTStructureSetStorage
    dataset.SOPInstanceUID = generate_uid()
    dataset.Modality = "RTSTRUCT"
    dataset.SeriesInstanceUID = generate_uid()
    dataset.StructureSetLabel = "contours"
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path


def listing(folder):
    """Every file and folder below ``folder`` (hidden ones too) with size and mtime."""
    entries = []
    for directory, subdirectories, names in os.walk(folder):
        for name in subdirectories + names:
            stat = os.stat(os.path.join(directory, name))
            entries.append((os.path.relpath(os.path.join(directory, name), folder),
                            stat.st_size, stat.st_mtime_ns))
    return sorted(entries)


def read_quietly(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        return read_dicom(path, **options)


def assert_same_world(volume: Volume, expected: Volume, atol_mm=1e-4):
    """Equal values and voxel positions, whatever the array layout."""
    aligned = volume.reorient(expected.orientation)
    np.testing.assert_array_equal(aligned.array, expected.array)
    np.testing.assert_allclose(aligned.affine, expected.affine, atol=atol_mm)


# -- a study folder with several series ---------------------------------------------------


@pytest.fixture
def study(tmp_path, dicom_chest_crop, hu_phantom):
    """Chest CT (20 slices, random names, shuffled InstanceNumber) and a 24-slice 'MR'
    in one folder; a smaller CT and structure sets in subfolders; a stray text file."""
    root = tmp_path / "study"
    rng = np.random.default_rng(7)
    names = [f"{n:09d}" for n in rng.choice(10**9, size=20, replace=False)]
    chest = write_dicom_series(dicom_chest_crop, root, series_description="chest crop",
                               series_number=3, filenames=names)
    for path, number in zip(chest, rng.permutation(20) + 1, strict=True):
        patch(path, InstanceNumber=int(number))
    mr_volume = Volume(np.tile(hu_phantom.array, (2, 1, 1))[:24], spacing_mm=(2.0, 1.0, 1.0))
    write_dicom_series(mr_volume, root, modality="MR", series_description="mr-like",
                       series_number=5, filenames=[f"mr{k}" for k in range(24)])
    small = hu_phantom.crop((0, 0, 0), (8, 40, 36))
    write_dicom_series(small, root / "sub" / "deeper", series_description="small ct",
                       series_number=2)
    structure_set(root / "sub" / "rt.dcm")
    structure_set(root / "RS1")
    (root / "README.txt").write_text("exported by a PACS")
    return root


@pytest.mark.real
def test_scan_finds_every_series_and_counts_the_rest(study):
    found = scan_dicom(study)
    assert sorted((s.modality, s.n_frames, s.description) for s in found) == [
        ("CT", 8, "small ct"), ("CT", 20, "chest crop"), ("MR", 24, "mr-like")]
    assert dict(found.non_image) == {"RTSTRUCT": 2}
    assert found.n_unreadable == 1 and found.problems[0][0].name == "README.txt"
    assert found.n_files == 20 + 24 + 8 + 2 + 1


@pytest.mark.real
def test_the_largest_ct_series_is_read_sorted_by_position(study, dicom_chest_crop):
    before = listing(study)
    with pytest.warns(HounsfieldWarning, match="skipped 1 unreadable file .*README.txt"):
        chest = read_dicom(study)
    assert chest.meta["series_description"] == "chest crop"
    assert chest.meta["n_files"] == 20
    assert_same_world(chest, dicom_chest_crop)
    assert listing(study) == before, "reading must not write into the input folder"


@pytest.mark.real
@pytest.mark.parametrize("how", ["uid", "prefix", "number"])
def test_series_option_selects_another_series(study, hu_phantom, how):
    small_uid = next(s.series_uid for s in scan_dicom(study) if s.description == "small ct")
    wanted = {"uid": small_uid, "prefix": small_uid[:-3], "number": "2"}[how]
    with pytest.warns(HounsfieldWarning, match="README"):
        small = read_dicom(study, series=wanted)
    assert small.meta["series_uid"] == small_uid
    assert_same_world(small, hu_phantom.crop((0, 0, 0), (8, 40, 36)))


@pytest.mark.real
def test_mr_series_needs_allow_modality(study):
    mr_uid = next(s.series_uid for s in scan_dicom(study) if s.modality == "MR")
    with pytest.raises(InputError, match="modality MR, expected CT"):
        read_dicom(study, series=mr_uid)
    with pytest.warns(HounsfieldWarning):
        mr = read_dicom(study, series=mr_uid, allow_modality=True)
    assert mr.shape == (24, 40, 36) and mr.meta["units"] == "unspecified"


@pytest.mark.real
def test_unknown_or_ambiguous_series_are_refused(study):
    found = scan_dicom(study)
    with pytest.raises(InputError, match="no series matches '9.9.9'") as caught:
        choose_series(found, series_uid="9.9.9")
    assert "\n" not in str(caught.value) and "chest crop" in str(caught.value)
    common = os.path.commonprefix([s.series_uid for s in found])
    if common:
        with pytest.raises(InputError, match="ambiguous"):
            choose_series(found, series_uid=common)


def test_choice_is_deterministic_on_ties():
    from hounsfield.io.dicom import DicomSeries

    a = DicomSeries("1.2.9", "CT", "a", 4, n_frames=10)
    b = DicomSeries("1.2.3", "CT", "b", 4, n_frames=10)
    c = DicomSeries("1.2.5", "CT", "c", 2, n_frames=10)
    assert choose_series([a, b, c]).description == "c"
    assert choose_series([a, b]).description == "b"
    assert choose_series([b, a]).description == "b"


# -- missing, uneven and duplicate slices ---------------------------------------------------


@pytest.fixture
def phantom_files(tmp_path, hu_phantom):
    return write_dicom_series(hu_phantom, tmp_path / "ct")


def test_regular_series_reads_exactly_without_warning(phantom_files, hu_phantom):
    ct = read_quietly(phantom_files[0].parent)
    assert_same_world(ct, hu_phantom)
    assert ct.meta["slice_gaps"] == {"regular": True, "median_gap_mm": pytest.approx(2.5),
                                     "max_deviation_mm": pytest.approx(0, abs=1e-6),
                                     "resampled": False}


def test_one_missing_slice_is_interpolated_with_a_warning(phantom_files, hu_phantom):
    phantom_files[7].unlink()
    with pytest.warns(HounsfieldWarning, match="about 1 slice missing"):
        ct = read_dicom(phantom_files[0].parent)
    # values are linear along z, so the interpolated slice equals the deleted one
    np.testing.assert_allclose(ct.array, hu_phantom.array, atol=1e-3)
    np.testing.assert_allclose(ct.affine, hu_phantom.affine, atol=1e-4)
    assert ct.meta["slice_gaps"]["resampled"] is True
    assert ct.meta["slice_gaps"]["regular"] is False
    assert any("resampled 15 slices onto 16" in w for w in ct.meta["warnings"])


def test_two_adjacent_missing_slices_are_refused(phantom_files):
    phantom_files[7].unlink()
    phantom_files[8].unlink()
    with pytest.raises(InputError, match=r"3\.00× the median gap 2\.500 mm \(about 2 slices "
                                         r"missing\)") as caught:
        read_dicom(phantom_files[0].parent)
    message = str(caught.value)
    assert "\n" not in message
    assert "IM00007.dcm" in message and "IM00010.dcm" in message


def test_small_jitter_is_resampled_onto_the_median_gap(tmp_path, hu_phantom):
    offsets = np.array([0, 0.3, -0.2, 0.25, 0, -0.3, 0.1, 0, 0.2, -0.1, 0, 0.3, 0, -0.2, 0.1, 0])
    # slice k really lies at z_k + offset_k: give it the values that belong there
    z_index = np.arange(16) + offsets / 2.5
    k, j, i = np.meshgrid(z_index, np.arange(40), np.arange(36), indexing="ij")
    jittered = hu_phantom.with_array((8 * k + j - 2 * i - 500).astype(np.float32))
    files = write_dicom_series(jittered, tmp_path / "ct", rescale_slope=0.01)
    for path, offset in zip(files, offsets, strict=True):
        move_slice(path, [0, 0, offset])
    with pytest.warns(HounsfieldWarning, match="uneven slice gaps"):
        ct = read_dicom(tmp_path / "ct")
    assert ct.shape == hu_phantom.shape
    np.testing.assert_allclose(ct.affine, hu_phantom.affine, atol=1e-4)
    np.testing.assert_allclose(ct.array, hu_phantom.array, atol=0.01)
    assert ct.meta["slice_gaps"]["max_deviation_mm"] == pytest.approx(0.55, abs=1e-4)


def test_gap_below_three_quarters_of_the_median_is_refused(phantom_files):
    move_slice(phantom_files[5], [0, 0, -0.7 * 2.5])  # gap 0.3 × median before it
    with pytest.raises(InputError, match=r"0\.30× the median gap"):
        read_dicom(phantom_files[0].parent)


def test_the_same_file_twice_is_dropped_with_a_warning(phantom_files, hu_phantom):
    shutil.copy(phantom_files[4], phantom_files[0].parent / "copy_of_5")
    with pytest.warns(HounsfieldWarning, match="dropped 1 duplicate slice"):
        ct = read_dicom(phantom_files[0].parent)
    assert_same_world(ct, hu_phantom)


def test_different_images_at_one_position_are_refused(phantom_files):
    twin = phantom_files[0].parent / "twin.dcm"
    shutil.copy(phantom_files[4], twin)
    dataset = pydicom.dcmread(twin)
    dataset.PixelData = (dataset.pixel_array + 1).astype("<i2").tobytes()
    dataset.SOPInstanceUID = generate_uid()
    dataset.save_as(twin, enforce_file_format=True)
    with pytest.raises(InputError, match="two different images at the same slice position"):
        read_dicom(phantom_files[0].parent)


def test_inconsistent_pixel_spacing_is_refused(phantom_files):
    patch(phantom_files[3], PixelSpacing=[1.0, 1.0])
    with pytest.raises(InputError, match="PixelSpacing .* differs") as caught:
        read_dicom(phantom_files[0].parent)
    assert "IM00004.dcm" in str(caught.value)


def test_localizer_in_the_series_is_ignored(phantom_files, hu_phantom):
    scout = phantom_files[0].parent / "scout.dcm"
    shutil.copy(phantom_files[0], scout)
    patch(scout, ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], SOPInstanceUID=generate_uid(),
          ImageOrientationPatient=[1, 0, 0, 0, 0, -1])
    with pytest.warns(HounsfieldWarning, match="ignored 1 localizer"):
        ct = read_dicom(phantom_files[0].parent)
    assert_same_world(ct, hu_phantom)


# -- gantry tilt ------------------------------------------------------------------------------

SPHERE_CENTRE_MM = np.array([5.0, -3.0, 20.0])
SPHERE_RADIUS_MM = 6.0


def sphere_slices(positions, row_cosine, column_cosine, size=48, pixel_mm=1.0):
    """HU of an antialiased sphere (500 HU in -800 HU) sampled on each slice's own pixels."""
    j, i = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    slices = []
    for position in positions:
        world = (np.asarray(position) + pixel_mm * j[..., None] * column_cosine
                 + pixel_mm * i[..., None] * row_cosine)
        distance = np.linalg.norm(world - SPHERE_CENTRE_MM, axis=-1)
        inside = np.clip(SPHERE_RADIUS_MM - distance + 0.5, 0, 1)
        slices.append(-800 + 1300 * inside)
    return np.round(np.array(slices)).astype(np.float32)


def weighted_centre(volume: Volume) -> np.ndarray:
    weights = np.clip(volume.array + 800, 0, None)
    index = np.stack(np.meshgrid(*map(np.arange, volume.shape), indexing="ij"), axis=-1)
    mean_index = (index * weights[..., None]).sum(axis=(0, 1, 2)) / weights.sum()
    return volume.index_to_world(mean_index)


@pytest.mark.parametrize("scanner", ["sheared positions", "tilted planes"])
def test_gantry_tilt_is_corrected_and_reported(tmp_path, scanner):
    tilt = np.radians(15.0)
    step_mm, count = 1.5, 24
    if scanner == "sheared positions":  # axial planes, positions drift along y
        row, column = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
        advance = step_mm * np.array([0, np.tan(tilt), 1.0])
    else:  # planes tilted about x, table (positions) moving along z, as scanners write
        row, column = np.array([1.0, 0, 0]), np.array([0, np.cos(tilt), np.sin(tilt)])
        advance = np.array([0, 0, step_mm])
    first = np.array([-20.0, -30.0, 2.0])
    positions = [first + k * advance for k in range(count)]
    slices = sphere_slices(positions, row, column)
    # write an ordinary stack, then move each slice to its tilted position
    stack = Volume(slices, spacing_mm=(step_mm, 1.0, 1.0), origin_mm=first,
                   direction=np.column_stack([np.cross(row, column), column, row]))
    files = write_dicom_series(stack, tmp_path / "tilted")
    for path, position in zip(files, positions, strict=True):
        patch(path, ImagePositionPatient=[f"{v:.6f}" for v in position])
    with pytest.warns(HounsfieldWarning, match=r"gantry tilt of 15\.00° corrected"):
        ct = read_dicom(tmp_path / "tilted")
    assert ct.meta["gantry_tilt_deg"] == pytest.approx(15.0, abs=0.01)
    np.testing.assert_allclose(ct.direction[:, 0], np.cross(row, column), atol=1e-9)
    assert ct.spacing_mm[0] == pytest.approx(np.dot(advance, np.cross(row, column)))
    assert ct.shape[1] > 48  # the grid grew to hold the shifted slices
    np.testing.assert_allclose(weighted_centre(ct), SPHERE_CENTRE_MM, atol=0.05)
    # the naive stack (slices piled along the normal, unshifted) misplaces the sphere
    naive = Volume(slices, spacing_mm=ct.spacing_mm, origin_mm=first, direction=ct.direction)
    assert np.linalg.norm(weighted_centre(naive) - SPHERE_CENTRE_MM) > 2.0


def test_progress_bars_leave_the_result_unchanged(tmp_path):
    volume = Volume(np.arange(60 * 8 * 8, dtype=np.float32).reshape(60, 8, 8))
    write_dicom_series(volume, tmp_path)
    assert len(scan_dicom(tmp_path, progress=True)[0].files) == 60
    np.testing.assert_array_equal(read_quietly(tmp_path, progress=True).array, volume.array)
