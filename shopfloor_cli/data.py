"""``shopfloor data check`` (its module: ``checks``) and ``shopfloor data simulate``: the simulators, to a file."""

from __future__ import annotations

import argparse

from shopfloor_cli.checks import add_check_parser
from shopfloor_cli.common import write_table

PART_ID = "part_id"


def cmd_gearbox(args: argparse.Namespace) -> int:
    from shopfloor.data.simulate import simulate_gearbox

    table = simulate_gearbox(
        rows=args.rows,
        fault_rate=args.fault_rate,
        seed=args.seed,
        drift=args.drift,
        ramp=args.ramp,
        made_from=args.made_from or "",
    )
    if args.outcomes:  # a batch to serve (features and a part id) and, apart, what became of each part
        table.insert(0, PART_ID, [f"P{args.seed}-{i:06d}" for i in range(len(table))])
        outcomes = write_table(table[[PART_ID, "faulty"]], args.outcomes)
        table = table.drop(columns=["faulty"])
        print(f"wrote the outcomes ({PART_ID}, faulty) to {outcomes}")
    out = write_table(table, args.out)
    print(
        f"wrote {len(table)} rows x {table.shape[1]} columns to {out} "
        f"({args.fault_rate:.1%} faulty expected, drift {args.drift:g}{' phased in' if args.ramp else ''})"
    )
    return 0


def cmd_cutting_force(args: argparse.Namespace) -> int:
    from shopfloor.data.simulate import simulate_cutting_force

    table = simulate_cutting_force(rows=args.rows, material=args.material, noise=args.noise, seed=args.seed)
    out = write_table(table, args.out)
    print(f"wrote {len(table)} rows of specific cutting force for {args.material} to {out}")
    return 0


def cmd_milling(args: argparse.Namespace) -> int:
    from shopfloor.anomaly_detection.simulate import simulate_milling

    table = simulate_milling(cases=args.cases, samples=args.samples, seed=args.seed)
    out = write_table(table, args.out)
    cuts = table.groupby("cut_no")["VB"].first()
    print(
        f"wrote {table['cut_no'].nunique()} cuts of {args.samples} samples ({args.cases} tools) to {out}; "
        f"{int((cuts >= 0.7).sum())} cuts of failed tools (VB >= 0.7 mm)"
    )
    return 0


def cmd_wear(args: argparse.Namespace) -> int:
    from shopfloor.prognosis.wear_model import wear_table

    table = wear_table(cases=args.cases, seed=args.seed, prior_scale=args.prior_scale)
    out = write_table(table, args.out)
    print(f"wrote {args.cases} simulated wear curves ({len(table)} measurements: case, cut, VB) to {out}")
    return 0


def cmd_surfaces(args: argparse.Namespace) -> int:
    from shopfloor.surface_inspection.simulate import DEFAULT_COUNTS, simulate_surfaces

    counts = {k: max(1, round(v * args.scale)) for k, v in DEFAULT_COUNTS.items()}
    out = simulate_surfaces(args.out, counts, seed=args.seed)
    shown = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"wrote {sum(counts.values())} simulated surface images to {out}/<class>/ ({shown}), defects with masks")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="check a file, or simulate data sets").add_subparsers(dest="what", required=True)
    add_check_parser(data)
    sim = data.add_parser("simulate", help="write a simulated table").add_subparsers(dest="kind", required=True)
    gear = sim.add_parser("gearbox", help="gearbox assembly line: 66 features, rare faulty units")
    gear.add_argument("--rows", type=int, default=3000, help="units (rows) to simulate")
    gear.add_argument("--fault-rate", type=float, default=0.07, help="share of faulty units")
    gear.add_argument("--seed", type=int, default=0, help="random seed")
    gear.add_argument(
        "--drift", type=float, default=0.0, help="supplier change: 1 moves the seats 7 %%, screws 8 %% (default: 0)"
    )
    gear.add_argument(
        "--ramp", action="store_true", help="phase the drift in: 0 at the first unit, --drift at the last"
    )
    gear.add_argument(
        "--made-from",
        metavar="DATE",
        help="add a made_at column: the first unit at DATE, then one every two minutes (default: none)",
    )
    gear.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    gear.add_argument(
        "--outcomes",
        help=f"also a served batch: --out gets a {PART_ID} column and no label, this "
        f"file the outcomes ({PART_ID}, faulty) to feed back",
    )
    gear.set_defaults(func=cmd_gearbox)
    cut = sim.add_parser("cutting-force", help="specific cutting force by Kienzle's law (h, rake, speed)")
    cut.add_argument("--material", default="C35", help="C35, 16MnCr5, 42CrMo4 or GG20")
    cut.add_argument("--rows", type=int, default=91, help="cutting conditions to simulate")
    cut.add_argument("--noise", type=float, default=0.02, help="relative sd of the measurement noise")
    cut.add_argument("--seed", type=int, default=0, help="random seed")
    cut.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    cut.set_defaults(func=cmd_cutting_force)
    mill = sim.add_parser("milling", help="milling cuts: spindle current, vibration, AE of wearing tools")
    mill.add_argument("--cases", type=int, default=8, help="tools, each worn from new to failed")
    mill.add_argument("--samples", type=int, default=1600, help="samples per cut at 250 Hz")
    mill.add_argument("--seed", type=int, default=0, help="random seed")
    mill.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    mill.set_defaults(func=cmd_milling)
    wear = sim.add_parser("wear", help="flank-wear curves of tools by Russell and Wang's Eq. 20, with noise")
    wear.add_argument("--cases", type=int, default=6, help="tools, each worn from new to its limit")
    wear.add_argument(
        "--prior-scale", type=float, default=1.0, help="spread of the wear law's parameters (1: Russell and Wang's)"
    )
    wear.add_argument("--seed", type=int, default=0, help="random seed")
    wear.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    wear.set_defaults(func=cmd_wear)
    surf = sim.add_parser(
        "surfaces", help="textured surface images, good and with scratches, pits, cracks, blotches (a folder)"
    )
    surf.add_argument(
        "--scale", type=float, default=1.0, help="images per class times this (default: 300 good, 120 defects)"
    )
    surf.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    surf.add_argument("--out", required=True, help="folder to write one subfolder per class into")
    surf.set_defaults(func=cmd_surfaces)
