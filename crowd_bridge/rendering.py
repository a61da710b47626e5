"""HIT pages from Jinja templates, wrapped as MTurk HTMLQuestion XML.

Templates live in ``hit_templates/``. They are rendered with autoescaping
(product descriptions carry quotes, ampersands and stray markup) and
StrictUndefined, so a template that names a field the campaign does not have
fails loudly at preview time instead of showing workers a blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)

from crowd_bridge.campaign import TEMPLATE_DIR, CampaignConfig
from crowd_bridge.errors import TemplateError

QUESTION_LIMIT_BYTES = 65_535
HTML_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
    "2011-11-11/HTMLQuestion.xsd"
)
# Where the form posts when the page is opened outside an MTurk frame; inside
# one, the page reads turkSubmitTo from its query string instead.
DEFAULT_SUBMIT_URL = "https://www.mturk.com/mturk/externalSubmit"


@dataclass(frozen=True)
class RenderedItem:
    item_id: str
    fields: dict[str, str]


class HitRenderer:
    """Renders a campaign's template for a list of items."""

    def __init__(
        self,
        config: CampaignConfig,
        template_dir: Path = TEMPLATE_DIR,
        submit_url: str = DEFAULT_SUBMIT_URL,
    ) -> None:
        self._config = config
        self._submit_url = submit_url
        environment = Environment(
            loader=FileSystemLoader(str(template_dir)),
            autoescape=select_autoescape(
                enabled_extensions=("html", "j2"), default_for_string=True
            ),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        try:
            self._template = environment.get_template(config.template)
        except JinjaTemplateError as error:
            raise TemplateError(
                f"template {config.template!r} cannot be loaded: {error}"
            ) from error

    def html(self, items: Sequence[RenderedItem]) -> str:
        """The HIT page a worker sees."""
        try:
            return self._template.render(
                title=self._config.title,
                task=self._config.task,
                items=items,
                submit_url=self._submit_url,
            )
        except JinjaTemplateError as error:
            first = items[0].item_id if items else "(none)"
            raise TemplateError(
                f"template {self._config.template!r} failed for the HIT starting "
                f"with item {first}: {error}. Check that the campaign's items.fields "
                "list every field the template uses."
            ) from error

    def question(self, items: Sequence[RenderedItem]) -> str:
        """The HTMLQuestion XML for CreateHIT, refused past MTurk's size limit."""
        return wrap_html_question(self.html(items), first_item=items[0].item_id)


def wrap_html_question(
    html: str, *, first_item: str = "", frame_height: int = 0
) -> str:
    """Wrap a page in HTMLQuestion XML; CDATA cannot hold the sequence ']]>'."""
    safe = html.replace("]]>", "]]]]><![CDATA[>")
    question = (
        f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}">'
        f"<HTMLContent><![CDATA[{safe}]]></HTMLContent>"
        f"<FrameHeight>{frame_height}</FrameHeight></HTMLQuestion>"
    )
    size = len(question.encode("utf-8"))
    if size > QUESTION_LIMIT_BYTES:
        raise TemplateError(
            f"the HIT starting with item {first_item} renders to {size:,} bytes, over "
            f"MTurk's limit of {QUESTION_LIMIT_BYTES:,} for a Question; lower "
            "items_per_hit or shorten the fields the template shows."
        )
    return question
