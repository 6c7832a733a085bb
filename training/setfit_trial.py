"""A SetFit-style recipe trial: contrastive sentence tuning, then a logistic-regression head per head.

``python -m training.setfit_trial --backbone minilm --pairs 6000`` tunes the encoder so that quotes
with the same label (on a head drawn per pair) embed close and others apart (cosine-similarity
loss on mean-pooled embeddings, as SetFit does), then fits one logistic regression per project dyad
and for sentiment on the tuned embeddings of ``quote [SEP] speaker: context``, and scores dev.  The
frozen encoder with the same heads is measured in the same run as the baseline.  Both rows go to the
experiment table (``--experiment_log``), so the recipe is compared with full fine-tuning on the
same dev split.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from models.backbones import resolve_backbone
from models.input_encoding import QuoteInput, encode_quotes, pad_batch
from models.label_schema import PROJECT_DYADS, QuoteRecord
from training.data import load_records

HEADS = (*PROJECT_DYADS, "sentiment")


def _label(r: QuoteRecord, head: str) -> str | None:
    return r.sentiment or None if head == "sentiment" else r.labels.get(head)


def embed(model, tokenizer, records: Sequence[QuoteRecord], batch: int = 64) -> np.ndarray:
    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(records), batch):
            chunk = records[i : i + batch]
            enc = encode_quotes(tokenizer, [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in chunk], 192)
            t = pad_batch({k: v for k, v in enc.items() if k != "quote_mask"}, tokenizer.pad_token_id or 0)
            args = {"input_ids": t["input_ids"], "attention_mask": t["attention_mask"]}
            hidden = model(**args).last_hidden_state
            mask = t["attention_mask"].unsqueeze(-1).float()
            out.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(out)


def pairs(records: Sequence[QuoteRecord], n: int, rng: random.Random) -> list[tuple[int, int, float]]:
    out = []
    by_label: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(records):
        for h in HEADS:
            lab = _label(r, h)
            if lab:
                by_label.setdefault((h, lab), []).append(i)
    keys = list(by_label)
    for k in range(n):
        head = HEADS[k % len(HEADS)]
        pos = [key for key in keys if key[0] == head and len(by_label[key]) > 1]
        key = rng.choice(pos)
        if k % 2 == 0:  # a positive pair: same label on this head
            a, b = rng.sample(by_label[key], 2)
            out.append((a, b, 1.0))
        else:
            other = rng.choice([o for o in keys if o[0] == head and o != key])
            out.append((rng.choice(by_label[key]), rng.choice(by_label[other]), 0.0))
    return out


def heads_f1(train_x: np.ndarray, train: Sequence[QuoteRecord], dev_x: np.ndarray, dev: Sequence[QuoteRecord]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    scores = {}
    for head in HEADS:
        tr = [(x, _label(r, head)) for x, r in zip(train_x, train) if _label(r, head)]
        de = [(x, _label(r, head)) for x, r in zip(dev_x, dev) if _label(r, head)]
        clf = LogisticRegression(max_iter=3000, C=2.0, class_weight="balanced")
        clf.fit(np.stack([x for x, _ in tr]), [y for _, y in tr])
        pred = clf.predict(np.stack([x for x, _ in de]))
        scores[head] = round(float(f1_score([y for _, y in de], pred, average="macro")), 4)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="training/data/corpus")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--experiment_log", default="benchmarks/experiments.jsonl")
    args = parser.parse_args(argv)
    from transformers import AutoModel, AutoTokenizer

    started = time.monotonic()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    records = load_records(args.data)
    train = [r for r in records if r.extra.get("split") == "train"]
    dev = [r for r in records if r.extra.get("split") == "dev"]
    path = resolve_backbone(args.backbone).path
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path))
    rows = []
    frozen = heads_f1(embed(model, tokenizer, train), train, embed(model, tokenizer, dev), dev)
    rows.append(("SetFit-style baseline: frozen encoder + logistic regression", frozen, 0))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    todo = pairs(train, args.pairs, rng)
    for start in range(0, len(todo), args.batch_size):
        chunk = todo[start : start + args.batch_size]
        left = [train[a] for a, _, _ in chunk]
        right = [train[b] for _, b, _ in chunk]
        vecs = []
        for side in (left, right):
            enc = encode_quotes(tokenizer, [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in side], 192)
            t = pad_batch({k: v for k, v in enc.items() if k != "quote_mask"}, tokenizer.pad_token_id or 0)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hidden = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).last_hidden_state
            mask = t["attention_mask"].unsqueeze(-1).float()
            vecs.append((hidden.float() * mask).sum(1) / mask.sum(1))
        target = torch.tensor([y for _, _, y in chunk])
        loss = F.mse_loss(F.cosine_similarity(vecs[0], vecs[1]), target)
        loss.backward()
        opt.step()
        opt.zero_grad()
    tuned = heads_f1(embed(model, tokenizer, train), train, embed(model, tokenizer, dev), dev)
    minutes = (time.monotonic() - started) / 60
    rows.append((f"SetFit-style: contrastive tuning ({args.pairs} pairs) + logistic regression", tuned, minutes))
    log = Path(args.experiment_log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        for note, scores, mins in rows:
            row = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "tag": None, "data": args.data,
                   "backbone": args.backbone, "epochs": 1.0, "max_steps": 0, "learning_rate": args.learning_rate,
                   "head_learning_rate": 0.0, "layer_decay": 1.0, "warmup_ratio": 0.0, "max_length": 192,
                   "seed": args.seed, "negatives_per_record": 0, "teacher": "", "note": note, "dev_n": len(dev),
                   "dev": {d: scores[d] for d in PROJECT_DYADS}, "dev_sentiment": scores["sentiment"],
                   "minutes": round(mins, 1)}
            fh.write(json.dumps(row) + "\n")
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
