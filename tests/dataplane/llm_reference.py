"""Obviously-correct slow twin of the LLM replica kernel (gpusim.dataplane._llm_kernels).

Plain Python, one engine iteration at a time, every sequence an object with its own context and
remaining tokens: the same vLLM rules (FCFS admission with watermark, token budget, max_num_seqs;
prefill-first or chunked prefill; preemption of the newest sequence with recompute), none of the
kernel's closed-form runs of decode iterations. Used only by tests.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass
class _Req:
    arr: float
    first: float
    pre: int  # tokens to prefill
    rem: int  # tokens still to generate
    tot: int
    ctx: int = 0
    done: int = 0  # chunked: prefill tokens done


class ReferenceReplica:
    def __init__(self, model, *, chunked_prefill=False, watermark_fraction=0.01, queue_capacity=1 << 16):
        self.m = model
        self.chunked = chunked_prefill
        self.cap = model.kv_capacity_tokens
        self.wm = math.floor(watermark_fraction * self.cap)
        self.qcap = queue_capacity
        self.t = 0.0
        self.waiting: deque[_Req] = deque()
        self.running: list[_Req] = []  # admission order
        self.partial: _Req | None = None
        self.records: list[tuple[float, float, float]] = []
        self.first_tokens: list[float] = []
        self.preemptions = 0
        self.rejected = 0
        self.dropped = 0
        self.decode_seq_seconds = 0.0

    def _kv(self):
        return sum(r.ctx for r in self.running)

    def _res(self):
        return self.partial.pre if self.partial else 0

    def _admissible(self, pre, n_new, kv_new):
        held = len(self.running) + (1 if self.partial else 0) + n_new
        return held < self.m.max_num_seqs and self.cap - self._kv() - self._res() - kv_new - pre >= self.wm

    def _preempt(self):
        while self.running and self._kv() + self._res() + len(self.running) > self.cap:
            v = self.running.pop()
            self.preemptions += 1
            generated = v.tot - v.rem
            self.waiting.appendleft(_Req(v.arr, v.first, v.ctx + 1, v.rem, v.tot))
            assert generated >= 1

    def serve(self, t_end, arrivals, prompts, outputs):
        m = self.m
        i = 0
        n = len(arrivals)
        while True:
            while i < n and arrivals[i] <= self.t:
                p, o = max(int(prompts[i]), 1), max(int(outputs[i]), 1)
                if p + o > self.cap - self.wm:
                    self.rejected += 1
                elif len(self.waiting) >= self.qcap:
                    self.dropped += 1
                else:
                    self.waiting.append(_Req(float(arrivals[i]), math.nan, p, o, o))
                i += 1
            if self.t >= t_end:
                break
            if not self.running and not self.partial and not self.waiting:
                if i < n:
                    self.t = float(arrivals[i])
                    continue
                self.t = t_end
                break
            finishing: list[_Req] = []
            p_tok, pairs = 0, 0.0
            decode = list(self.running)
            if self.chunked:
                self._preempt()
                decode = list(self.running)
                left = m.max_num_batched_tokens - len(decode)
                while left > 0:
                    if self.partial is None:
                        # prompts finished in this iteration still hold their KV
                        held_kv = sum(r.pre for r in finishing)
                        if self.waiting and self._admissible(self.waiting[0].pre, len(finishing), held_kv):
                            self.partial = self.waiting.popleft()
                            self.partial.done = 0
                        else:
                            break
                    r = self.partial
                    k = min(r.pre - r.done, left)
                    p_tok += k
                    pairs += k * r.done + k * (k + 1) / 2
                    left -= k
                    r.done += k
                    if r.done < r.pre:
                        break
                    finishing.append(r)
                    self.partial = None
            else:
                kv_new = 0
                while self.waiting:
                    r = self.waiting[0]
                    if finishing and p_tok + r.pre > m.max_num_batched_tokens:
                        break
                    if not self._admissible(r.pre, len(finishing), kv_new):
                        break
                    self.waiting.popleft()
                    finishing.append(r)
                    kv_new += r.pre
                    p_tok += r.pre
                    pairs += r.pre * (r.pre + 1) / 2
                if finishing:
                    decode = []
                else:
                    self._preempt()
                    decode = list(self.running)
            kv = sum(r.ctx for r in decode)
            dur = m.fixed_s + m.per_token_s * (len(decode) + p_tok) + m.per_ctx_s * kv + m.per_pair_s * pairs
            self.decode_seq_seconds += len(self.running) * dur
            self.t += dur
            for r in decode:
                r.ctx += 1
                r.rem -= 1
            for r in [r for r in decode if r.rem == 0]:
                self.running.remove(r)
                self.records.append((r.arr, r.first, self.t))
            for r in finishing:
                if math.isnan(r.first):
                    r.first = self.t
                    self.first_tokens.append(self.t - r.arr)
                if r.rem <= 1:
                    self.records.append((r.arr, r.first, self.t))
                else:
                    r.ctx = r.pre
                    r.rem -= 1
                    self.running.append(r)
