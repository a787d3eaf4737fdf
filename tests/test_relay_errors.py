"""classify(): every relay status and body shape of relay-api.md §2 maps to one typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import (
    RelayAuthError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayError,
    RelayForbiddenError,
    RelayNetworkError,
    RelayNoChannelError,
    RelayQuotaError,
    RelayRateLimitError,
    RelayTimeoutError,
    RelayUpstreamError,
)
from core.relay.errors import RelayConnectError, classify, is_retryable, parse_error_body

RID = {"X-Oneapi-Request-Id": "hdr-1"}


def openai(message: str, code: Any = None, type: str = "new_api_error") -> bytes:
    err = {"message": message, "type": type, "param": "", "code": code}
    return json.dumps({"error": err}, ensure_ascii=False).encode()


CASES: list[tuple[int, bytes, type[RelayError], str]] = [
    (401, openai("无效的令牌 (request id: r1)"), RelayAuthError, "无效的令牌"),
    (
        401,
        openai("该令牌额度已用尽 TokenStatusExhausted[sk-xxx] (request id: r1)"),
        RelayAuthError,
        "该令牌额度已用尽 TokenStatusExhausted[sk-xxx]",
    ),
    (401, openai("未提供令牌"), RelayAuthError, "未提供令牌"),
    (
        403,
        openai("user quota is not enough (request id: r1)", "insufficient_user_quota"),
        RelayQuotaError,
        "user quota is not enough",
    ),
    (
        403,
        openai(
            "pre-consumed quota failed, user quota: 0, need quota: 1500", "insufficient_user_quota"
        ),
        RelayQuotaError,
        "pre-consumed quota failed, user quota: 0, need quota: 1500",
    ),
    (403, openai("预扣费失败", "pre_consume_token_quota_failed"), RelayQuotaError, "预扣费失败"),
    (
        403,
        b'{"code":"quota_not_enough","message":"quota not enough","data":null}',
        RelayQuotaError,
        "quota not enough",
    ),
    (403, openai("用户额度不足"), RelayQuotaError, "用户额度不足"),
    (
        403,
        openai("该令牌无权访问模型 gpt-4o (request id: r1)"),
        RelayForbiddenError,
        "该令牌无权访问模型 gpt-4o",
    ),
    (403, openai("用户已被封禁"), RelayForbiddenError, "用户已被封禁"),
    (403, openai("普通用户不支持指定渠道"), RelayForbiddenError, "普通用户不支持指定渠道"),
    (
        400,
        b'{"description":"quota_not_enough ","type":"upstream_error","code":4}',
        RelayQuotaError,
        "quota_not_enough",
    ),
    (
        400,
        openai("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        RelayQuotaError,
        "You exceeded your current quota",
    ),
    (
        400,
        openai("Invalid value for 'max_tokens'", None, "invalid_request_error"),
        RelayBadRequestError,
        "Invalid value for 'max_tokens'",
    ),
    (
        400,
        b'{"code":"task_not_exist","message":"task_not_exist","data":null}',
        RelayBadRequestError,
        "task_not_exist",
    ),
    (
        400,
        b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}',
        RelayBadRequestError,
        "bad",
    ),
    (
        404,
        openai("Invalid URL (POST /v1/nope)", "", "invalid_request_error"),
        RelayBadRequestError,
        "Invalid URL (POST /v1/nope)",
    ),
    (413, b"", RelayBadRequestError, ""),
    (429, b"", RelayRateLimitError, ""),
    (
        429,
        openai(
            "You exceeded your current quota, please check your plan",
            "insufficient_quota",
            "insufficient_quota",
        ),
        RelayQuotaError,
        "You exceeded your current quota, please check your plan",
    ),
    (429, b"Too Many Requests", RelayRateLimitError, "Too Many Requests"),
    (
        429,
        openai("当前分组上游负载已饱和，请稍后再试 (request id: r1)"),
        RelayRateLimitError,
        "当前分组上游负载已饱和，请稍后再试",
    ),
    (
        429,
        openai("您已达到请求数限制：1分钟内最多请求10次"),
        RelayRateLimitError,
        "您已达到请求数限制：1分钟内最多请求10次",
    ),
    (
        429,
        b'{"description":"\xe5\xbd\x93\xe5\x89\x8d\xe5\x88\x86\xe7\xbb\x84\xe8\xb4\x9f\xe8\xbd'
        b'\xbd\xe5\xb7\xb2\xe9\xa5\xb1\xe5\x92\x8c","type":"upstream_error","code":30}',
        RelayRateLimitError,
        "当前分组负载已饱和",
    ),
    (
        503,
        openai("当前分组 default 下对于模型 gpt-x 无可用渠道 (request id: r1)"),
        RelayNoChannelError,
        "当前分组 default 下对于模型 gpt-x 无可用渠道",
    ),
    (
        503,
        openai(
            "No available channel for model gpt-x under group vip (distributor)", "model_not_found"
        ),
        RelayNoChannelError,
        "No available channel for model gpt-x under group vip (distributor)",
    ),
    (
        503,
        b"<html><body><h1>503 Service Unavailable</h1></body></html>",
        RelayUpstreamError,
        "503 Service Unavailable",
    ),
    (500, openai("请求上游地址失败", "do_request_failed"), RelayUpstreamError, "请求上游地址失败"),
    (
        500,
        openai("model gpt-x has no price", "model_price_error"),
        RelayBadRequestError,
        "model gpt-x has no price",
    ),
    (
        500,
        openai("get_channel_failed", "get_channel_failed"),
        RelayUpstreamError,
        "get_channel_failed",
    ),
    (
        501,
        openai("API not implemented", "api_not_implemented"),
        RelayBadRequestError,
        "API not implemented",
    ),
    (
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        RelayUpstreamError,
        "502 Bad Gateway",
    ),
    (504, b"", RelayTimeoutError, ""),
    (
        524,
        b"<!DOCTYPE html><html><head><title>x.com | 524: A timeout occurred</title></head>"
        b"<body>...</body></html>",
        RelayTimeoutError,
        "x.com | 524: A timeout occurred",
    ),
    (520, b"", RelayUpstreamError, ""),
    (302, b"", RelayBadResponseError, ""),
]


@pytest.mark.parametrize(("status", "body", "cls", "detail"), CASES)
def test_classify(status: int, body: bytes, cls: type[RelayError], detail: str) -> None:
    exc = classify(status, body, RID)
    assert type(exc) is cls
    assert exc.status == status
    assert exc.detail == detail
    assert exc.request_id == "hdr-1"


def test_request_id_from_suffix_when_no_header() -> None:
    exc = classify(401, openai("无效的令牌 (request id: 2025041112000012345)"), {})
    assert exc.request_id == "2025041112000012345"
    assert exc.detail == "无效的令牌"


def test_header_lookup_is_case_insensitive_and_wins_over_suffix() -> None:
    exc = classify(500, openai("boom (request id: from-suffix)"), {"x-oneapi-request-id": "h"})
    assert exc.request_id == "h"


def test_no_request_id_at_all() -> None:
    assert classify(429, b"", {}).request_id == ""


def test_detail_is_cut() -> None:
    exc = classify(400, openai("x" * 5000 + " (request id: r9)"), {})
    assert len(exc.detail) <= 300
    assert exc.request_id == "r9"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"null",
        b"[]",
        b"[1, 2]",
        b'"just a string"',
        b"{not json",
        b"\xff\xfe\x00",
        b'{"error": null}',
        b'{"error": 5}',
        b'{"error": "plain error text"}',
        b'{"message": 12}',
        b'{"error": {"message": null, "code": 123}}',
    ],
)
def test_never_fails_on_odd_bodies(body: bytes) -> None:
    exc = classify(500, body, {})
    assert isinstance(exc, RelayUpstreamError)
    assert isinstance(exc.detail, str)


def test_error_string_shape() -> None:
    assert parse_error_body(b'{"error": "plain error text"}').message == "plain error text"


def test_is_retryable() -> None:
    assert is_retryable(RelayRateLimitError())
    assert is_retryable(RelayUpstreamError())
    assert is_retryable(RelayConnectError("refused"))
    assert isinstance(RelayConnectError(), RelayNetworkError)
    for exc in (
        RelayNetworkError(),
        RelayTimeoutError(),
        RelayNoChannelError(),
        RelayAuthError(),
        RelayQuotaError(),
        RelayForbiddenError(),
        RelayBadRequestError(),
        RelayBadResponseError(),
        ValueError(),
    ):
        assert not is_retryable(exc), exc
    assert not is_retryable(classify(500, openai("x", "model_price_error"), {}))
    assert not is_retryable(classify(524, b"", {}))
    assert is_retryable(classify(502, b"", {}))
