"""The fake Slack's external upload flow, as Slack's method docs describe it (newer than the
2021 spec): files.getUploadURLExternal, a raw POST of the bytes, files.completeUploadExternal."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.request import Request, urlopen

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.fakes.slack_api import FakeSlack

TOKEN = "xoxb-upload-test"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.url)


def test_files_upload_v2_shares_the_bytes_in_the_channel(
    slack: FakeSlack, client: WebClient
) -> None:
    response = client.files_upload_v2(
        content=b"\x89PNG fake",
        filename="c.png",
        title="Chart",
        channel="C0X",
        initial_comment="hi",
    )
    (shared,) = response["files"]
    file = slack.files[shared["id"]]
    assert (file["data"], file["completed"], file["channel"]) == (b"\x89PNG fake", True, "C0X")
    (message,) = slack.messages["C0X"]
    assert message["text"] == "hi" and message["files"][0]["title"] == "Chart"
    history = client.conversations_history(channel="C0X")
    assert history["messages"][0]["files"][0]["id"] == shared["id"]
    assert slack.violations == []


def test_the_upload_must_be_as_long_as_announced(slack: FakeSlack, client: WebClient) -> None:
    asked = client.files_getUploadURLExternal(filename="c.png", length=10)
    request = Request(asked["upload_url"], data=b"short", method="POST")
    with pytest.raises(OSError):  # urllib raises HTTPError for the 400
        urlopen(request, timeout=5)
    assert any("5 bytes, announced 10" in v for v in slack.violations)
    with pytest.raises(SlackApiError, match="file_not_uploaded"):
        client.files_completeUploadExternal(files=[{"id": asked["file_id"]}], channel_id="C0X")


def test_a_file_is_shared_once_and_arguments_are_checked(
    slack: FakeSlack, client: WebClient
) -> None:
    client.files_upload_v2(content=b"abc", filename="a.txt", channel="C0X")
    (file_id,) = slack.files
    with pytest.raises(SlackApiError, match="file_already_completed"):
        client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0X")
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_completeUploadExternal(files=[{"id": "F0NOPE"}], channel_id="C0X")
    assert len(slack.messages["C0X"]) == 1
    with pytest.raises(SlackApiError):
        client.api_call("files.getUploadURLExternal", params={"filename": "x.png"})
    assert any("missing required argument(s) ['length']" in v for v in slack.violations)
