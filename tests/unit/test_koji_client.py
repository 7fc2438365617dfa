"""The koji backend's pieces that need no hub: backoff, fault mapping, targets, submissions, state."""

from __future__ import annotations

import xmlrpc.client

import koji
import pytest
import requests

from streambuild._foreign.koji import Retry, is_transport_error, map_fault
from streambuild.errors import BuildFailed, EnvironmentProblem, InputError, PolicyDenied
from streambuild.koji.client import KojiBackend, KojiState, default_target


def test_backoff_grows_and_is_capped():
    assert list(Retry(attempts=5, interval=1.0, factor=2.0, max_interval=5.0).waits()) == [1.0, 2.0, 4.0, 5.0]
    assert list(Retry(attempts=1).waits()) == []


@pytest.mark.parametrize("exc, kind, code", [
    (koji.ActionNotAllowed("policy violation (stream_build): no"), PolicyDenied, 3),
    (koji.AuthError("Unknown user: x"), EnvironmentProblem, 4),
    (koji.BuildError("failed"), BuildFailed, 1),
    (koji.ParameterError("bad"), InputError, 2),
    (koji.GenericError("No such build target: f99"), InputError, 2),
    (koji.GenericError("Invalid method: streambuild.submit"), EnvironmentProblem, 4),
    (xmlrpc.client.Fault(77, "odd"), InputError, 2),
])
def test_koji_faults_become_stream_build_errors(exc, kind, code):
    error = map_fault(exc, "hub: call")
    assert isinstance(error, kind) and error.exit_code == code
    assert str(exc) in str(error) or "odd" in str(error)


def test_transport_errors_are_the_retryable_ones():
    assert is_transport_error(requests.exceptions.ConnectionError("reset"))
    assert is_transport_error(koji.RetryError("unable to retry call 7"))  # the call ran; retry with the key
    assert is_transport_error(koji.ServerOffline("maintenance"))
    assert not is_transport_error(koji.ActionNotAllowed("no"))
    assert not is_transport_error(requests.exceptions.SSLError("certificate verify failed"))


def test_default_targets():
    assert default_target("fedora-44-x86_64") == "f44"
    assert default_target("fedora-rawhide-aarch64") == "rawhide"
    assert default_target("centos-stream-10-x86_64") == "centos-stream-10"


def test_state_file_round_trip_and_garbage(tmp_path):
    state = KojiState(str(tmp_path / "koji.json"))
    assert state.read() == {}
    state.write({"mode": "plugin", "task_id": 3})
    assert state.read() == {"mode": "plugin", "task_id": 3}
    (tmp_path / "koji.json").write_text("{not json")
    assert state.read() == {}


def test_backend_options_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("STREAM_BUILD_KOJI_TARGET", raising=False)
    monkeypatch.delenv("STREAM_BUILD_KOJI_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.koji of the person running the tests
    with pytest.raises(InputError, match="mode must be auto, plugin or sidetag"):
        KojiBackend(mode="turbo")
    conf = tmp_path / "koji.conf"
    conf.write_text("[koji]\nserver = https://koji.example.org/kojihub\n")
    backend = KojiBackend(config=str(conf))
    with pytest.raises(InputError, match="no build target"):
        backend.target()
    assert KojiBackend(config=str(conf), target="f45").target() == "f45"
    assert not hasattr(backend, "build")  # a stream backend: the registry says so, the core never asks the object
