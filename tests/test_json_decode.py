"""What the client takes for JSON, one rule for every answer: the transport's answers and
error bodies and JSON artifacts alike refuse NaN and the infinities, keep big integers
whole and a repeated key's last value, and refuse text that is not UTF-8 (or UTF-16/32)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _aioresponses_compat import MockedAPI

from ionq_async import Client, ResponseError, RetryPolicy
from ionq_async._json import loads
from ionq_async.exceptions import BadRequestError

BASE = "https://api.ionq.co/v0.4"
KEY = "test-key-json"
JOB_ID = "0f9c5e4a-1b2c-4d3e-8f90-123456789abc"

READ = [
    (b'{"a": 1, "b": 2, "a": 3}', {"a": 3, "b": 2}),
    (b"[123456789012345678901234567890]", [123456789012345678901234567890]),
    (b"[18446744073709551616, -9223372036854775809]", [2**64, -(2**63) - 1]),
    (b"[1e-400, -0, 0.5]", [0.0, 0, 0.5]),
    (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
    ('{"a": "\u00e9"}'.encode("utf-16"), {"a": "\u00e9"}),
]
REFUSED = [
    b'{"a": NaN}',
    b"[Infinity]",
    b"[-Infinity]",
    b'{"a": "\xff"}',
    b'{"a": 1} trailing',
    b"[01]",
    b'["a\x01"]',
]


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    return mocked_api


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    async with Client(api_key=KEY, retry=RetryPolicy.no_wait()) as c:
        yield c


@pytest.mark.parametrize(("text", "value"), READ)
def test_json_is_read_to_the_same_values_as_the_standard_library(text: bytes, value: Any) -> None:
    assert loads(text) == value


@pytest.mark.parametrize("text", REFUSED)
def test_what_is_not_strict_json_is_a_value_error(text: bytes) -> None:
    with pytest.raises(ValueError):
        loads(text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_the_infinities_are_refused_by_name(constant: str) -> None:
    with pytest.raises(ValueError, match=f"{constant} is not valid JSON"):
        loads(f'{{"a": {constant}}}'.encode())


@pytest.mark.parametrize(("text", "value"), READ)
async def test_a_json_artifact_reads_as_an_answer_does(
    api: MockedAPI, client: Client, text: bytes, value: Any
) -> None:
    api.get(
        f"{BASE}/jobs/{JOB_ID}/artifacts/a1",
        body=text,
        headers={"Content-Type": "application/json"},
    )
    assert (await client.artifact(JOB_ID, "a1")).data == value


@pytest.mark.parametrize("text", REFUSED)
async def test_a_json_artifact_that_is_not_strict_json_is_a_response_error(
    api: MockedAPI, client: Client, text: bytes
) -> None:
    # NaN and the infinities included: artifacts were read without that rule before.
    api.get(
        f"{BASE}/jobs/{JOB_ID}/artifacts/a1",
        body=text,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(ResponseError, match="malformed JSON"):
        await client.artifact(JOB_ID, "a1")


@pytest.mark.parametrize("text", REFUSED)
async def test_an_answer_that_is_not_strict_json_is_a_response_error(
    api: MockedAPI, client: Client, text: bytes
) -> None:
    api.get(f"{BASE}/whoami", body=text, headers={"Content-Type": "application/json"})
    with pytest.raises(ResponseError, match="malformed JSON"):
        await client.whoami()


async def test_an_error_body_holding_nan_is_kept_as_text(api: MockedAPI, client: Client) -> None:
    api.get(
        f"{BASE}/whoami",
        status=400,
        body=b'{"message": "bad", "limit": NaN}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(BadRequestError) as caught:
        await client.whoami()
    assert caught.value.body == '{"message": "bad", "limit": NaN}'
