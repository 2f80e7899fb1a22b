"""A trained probe (``--method probe --probe FILE``): logistic regression on the model's hidden state at the
answer's last token, fitted on labelled answers by ``calbench probe fit`` (:mod:`calbench.probe`):

    c = sigmoid(w . (h_l(prompt + answer)[-1] - mu) / sigma + b)

One forward pass over the stage-1 prompt followed by the answer (generated, or given with ``--answers``). The
probe file must have been fitted on the same model (its sha256 is checked); its path and sha256 are part of the
run's identity (``method_settings``).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from calbench.backends.base import Generation
from calbench.methods.base import MethodContext, answers_for, for_live, per_question, register, stage1_answer
from calbench.methods.capabilities import answer_cost, require
from calbench.probe import Probe, ProbeError
from calbench.records import Example, Sample


@register
class ProbeConfidence:
    """Trained probe: logistic regression on the hidden state at the answer's last token (``--probe FILE``)."""

    name: ClassVar[str] = "probe"
    needs: ClassVar[set[str]] = {"answer_hidden_states"}
    accepts_fixed_answer: ClassVar[bool] = True

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        path = ctx.settings.get("probe")
        if not path:
            raise ProbeError("method 'probe' needs a fitted probe: --probe FILE (made by `calbench probe fit`)")
        probe = Probe.load(path)
        probe.check_model(getattr(getattr(ctx.backend, "resolved", None), "sha256", None), str(path))
        firsts = answers_for(ctx, examples)
        feats = for_live(
            firsts,
            lambda live: cast(Any, ctx.backend).answer_hidden_states(
                [firsts[i][0] for i in live], [firsts[i][1].text for i in live], layers=[probe.layer]
            ),
        )

        def build(i: int, e: Example, g1: Generation, h) -> Sample:
            conf = float(probe.predict(h[None, 0, :])[0])
            return ctx.sample(
                e,
                self.name,
                prompt=firsts[i][0].to_dict(),
                raw_output=g1.text,
                answer=stage1_answer(ctx, g1),
                confidence=conf,
                parse_ok=True,
                probe_layer=probe.layer,
                cost=answer_cost(g1, extra_passes=1),
            )

        return per_question(ctx, self.name, examples, firsts, build, later=feats)
