"""`hounsfield lesion`: clicks to lesion masks and measurements."""

import json

import pytest

import hounsfield as hf
from hounsfield.cli import main
from hounsfield.data.anatomy import example_lesions, lesion_truth, thorax_phantom


@pytest.fixture(scope="module")
def phantom_file(tmp_path_factory):
    ct, _ = thorax_phantom(shape=(64, 96, 96), spacing_mm=(4.5, 3.4, 3.4), noise_hu=10.0,
                           lesions=example_lesions())
    return hf.write(ct, tmp_path_factory.mktemp("input") / "ct.nii.gz")


def test_lesion_verb_segments_and_measures_each_click(capsys, phantom_file, tmp_path):
    truths = lesion_truth(example_lesions())
    clicks = [",".join(f"{v:.2f}" for v in truth.center_mm) for truth in truths]
    argv = ["lesion", str(phantom_file), "-o", str(tmp_path / "out")]
    for click in clicks:
        argv.append(f"--click={click}")  # "=": x may be negative
    assert main(argv) == 0
    document = json.loads((tmp_path / "out" / "lesions.json").read_text())
    assert [d["name"] for d in document] == ["lesion_1", "lesion_2"]
    for measured, truth in zip(document, truths, strict=True):
        assert measured["volume_ml"] == pytest.approx(truth.volume_ml, rel=0.15)
        assert measured["distance_to_pleura_mm"] is not None
    masks = hf.read(tmp_path / "out" / "lesions.nii.gz", labels=True)
    assert masks.labels.names == ["lesion_1", "lesion_2"]
    assert "lesion_2" in capsys.readouterr().err


def test_malformed_click_is_one_line_error(capsys, phantom_file, tmp_path):
    code = main(["lesion", str(phantom_file), "-o", str(tmp_path / "o"), "--click", "1,2"])
    err = capsys.readouterr().err
    assert code == 2 and "x,y,z" in err and "Traceback" not in err


def test_click_outside_the_scan_names_the_file(capsys, phantom_file, tmp_path):
    code = main(["lesion", str(phantom_file), "-o", str(tmp_path / "o"),
                 "--click", "5000,0,0"])
    err = capsys.readouterr().err
    assert code == 2 and str(phantom_file) in err
