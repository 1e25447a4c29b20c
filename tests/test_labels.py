"""LabelTable: construction, validation, JSON and 3D Slicer colour tables, TotalSegmentator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hounsfield.labels import Label, LabelTable, default_color, totalsegmentator_table


@pytest.fixture
def table():
    return LabelTable.from_names({5: "liver", 1: "spleen", 16: "trachea"})


# -- construction and lookup ------------------------------------------------------------------


def test_from_names_lists_labels_sorted_by_id(table):
    assert table.ids == [1, 5, 16]
    assert table.names == ["spleen", "liver", "trachea"]
    assert [label.id for label in table] == [1, 5, 16]
    assert len(table) == 3


def test_lookups_by_id_and_name(table):
    assert table.name_of(5) == "liver" and table.id_of("trachea") == 16
    assert table[np.int64(1)] == Label(1, "spleen", default_color(1))
    assert table.name_of(np.uint8(16)) == "trachea"


def test_contains_takes_ids_and_names(table):
    assert 5 in table and np.uint8(16) in table and "liver" in table
    assert 2 not in table and "kidney_left" not in table and 0 not in table


def test_missing_id_or_name_raises_key_error(table):
    with pytest.raises(KeyError, match="7"):
        table.name_of(7)
    with pytest.raises(KeyError, match="heart"):
        table.id_of("heart")


def test_from_names_gives_each_label_its_default_colour(table):
    assert all(label.color == default_color(label.id) for label in table)


def test_default_colours_are_valid_and_distinct_for_117_classes():
    colours = [default_color(i) for i in range(1, 118)]
    assert all(len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
               for c in colours)
    assert len(set(colours)) == 117


def test_add_with_explicit_colour(table):
    table.add(51, "heart", (200, 10, 0))
    assert table[51] == Label(51, "heart", (200, 10, 0))
    assert table.ids == [1, 5, 16, 51]


def test_adding_an_existing_id_replaces_its_label(table):
    table.add(5, "liver_segment_1", (1, 2, 3))
    assert table.name_of(5) == "liver_segment_1" and len(table) == 3
    assert "liver" not in table


@pytest.mark.parametrize("label_id", [0, -1, -255])
def test_background_and_negative_ids_are_rejected(table, label_id):
    with pytest.raises(ValueError, match="positive"):
        table.add(label_id, "thing")


@pytest.mark.parametrize("name", ["left lung", "lung\tleft", "", " trachea", "trachea\n"])
def test_names_with_spaces_or_empty_are_rejected(table, name):
    with pytest.raises(ValueError, match="names"):
        table.add(30, name)


def test_a_name_used_by_another_id_is_rejected(table):
    with pytest.raises(ValueError, match="already used by id 5"):
        table.add(6, "liver")


def test_from_names_with_a_duplicate_name_is_rejected():
    with pytest.raises(ValueError, match="already used"):
        LabelTable.from_names({1: "lung", 2: "lung"})


def test_from_names_with_id_zero_is_rejected():
    with pytest.raises(ValueError, match="background"):
        LabelTable.from_names({0: "background", 1: "lung"})


@pytest.mark.parametrize("color", [(256, 0, 0), (0, -1, 0), (1, 2), (1, 2, 3, 4)])
def test_bad_colours_are_rejected(table, color):
    with pytest.raises(ValueError, match="colour"):
        table.add(30, "kidney_left", color)


def test_tables_compare_by_content(table):
    labels = [(16, "trachea"), (1, "spleen"), (5, "liver")]
    same = LabelTable(Label(i, name, default_color(i)) for i, name in labels)
    assert same == table
    same.add(5, "liver", (0, 0, 0))
    assert same != table and table != {1: "spleen"}


def test_repr_shows_the_first_four_labels():
    assert repr(LabelTable.from_names({1: "a", 2: "b"})) == "LabelTable({1: a, 2: b})"
    big = LabelTable.from_names({i: f"n{i}" for i in range(1, 7)})
    assert repr(big) == "LabelTable({1: n1, 2: n2, 3: n3, 4: n4, ...})"


# -- JSON --------------------------------------------------------------------------------------


def test_to_dict_layout(table):
    first = table.to_dict()["labels"][0]
    assert first == {"id": 1, "name": "spleen", "color": list(default_color(1))}


def test_from_dict_without_colours_uses_default_colours():
    loaded = LabelTable.from_dict({"labels": [{"id": 3, "name": "kidney_left"}]})
    assert loaded[3].color == default_color(3)


@pytest.mark.parametrize("suffix", [".json", ".JSON"])
def test_json_round_trip_through_a_file(tmp_path, table, suffix):
    table.add(2, "kidney_right", (12, 34, 56))
    path = tmp_path / f"labels{suffix}"
    table.save(path)
    assert json.loads(path.read_text())["labels"][1] == {
        "id": 2, "name": "kidney_right", "color": [12, 34, 56]}
    assert LabelTable.load(path) == table


def test_save_leaves_no_temporary_files(tmp_path, table):
    table.save(tmp_path / "sub" / "labels.json")
    table.save(tmp_path / "sub" / "labels.json")  # overwrite
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["labels.json"]


# -- 3D Slicer colour table --------------------------------------------------------------------


def test_slicer_text_layout(table):
    lines = [line for line in table.to_slicer().splitlines() if not line.startswith("#")]
    r, g, b = default_color(1)
    assert lines[0] == "0 background 0 0 0 0"
    assert lines[1] == f"1 spleen {r} {g} {b} 255"
    assert len(lines) == 4


@pytest.mark.parametrize("name", ["labels.ctbl", "labels.txt"])
def test_slicer_round_trip_through_a_file(tmp_path, table, name):
    table.add(117, "costal_cartilages", (255, 0, 128))
    table.save(tmp_path / name)
    assert (tmp_path / name).read_text().startswith("# Color table file")
    assert LabelTable.load(tmp_path / name) == table


def test_from_slicer_tolerates_comments_blank_lines_and_an_alpha_column():
    text = (
        "# Color table file /tmp/x.ctbl\r\n"
        "# 4 values\r\n"
        "\n"
        "0 Background 0 0 0 0\n"
        "  1 spleen 157 108 162 255\n"
        "2\tkidney_right 185 102 83\n"  # no alpha
        "   # an indented comment\n"
        "10 lung_upper_lobe_left 224 186 162 128 extra\n"
    )
    table = LabelTable.from_slicer(text)
    assert table.ids == [1, 2, 10]
    assert table[1].color == (157, 108, 162)
    assert table[2] == Label(2, "kidney_right", (185, 102, 83))
    assert table.name_of(10) == "lung_upper_lobe_left"


@pytest.mark.parametrize(
    ("line", "number"),
    [("1 spleen 1 2", 2), ("one spleen 1 2 3", 2), ("1 spleen 1 2 x 255", 2)],
)
def test_from_slicer_names_the_bad_line(line, number):
    with pytest.raises(ValueError, match=f"line {number}"):
        LabelTable.from_slicer(f"# header\n{line}\n")


# -- TotalSegmentator ---------------------------------------------------------------------------


def test_totalsegmentator_table_has_its_117_classes_with_their_ids():
    table = totalsegmentator_table()
    assert len(table) == 117
    assert table.ids == list(range(1, 118))
    assert len(set(table.names)) == 117


@pytest.mark.parametrize(
    ("label_id", "name"),
    [
        (1, "spleen"),
        (5, "liver"),
        (10, "lung_upper_lobe_left"),
        (14, "lung_lower_lobe_right"),
        (16, "trachea"),
        (29, "vertebrae_L3"),
        (51, "heart"),
        (52, "aorta"),
        (90, "brain"),
        (116, "sternum"),
        (117, "costal_cartilages"),
    ],
)
def test_totalsegmentator_ids(label_id, name):
    table = totalsegmentator_table()
    assert table.name_of(label_id) == name and table.id_of(name) == label_id


def test_totalsegmentator_table_is_a_fresh_table_each_time():
    first = totalsegmentator_table()
    first.add(200, "lesion")
    assert 200 not in totalsegmentator_table()
