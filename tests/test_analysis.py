"""The main job: a CT to a report folder, on the thorax phantom and on the real chest CT."""

import json
import re
import shutil
import subprocess
import time

import jsonschema
import numpy as np
import pytest

import hounsfield as hf
from hounsfield.analysis import analyze
from hounsfield.data.anatomy import example_lesions, lesion_truth, thorax_phantom
from hounsfield.report.findings import schema
from hounsfield.report.narrative import narrative

SECRET = "Doe^Jane-4711"


@pytest.fixture(scope="module")
def phantom_report(tmp_path_factory):
    ct, labels = thorax_phantom(shape=(64, 96, 96), spacing_mm=(4.5, 3.4, 3.4), noise_hu=10.0,
                                lesions=example_lesions())
    ct.meta["phi"] = {"PatientName": SECRET}
    folder = tmp_path_factory.mktemp("report")
    lesion = lesion_truth(example_lesions())[0]
    result = analyze(ct, folder, given_labels=labels,
                     lesion_points_mm=[tuple(lesion.center_mm)])
    return ct, labels, result, lesion


def test_report_folder_holds_every_output(phantom_report):
    _, _, result, _ = phantom_report
    names = {p.name for p in result.output.iterdir()}
    assert {"labels.nii.gz", "labels.json", "given.nii.gz", "lesions.nii.gz", "stats.json",
            "findings.json", "report.md", "report.html", "montage.png", "drr.png",
            "hu_histograms.png"} <= names
    assert not any(name.startswith(".") for name in names)  # no temporary files left


def test_findings_validate_against_the_schema(phantom_report):
    _, _, result, _ = phantom_report
    jsonschema.validate(json.loads((result.output / "findings.json").read_text()), schema())


def test_every_sentence_rests_on_findings_and_existing_masks(phantom_report):
    _, _, result, _ = phantom_report
    findings = json.loads((result.output / "findings.json").read_text())
    by_id = {f["id"]: f for f in findings["findings"]}
    maps = {}
    sentences = [s for section in narrative(findings).values() for s in section]
    assert len(sentences) > 10
    for sentence in sentences:
        assert sentence.finding_ids and all(i in by_id for i in sentence.finding_ids)
        for file, label_id in sentence.masks:
            if file not in maps:
                maps[file] = hf.read(result.output / file, labels=True).array
            assert (maps[file] == label_id).any(), (sentence.text, file, label_id)
    markdown = (result.output / "report.md").read_text()
    assert all(f"[{', '.join(s.finding_ids)}]" in markdown for s in sentences)


def test_stats_have_units_in_keys_and_match_numpy(phantom_report):
    ct, labels, result, _ = phantom_report
    stats = json.loads((result.output / "stats.json").read_text())
    liver = stats["liver"]
    assert liver["label_map"] == "given.nii.gz"
    mask = labels.array == labels.labels.id_of("liver")
    assert liver["volume_ml"] == pytest.approx(mask.sum() * ct.voxel_volume_ml)
    assert liver["hu_mean"] == pytest.approx(float(ct.array[mask].mean(dtype=np.float64)))
    assert {"volume_ml", "hu_mean", "hu_sd", "centroid_mm"} <= set(stats["lung_left"])


def test_clicked_lesion_is_measured_against_its_truth(phantom_report):
    _, _, result, truth = phantom_report
    lesions = [f for f in result.findings["findings"] if f["structure"] == "lesion_1"]
    measured = lesions[0]["measurements"]
    assert measured["volume_ml"] == pytest.approx(truth.volume_ml, rel=0.15)
    assert measured["long_axis_mm"] == pytest.approx(truth.axial_long_axis_mm, abs=5.0)
    assert lesions[0]["masks"] == [{"file": "lesions.nii.gz", "label_id": 1}]


def test_vertebral_heights_come_from_the_given_labels(phantom_report):
    _, _, result, _ = phantom_report
    vertebrae = [f for f in result.findings["findings"] if f["kind"] == "vertebral_height"]
    assert len(vertebrae) >= 5
    assert all(f["masks"][0]["file"] == "given.nii.gz" for f in vertebrae)


def test_no_patient_identifier_in_any_output(phantom_report):
    _, _, result, _ = phantom_report
    for path in result.output.iterdir():
        if path.suffix in (".json", ".md", ".html"):
            assert SECRET not in path.read_text(), path


def test_identifiers_only_when_asked(phantom_report, tmp_path):
    ct, _, _, _ = phantom_report
    analyze(ct, tmp_path, structures=("body", "lungs"), phi=True)
    assert SECRET in (tmp_path / "findings.json").read_text()


def test_html_report_is_self_contained_and_small(phantom_report):
    _, _, result, _ = phantom_report
    page = (result.output / "report.html").read_text()
    assert (result.output / "report.html").stat().st_size < 5_000_000
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium not installed")
def test_html_report_renders_in_headless_chromium(phantom_report, tmp_path):
    _, _, result, _ = phantom_report
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1280,2400",
                    (result.output / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    # The figures (black backgrounds with images) make a large part of the page dark.
    assert (pixels < 40).mean() > 0.1 and pixels.std() > 40


@pytest.mark.real
@pytest.mark.slow
def test_real_chest_ct_report_matches_its_reference_labels(chest_ct, tmp_path):
    ct, labels = chest_ct
    start = time.perf_counter()
    result = analyze(ct, tmp_path, given_labels=labels)
    print(f"\nanalyze, real chest CT: {time.perf_counter() - start:.1f} s")
    stats = json.loads((tmp_path / "stats.json").read_text())
    for name in ("lung_upper_lobe_left", "lung_lower_lobe_right", "liver", "aorta"):
        mask = labels.array == labels.labels.id_of(name)
        assert stats[name]["volume_ml"] == pytest.approx(mask.sum() * ct.voxel_volume_ml)
        assert stats[name]["hu_mean"] == pytest.approx(
            float(ct.array[mask].mean(dtype=np.float64)), abs=1e-6)
    lungs = {f["structure"]: f["measurements"] for f in result.findings["findings"]
             if f["kind"] == "lung_density"}
    assert set(lungs) == {"lung_left", "lung_right"}
    assert all(0 <= m["laa950_percent"] < 5 for m in lungs.values())
    assert (tmp_path / "report.html").stat().st_size < 5_000_000


def test_labels_on_another_grid_are_measured_on_their_own_grid(tmp_path):
    ct, labels = thorax_phantom(shape=(40, 48, 48), spacing_mm=(7.5, 6.25, 6.25))
    coarse = labels.resample((10.0, 10.0, 10.0))
    with pytest.warns(hf.HounsfieldWarning, match="grid"):
        result = analyze(ct, tmp_path, given_labels=coarse, structures=("body", "lungs"))
    liver = coarse.array == coarse.labels.id_of("liver")
    assert result.stats["liver"]["volume_ml"] == pytest.approx(liver.sum() * 1.0)  # 1 ml voxels
    assert hf.read(tmp_path / "given.nii.gz", labels=True).same_grid(ct)
