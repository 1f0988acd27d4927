"""Draw docs/images/result-histogram.png, the README's histogram, with the library's own
``plot_results`` over the offline emulator (seeded, so the bars are the same every time).

    python3 -m pip install -e ".[plot]" && python3 docs/make_result_figure.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import matplotlib

import ionq_async as ionq
from ionq_async._plot import plot_results
from ionq_async.emulator import Emulator, EmulatorConfig

FIGURE = Path(__file__).parent / "images" / "result-histogram.png"


async def main() -> None:
    matplotlib.use("Agg")
    ghz = ionq.Circuit(qubits=3, name="ghz").h(0).cnot(0, 1).cnot(1, 2)
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0, seed=7)) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        ideal = await client.run(ghz, shots=1000)
        noisy = await client.run(ghz, shots=1000, noise_model="aria-1", noise_seed=7)
    ax = plot_results([ideal, noisy], labels=["ideal", "aria-1 noise"], title="GHZ, 1,000 shots")
    FIGURE.parent.mkdir(exist_ok=True)
    ax.figure.savefig(FIGURE, dpi=100)
    print(f"wrote {FIGURE}")


if __name__ == "__main__":
    asyncio.run(main())
