"""Token choice and stop rules: logit bias, greedy, temperature, top-k, top-p; stop ids, strings, length.

Each request samples with its own torch.Generator seeded from `sampling_seed`, one row at a
time, so its tokens depend only on its own logits and seed (reproducible, batch-invariant).
"""

from __future__ import annotations

import torch

from model_server.core import Req, SamplingParams

# Below this temperature the scaled logits overflow float32 (1e-38 and smaller are not even
# representable) and softmax gives inf/nan; every such temperature picks the argmax anyway.
GREEDY_BELOW = 1e-5


def make_generator(params: SamplingParams) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(params.sampling_seed)
    return g


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator,
           grammar=None) -> int:
    """One token id from fp32 logits [vocab]; the request's logit_bias is added first, then a
    grammar (GrammarState) masks them.
    Numerically safe for any validated params: a temperature under GREEDY_BELOW is greedy,
    top_p keeps at least the top token, and logits that give no usable distribution fall back
    to the argmax rather than raising."""
    if params.logit_bias:
        logits = logits.clone()
        for token, bias in params.logit_bias:
            logits[token] += bias
    if grammar is not None:
        logits = grammar.mask(logits)
    if params.temperature < GREEDY_BELOW or params.top_k == 1:
        return int(torch.argmax(logits))
    scaled = logits.float().cpu() / params.temperature
    if params.top_k > 0:
        kth = torch.topk(scaled, min(params.top_k, scaled.shape[0])).values[-1]
        scaled = torch.where(scaled < kth, float("-inf"), scaled)
    probs = torch.softmax(scaled, dim=-1)
    if params.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        drop = torch.cumsum(sorted_p, dim=-1) - sorted_p >= params.top_p
        drop[0] = False  # a top_p under float32's range (1e-300) compares as 0
        sorted_p = torch.where(drop, 0.0, sorted_p)
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    if not bool(torch.isfinite(probs).all()) or float(probs.sum()) <= 0:
        return int(torch.argmax(logits))
    return int(torch.multinomial(probs, 1, generator=generator))


def check_stop(req: Req, token: int, eos_ids: tuple[int, ...], decode) -> None:
    """Set req.finish_reason (SGLang's shape) if `token` ends the request; update req.text.

    `decode(ids, skip_special_tokens) -> str` or None when the model has no tokenizer.
    """
    p = req.sampling
    rejected = req.grammar is not None and not req.grammar.accept(token)
    if decode is not None:
        text = decode(req.output_ids, p.skip_special_tokens)
        for s in p.stop:
            at = text.find(s)
            if at >= 0:
                req.text = text if p.no_stop_trim else text[:at]
                req.finish_reason = {"type": "stop", "matched": s}
                return
        req.text = text
    if rejected:  # only when the mask left nothing valid; never silently continue off-grammar
        req.finish_reason = {"type": "abort", "message": "the grammar rejected the sampled token"}
    elif token in p.stop_token_ids or (not p.ignore_eos and token in eos_ids):
        if decode is not None and not p.no_stop_trim:
            req.text = decode(req.output_ids[:-1], p.skip_special_tokens)
        req.finish_reason = {"type": "stop", "matched": token}
    elif req.grammar is not None and req.grammar.terminated:
        req.finish_reason = {"type": "stop", "matched": "grammar"}
    elif len(req.output_ids) >= p.max_new_tokens:
        req.finish_reason = {"type": "length", "length": p.max_new_tokens}
