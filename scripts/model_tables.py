#!/usr/bin/env python3
"""Markdown tables of the liquidity-model arms from `dmc sim experiment --out` reports.

usage: scripts/model_tables.py REPORT.json [LIARS_REPORT.json]

Prints, per wallet / estimator and subset (all, first_20, infeasible): each arm's
failed HTLCs per payment, success rate and time to pay, the gap closed by the
warm (last-observation) arm and by the model, and the ablations' difference
from the whole model. With a second report (the same worlds with liars), the
share of the model's gain over cold kept under lies.
"""
import json
import sys


def stat(s, d=3):
    if s is None:
        return "null"
    lo, hi = s["ci95"]
    return f"{s['mean']:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def bold_if_excludes_zero(s, d=3):
    t = stat(s, d)
    if s is not None and (s["ci95"][0] > 0 or s["ci95"][1] < 0):
        return f"**{t}**"
    return t


def groups(report):
    for g in report["results"]:
        yield f"{g['wallet']} / {g['estimator']}", g


def main():
    rep = json.load(open(sys.argv[1]))
    liars = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else None
    arms = ["cold", "warm", "newest_wins", "model", "oracle"]
    for subset in ["all", "first_20", "infeasible"]:
        print(f"\n#### `subsets.{subset}`: failed HTLCs per payment\n")
        print("| wallet / estimator | payments | " + " | ".join(arms) + " | gap closed: warm | gap closed: model |")
        print("|---" * (len(arms) + 4) + "|")
        for name, g in groups(rep):
            s = g["subsets"][subset]
            cells = [stat(s["arms"][a]["failed_htlcs_per_payment"]) for a in arms]
            gc = s["gap_closed"]["by_arm"]
            print(f"| {name} | {s['payments']} | " + " | ".join(cells)
                  + f" | {stat(gc['warm']['failed_htlcs_per_payment'], 2)} | {stat(gc['model']['failed_htlcs_per_payment'], 2)} |")
        print(f"\n#### `subsets.{subset}`: time to pay (s), success rate, model − cold\n")
        print("| wallet / estimator | time: cold | time: model | time: oracle | gap closed (time): model | success: cold | success: model | model − cold (failed HTLCs) | model − warm (failed HTLCs) |")
        print("|---" * 9 + "|")
        for name, g in groups(rep):
            s = g["subsets"][subset]
            a = s["arms"]
            d = s["differences"]
            gc = s["gap_closed"]["by_arm"]
            print(f"| {name} | {stat(a['cold']['time_to_pay_s'], 2)} | {stat(a['model']['time_to_pay_s'], 2)} | {stat(a['oracle']['time_to_pay_s'], 2)} | "
                  f"{stat(gc['model']['time_to_pay_s'], 2)} | {stat(a['cold']['success_rate'])} | {stat(a['model']['success_rate'])} | "
                  f"{bold_if_excludes_zero(d['model_minus_cold']['failed_htlcs_per_payment'])} | {bold_if_excludes_zero(d['model_minus_warm']['failed_htlcs_per_payment'])} |")
    print("\n#### Ablations, `subsets.all`: arm − model, failed HTLCs per payment (positive: the component helps)\n")
    abl = ["model_no_shape", "model_no_receive", "model_no_staleness", "model_no_settled"]
    print("| wallet / estimator | " + " | ".join(abl) + " |")
    print("|---" * (len(abl) + 1) + "|")
    for name, g in groups(rep):
        d = g["subsets"]["all"]["differences"]
        print(f"| {name} | " + " | ".join(bold_if_excludes_zero(d[f"{x}_minus_model"]["failed_htlcs_per_payment"]) for x in abl) + " |")
    if liars:
        print("\n#### With liars: the model's gain over cold kept (subsets.all, failed HTLCs per payment)\n")
        print("| wallet / estimator | model − cold, honest | model − cold, liars | kept | warm − cold, liars | newest_wins − cold, liars |")
        print("|---" * 6 + "|")
        lg = dict(groups(liars))
        for name, g in groups(rep):
            h = g["subsets"]["all"]["differences"]["model_minus_cold"]["failed_htlcs_per_payment"]
            l = lg[name]["subsets"]["all"]["differences"]
            lm = l["model_minus_cold"]["failed_htlcs_per_payment"]
            kept = (lm["mean"] / h["mean"]) if h and lm and h["mean"] < 0 else None
            print(f"| {name} | {stat(h)} | {stat(lm)} | {'n/a' if kept is None else f'{kept:.2f}'} | "
                  f"{stat(l['warm_minus_cold']['failed_htlcs_per_payment'])} | {stat(l['newest_wins_minus_cold']['failed_htlcs_per_payment'])} |")


if __name__ == "__main__":
    main()
