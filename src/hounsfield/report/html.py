"""A self-contained HTML report: narrative, figures (embedded PNGs) and the findings table.

The page loads nothing from elsewhere: styles are inline and images are
``data:`` URIs, so the single file can be mailed, archived or opened offline.

Examples
--------
>>> from hounsfield.report.findings import FindingsBuilder, Mask
>>> from hounsfield.report.narrative import narrative
>>> builder = FindingsBuilder({"orientation": "LPS"})
>>> _ = builder.add("lungs", "structure", {"volume_ml": 2400.0, "hu_mean": -850.0},
...                 structure="lung_left", masks=[Mask("labels.nii.gz", 204)])
>>> document = builder.to_dict()
>>> page = render_html(document, narrative(document), title="CT report")
>>> '<a class="ref" href="#F001">F001</a>' in page and "<tr id=\\"F001\\">" in page
True
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .narrative import SECTION_TITLES

__all__ = ["Figure", "render_html"]


@dataclass(frozen=True)
class Figure:
    """A PNG to embed, with the title and caption shown above and below it."""

    path: Path
    title: str
    caption: str = ""


def _measure(value) -> str:
    """A measurement for the table: floats to four significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hounsfield.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    environment.filters["measure"] = _measure
    return environment


def _embedded(figure: Figure) -> dict:
    data = base64.b64encode(Path(figure.path).read_bytes()).decode("ascii")
    return {"title": figure.title, "caption": figure.caption, "data": data}


def render_html(findings: dict, sections: dict, *, figures=(), colours=None,
                title: str = "CT report") -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    findings : dict
        The findings document (:class:`~hounsfield.report.findings.FindingsBuilder`).
    sections : dict
        Section → sentences, from :func:`~hounsfield.report.narrative.narrative`.
    figures : sequence of Figure
        PNGs embedded in order, after the impression.
    colours : dict, optional
        Structure name → CSS colour for the swatches of the findings table.
    title : str
        Page title.
    """
    template = _environment().get_template("report.html.j2")
    return template.render(findings=findings, sections=sections, title=title,
                           figures=[_embedded(f) for f in figures], colours=colours or {},
                           section_titles=SECTION_TITLES)
