"""What the template tests pick from: the example graph, and the pages a template asks for."""

from __future__ import annotations

from turnout.config.examples import GRAPH
from turnout.config.io import load_graph
from turnout.control.template_model import INACTIVE_PAGE, SAFE_PAGE, CampaignTemplate, placeholders

EXAMPLE = load_graph(GRAPH)
SAFE = "https://www.example.com/safe"
HOME = "https://www.example.com/"


def pages(template: CampaignTemplate) -> dict[str, str]:
    """The safe_page and inactive_page inputs the template uses, filled."""
    used = placeholders(template)
    return {**({"safe_page": SAFE} if SAFE_PAGE in used else {}),
            **({"inactive_page": HOME} if INACTIVE_PAGE in used else {})}
