"""IonQ's API v0.4 walkthrough, each step one awaitable call (run: python examples/walkthrough.py).

With IONQ_API_KEY set it talks to IonQ; without one it starts the offline emulator.
"""

from __future__ import annotations

import asyncio
import os

import ionq_async as ionq
from ionq_async.emulator import Emulator


async def walkthrough(client: ionq.Client) -> None:
    # 1. Check the connection: GET /backends needs no key.
    for backend in await client.backends():
        print(backend.backend, backend.status, backend.qubits)

    # 2. Who am I (authenticated).
    me = await client.whoami()
    print("key name:", me.key_name)

    # 3. Create a job on the simulator, then get it and its status.
    bell = ionq.Circuit(qubits=2, name="bell").h(0).cnot(0, 1)
    job = await client.submit(bell, backend="simulator", shots=1000, name="bell")
    job = await client.wait(job)  # polls until completed, failed or canceled
    print(job.id, job.status)  # ... completed

    # 4. Probabilities: keys are basis-state integers, qubit 0 the least significant bit.
    probabilities = await client.probabilities(job)
    print(probabilities)  # {0: 0.5, 3: 0.5}

    # 5. Shot counts that sum exactly to the shots, and bitstrings with qubit 0 rightmost.
    result = await client.result(job)
    print(result.counts(1000), result.bitstring_counts(1000))  # {0: 500, 3: 500} ...

    # 6. A noisy simulation, seeded, and a QPU submission with debiasing.
    noisy = await client.run(bell, shots=1000, noise_model="aria-1", noise_seed=7)
    print(noisy.counts())
    qpu_job = await client.submit(bell, backend="qpu.aria-1", shots=1000, debiasing=True)

    # 7. What a job costs (estimated, then actual once billed).
    qpu_job = await client.wait(qpu_job)
    cost = await client.cost(qpu_job)
    print(cost.estimated_cost, cost.cost)

    # 8. A dry run compiles and prices without running: results stay null.
    dry = await client.wait(await client.submit(bell, backend="qpu.forte-1", dry_run=True))
    print(dry.status, dry.results, (await client.cost(dry)).estimated_cost)

    # 9. Estimate a cost from gate and shot counts, without a circuit.
    estimate = await client.estimate(
        backend="qpu.forte-1", qubits=2, shots=1000, one_qubit_gates=1, two_qubit_gates=1
    )
    print(estimate.total_cost, estimate.unit)

    # 10. Recent jobs, every page followed.
    async for listed in client.jobs(limit=5):
        print(listed.id, listed.status)


async def main() -> None:
    if os.environ.get("IONQ_API_KEY"):
        async with ionq.Client() as client:
            await walkthrough(client)
        return
    async with Emulator() as emu, ionq.Client(api_key=emu.api_key, base_url=emu.url) as client:
        await walkthrough(client)


if __name__ == "__main__":
    asyncio.run(main())
