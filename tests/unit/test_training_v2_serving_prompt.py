"""The prefix the runtime builds from an exported v2 model's prompt.json is the one training
wrote: the same system text, tools, and rules as v2/rules.py renders them."""

from __future__ import annotations

import random

from companion.core.protocol import system_prefix
from companion.rules.prefix_budget import pinned_prefix
from model_server.training.v2 import rules
from model_server.training.v2.export import serving_prompt
from model_server.training.v2.sessions import SYSTEM_TEXT
from tools.catalog import default_registry


def test_the_served_prefix_is_the_trained_prefix():
    prompt, tools = serving_prompt(), default_registry().describe()
    for seed in range(40):  # rule sets with and without lines
        rendered = rules.render(rules.sample_rules(random.Random(seed)), random.Random(seed))
        texts = [line.removeprefix("- ") for line in rendered.splitlines()[1:]]
        trained = system_prefix(SYSTEM_TEXT, rendered, tools)
        assert pinned_prefix(texts, prompt, "", "", "") == trained, rendered
    assert "Rules: none." in pinned_prefix([], prompt, "", "", "")
