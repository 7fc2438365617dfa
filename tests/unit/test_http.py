"""The forge HTTP client's pure parts: URLs, hidden tokens, Retry-After, error messages (servers: test_forges)."""

from __future__ import annotations

import email.utils
import time

import pytest

from streambuild.errors import InputError, UnsafeValueError
from streambuild.forges import BranchRequest, parse_ticket
from streambuild.http import JsonClient, _reason, _retry_after


def test_prepared_requests_hide_the_token():
    client = JsonClient("https://pagure.example/api/0", "Pagure", "s3cret")
    prepared = client.prepare("POST", "releng/fedora-scm-requests/new_issue", body={"title": "t"})
    assert prepared.url == "https://pagure.example/api/0/releng/fedora-scm-requests/new_issue"
    assert dict(prepared.headers)["Authorization"] == "token ***"
    assert "s3cret" not in prepared.describe() and "s3cret" not in repr(client)
    assert client.url("issues", {"status": "Open", "page": 2, "skip": None}) == \
        "https://pagure.example/api/0/issues?status=Open&page=2"


@pytest.mark.parametrize("url", ["ftp://x/api", "file:///etc", "https://x y/", "-https://x"])
def test_only_http_urls(url):
    with pytest.raises(UnsafeValueError):
        JsonClient(url, "Pagure")


def test_a_token_with_a_line_break_is_refused():
    with pytest.raises(InputError, match="line break"):
        JsonClient("https://x.example/api/v1", "Forgejo", "tok\nX-Injected: 1")


def test_retry_after_seconds_and_dates():
    assert _retry_after("7", 1.0) == 7.0
    assert _retry_after("", 1.5) == 1.5 and _retry_after("soon", 1.5) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= _retry_after(later, 1.0) <= 31
    assert _retry_after(email.utils.formatdate(time.time() - 30, usegmt=True), 1.0) == 0.0


def test_error_messages_of_both_forges():
    assert _reason(b'{"error": "Project not found", "error_code": "ENOPROJECT"}') == "Project not found [ENOPROJECT]"
    assert _reason(b'{"message": "The branch already exists.", "url": "x"}') == "The branch already exists."
    assert _reason(b"<html>" + b"x" * 200).startswith("'<html>xxx") and _reason(b"") == "no message"


def test_tickets_are_recognised_with_or_without_fences_and_notes():
    request = BranchRequest("python3.11", "release-3.11")
    assert request.is_ticket("anything", request.body)
    assert request.is_ticket("anything", request.body + "\n\nPlease start the branch from `rawhide`.")
    assert request.is_ticket(request.title, "free text")
    assert not request.is_ticket("x", BranchRequest("python3.11", "release-3.12").body)
    assert parse_ticket("```json\n{\"a\": 1}\n```") == {"a": 1} and parse_ticket("not json") is None
