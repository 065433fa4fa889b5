"""Energy of an electric route: cold, climb and payload raise it; P(run out of charge).

Consumption per km (kWh/km) is the van's nominal ``kwh_per_km`` (mild weather, flat, empty)
raised by cold, payload and climbing::

    kwh_per_km · (1 + cold · max(0, T_ref − T)) · (1 + load · payload_t)
        + (mass_t + payload_t) · 1000 · g · climb / 3.6e6 · (1 − regen) / efficiency

with T the month's mean temperature (°C), ``climb`` the net climb per km of the zip (m/km)
and ``payload_t`` the load (t). A route's energy is its km times that. The battery holds
``range_km · kwh_per_km`` (kWh; the nominal range at nominal consumption). Consumption on the
day varies around the planned value by a log-normal factor of log-sd ``consumption_sd``, so

    P(run out) = 1 − Φ((ln(usable · battery) − ln(energy)) / consumption_sd)

and a route counts as within range only if that probability is ≤ the accepted ``risk``.

The default coefficients are planning assumptions, not measurements: set them from the
fleet's own telematics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from bayesspr.errors import DeployInputError, Problem
from bayesspr.fleet.config import VanType

__all__ = ["EnergyModel"]

_G = 9.81  # m/s²


@dataclass(frozen=True)
class EnergyModel:
    """How conditions change an electric van's energy per km, and the risk accepted.

    Parameters
    ----------
    cold_per_degree : float
        Extra consumption per °C below ``reference_c`` (share per °C), ≥ 0.
    reference_c : float
        Temperature at which ``kwh_per_km`` holds (°C).
    load_per_tonne : float
        Extra consumption per tonne of payload (share per t), ≥ 0.
    mass_t : float
        Empty van mass (t), > 0.
    regen : float
        Share of climbing energy won back downhill (–), in [0, 1).
    efficiency : float
        Drivetrain efficiency from battery to wheel (–), in (0, 1].
    usable_share : float
        Share of the battery the plan may use (–), in (0, 1]; the rest is reserve.
    consumption_sd : float
        Log-sd of the day's consumption around the planned one (–), > 0.
    risk : float
        Largest accepted P(a route runs out of charge) (–), in (0, 1).
    """

    cold_per_degree: float = 0.015
    reference_c: float = 15.0
    load_per_tonne: float = 0.08
    mass_t: float = 2.5
    regen: float = 0.5
    efficiency: float = 0.85
    usable_share: float = 0.9
    consumption_sd: float = 0.1
    risk: float = 0.01

    def __post_init__(self) -> None:
        rules = {
            "cold_per_degree": (0.0, math.inf, False),
            "reference_c": (-60.0, 60.0, False),
            "load_per_tonne": (0.0, math.inf, False),
            "mass_t": (0.0, 100.0, True),
            "regen": (0.0, 1.0, False),
            "efficiency": (0.0, 1.0, True),
            "usable_share": (0.0, 1.0, True),
            "consumption_sd": (0.0, 5.0, True),
            "risk": (0.0, 1.0, True),
        }
        found = []
        for name, (lo, hi, lo_open) in rules.items():
            v = getattr(self, name)
            ok = isinstance(v, int | float) and math.isfinite(v) and lo <= v <= hi
            ok = ok and not (lo_open and v == lo)
            ok = ok and not (name in ("regen", "risk") and v == hi)
            if not ok:
                span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
                found.append(Problem("EnergyModel", name, v, f"expected a number in {span}"))
        if found:
            raise DeployInputError(found)

    def kwh_per_km(
        self,
        van: VanType,
        temperature_c: np.ndarray | float,
        climb_m_per_km: np.ndarray | float,
        payload_t: np.ndarray | float,
    ) -> np.ndarray:
        """Consumption under the conditions (kWh per km), broadcast over the arrays.

        Parameters
        ----------
        van : VanType
            An electric van type.
        temperature_c : array_like
            Mean temperature (°C).
        climb_m_per_km : array_like
            Net climb per km driven (m/km), ≥ 0.
        payload_t : array_like
            Payload (t), ≥ 0.

        Returns
        -------
        numpy.ndarray
            kWh per km.
        """
        t = np.asarray(temperature_c, float)
        climb = np.asarray(climb_m_per_km, float)
        load = np.asarray(payload_t, float)
        base = float(van.kwh_per_km) * (
            1 + self.cold_per_degree * np.maximum(0.0, self.reference_c - t)
        )
        base = base * (1 + self.load_per_tonne * load)
        lift = (self.mass_t + load) * 1000 * _G * climb / 3.6e6 * (1 - self.regen) / self.efficiency
        return base + lift

    def battery_kwh(self, van: VanType) -> float:
        """Usable battery energy (kWh): nominal range × nominal consumption × usable share."""
        return float(van.range_km) * float(van.kwh_per_km) * self.usable_share

    def p_run_out(self, van: VanType, route_kwh: np.ndarray) -> np.ndarray:
        """P(a route of planned energy ``route_kwh`` (kWh) runs out of charge) (–)."""
        e = np.maximum(np.asarray(route_kwh, float), 1e-12)
        return norm.sf((math.log(self.battery_kwh(van)) - np.log(e)) / self.consumption_sd)

    def reach_kwh(self, van: VanType) -> float:
        """Largest planned route energy whose P(run out) is ≤ ``risk`` (kWh)."""
        return self.battery_kwh(van) * math.exp(-self.consumption_sd * norm.isf(self.risk))
