#!/usr/bin/env python3
"""Can a slow fader be told from an ordinary dip 7 days before they leave?

An oracle check for `vigil eval`'s targets, outside the engine: it reads a
simulator's events and labels (`vigil gen --labels L > E`) and, per player,
the daily activity the engine's 28-day window holds (active days, bets and
lottery tickets, stake). For every day it computes statistics of the last 7
finished days against the player's own previous 21 (at least 14), each in
the player's own standard deviations:

  active   active days short of the usual (binomial spread, widened for the
           baseline's own error)
  bets     bets short of the usual (the baseline days' spread)
  stake    stake per bet below the usual (per-bet spread from the daily
           residuals)
  pooled   active + bets + stake, each clamped to -1..3, over sqrt(3)
  cusum    a one-sided log-likelihood-ratio CUSUM over the 7 days, "as
           usual" against "30 % down" (active day as a coin flip, bets as
           an overdispersed Poisson count)
  idle     visit days without a bet above the usual share

A stable player's figure is their worst over the whole run (holidays and
season breaks and the 7 days after them left out, which favours detection);
a slow fader's or returner's is their best on the days from the onset to
`churn_at - LEAD` days, that is, evidence that would give at least LEAD
days of lead. For thresholds that flag 50, 30, 20 and 10 % of the stable
players at some time, it prints how many faders pass. The targets (recall
0.8, precision 0.7, median lead 7 days) allow about 10 % of the stable
players alerted and need about 40 % of all churners (the abrupt leavers
cannot have 7 days) caught at least 7 days ahead.

Usage: scripts/detection-oracle.py EVENTS LABELS [LEAD_DAYS]  (stdlib only)
"""

import collections
import json
import math
import sys
from datetime import datetime


def day_of(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() // 86400)


def field(line, name):
    i = line.find('"%s":"' % name)
    if i < 0:
        return None
    i += len(name) + 4
    return line[i : line.find('"', i)]


def number(line, name):
    i = line.find('"%s":' % name)
    if i < 0:
        return 0.0
    i += len(name) + 3
    j = i
    while line[j] in "0123456789.-e":
        j += 1
    return float(line[i:j])


def load(events, labels):
    lab = {}
    for line in open(labels):
        d = json.loads(line)
        lab[(d["brand"], d["player_id"])] = d
    days = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, 0, 0.0]))
    first = None
    for line in open(events):
        ty = field(line, "type")
        if ty not in ("login", "bet", "lottery_ticket"):
            continue
        d = day_of(field(line, "ts"))
        first = d if first is None else min(first, d)
        cell = days[(field(line, "brand"), field(line, "player_id"))][d]
        cell[0] = 1
        if ty == "login":
            cell[1] = 1
        else:
            cell[2] += 1
            cell[3] += number(line, "stake" if ty == "bet" else "amount")
    return lab, days, first


def statistics(act, vis, bets, stake, d):
    """The figures of the 7 days before day index `d`, or None."""
    base = range(max(0, d - 28), d - 7)
    n = len(base)
    if n < 14:
        return None
    recent = range(d - 7, d)
    inflate = math.sqrt(1 + 7 / n)
    p = sum(act[i] for i in base) / n
    mb = sum(bets[i] for i in base) / n
    vb = sum((bets[i] - mb) ** 2 for i in base) / (n - 1)
    sda = max(math.sqrt(7 * p * (1 - p)), 0.7 * p, 0.5) * inflate
    sdb = max(math.sqrt(7 * vb), 0.7 * mb, 1.0) * inflate
    z_act = (7 * p - sum(act[i] for i in recent)) / sda
    z_bets = (7 * mb - sum(bets[i] for i in recent)) / sdb
    # Stake per bet.
    nb, nr = sum(bets[i] for i in base), sum(bets[i] for i in recent)
    z_stake = 0.0
    if nb >= 5 and nr >= 1:
        mu = sum(stake[i] for i in base) / nb
        var = sum((stake[i] - bets[i] * mu) ** 2 for i in base) / nb
        var = max(var, (0.3 * mu) ** 2, 1e-12)
        z_stake = (mu - sum(stake[i] for i in recent) / nr) / math.sqrt(var / nr + var / nb)
    pooled = sum(max(-1.0, min(3.0, z)) for z in (z_act, z_bets, z_stake)) / math.sqrt(3)
    # Log-likelihood-ratio CUSUM, 30 % down against as usual.
    p0 = min(max(p, 0.02), 0.97)
    p1 = 0.7 * p0
    disp = max(1.0, vb / mb) if mb > 0 else 1.0
    s = best = 0.0
    for i in recent:
        x = math.log(p1 / p0) if act[i] else math.log((1 - p1) / (1 - p0))
        if mb > 0:
            x += (bets[i] * math.log(0.7) + 0.3 * mb) / disp
        s = max(0.0, s + x)
        best = max(best, s)
    # Idle visits: visit days without a bet, against the usual share.
    idle_b = sum(1 for i in base if vis[i] and bets[i] == 0)
    vis_b = sum(vis[i] for i in base)
    vis_r = sum(vis[i] for i in recent)
    z_idle = 0.0
    if vis_r:
        share = (idle_b + 1.0) / (vis_b + 20.0)
        expect = vis_r * share
        idle_r = sum(1 for i in recent if vis[i] and bets[i] == 0)
        z_idle = (idle_r - expect) / math.sqrt(max(expect * (1 - share), 0.05) * (1 + vis_r / max(vis_b, 1)))
    return [z_act, z_bets, z_stake, pooled, best, z_idle]


NAMES = ["active", "bets", "stake", "pooled", "cusum", "idle"]


def main():
    events, labels = sys.argv[1], sys.argv[2]
    lead = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    lab, days, first = load(events, labels)
    n_days = 60
    stable, faders = [], []
    churners = 0
    for key, label in lab.items():
        cells = days.get(key, {})
        cols = [[cells.get(first + i, [0, 0, 0, 0.0])[c] for i in range(n_days)] for c in range(4)]
        act, vis, bets, stake = cols
        if label["fate"] == "stable":
            skip = set()
            for k in ("holiday", "season_break"):
                if label.get(k):
                    a, b = (day_of(x) - first for x in label[k])
                    skip.update(range(a - 1, b + 8))
            worst = None
            for d in range(21, n_days + 1):
                f = None if d in skip else statistics(act, vis, bets, stake, d)
                if f:
                    worst = f if worst is None else [max(x, y) for x, y in zip(worst, f)]
            if worst:
                stable.append(worst)
            continue
        churn = day_of(label["churn_at"]) - first if label["churn_at"] else None
        if churn is None or churn >= n_days:
            continue
        churners += 1
        if label["fate"] == "abrupt_leave":
            continue
        onset = day_of(label["onset"]) - first
        best = None
        for d in range(onset + 1, churn - lead + 1):
            f = statistics(act, vis, bets, stake, d)
            if f:
                best = f if best is None else [max(x, y) for x, y in zip(best, f)]
        faders.append(best)
    print(
        f"{len(stable)} stable players, {churners} churners within the data, "
        f"{len(faders)} of them slow faders or returners; the targets need about "
        f"{math.ceil(0.4 * churners)} caught {lead} days ahead with about "
        f"{math.floor(0.8 * churners * 0.3 / 0.7)} stable players alerted"
    )
    print(f"faders with evidence >= {lead} days ahead, at thresholds flagging this share of stable players:")
    print("statistic   50 %   30 %   20 %   10 %")
    for i, name in enumerate(NAMES):
        worst = sorted(w[i] for w in stable)
        row = []
        for share in (0.5, 0.3, 0.2, 0.1):
            t = worst[min(len(worst) - 1, int((1 - share) * len(worst)))]
            row.append(sum(1 for f in faders if f is not None and f[i] > t))
        print(f"{name:10s}" + "".join(f"{c:7d}" for c in row))


if __name__ == "__main__":
    main()
