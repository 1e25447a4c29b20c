"""Findings documents, the narrative written from them and the HTML page."""

import re

import jsonschema
import pytest

from hounsfield.report.findings import FindingsBuilder, Mask, schema, section_of
from hounsfield.report.html import render_html
from hounsfield.report.narrative import narrative, to_markdown


def _document(*, laa_left=1.0, grades=("normal", "normal"), losses=(5.0, 12.0)) -> dict:
    builder = FindingsBuilder({"shape_zyx": [10, 20, 20]})
    builder.add("technique", "technique", {"slices": 10, "rows": 20, "columns": 20,
                                           "pixel_spacing_mm": 0.7, "slice_spacing_mm": 2.5,
                                           "extent_z_mm": 25.0})
    for name, label_id, laa in (("lung_left", 204, laa_left), ("lung_right", 205, 2.0)):
        masks = [Mask("labels.nii.gz", label_id)]
        builder.add("lungs", "structure", {"volume_ml": 2000.0, "hu_mean": -850.0},
                    structure=name, masks=masks)
        builder.add("lungs", "lung_density",
                    {"laa950_percent": laa, "perc15_hu": -930.0, "volume_ml": 2000.0},
                    structure=name, masks=masks,
                    flags=["emphysema_laa950"] if laa >= 5 else [])
    for index, (grade, loss) in enumerate(zip(grades, losses, strict=True)):
        builder.add("bones", "vertebral_height",
                    {"anterior_height_mm": 20.0, "middle_height_mm": 21.0,
                     "posterior_height_mm": 22.0, "height_loss_percent": loss, "grade": grade},
                    structure=f"vertebrae_T{index + 6}", masks=[Mask("given.nii.gz", 30 + index)],
                    flags=[] if grade == "normal" else [f"height_loss_{grade}"])
    builder.add("lesions", "lesion", {"long_axis_mm": 14.2, "short_axis_mm": 11.0,
                                      "volume_ml": 1.1, "hu_mean": 35.0, "laterality": "left",
                                      "distance_to_pleura_mm": 4.0},
                structure="lesion_1", masks=[Mask("lesions.nii.gz", 1)],
                flags=["short_axis_ge_10mm"])
    return builder.to_dict()


def test_document_validates_against_its_schema():
    jsonschema.validate(_document(), schema())


def test_schema_rejects_a_finding_without_masks():
    document = _document()
    del document["findings"][1]["masks"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_every_sentence_is_grounded_in_existing_findings_and_their_masks():
    document = _document()
    by_id = {f["id"]: f for f in document["findings"]}
    for sentences in narrative(document).values():
        for sentence in sentences:
            assert sentence.finding_ids, sentence.text
            assert all(i in by_id for i in sentence.finding_ids)
            grounded = {(m["file"], m["label_id"]) for i in sentence.finding_ids
                        for m in by_id[i]["masks"]}
            assert set(sentence.masks) == grounded


def test_every_sentence_states_a_number():
    for sentences in narrative(_document()).values():
        for sentence in sentences:
            assert re.search(r"\d", sentence.text), sentence.text


def test_sections_in_reading_order_with_impression_last():
    assert list(narrative(_document())) == ["technique", "lungs", "bones", "lesions",
                                            "impression"]


def test_impression_names_emphysema_and_height_loss_only_when_flagged():
    quiet = " ".join(s.text for s in narrative(_document())["impression"])
    assert "No emphysema" in quiet and "No vertebral height loss" in quiet
    loud = narrative(_document(laa_left=7.5, grades=("normal", "moderate"), losses=(5.0, 31.0)))
    text = " ".join(s.text for s in loud["impression"])
    assert "emphysema: left lung 7.5 %" in text
    assert "Vertebra T7 31 % (moderate)" in text


def test_lymph_node_rule_is_stated_for_a_flagged_lesion():
    lesions = narrative(_document())["lesions"]
    assert "short axis ≥ 10 mm" in lesions[0].text and "14.2 × 11.0 mm" in lesions[0].text


def test_markdown_lists_finding_ids_after_each_sentence():
    markdown = to_markdown(narrative(_document()), title="Report")
    assert markdown.startswith("# Report")
    assert "## Impression" in markdown
    assert re.search(r"Left lung: volume 2000 ml, mean attenuation -850 HU\. \[F002\]", markdown)


def test_html_page_is_self_contained_and_links_every_reference(tmp_path):
    from PIL import Image

    picture = tmp_path / "p.png"
    Image.new("RGB", (4, 4), (200, 10, 10)).save(picture)
    from hounsfield.report.html import Figure

    document = _document()
    page = render_html(document, narrative(document), figures=[Figure(picture, "views")],
                       title="CT <report>")
    assert "CT &lt;report&gt;" in page  # escaped
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    for reference in set(re.findall(r'href="#(F\d+)"', page)):
        assert f'<tr id="{reference}">' in page


def test_section_of_known_names():
    assert section_of("lung_upper_lobe_left") == "lungs"
    assert section_of("trachea") == "airways"
    assert section_of("rib_left_3") == "bones"
    assert section_of("torso_fat") == "body_composition"
    assert section_of("liver") == "organs"
