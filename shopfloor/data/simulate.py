"""Simulators for the embedded default: data shaped like a factory's, with known ground truth.

Gearbox assembly line (after Dahdal et al., the Bonfiglioli EVO pre-test use case)
---------------------------------------------------------------------------------
Each row is one assembled gearbox described by 66 process features from two stations:

* WS1, differential assembly: 4 press-fits (bearings, pinion shaft) and 5 screwed joints;
* WS2, gearbox assembly: 5 press-fits (bearings, seals, housing pins) and 5 screwed joints.

Press-fit ``k`` reports its peak insertion force [kN], end force [kN], insertion work [J] and stroke
[mm]; screwed joint ``k`` reports its final tightening torque [Nm], rotation angle [deg] and torque
gradient [Nm/deg]. That gives 4*4 + 5*3 + 5*4 + 5*3 = 66 features.

Generative process, per unit:

1. Shared latent factors make features correlate as on a real line: a part-lot factor (interference
   of the bearing seats, drives every press-fit force), a lubrication factor per station (lowers
   friction: forces down, screw angles up) and a temperature drift across the shift.
2. Press-fit: ``peak = F_k * (1 + 0.06 lot + 0.03 temp) * (1 - 0.04 lube) * (1 + 0.02 e)``;
   ``end = peak * U(0.78, 0.84)``; ``stroke = S_k + 0.05 e``; ``work = 0.55 * (peak + end)/2 * stroke``.
3. Screw: torque controlled to its target ``T_k`` (sd 1.2 %); ``angle = A_k (1 + 0.08 lube) (1 + 0.03 e)``;
   ``gradient = torque / angle``.
4. A fraction ``fault_rate`` (default 7 %) of units is faulty, each by one root cause that moves only
   a few features:
   - *oversize seat* at WS1 press-fit 2 (bearing b): peak and end force +18 %, work up;
   - *missing shim* at WS2 press-fit 3: stroke +0.6 mm, end force -20 %;
   - *thread damage* at WS2 screw 4 (flange): torque reached late, angle +35 %, gradient down;
   - *cross-threaded* at WS1 screw 1: angle -20 %, so the gradient rises by a quarter.
   Fault severity varies (a few faulty units look almost normal), so the classes overlap.
5. ``drift`` (default 0) changes the process as a new supplier would: the WS1 bearing-b seats press in
   ``7 * drift`` % harder and a new thread-locker turns the WS2 flange screws ``8 * drift`` % further.
   Both move the very features that the oversize-seat and thread-damage faults move, so a model
   fitted before the change reads normal units as faulty. With ``ramp`` the change is phased in: the
   drift grows from 0 at the first unit to ``drift`` at the last, in production order.
6. A fraction ``mislabel_rate`` (default 1.5 %) of labels is flipped, as end-of-line test verdicts are
   sometimes wrong; Dahdal et al. filter synthetic rows because of such units.

Columns are the 66 features plus ``faulty`` (0/1, the possibly wrong label). With
``include_truth=True`` the true label and root cause are added as ``true_faulty`` and ``root_cause``; with
``made_from`` (a date) a ``made_at`` column says when each unit was assembled, one every two minutes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WS1_PRESS = {"bearing_a": (32.0, 18.0), "bearing_b": (28.0, 16.0), "pinion": (45.0, 22.0), "ring_gear": (60.0, 12.0)}
WS1_SCREWS = {
    "ring_gear_1": (85.0, 42.0),
    "ring_gear_2": (85.0, 42.0),
    "ring_gear_3": (85.0, 42.0),
    "cover_1": (25.0, 65.0),
    "cover_2": (25.0, 65.0),
}
WS2_PRESS = {
    "input_bearing": (30.0, 20.0),
    "output_bearing": (38.0, 24.0),
    "shim_stack": (15.0, 3.5),
    "seal": (6.0, 9.0),
    "dowel_pin": (12.0, 14.0),
}
WS2_SCREWS = {
    "housing_1": (48.0, 55.0),
    "housing_2": (48.0, 55.0),
    "housing_3": (48.0, 55.0),
    "flange": (110.0, 38.0),
    "drain_plug": (30.0, 70.0),
}

ROOT_CAUSES = ("oversize_seat", "missing_shim", "thread_damage", "cross_threaded")


def gearbox_feature_names() -> list[str]:
    """The 66 feature names, station by station."""
    names: list[str] = []
    for station, presses, screws in (("ws1", WS1_PRESS, WS1_SCREWS), ("ws2", WS2_PRESS, WS2_SCREWS)):
        for part in presses:
            names += [
                f"{station}_press_{part}_peak_kN",
                f"{station}_press_{part}_end_kN",
                f"{station}_press_{part}_work_J",
                f"{station}_press_{part}_stroke_mm",
            ]
        for joint in screws:
            names += [
                f"{station}_screw_{joint}_torque_Nm",
                f"{station}_screw_{joint}_angle_deg",
                f"{station}_screw_{joint}_gradient",
            ]
    return names


def simulate_gearbox(
    rows: int = 3000,
    fault_rate: float = 0.07,
    mislabel_rate: float = 0.015,
    seed: int = 0,
    include_truth: bool = False,
    drift: float = 0.0,
    ramp: bool = False,
    made_from: str = "",
) -> pd.DataFrame:
    """Simulate ``rows`` gearbox units from the process described in the module docstring."""
    if rows < 1:
        raise ValueError("rows must be positive")
    if not 0.0 < fault_rate < 0.5:
        raise ValueError("fault_rate must lie in (0, 0.5)")
    rng = np.random.default_rng(seed)
    shift = np.linspace(0.0, drift, rows) if ramp else np.full(rows, drift)
    lot = rng.normal(size=rows)
    temp = np.sin(np.linspace(0.0, 6.0 * np.pi, rows)) + 0.3 * rng.normal(size=rows)
    lube = {"ws1": rng.normal(size=rows), "ws2": rng.normal(size=rows)}

    faulty = rng.random(rows) < fault_rate
    cause = np.full(rows, "", dtype=object)
    cause[faulty] = rng.choice(ROOT_CAUSES, size=int(faulty.sum()))
    severity = np.where(faulty, rng.gamma(shape=3.0, scale=1.0 / 3.0, size=rows), 0.0)

    cols: dict[str, np.ndarray] = {}
    for station, presses, screws in (("ws1", WS1_PRESS, WS1_SCREWS), ("ws2", WS2_PRESS, WS2_SCREWS)):
        for part, (force, stroke0) in presses.items():
            peak = force * (1 + 0.06 * lot + 0.03 * temp) * (1 - 0.04 * lube[station])
            peak *= 1 + 0.02 * rng.normal(size=rows)
            end = peak * rng.uniform(0.78, 0.84, size=rows)
            stroke = stroke0 + 0.05 * rng.normal(size=rows)
            if station == "ws1" and part == "bearing_b":
                peak = peak * (1 + 0.07 * shift)
                hit = severity * (cause == "oversize_seat")
                peak, end = peak * (1 + 0.18 * hit), end * (1 + 0.18 * hit)
            if station == "ws2" and part == "shim_stack":
                hit = severity * (cause == "missing_shim")
                stroke, end = stroke + 0.6 * hit, end * (1 - 0.20 * hit)
            work = 0.55 * (peak + end) / 2 * stroke
            prefix = f"{station}_press_{part}"
            cols |= {
                f"{prefix}_peak_kN": peak,
                f"{prefix}_end_kN": end,
                f"{prefix}_work_J": work,
                f"{prefix}_stroke_mm": stroke,
            }
        for joint, (target, angle0) in screws.items():
            torque = target * (1 + 0.012 * rng.normal(size=rows))
            angle = angle0 * (1 + 0.08 * np.tanh(lube[station])) * (1 + 0.03 * rng.normal(size=rows))
            if station == "ws2" and joint == "flange":
                angle = angle * (1 + 0.08 * shift)
                angle = angle * (1 + 0.35 * severity * (cause == "thread_damage"))
            if station == "ws1" and joint == "ring_gear_1":
                angle = angle * (1 - 0.20 * severity * (cause == "cross_threaded"))
            gradient = torque / angle
            prefix = f"{station}_screw_{joint}"
            cols |= {f"{prefix}_torque_Nm": torque, f"{prefix}_angle_deg": angle, f"{prefix}_gradient": gradient}

    table = pd.DataFrame(cols)[gearbox_feature_names()].round(4)
    flip = rng.random(rows) < mislabel_rate
    table["faulty"] = (faulty ^ flip).astype(int)
    if include_truth:
        table["true_faulty"] = faulty.astype(int)
        table["root_cause"] = cause
    if made_from:
        table.insert(0, "made_at", pd.Timestamp(made_from) + pd.to_timedelta(np.arange(rows) * 120, unit="s"))
    return table


# --------------------------------------------------------------------------------------------------
# Run-to-failure vibration (the health-index pipeline's embedded default)
# --------------------------------------------------------------------------------------------------
def wear_curve(n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """Hidden wear in [0, 1] with three phases: running-in (fast, saturating), steady (slow, linear)
    and accelerating (exponential) until failure at 1, with unit-to-unit variation of each phase."""
    t = np.linspace(0.0, 1.0, n_steps)
    run_in = rng.uniform(0.08, 0.15) * (1.0 - np.exp(-t / rng.uniform(0.03, 0.08)))
    steady = rng.uniform(0.15, 0.30) * t
    knee = rng.uniform(0.6, 0.8)
    accel = np.where(t > knee, np.expm1(rng.uniform(3.0, 5.0) * (t - knee)), 0.0)
    wear = run_in + steady + accel
    return wear / wear[-1]


def simulate_run_to_failure(
    units: int = 8,
    min_life: int = 120,
    max_life: int = 260,
    n_bands: int = 16,
    fs: float = 10240.0,
    window: int = 1024,
    seed: int = 0,
) -> pd.DataFrame:
    """Vibration of degrading bearings, one 0.1 s window per time step, as log mel-band energies.

    Per unit: a lifetime in [min_life, max_life] steps and a hidden wear curve (``wear_curve``).
    Each window holds the shaft rotation harmonics (speed varies +-3 % between steps), a structural
    resonance near 2.8 kHz excited by impacts whose amplitude grows with wear, broadband noise that
    grows with wear, and sensor noise. Columns: ``unit``, ``time``, ``band_00``..``band_NN`` (log mel
    energies, see ``shopfloor.health_index.features``) and ``wear`` (the hidden ground truth).
    """
    from shopfloor.health_index.features import log_mel_energies

    rng = np.random.default_rng(seed)
    t = np.arange(window) / fs
    frames = []
    for unit in range(1, units + 1):
        life = int(rng.integers(min_life, max_life + 1))
        wear = wear_curve(life, rng)
        speed = 25.0 * (1.0 + 0.03 * rng.standard_normal(life))  # rev/s
        resonance = 2800.0 * (1.0 + 0.02 * rng.standard_normal())
        signals = np.empty((life, window))
        for k in range(life):
            shaft = sum(np.sin(2 * np.pi * h * speed[k] * t + rng.uniform(0, 2 * np.pi)) / h for h in (1, 2, 3))
            impacts = np.zeros(window)
            period = max(1, int(fs / (7.2 * speed[k])))  # outer-race defect frequency ~ 7.2 x shaft
            impacts[rng.integers(0, period) :: period] = 1.0
            ring = np.exp(-t[:200] * 900.0) * np.sin(2 * np.pi * resonance * t[:200])
            defect = np.convolve(impacts, ring)[:window] * 4.0 * wear[k] ** 1.5
            noise = (0.05 + 0.4 * wear[k]) * rng.standard_normal(window)
            signals[k] = shaft + defect + noise + 0.02 * rng.standard_normal(window)
        bands = log_mel_energies(signals, fs, n_bands)
        frame = pd.DataFrame(bands, columns=[f"band_{b:02d}" for b in range(n_bands)])
        frame.insert(0, "time", np.arange(life))
        frame.insert(0, "unit", unit)
        frame["wear"] = wear
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------------
# Specific cutting force (the retraining experiment's embedded default)
# --------------------------------------------------------------------------------------------------
#: Kienzle coefficients (k_c1.1 in N/mm^2, m_c) as tabulated after Kienzle and Victor in machining
#: handbooks, for carbide tools; gamma0 is the reference rake angle of the table (degrees).
KIENZLE = {
    "C35": {"kc11": 1516.0, "mc": 0.27, "gamma0": 6.0},
    "16MnCr5": {"kc11": 2100.0, "mc": 0.26, "gamma0": 6.0},
    "42CrMo4": {"kc11": 2500.0, "mc": 0.26, "gamma0": 6.0},
    "GG20": {"kc11": 1020.0, "mc": 0.25, "gamma0": 2.0},
}


def kienzle_force(h: np.ndarray, gamma: np.ndarray, v: np.ndarray, material: str) -> np.ndarray:
    """Specific cutting force k_c = k_c1.1 h^-m_c K_gamma K_v (N/mm^2).

    h: chip thickness (mm); gamma: rake angle (deg), K_gamma = 1 - 0.015 (gamma - gamma0), 1.5 % less
    force per degree of extra rake; v: cutting speed (m/min), K_v = 1.38 v^-0.07, the carbide-tool
    speed factor of the same handbooks (faster cutting, hotter and softer chip, less force).
    """
    if material not in KIENZLE:
        raise ValueError(f"material must be one of {sorted(KIENZLE)}, got {material!r}")
    c = KIENZLE[material]
    h, gamma, v = (np.asarray(a, dtype=float) for a in (h, gamma, v))
    return c["kc11"] * h ** (-c["mc"]) * (1.0 - 0.015 * (gamma - c["gamma0"])) * 1.38 * v ** (-0.07)


def simulate_cutting_force(rows: int = 91, material: str = "C35", noise: float = 0.02, seed: int = 0) -> pd.DataFrame:
    """Rows of (h, gamma, v) drawn over a typical turning range and the measured-like specific cutting
    force: Kienzle's law with multiplicative Gaussian noise of relative sd ``noise``. Columns
    ``h_mm``, ``rake_deg``, ``speed_m_min``, ``kc_N_mm2``."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(0.05, 0.6, rows)
    gamma = rng.choice([-6.0, 0.0, 6.0, 12.0], rows)
    v = rng.uniform(60.0, 300.0, rows)
    kc = kienzle_force(h, gamma, v, material) * (1.0 + noise * rng.standard_normal(rows))
    return pd.DataFrame({"h_mm": h, "rake_deg": gamma, "speed_m_min": v, "kc_N_mm2": kc})
