"""``shopfloor prognose``: one tool's wear so far in, its forecast out, from a registered prognosis model."""

from __future__ import annotations

import argparse
import math

from shopfloor.constants import CHAMPION, PROGNOSIS_MODEL
from shopfloor_cli.common import add_model_name, checked_name, csv_list, write_json


def cmd_prognose(args: argparse.Namespace) -> int:
    name = checked_name(args)
    from shopfloor.errors import DataError

    try:
        values = [float(v) for v in csv_list(args.wear)]
    except ValueError:
        raise DataError("wear", f"comma-separated numbers in mm, got {args.wear!r}") from None

    from shopfloor.registry import champion_version, load_version, use_tracking

    use_tracking()
    version = champion_version(name, args.alias)
    model = load_version(name, version.version)
    if model.KIND != "prognosis":
        raise DataError("model-name", f"{name} is a {model.KIND} model, not a prognosis model")
    if args.vb_limit is not None:
        model.limit = args.vb_limit
    rows = model.inputs.parse_v1({"instances": values})
    out = {k: v[0] for k, v in model.predict_rows(rows).items()}
    n = len(values)
    print(
        f"{name} version {version.version}: {n} cuts observed, last wear {values[-1]:.3f} mm; forecast "
        f"({model.draws} posterior draws):"
    )
    print("   cut   q10     median  q90  (mm)")
    for k in range(len(out["median"])):
        print(f"  {n + k:4d}  {out['q10'][k]:.3f}   {out['median'][k]:.3f}   {out['q90'][k]:.3f}")

    def cuts(v: float) -> str:
        return "not reached" if math.isnan(v) else f"{v:.0f}"

    print(
        f"cuts left until {model.limit:g} mm: median {cuts(out['remaining_cuts'])} (10 %: "
        f"{cuts(out['remaining_cuts_q10'])}, 90 %: {cuts(out['remaining_cuts_q90'])})"
    )
    write_json(
        args.json,
        {
            "model": name,
            "version": version.version,
            "observed": values,
            **{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in out.items()},
        },
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prognose", help="forecast one tool's wear from its measurements so far")
    add_model_name(p, PROGNOSIS_MODEL, "registered prognosis model")
    p.add_argument("--alias", default=CHAMPION, help="which version forecasts: its alias")
    p.add_argument("--wear", required=True, help="the wear measured so far, mm, comma-separated, e.g. 0,0.05,0.08")
    p.add_argument("--vb-limit", type=float, help="wear limit for the cuts left (default: the model's)")
    p.add_argument("--json", help="also write the forecast as JSON to this file")
    p.set_defaults(func=cmd_prognose)
